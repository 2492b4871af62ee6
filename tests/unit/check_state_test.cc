// core::ParseForCheck against the full parse: over many generated states (decisions with evidence,
// contact points with suppressions, preferences with quiet hours and caps, GPC, topics, channels,
// expiry, links) it must decode exactly the full parse minus the fields the rule does not read,
// and Decide must give the same answer on both.
#include "core/check_state.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/decision.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace assent::core {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr int64_t kBaseSeconds = 1'768'478'400;  // 2026-01-15 12:00 UTC
const std::vector<std::string> kPurposes = {"marketing.p0", "marketing.p1", "sale.p2"};
const std::vector<std::string> kTopics = {"", "news", "offers"};
const std::vector<v1::Channel> kChannels = {v1::CHANNEL_UNSPECIFIED, v1::EMAIL, v1::SMS,
                                            v1::TARGETED_ADS};

// Random states with every field set now and then, the dropped ones included.
class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  v1::SubjectState Subject() {
    v1::SubjectState s;
    s.set_tenant("acme");
    s.set_subject_id(absl::StrCat("s-", Int(0, 1000)));
    s.set_sequence(Int(1, 500));
    s.set_chain_head(std::string(32, static_cast<char>(Int(0, 255))));
    for (int i = Int(0, 6); i > 0; --i) *s.add_decisions() = Record(s.sequence());
    if (Chance(2)) *s.mutable_preferences() = Preferences();
    for (int i = Int(0, 2); i > 0; --i) *s.add_contacts() = ContactRef();
    if (Chance(4)) {
      s.set_gpc_opt_out(true);
      s.set_gpc_record_id(absl::StrCat(Int(1, 99), "-0"));
    }
    if (Chance(2)) *s.mutable_update_time() = Time();
    if (Chance(2)) s.set_last_jurisdiction(Pick<std::string>({"DE", "US", "US-CA", "FR"}));
    return s;
  }

  v1::ContactPointState Contact() {
    v1::ContactPointState c;
    c.set_tenant("acme");
    *c.mutable_contact() = ContactRef();
    c.set_sequence(Int(1, 500));
    c.set_chain_head(std::string(32, 'h'));
    if (Chance(2)) c.set_linked_subject_id(absl::StrCat("s-", Int(0, 1000)));
    for (int i = Int(0, 3); i > 0; --i) *c.add_decisions() = Record(c.sequence());
    for (int i = Int(0, 2); i > 0; --i) {
      v1::Suppression& s = *c.add_suppressions();
      s.set_channel(Pick(kChannels));
      s.set_kind(static_cast<v1::Suppression::Kind>(Int(1, 4)));
      *s.mutable_effective_time() = Time();
      s.set_source("sms-stop");
      s.set_record_id(absl::StrCat(Int(1, 99), "-1"));
      s.set_sequence(Int(1, 99));
    }
    if (Chance(2)) *c.mutable_update_time() = Time();
    return c;
  }

 private:
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int one_in) { return Int(1, one_in) == 1; }
  template <typename T>
  T Pick(const std::vector<T>& values) {
    return values[Int(0, static_cast<int>(values.size()) - 1)];
  }

  google::protobuf::Timestamp Time() {
    google::protobuf::Timestamp ts;
    ts.set_seconds(kBaseSeconds + Int(-400, 400) * 86'400 + Int(0, 86'399));
    if (Chance(2)) ts.set_nanos(Int(0, 999'999'999));
    return ts;
  }

  v1::ContactRef ContactRef() {
    v1::ContactRef ref;
    ref.set_type(static_cast<v1::ContactType>(Int(1, 3)));
    ref.set_hash(std::string(64, static_cast<char>('a' + Int(0, 5))));
    return ref;
  }

  v1::ConsentRecord Record(uint64_t sequence) {
    v1::ConsentRecord r;
    r.set_record_id(absl::StrCat(sequence, "-", Int(0, 3)));
    r.set_purpose_id(Pick(kPurposes));
    r.set_purpose_version(Int(0, 3));
    r.set_channel(Pick(kChannels));
    r.set_topic(Pick(kTopics));
    r.set_state(static_cast<v1::ConsentState>(Int(1, 4)));
    *r.mutable_effective_time() = Time();
    *r.mutable_recorded_time() = Time();
    if (Chance(2)) *r.mutable_expire_time() = Time();
    if (Chance(2)) r.set_jurisdiction("DE");
    r.set_source("web-signup-v3");
    r.set_actor("preference-center");
    if (Chance(4)) {
      r.set_imported(true);
      r.set_import_origin("legacy-crm");
    }
    r.set_sequence(sequence);
    if (Chance(5)) return r;  // no evidence at all
    v1::Evidence& e = *r.mutable_evidence();
    e.set_notice_version(Int(0, 3));  // 0 too: then the trimmed record has no evidence
    e.set_language("de-DE");
    e.set_ip_address("203.0.113.42");
    e.set_user_agent("Mozilla/5.0 (X11; Linux x86_64)");
    if (Chance(3)) e.set_tcf_string(std::string(Int(1, 300), 'C'));
    if (Chance(3)) e.set_gpp_string("DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA");
    e.set_gpc(Chance(2));
    if (Chance(3)) *e.mutable_confirm_time() = Time();
    e.set_reference("form-snapshot-880001");
    return r;
  }

  v1::Preferences Preferences() {
    v1::Preferences p;
    if (Chance(2)) {
      v1::QuietHours& q = *p.mutable_quiet_hours();
      q.set_start_minute(Int(0, 1439));
      q.set_end_minute(Int(0, 1439));
      q.set_time_zone(Pick<std::string>({"Europe/Berlin", "America/New_York", "UTC"}));
      for (int i = Int(0, 2); i > 0; --i) q.add_channels(Pick(kChannels));
    }
    for (int i = Int(0, 2); i > 0; --i) {
      v1::FrequencyCap& cap = *p.add_frequency_caps();
      cap.set_channel(Pick(kChannels));
      cap.set_max_messages(Int(1, 10));
      cap.mutable_period()->set_seconds(86'400 * Int(1, 7));
    }
    if (Chance(2)) p.set_preferred_language("de");
    if (Chance(2)) p.set_preferred_channel(Pick(kChannels));
    for (int i = Int(0, 2); i > 0; --i) p.add_global_opt_out_channels(Pick(kChannels));
    if (Chance(2)) p.set_jurisdiction(Pick<std::string>({"DE", "US"}));
    return p;
  }

  std::mt19937 rng_;
};

