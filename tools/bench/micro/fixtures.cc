#include "tools/bench/micro/fixtures.h"

#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"

namespace assent::bench {
namespace {

constexpr std::array<const char*, 5> kPurposes = {kCheckedPurpose, "marketing.offers",
                                                  "analytics.web", "personalization.recs",
                                                  "research.surveys"};
constexpr std::array<v1::Channel, 4> kChannels = {v1::CHANNEL_UNSPECIFIED, v1::EMAIL, v1::SMS,
                                                  v1::PUSH};
constexpr std::array<const char*, 5> kTopics = {"", kCheckedTopic, "offers", "product-news",
                                                "events"};

absl::Time Day() {
  return absl::FromCivil(absl::CivilSecond(2026, 1, 15, 0, 0, 0), absl::UTCTimeZone());
}

// A 32-byte value standing in for a SHA-256 digest.
std::string Digest(char seed) {
  std::string out(32, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(seed + 7 * i);
  return out;
}

std::string HexHash(char seed) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : Digest(seed)) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// Decision i of a subject (see Subject() in fixtures.h for the layout).
v1::ConsentRecord Decision(int i, uint64_t sequence) {
  v1::ConsentRecord r;
  r.set_record_id(absl::StrCat(sequence, "-", i % 4));
  r.set_purpose_id(kPurposes[i % 5]);
  r.set_purpose_version(2);
  r.set_channel(kChannels[(i / 5) % 4]);
  r.set_topic(kTopics[(i / 20) % 5]);
  r.set_state(i % 7 == 3 ? v1::DENIED : v1::GRANTED);
  const absl::Time effective = Day() - absl::Hours(24 * 200) + absl::Minutes(37 * i);
  *r.mutable_effective_time() = ToProto(effective);
  *r.mutable_recorded_time() = ToProto(effective + absl::Milliseconds(3));
  if (r.state() == v1::GRANTED)
    *r.mutable_expire_time() = ToProto(effective + absl::Hours(24 * 730));
  r.set_jurisdiction("DE");
  r.set_source("web-signup-v3");
  r.set_actor("preference-center");
  r.set_sequence(sequence);
  v1::Evidence& e = *r.mutable_evidence();
  e.set_notice_version(3);
  e.set_language("de-DE");
  e.set_ip_address("203.0.113.42");
  e.set_user_agent(
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
      "Safari/537.36");
  e.set_reference(absl::StrCat("form-snapshot-", 880000 + i));
  return r;
}

v1::ContactRef EmailRef() {
  v1::ContactRef ref;
  ref.set_type(v1::CONTACT_EMAIL);
  ref.set_hash(HexHash('e'));
  return ref;
}

}  // namespace

absl::Time OutsideQuietHours() { return Day() + absl::Hours(10); }
absl::Time InsideQuietHours() { return Day() + absl::Hours(21) + absl::Minutes(30); }

v1::Purpose CheckedPurpose() {
  v1::Purpose p;
  p.set_name(absl::StrCat("tenants/", kTenant, "/purposes/", kCheckedPurpose));
  p.set_purpose_id(kCheckedPurpose);
  p.set_version(3);
  p.set_display_name("Newsletter");
  p.set_kind(v1::MARKETING);
  p.set_legal_basis(v1::CONSENT);
  p.add_channels(v1::EMAIL);
  p.add_channels(v1::SMS);
  p.add_channels(v1::PUSH);
  p.mutable_lifespan()->set_seconds(int64_t{730} * 24 * 3600);
  p.set_notice_version(3);
  p.set_min_notice_version(2);
  for (const char* topic : kTopics) {
    if (*topic != '\0') p.add_topics(topic);
  }
  return p;
}

v1::DefaultPolicy Policy() {
  struct Rule {
    const char* jurisdiction;
    v1::Channel channel;
    v1::PurposeKind kind;
    v1::PolicyMode mode;
  };
  static constexpr Rule kRules[] = {
      {"EU", v1::CHANNEL_UNSPECIFIED, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
      {"GB", v1::CHANNEL_UNSPECIFIED, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
      {"CH", v1::CHANNEL_UNSPECIFIED, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
      {"US", v1::EMAIL, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_OUT},
      {"US", v1::SMS, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
      {"US", v1::VOICE, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
      {"US", v1::CHANNEL_UNSPECIFIED, v1::ANALYTICS, v1::OPT_OUT},
      {"US-CA", v1::CHANNEL_UNSPECIFIED, v1::SALE_OR_SHARE, v1::OPT_IN},
      {"CA", v1::CHANNEL_UNSPECIFIED, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
      {"AU", v1::EMAIL, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
      {"BR", v1::CHANNEL_UNSPECIFIED, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
      {"*", v1::CHANNEL_UNSPECIFIED, v1::PURPOSE_KIND_UNSPECIFIED, v1::OPT_IN},
  };
  v1::DefaultPolicy policy;
  policy.set_name(absl::StrCat("tenants/", kTenant, "/policy"));
  for (const Rule& r : kRules) {
    v1::PolicyRule& rule = *policy.add_rules();
    rule.set_jurisdiction(r.jurisdiction);
    rule.set_channel(r.channel);
    rule.set_purpose_kind(r.kind);
    rule.set_mode(r.mode);
  }
  return policy;
}

v1::SubjectState Subject(int decisions, bool quiet_hours, const std::string& jurisdiction) {
  v1::SubjectState s;
  s.set_tenant(kTenant);
  s.set_subject_id(kSubjectId);
  s.set_sequence(static_cast<uint64_t>(decisions) + 2);
  s.set_chain_head(Digest('s'));
  for (int i = 0; i < decisions; ++i)
    *s.add_decisions() = Decision(i, static_cast<uint64_t>(i) + 1);
  v1::Preferences& prefs = *s.mutable_preferences();
  if (quiet_hours) {
    v1::QuietHours& q = *prefs.mutable_quiet_hours();
    q.set_start_minute(22 * 60);
    q.set_end_minute(7 * 60);
    q.set_time_zone("Europe/Berlin");
  }
  v1::FrequencyCap& cap = *prefs.add_frequency_caps();
  cap.set_channel(v1::EMAIL);
  cap.set_max_messages(3);
  cap.mutable_period()->set_seconds(7 * 24 * 3600);
  prefs.set_preferred_language("de-DE");
  prefs.set_preferred_channel(v1::EMAIL);
  prefs.set_jurisdiction(jurisdiction);
  *s.add_contacts() = EmailRef();
  *s.mutable_update_time() = ToProto(Day() - absl::Hours(1));
  s.set_last_jurisdiction(jurisdiction);
  return s;
}

v1::ContactPointState LinkedContact() {
  v1::ContactPointState c;
  c.set_tenant(kTenant);
  *c.mutable_contact() = EmailRef();
  c.set_sequence(4);
  c.set_chain_head(Digest('c'));
  c.set_linked_subject_id(kSubjectId);
  v1::ConsentRecord sms = Decision(10, 2);   // checked purpose on SMS
  v1::ConsentRecord other = Decision(6, 3);  // another purpose on EMAIL
  *c.add_decisions() = sms;
  *c.add_decisions() = other;
  v1::Suppression& s = *c.add_suppressions();
  s.set_channel(v1::SMS);
  s.set_kind(v1::Suppression::UNSUBSCRIBED);
  *s.mutable_effective_time() = ToProto(Day() - absl::Hours(48));
  s.set_source("sms-stop");
  s.set_record_id("4-0");
  s.set_sequence(4);
  return c;
}

v1::HistoryRecord History(int changes) {
  v1::HistoryRecord h;
  h.set_tenant(kTenant);
  h.mutable_target()->set_subject_id(kSubjectId);
  h.set_sequence(42);
  h.set_kind(v1::DECISIONS_RECORDED);
  *h.mutable_recorded_time() = ToProto(Day());
  *h.mutable_effective_time() = ToProto(Day());
  h.set_actor("preference-center");
  h.set_source("web-signup-v3");
  for (int i = 0; i < changes; ++i) {
    v1::DecisionChange& change = *h.add_decisions();
    *change.mutable_before() = Decision(i, 17);
    v1::ConsentRecord after = Decision(i, 42);
    after.set_state(after.state() == v1::GRANTED ? v1::WITHDRAWN : v1::GRANTED);
    *change.mutable_after() = after;
  }
  h.set_idempotency_key("3f1c9a7e-5b2d-4e8a-9c61-0d7b2e4f8a13");
  h.set_request_reference("ticket-58213");
  h.set_previous_hash(Digest('p'));
  return h;
}

}  // namespace assent::bench