// The test's own statement of what the rule does not read: the full parse with these cleared (and
// unknown fields discarded) is what ParseForCheck must produce.
void DropUnread(v1::ConsentRecord& r) {
  const uint32_t notice = r.evidence().notice_version();
  r.clear_evidence();
  if (notice != 0) r.mutable_evidence()->set_notice_version(notice);
  r.clear_purpose_version();
  r.clear_recorded_time();
  r.clear_jurisdiction();
  r.clear_source();
  r.clear_actor();
  r.clear_imported();
  r.clear_import_origin();
}

v1::SubjectState Trimmed(v1::SubjectState s) {
  s.DiscardUnknownFields();
  s.clear_tenant();
  s.clear_chain_head();
  s.clear_contacts();
  s.clear_update_time();
  for (v1::ConsentRecord& r : *s.mutable_decisions()) DropUnread(r);
  if (s.has_preferences()) s.mutable_preferences()->clear_preferred_language();
  return s;
}

v1::ContactPointState Trimmed(v1::ContactPointState c) {
  c.DiscardUnknownFields();
  c.clear_tenant();
  c.clear_chain_head();
  c.clear_update_time();
  for (v1::ConsentRecord& r : *c.mutable_decisions()) DropUnread(r);
  for (v1::Suppression& s : *c.mutable_suppressions()) {
    s.clear_effective_time();
    s.clear_source();
  }
  return c;
}

template <typename State>
void ExpectDecodesAsTrimmed(const std::string& bytes) {
  State full, decoded;
  ASSERT_TRUE(full.ParseFromString(bytes));
  ASSERT_TRUE(ParseForCheck(bytes, decoded));
  const State expected = Trimmed(full);
  EXPECT_TRUE(MessageDifferencer::Equals(decoded, expected))
      << "decoded:  " << decoded.ShortDebugString()
      << "\nexpected: " << expected.ShortDebugString();
}

TEST(CheckStateTest, DecodesExactlyTheFullParseMinusWhatTheRuleDoesNotRead) {
  Generator gen(7);
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(i);
    ExpectDecodesAsTrimmed<v1::SubjectState>(gen.Subject().SerializeAsString());
    ExpectDecodesAsTrimmed<v1::ContactPointState>(gen.Contact().SerializeAsString());
  }
}

// Two serialized messages one after the other parse as their merge: repeated fields append,
// scalars and strings set in the second win, sub-messages (preferences, quiet hours, timestamps)
// merge. The decoder must agree.
TEST(CheckStateTest, ConcatenatedMessagesDecodeAsTheirMerge) {
  Generator gen(11);
  for (int i = 0; i < 500; ++i) {
    SCOPED_TRACE(i);
    ExpectDecodesAsTrimmed<v1::SubjectState>(gen.Subject().SerializeAsString() +
                                             gen.Subject().SerializeAsString());
    ExpectDecodesAsTrimmed<v1::ContactPointState>(gen.Contact().SerializeAsString() +
                                                  gen.Contact().SerializeAsString());
  }
}

// Proto3 writes repeated enums packed, but a parser must accept them one value per tag too.
TEST(CheckStateTest, AcceptsUnpackedRepeatedEnumsAndSkipsUnknownFields) {
  std::string prefs;
  prefs += '\x28';  // global_opt_out_channels (5), varint
  prefs += static_cast<char>(v1::SMS);
  prefs += '\x28';
  prefs += static_cast<char>(v1::EMAIL);
  prefs += '\x2a';  // global_opt_out_channels (5), packed
  prefs += '\x01';
  prefs += static_cast<char>(v1::PUSH);
  std::string bytes;
  bytes += '\x12';  // subject_id (2)
  bytes += '\x02';
  bytes += "s1";
  bytes += '\x32';  // preferences (6)
  bytes += static_cast<char>(prefs.size());
  bytes += prefs;
  bytes += "\xb8\x06\x2a";     // field 103 (unknown), varint 42
  bytes += "\xc2\x06\x03xyz";  // field 104 (unknown), bytes
  bytes += "\x12\x03s-2";      // subject_id again: the last one wins

  v1::SubjectState decoded;
  ASSERT_TRUE(ParseForCheck(bytes, decoded));
  EXPECT_EQ(decoded.subject_id(), "s-2");
  ASSERT_EQ(decoded.preferences().global_opt_out_channels_size(), 3);
  EXPECT_EQ(decoded.preferences().global_opt_out_channels(0), v1::SMS);
  EXPECT_EQ(decoded.preferences().global_opt_out_channels(1), v1::EMAIL);
  EXPECT_EQ(decoded.preferences().global_opt_out_channels(2), v1::PUSH);
  ExpectDecodesAsTrimmed<v1::SubjectState>(bytes);
}

// Every prefix of a stored state: the decoder refuses exactly what the full parse refuses, and
// decodes the rest like it.
template <typename State>
void ExpectPrefixesDecodeLikeTheFullParse(const std::string& bytes) {
  for (size_t n = 0; n <= bytes.size(); ++n) {
    const std::string prefix = bytes.substr(0, n);
    State full, decoded;
    const bool parsed = full.ParseFromString(prefix);
    ASSERT_EQ(ParseForCheck(prefix, decoded), parsed) << "prefix of " << n << " bytes";
    if (parsed) ExpectDecodesAsTrimmed<State>(prefix);
  }
}

TEST(CheckStateTest, RefusesMalformedBytesExactlyWhenTheFullParseDoes) {
  Generator gen(3);
  for (int i = 0; i < 20; ++i) {
    ExpectPrefixesDecodeLikeTheFullParse<v1::SubjectState>(gen.Subject().SerializeAsString());
    ExpectPrefixesDecodeLikeTheFullParse<v1::ContactPointState>(gen.Contact().SerializeAsString());
  }
  v1::SubjectState decoded;
  EXPECT_FALSE(ParseForCheck(std::string("\x00\x01", 2), decoded));  // field number 0
  EXPECT_FALSE(ParseForCheck("\x2a\x05\x0a\x01", decoded));          // decision longer than bytes
}

// What the decoder keeps is all the rule reads: Decide answers the same on the decoded states as
// on the full ones, for subjects, contact points and contact points linked to subjects, over
// purposes, channels, topics, times and jurisdictions.
TEST(CheckStateTest, DecideAnswersTheSameOnTheDecodedState) {
  std::vector<v1::Purpose> purposes;
  for (const std::string& id : kPurposes) {
    v1::Purpose& p = purposes.emplace_back();
    p.set_purpose_id(id);
    p.set_kind(id.starts_with("sale") ? v1::SALE_OR_SHARE : v1::MARKETING);
    for (v1::Channel c : {v1::EMAIL, v1::SMS, v1::TARGETED_ADS}) p.add_channels(c);
    p.set_min_notice_version(2);
  }
  v1::Purpose transactional = purposes[0];
  transactional.set_kind(v1::TRANSACTIONAL);
  purposes.push_back(transactional);
  v1::DefaultPolicy policy;
  v1::PolicyRule& rule = *policy.add_rules();
  rule.set_jurisdiction("US");
  rule.set_mode(v1::OPT_OUT);

  Generator gen(5);
  int compared = 0;
  for (int i = 0; i < 300; ++i) {
    const v1::SubjectState subject = gen.Subject();
    const v1::ContactPointState contact = gen.Contact();
    v1::SubjectState subject_decoded;
    v1::ContactPointState contact_decoded;
    ASSERT_TRUE(ParseForCheck(subject.SerializeAsString(), subject_decoded));
    ASSERT_TRUE(ParseForCheck(contact.SerializeAsString(), contact_decoded));
    for (int target = 0; target < 3; ++target) {  // subject, contact point, linked contact point
      for (const v1::Purpose& purpose : purposes) {
        for (v1::Channel channel : {v1::EMAIL, v1::SMS, v1::TARGETED_ADS}) {
          for (const std::string& topic : kTopics) {
            for (int64_t days : {-500, 0, 500}) {
              for (const char* jurisdiction : {"", "US", "DE"}) {
                CheckInput input;
                input.purpose = &purpose;
                input.policy = &policy;
                input.channel = channel;
                input.topic = topic;
                input.now = absl::FromUnixSeconds(kBaseSeconds + days * 86'400);
                input.jurisdiction = jurisdiction;
                CheckInput decoded_input = input;
                if (target != 1) {
                  input.subject = &subject;
                  decoded_input.subject = &subject_decoded;
                }
                if (target != 0) {
                  input.contact = &contact;
                  decoded_input.contact = &contact_decoded;
                }
                auto full = Decide(input);
                auto decoded = Decide(decoded_input);
                ASSERT_TRUE(full.ok() && decoded.ok());
                ASSERT_TRUE(MessageDifferencer::Equals(*full, *decoded))
                    << "full:    " << full->ShortDebugString()
                    << "\ndecoded: " << decoded->ShortDebugString();
                ++compared;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(compared, 300 * 3 * 4 * 3 * 3 * 3 * 3);
}

}  // namespace
}  // namespace assent::core
