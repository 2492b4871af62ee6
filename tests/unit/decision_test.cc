#include "core/decision.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace assent::core {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(
      static_cast<int32_t>((t - absl::FromUnixSeconds(ts.seconds())) / absl::Nanoseconds(1)));
  return ts;
}

absl::Time FromTs(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

constexpr uint32_t Min(uint32_t hour, uint32_t minute) { return hour * 60 + minute; }

// Thursday 2026-01-15 12:00 UTC (13:00 in Berlin, winter time).
const absl::Time kNow = Utc(2026, 1, 15, 12, 0);
constexpr char kPurposeId[] = "marketing.newsletter";
constexpr char kSubjectId[] = "s-1";
constexpr char kContactHash[] = "6c0f5e1d9a7b3c2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e";

// A consent record as a case describes it; Build() makes the stored form.
struct Rec {
  std::string id;
  v1::ConsentState state = v1::GRANTED;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  std::string topic = "";
  absl::Time effective = kNow - absl::Hours(24);
  std::optional<absl::Time> expire = std::nullopt;
  uint32_t notice = 3;
  uint64_t sequence = 5;
  std::string purpose = kPurposeId;

  v1::ConsentRecord Build() const {
    v1::ConsentRecord r;
    r.set_record_id(id);
    r.set_purpose_id(purpose);
    r.set_purpose_version(1);
    r.set_channel(channel);
    r.set_topic(topic);
    r.set_state(state);
    *r.mutable_effective_time() = Ts(effective);
    *r.mutable_recorded_time() = Ts(effective);
    if (expire.has_value()) *r.mutable_expire_time() = Ts(*expire);
    r.mutable_evidence()->set_notice_version(notice);
    r.set_sequence(sequence);
    return r;
  }
};

// Everything a check looks at. The defaults: a marketing purpose on email, SMS, push and targeted
// ads (notice 3, minimum 2), a subject with nothing recorded, no contact point, no policy rules, no
// jurisdiction, email, no topic, at kNow.
struct World {
  v1::Purpose purpose;
  v1::DefaultPolicy policy;
  v1::SubjectState subject;
  v1::ContactPointState contact;
  bool with_subject = true;
  bool with_contact = false;
  bool erased = false;
  v1::Channel channel = v1::EMAIL;
  std::string topic;
  std::string jurisdiction;
  absl::Time now = kNow;

  World() {
    purpose.set_purpose_id(kPurposeId);
    purpose.set_version(1);
    purpose.set_kind(v1::MARKETING);
    purpose.set_legal_basis(v1::CONSENT);
    for (v1::Channel c : {v1::EMAIL, v1::SMS, v1::PUSH, v1::TARGETED_ADS}) purpose.add_channels(c);
    purpose.set_notice_version(3);
    purpose.set_min_notice_version(2);
    subject.set_tenant("acme");
    subject.set_subject_id(kSubjectId);
    subject.set_sequence(9);
    contact.set_tenant("acme");
    contact.mutable_contact()->set_type(v1::CONTACT_EMAIL);
    contact.mutable_contact()->set_hash(kContactHash);
    contact.set_linked_subject_id(kSubjectId);
    contact.set_sequence(4);
  }

  CheckInput Input() const {
    CheckInput in;
    in.purpose = &purpose;
    in.policy = &policy;
    in.channel = channel;
    in.topic = topic;
    in.now = now;
    in.jurisdiction = jurisdiction;
    in.subject = with_subject ? &subject : nullptr;
    in.contact = with_contact ? &contact : nullptr;
    if (erased) {
      in.subject = nullptr;
      in.subject_erased = true;
      in.erased_subject_id = kSubjectId;
    }
    return in;
  }

  void SubjectRecord(const Rec& r) { *subject.add_decisions() = r.Build(); }
  // Makes the target the contact point (linked to the subject unless with_subject is cleared).
  void ContactRecord(const Rec& r) {
    with_contact = true;
    *contact.add_decisions() = r.Build();
  }
  void Suppress(const std::string& id, v1::Suppression::Kind kind,
                v1::Channel on = v1::CHANNEL_UNSPECIFIED) {
    with_contact = true;
    v1::Suppression* s = contact.add_suppressions();
    s->set_record_id(id);
    s->set_kind(kind);
    s->set_channel(on);
    s->set_sequence(21);
    *s->mutable_effective_time() = Ts(kNow - absl::Hours(48));
  }
  void Rule(const std::string& where, v1::PolicyMode mode, v1::Channel on = v1::CHANNEL_UNSPECIFIED,
            v1::PurposeKind kind = v1::PURPOSE_KIND_UNSPECIFIED) {
    v1::PolicyRule* rule = policy.add_rules();
    rule->set_jurisdiction(where);
    rule->set_channel(on);
    rule->set_purpose_kind(kind);
    rule->set_mode(mode);
  }
  void Quiet(uint32_t start, uint32_t end, const std::string& zone,
             const std::vector<v1::Channel>& channels = {}) {
    v1::QuietHours* q = subject.mutable_preferences()->mutable_quiet_hours();
    q->set_start_minute(start);
    q->set_end_minute(end);
    q->set_time_zone(zone);
    for (v1::Channel c : channels) q->add_channels(c);
  }
  void OptOutGlobally(v1::Channel on) {
    subject.mutable_preferences()->add_global_opt_out_channels(on);
  }
  void Gpc() {
    subject.set_gpc_opt_out(true);
    subject.set_gpc_record_id("3-0");
  }
};

// ---------------------------------------------------------------------------------------------
// Decide: one row per branch of the rule.

// Names each instance of a table-driven test after its row.
template <typename Case>
std::string CaseName(const ::testing::TestParamInfo<Case>& row) {
  return row.param.name;
}

enum class By { kNobody, kSubject, kContact };

struct DecideCase {
  std::string name;
  std::function<void(World&)> setup;
  v1::Verdict verdict;
  v1::Reason reason;
  std::string record_id = "";
  By decided_by = By::kNobody;
};

void PrintTo(const DecideCase& c, std::ostream* os) { *os << c.name; }

// Inside 12:30-14:00 Berlin at kNow (13:00 CET).
void QuietNow(World& w) { w.Quiet(Min(12, 30), Min(14, 0), "Europe/Berlin"); }

std::vector<DecideCase> DecideCases() {
  const absl::Time earlier = kNow - absl::Hours(48);
  const absl::Time later = kNow - absl::Hours(2);
  return {
      // Rule 2: transactional.
      {"TransactionalAllowed", [](World& w) { w.purpose.set_kind(v1::TRANSACTIONAL); }, v1::ALLOW,
       v1::TRANSACTIONAL_ALLOWED},
      {"TransactionalIgnoresDenialGlobalOptOutAndGpc",
       [](World& w) {
         w.purpose.set_kind(v1::TRANSACTIONAL);
         w.SubjectRecord({.id = "r-deny", .state = v1::DENIED});
         w.OptOutGlobally(v1::EMAIL);
         w.Gpc();
       },
       v1::ALLOW, v1::TRANSACTIONAL_ALLOWED},
      {"TransactionalWithSoftSuppressionsAllowed",
       [](World& w) {
         w.purpose.set_kind(v1::TRANSACTIONAL);
         w.Suppress("sup-unsub", v1::Suppression::UNSUBSCRIBED, v1::EMAIL);
         w.Suppress("sup-complaint", v1::Suppression::COMPLAINT);
       },
       v1::ALLOW, v1::TRANSACTIONAL_ALLOWED},
      {"TransactionalHardBounceDenied",
       [](World& w) {
         w.purpose.set_kind(v1::TRANSACTIONAL);
         w.Suppress("sup-hb", v1::Suppression::HARD_BOUNCE, v1::EMAIL);
       },
       v1::DENY, v1::ADDRESS_SUPPRESSED, "sup-hb", By::kContact},
      {"TransactionalInvalidOnAllChannelsDenied",
       [](World& w) {
         w.purpose.set_kind(v1::TRANSACTIONAL);
         w.Suppress("sup-invalid", v1::Suppression::INVALID);
       },
       v1::DENY, v1::ADDRESS_SUPPRESSED, "sup-invalid", By::kContact},
      {"TransactionalSkipsSoftSuppressionToFindHardOne",
       [](World& w) {
         w.purpose.set_kind(v1::TRANSACTIONAL);
         w.Suppress("sup-unsub", v1::Suppression::UNSUBSCRIBED, v1::EMAIL);
         w.Suppress("sup-hb", v1::Suppression::HARD_BOUNCE);
       },
       v1::DENY, v1::ADDRESS_SUPPRESSED, "sup-hb", By::kContact},
      {"TransactionalHardBounceOnOtherChannelIgnored",
       [](World& w) {
         w.purpose.set_kind(v1::TRANSACTIONAL);
         w.Suppress("sup-hb", v1::Suppression::HARD_BOUNCE, v1::SMS);
       },
       v1::ALLOW, v1::TRANSACTIONAL_ALLOWED},
      {"TransactionalNotDelayedByQuietHours",
       [](World& w) {
         w.purpose.set_kind(v1::TRANSACTIONAL);
         QuietNow(w);
       },
       v1::ALLOW, v1::TRANSACTIONAL_ALLOWED},

      // Rule 3: suppression.
      {"UnsubscribeOnChannelBeatsGrant",
       [](World& w) {
         w.ContactRecord({.id = "c-grant"});
         w.Suppress("sup-unsub", v1::Suppression::UNSUBSCRIBED, v1::EMAIL);
       },
       v1::DENY, v1::ADDRESS_SUPPRESSED, "sup-unsub", By::kContact},
      {"ComplaintOnAllChannelsBeatsGrant",
       [](World& w) {
         w.SubjectRecord({.id = "r-grant"});
         w.Suppress("sup-complaint", v1::Suppression::COMPLAINT);
       },
       v1::DENY, v1::ADDRESS_SUPPRESSED, "sup-complaint", By::kContact},
      {"HardBounceDeniesMarketingToo",
       [](World& w) { w.Suppress("sup-hb", v1::Suppression::HARD_BOUNCE, v1::EMAIL); }, v1::DENY,
       v1::ADDRESS_SUPPRESSED, "sup-hb", By::kContact},
      {"SuppressionOnOtherChannelIgnored",
       [](World& w) {
         w.ContactRecord({.id = "c-grant"});
         w.Suppress("sup-sms", v1::Suppression::UNSUBSCRIBED, v1::SMS);
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "c-grant", By::kContact},
      {"SuppressionCheckedBeforeGlobalOptOut",
       [](World& w) {
         w.Suppress("sup-unsub", v1::Suppression::UNSUBSCRIBED);
         w.OptOutGlobally(v1::EMAIL);
       },
       v1::DENY, v1::ADDRESS_SUPPRESSED, "sup-unsub", By::kContact},

      // An erased subject (no state since): only transactional messages.
      {"ErasedSubjectDeniedEvenUnderOptOutPolicy",
       [](World& w) {
         w.erased = true;
         w.jurisdiction = "US";
         w.Rule("US", v1::OPT_OUT);
       },
       v1::DENY, v1::ERASED, "", By::kSubject},
      {"ErasedSubjectTransactionalAllowed",
       [](World& w) {
         w.erased = true;
         w.purpose.set_kind(v1::TRANSACTIONAL);
       },
       v1::ALLOW, v1::TRANSACTIONAL_ALLOWED},

      // Rule 4: global opt-out.
      {"GlobalOptOutBeatsGrant",
       [](World& w) {
         w.SubjectRecord({.id = "r-grant"});
         w.OptOutGlobally(v1::EMAIL);
       },
       v1::DENY, v1::GLOBAL_OPT_OUT, "", By::kSubject},
      {"GlobalOptOutOnOtherChannelIgnored",
       [](World& w) {
         w.SubjectRecord({.id = "r-grant"});
         w.OptOutGlobally(v1::SMS);
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-grant", By::kSubject},
      {"LinkedSubjectsGlobalOptOutAppliesToContactPoint",
       [](World& w) {
         w.ContactRecord({.id = "c-grant"});
         w.OptOutGlobally(v1::EMAIL);
       },
       v1::DENY, v1::GLOBAL_OPT_OUT, "", By::kSubject},

      // Rule 5: explicit decisions, by state.
      {"NothingRecordedNoPolicy", [](World&) {}, v1::DENY, v1::NO_CONSENT},
      {"SubjectGrant", [](World& w) { w.SubjectRecord({.id = "r-grant"}); }, v1::ALLOW,
       v1::EXPLICIT_GRANT, "r-grant", By::kSubject},
      {"ContactGrantWithoutSubject",
       [](World& w) {
         w.with_subject = false;
         w.ContactRecord({.id = "c-grant"});
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "c-grant", By::kContact},
      {"Denied", [](World& w) { w.SubjectRecord({.id = "r-deny", .state = v1::DENIED}); }, v1::DENY,
       v1::EXPLICIT_DENY, "r-deny", By::kSubject},
      {"Withdrawn", [](World& w) { w.ContactRecord({.id = "c-wd", .state = v1::WITHDRAWN}); },
       v1::DENY, v1::EXPLICIT_DENY, "c-wd", By::kContact},
      {"Pending", [](World& w) { w.SubjectRecord({.id = "r-pend", .state = v1::PENDING}); },
       v1::DENY, v1::PENDING_CONFIRMATION, "r-pend", By::kSubject},
      {"GrantExpiredBeforeNow",
       [](World& w) { w.SubjectRecord({.id = "r-old", .expire = kNow - absl::Seconds(1)}); },
       v1::DENY, v1::EXPIRED, "r-old", By::kSubject},
      {"GrantExpiringExactlyNowIsExpired",
       [](World& w) { w.SubjectRecord({.id = "r-old", .expire = kNow}); }, v1::DENY, v1::EXPIRED,
       "r-old", By::kSubject},
      {"GrantExpiringAfterNowAllows",
       [](World& w) { w.SubjectRecord({.id = "r-ok", .expire = kNow + absl::Seconds(1)}); },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-ok", By::kSubject},
      {"NoticeBelowMinimumNeedsRepermission",
       [](World& w) { w.SubjectRecord({.id = "r-v1", .notice = 1}); }, v1::DENY,
       v1::REPERMISSION_REQUIRED, "r-v1", By::kSubject},
      {"NoticeAtMinimumAllows", [](World& w) { w.SubjectRecord({.id = "r-v2", .notice = 2}); },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-v2", By::kSubject},
      {"MinimumZeroMeansOneSoNoticeOneAllows",
       [](World& w) {
         w.purpose.set_min_notice_version(0);
         w.SubjectRecord({.id = "r-v1", .notice = 1});
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-v1", By::kSubject},
      {"MinimumZeroMeansOneSoNoticeZeroNeedsRepermission",
       [](World& w) {
         w.purpose.set_min_notice_version(0);
         w.SubjectRecord({.id = "r-v0", .notice = 0});
       },
       v1::DENY, v1::REPERMISSION_REQUIRED, "r-v0", By::kSubject},
      {"ExpiryReportedBeforeRepermission",
       [](World& w) { w.SubjectRecord({.id = "r-both", .expire = kNow, .notice = 1}); }, v1::DENY,
       v1::EXPIRED, "r-both", By::kSubject},

      // Rule 5: which decisions match.
      {"DecisionForOtherPurposeIgnored",
       [](World& w) { w.SubjectRecord({.id = "r-other", .purpose = "marketing.offers"}); },
       v1::DENY, v1::NO_CONSENT},
      {"DecisionForOtherChannelIgnored",
       [](World& w) { w.SubjectRecord({.id = "r-sms", .channel = v1::SMS}); }, v1::DENY,
       v1::NO_CONSENT},
      {"DecisionForOtherTopicIgnored",
       [](World& w) {
         w.topic = "news";
         w.SubjectRecord({.id = "r-offers", .topic = "offers"});
       },
       v1::DENY, v1::NO_CONSENT},
      {"TopicDecisionIgnoredWhenCheckNamesNoTopic",
       [](World& w) { w.SubjectRecord({.id = "r-news", .topic = "news"}); }, v1::DENY,
       v1::NO_CONSENT},
      {"PurposeWideDecisionCoversEveryTopicAndChannel",
       [](World& w) {
         w.topic = "news";
         w.channel = v1::PUSH;
         w.SubjectRecord({.id = "r-all"});
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-all", By::kSubject},

      // Rule 5: specificity across the contact point's and the subject's records (every pair of
      // levels is also covered by SpecificityEveryPairOfLevels below).
      {"ContactTopicChannelDenialBeatsNewerSubjectPurposeGrant",
       [=](World& w) {
         w.topic = "news";
         w.ContactRecord({.id = "c-tc",
                          .state = v1::DENIED,
                          .channel = v1::EMAIL,
                          .topic = "news",
                          .effective = earlier});
         w.SubjectRecord({.id = "r-p", .effective = later});
       },
       v1::DENY, v1::EXPLICIT_DENY, "c-tc", By::kContact},
      {"SubjectTopicGrantBeatsNewerContactChannelDenial",
       [=](World& w) {
         w.topic = "news";
         w.SubjectRecord({.id = "r-t", .topic = "news", .effective = earlier});
         w.ContactRecord(
             {.id = "c-c", .state = v1::DENIED, .channel = v1::EMAIL, .effective = later});
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-t", By::kSubject},

      // Rule 5: within a level.
      {"LaterGrantBeatsEarlierDenial",
       [=](World& w) {
         w.SubjectRecord({.id = "r-deny", .state = v1::DENIED, .effective = earlier});
         w.ContactRecord({.id = "c-grant", .effective = later});
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "c-grant", By::kContact},
      {"LaterDenialBeatsEarlierGrant",
       [=](World& w) {
         w.ContactRecord({.id = "c-grant", .effective = earlier});
         w.SubjectRecord({.id = "r-wd", .state = v1::WITHDRAWN, .effective = later});
       },
       v1::DENY, v1::EXPLICIT_DENY, "r-wd", By::kSubject},
      {"OneNanosecondLaterCounts",
       [=](World& w) {
         w.SubjectRecord({.id = "r-deny", .state = v1::DENIED, .effective = later});
         w.SubjectRecord({.id = "r-grant", .effective = later + absl::Nanoseconds(1)});
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-grant", By::kSubject},
      {"TieGoesToSubjectDenialOverContactGrant",
       [=](World& w) {
         w.ContactRecord({.id = "c-grant", .effective = later});
         w.SubjectRecord({.id = "r-deny", .state = v1::DENIED, .effective = later});
       },
       v1::DENY, v1::EXPLICIT_DENY, "r-deny", By::kSubject},
      {"TieGoesToContactDenialOverSubjectGrant",
       [=](World& w) {
         w.SubjectRecord({.id = "r-grant", .effective = later});
         w.ContactRecord({.id = "c-deny", .state = v1::DENIED, .effective = later});
       },
       v1::DENY, v1::EXPLICIT_DENY, "c-deny", By::kContact},
      {"TieGoesToPendingOverGrant",
       [=](World& w) {
         w.SubjectRecord({.id = "r-grant", .effective = later});
         w.SubjectRecord({.id = "r-pend", .state = v1::PENDING, .effective = later});
       },
       v1::DENY, v1::PENDING_CONFIRMATION, "r-pend", By::kSubject},
      {"TieGoesToWithdrawalOverPending",
       [=](World& w) {
         w.SubjectRecord({.id = "r-pend", .state = v1::PENDING, .effective = later});
         w.SubjectRecord({.id = "r-wd", .state = v1::WITHDRAWN, .effective = later});
       },
       v1::DENY, v1::EXPLICIT_DENY, "r-wd", By::kSubject},
      {"TieBetweenEqualGrantsKeepsContactPoints",
       [=](World& w) {
         w.SubjectRecord({.id = "r-grant", .effective = later});
         w.ContactRecord({.id = "c-grant", .effective = later});
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "c-grant", By::kContact},

      // Rule 6: GPC.
      {"GpcDeniesSaleOrShare",
       [](World& w) {
         w.purpose.set_kind(v1::SALE_OR_SHARE);
         w.jurisdiction = "US-CA";
         w.Rule("US", v1::OPT_OUT);
         w.Gpc();
       },
       v1::DENY, v1::GPC_OPT_OUT, "3-0", By::kSubject},
      {"GpcDeniesTargetedAdsForAnyPurpose",
       [](World& w) {
         w.channel = v1::TARGETED_ADS;
         w.jurisdiction = "US-CA";
         w.Rule("US", v1::OPT_OUT);
         w.Gpc();
       },
       v1::DENY, v1::GPC_OPT_OUT, "3-0", By::kSubject},
      {"GpcOfLinkedSubjectAppliesToContactPoint",
       [](World& w) {
         w.purpose.set_kind(v1::SALE_OR_SHARE);
         w.with_contact = true;
         w.Gpc();
       },
       v1::DENY, v1::GPC_OPT_OUT, "3-0", By::kSubject},
      {"GpcIgnoredForEmailMarketing",
       [](World& w) {
         w.jurisdiction = "US-CA";
         w.Rule("US", v1::OPT_OUT);
         w.Gpc();
       },
       v1::ALLOW, v1::DEFAULT_OPT_OUT},
      {"ExplicitGrantOverridesGpc",
       [](World& w) {
         w.purpose.set_kind(v1::SALE_OR_SHARE);
         w.SubjectRecord({.id = "r-grant"});
         w.Gpc();
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-grant", By::kSubject},

      // Rule 7: default policy.
      {"OptOutJurisdictionFromRequest",
       [](World& w) {
         w.jurisdiction = "US";
         w.Rule("US", v1::OPT_OUT);
       },
       v1::ALLOW, v1::DEFAULT_OPT_OUT},
      {"OptInJurisdictionFromRequest",
       [](World& w) {
         w.jurisdiction = "DE";
         w.Rule("US", v1::OPT_OUT);
         w.Rule("EU", v1::OPT_IN);
       },
       v1::DENY, v1::NO_CONSENT},
      {"JurisdictionFromPreferences",
       [](World& w) {
         w.subject.mutable_preferences()->set_jurisdiction("US");
         w.Rule("US", v1::OPT_OUT);
       },
       v1::ALLOW, v1::DEFAULT_OPT_OUT},
      {"JurisdictionFromLastSeen",
       [](World& w) {
         w.subject.set_last_jurisdiction("US-TX");
         w.Rule("US", v1::OPT_OUT);
       },
       v1::ALLOW, v1::DEFAULT_OPT_OUT},
      {"RequestJurisdictionBeatsPreferences",
       [](World& w) {
         w.jurisdiction = "DE";
         w.subject.mutable_preferences()->set_jurisdiction("US");
         w.Rule("US", v1::OPT_OUT);
       },
       v1::DENY, v1::NO_CONSENT},
      {"PreferencesBeatLastSeenJurisdiction",
       [](World& w) {
         w.subject.mutable_preferences()->set_jurisdiction("DE");
         w.subject.set_last_jurisdiction("US");
         w.Rule("US", v1::OPT_OUT);
       },
       v1::DENY, v1::NO_CONSENT},
      {"UnknownJurisdictionIsOptInDespiteStarOptOut", [](World& w) { w.Rule("*", v1::OPT_OUT); },
       v1::DENY, v1::NO_CONSENT},
      {"ContactWithoutSubjectHasUnknownJurisdiction",
       [](World& w) {
         w.with_subject = false;
         w.with_contact = true;
         w.Rule("*", v1::OPT_OUT);
       },
       v1::DENY, v1::NO_CONSENT},
      {"StarOptOutAppliesToKnownJurisdiction",
       [](World& w) {
         w.jurisdiction = "BR";
         w.Rule("*", v1::OPT_OUT);
       },
       v1::ALLOW, v1::DEFAULT_OPT_OUT},
      {"SubdivisionRuleBeatsCountryRule",
       [](World& w) {
         w.jurisdiction = "US-CA";
         w.Rule("US", v1::OPT_OUT);
         w.Rule("US-CA", v1::OPT_IN);
       },
       v1::DENY, v1::NO_CONSENT},
      {"ChannelRuleBeatsAnyChannelRule",
       [](World& w) {
         w.jurisdiction = "US";
         w.channel = v1::SMS;
         w.Rule("US", v1::OPT_OUT);
         w.Rule("US", v1::OPT_IN, v1::SMS);
       },
       v1::DENY, v1::NO_CONSENT},
      {"KindRuleBeatsAnyKindRule",
       [](World& w) {
         w.jurisdiction = "US";
         w.Rule("US", v1::OPT_IN);
         w.Rule("US", v1::OPT_OUT, v1::CHANNEL_UNSPECIFIED, v1::MARKETING);
       },
       v1::ALLOW, v1::DEFAULT_OPT_OUT},

      // Rule 8: quiet hours.
      {"QuietHoursDelayGrant",
       [](World& w) {
         w.SubjectRecord({.id = "r-grant"});
         QuietNow(w);
       },
       v1::DENY, v1::QUIET_HOURS, "r-grant", By::kSubject},
      {"QuietHoursDelayDefaultOptOut",
       [](World& w) {
         w.jurisdiction = "US";
         w.Rule("US", v1::OPT_OUT);
         QuietNow(w);
       },
       v1::DENY, v1::QUIET_HOURS},
      {"LinkedSubjectsQuietHoursDelayContactGrant",
       [](World& w) {
         w.ContactRecord({.id = "c-grant"});
         QuietNow(w);
       },
       v1::DENY, v1::QUIET_HOURS, "c-grant", By::kContact},
      {"QuietHoursListingTheChannelApply",
       [](World& w) {
         w.SubjectRecord({.id = "r-grant"});
         w.Quiet(Min(12, 30), Min(14, 0), "Europe/Berlin", {v1::SMS, v1::EMAIL});
       },
       v1::DENY, v1::QUIET_HOURS, "r-grant", By::kSubject},
      {"QuietHoursForOtherChannelsIgnored",
       [](World& w) {
         w.SubjectRecord({.id = "r-grant"});
         w.Quiet(Min(12, 30), Min(14, 0), "Europe/Berlin", {v1::SMS});
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-grant", By::kSubject},
      {"OutsideQuietHoursAllows",
       [](World& w) {
         w.SubjectRecord({.id = "r-grant"});
         w.Quiet(Min(14, 0), Min(16, 0), "Europe/Berlin");  // 13:00 in Berlin
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-grant", By::kSubject},
      {"EmptyQuietHoursWindowAllows",
       [](World& w) {
         w.SubjectRecord({.id = "r-grant"});
         w.Quiet(Min(13, 0), Min(13, 0), "Europe/Berlin");
       },
       v1::ALLOW, v1::EXPLICIT_GRANT, "r-grant", By::kSubject},
      {"QuietHoursLeaveDenialAlone",
       [](World& w) {
         w.SubjectRecord({.id = "r-deny", .state = v1::DENIED});
         QuietNow(w);
       },
       v1::DENY, v1::EXPLICIT_DENY, "r-deny", By::kSubject},
      {"QuietHoursLeaveExpiryAlone",
       [](World& w) {
         w.SubjectRecord({.id = "r-old", .expire = kNow});
         QuietNow(w);
       },
       v1::DENY, v1::EXPIRED, "r-old", By::kSubject},
      {"QuietHoursLeaveNoConsentAlone", [](World& w) { QuietNow(w); }, v1::DENY, v1::NO_CONSENT},
  };
}

class DecideTest : public ::testing::TestWithParam<DecideCase> {};

TEST_P(DecideTest, Decides) {
  const DecideCase& c = GetParam();
  World w;
  c.setup(w);
  absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(v1::Verdict_Name(got->verdict()), v1::Verdict_Name(c.verdict));
  EXPECT_EQ(v1::Reason_Name(got->reason()), v1::Reason_Name(c.reason));
  EXPECT_EQ(got->record_id(), c.record_id);
  switch (c.decided_by) {
    case By::kNobody:
      EXPECT_FALSE(got->has_decided_by()) << got->decided_by().DebugString();
      break;
    case By::kSubject:
      EXPECT_EQ(got->decided_by().subject_id(), kSubjectId);
      break;
    case By::kContact:
      EXPECT_EQ(got->decided_by().contact().hash(), kContactHash);
      EXPECT_EQ(got->decided_by().contact().type(), v1::CONTACT_EMAIL);
      break;
  }
  // Only quiet hours say when to come back.
  EXPECT_EQ(got->has_retry_after(), c.reason == v1::QUIET_HOURS);
}

INSTANTIATE_TEST_SUITE_P(Rule, DecideTest, ::testing::ValuesIn(DecideCases()),
                         CaseName<DecideCase>);

// ---------------------------------------------------------------------------------------------
// Decide: errors and the details of a response.

TEST(DecideErrorsTest, NullPurposeIsInvalidArgument) {
  World w;
  CheckInput in = w.Input();
  in.purpose = nullptr;
  absl::StatusOr<v1::CheckResponse> got = Decide(in);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()), StartsWith("purpose"));
}

TEST(DecideErrorsTest, UnspecifiedChannelIsInvalidArgument) {
  World w;
  w.channel = v1::CHANNEL_UNSPECIFIED;
  absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()), StartsWith("channel: "));
}

TEST(DecideErrorsTest, ChannelOutsidePurposeIsInvalidArgumentEvenForTransactional) {
  for (v1::PurposeKind kind : {v1::MARKETING, v1::TRANSACTIONAL}) {
    World w;
    w.purpose.set_kind(kind);
    w.channel = v1::VOICE;
    w.SubjectRecord({.id = "r-grant"});
    absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument)
        << v1::PurposeKind_Name(kind);
    EXPECT_THAT(std::string(got.status().message()), StartsWith("channel: "));
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("VOICE"));
  }
}

TEST(DecideResponseTest, CarriesSequenceOfDecidingRecord) {
  World w;
  w.ContactRecord({.id = "17-0", .sequence = 17});
  w.SubjectRecord(
      {.id = "5-1", .state = v1::DENIED, .effective = kNow - absl::Hours(48), .sequence = 5});
  w.SubjectRecord({.id = "6-0", .channel = v1::SMS, .sequence = 6});
  absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record_id(), "17-0");
  EXPECT_EQ(got->record_sequence(), 17u);
  EXPECT_EQ(got->decided_by().contact().hash(), kContactHash);
  // A later subject denial at the same level takes over, with its own sequence.
  w.SubjectRecord({.id = "30-0", .state = v1::DENIED, .effective = kNow, .sequence = 30});
  got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record_id(), "30-0");
  EXPECT_EQ(got->record_sequence(), 30u);
  EXPECT_EQ(got->decided_by().subject_id(), kSubjectId);
}

TEST(DecideResponseTest, SuppressionCarriesItsSequence) {
  World w;
  w.Suppress("21-0", v1::Suppression::COMPLAINT, v1::EMAIL);
  absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->reason(), v1::ADDRESS_SUPPRESSED);
  EXPECT_EQ(got->record_sequence(), 21u);
}

TEST(DecideResponseTest, ReportsJurisdictionUsed) {
  struct Case {
    std::string request, preferences, last_seen, want;
  };
  for (const Case& c : std::vector<Case>{{"US-CA", "DE", "FR", "US-CA"},
                                         {"", "DE", "FR", "DE"},
                                         {"", "", "FR", "FR"},
                                         {"", "", "", ""}}) {
    World w;
    w.jurisdiction = c.request;
    w.subject.mutable_preferences()->set_jurisdiction(c.preferences);
    w.subject.set_last_jurisdiction(c.last_seen);
    absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->jurisdiction(), c.want);
  }
}

TEST(DecideResponseTest, QuietHoursRetryAfterIsEndOfWindow) {
  World w;
  w.SubjectRecord({.id = "r-grant"});
  QuietNow(w);                             // 12:30-14:00 Berlin, now 13:00 CET
  w.now = kNow + absl::Milliseconds(250);  // sub-second input must not leak into the answer
  absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->reason(), v1::QUIET_HOURS);
  EXPECT_EQ(FromTs(got->retry_after()), Utc(2026, 1, 15, 13, 0));  // 14:00 CET
  EXPECT_EQ(got->retry_after().nanos(), 0);
  EXPECT_EQ(got->frequency_caps_size(), 0);
}

TEST(DecideResponseTest, FrequencyCapsForTheChannelOnAllowOnly) {
  World w;
  v1::Preferences* prefs = w.subject.mutable_preferences();
  auto add_cap = [prefs](v1::Channel on, uint32_t max, absl::Duration period) {
    v1::FrequencyCap* cap = prefs->add_frequency_caps();
    cap->set_channel(on);
    cap->set_max_messages(max);
    cap->mutable_period()->set_seconds(absl::ToInt64Seconds(period));
  };
  add_cap(v1::EMAIL, 3, absl::Hours(24));
  add_cap(v1::SMS, 1, absl::Hours(24 * 7));
  add_cap(v1::EMAIL, 10, absl::Hours(24 * 7));

  w.SubjectRecord({.id = "r-grant"});
  absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->verdict(), v1::ALLOW);
  ASSERT_EQ(got->frequency_caps_size(), 2);
  EXPECT_EQ(got->frequency_caps(0).max_messages(), 3u);
  EXPECT_EQ(got->frequency_caps(1).max_messages(), 10u);

  w.channel = v1::SMS;
  got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->frequency_caps_size(), 1);
  EXPECT_EQ(got->frequency_caps(0).max_messages(), 1u);

  w.channel = v1::PUSH;
  got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->frequency_caps_size(), 0);

  w.channel = v1::EMAIL;
  w.SubjectRecord({.id = "r-deny", .state = v1::DENIED, .effective = kNow});
  got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->verdict(), v1::DENY);
  EXPECT_EQ(got->frequency_caps_size(), 0);

  w.purpose.set_kind(v1::TRANSACTIONAL);
  got = Decide(w.Input());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->reason(), v1::TRANSACTIONAL_ALLOWED);
  EXPECT_EQ(got->frequency_caps_size(), 2);
}

// Every ordered pair of levels, in every placement between contact point and subject, and with the
// more specific record both the older grant and the older denial: the more specific one decides.
TEST(DecideSpecificityTest, SpecificityEveryPairOfLevels) {
  const char* const kLevelNames[] = {"purpose", "channel", "topic", "topic+channel"};
  auto rec = [](int level, std::string id, v1::ConsentState state, absl::Time effective) {
    return Rec{.id = std::move(id),
               .state = state,
               .channel = (level & 1) != 0 ? v1::EMAIL : v1::CHANNEL_UNSPECIFIED,
               .topic = (level & 2) != 0 ? "news" : "",
               .effective = effective};
  };
  int checked = 0;
  for (int high = 1; high <= 3; ++high) {
    for (int low = 0; low < high; ++low) {
      for (bool high_on_contact : {false, true}) {
        for (bool low_on_contact : {false, true}) {
          for (bool high_grants : {false, true}) {
            SCOPED_TRACE(::testing::Message()
                         << kLevelNames[high] << (high_on_contact ? " on contact" : " on subject")
                         << " vs " << kLevelNames[low]
                         << (low_on_contact ? " on contact" : " on subject")
                         << (high_grants ? ", specific grants" : ", specific denies"));
            World w;
            w.topic = "news";
            w.with_contact = true;
            const Rec specific = rec(high, "specific", high_grants ? v1::GRANTED : v1::DENIED,
                                     kNow - absl::Hours(72));
            const Rec general =
                rec(low, "general", high_grants ? v1::DENIED : v1::GRANTED, kNow - absl::Hours(1));
            if (high_on_contact)
              w.ContactRecord(specific);
            else
              w.SubjectRecord(specific);
            if (low_on_contact)
              w.ContactRecord(general);
            else
              w.SubjectRecord(general);
            absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
            ASSERT_TRUE(got.ok()) << got.status();
            EXPECT_EQ(got->record_id(), "specific");
            EXPECT_EQ(got->verdict(), high_grants ? v1::ALLOW : v1::DENY);
            EXPECT_EQ(got->decided_by().has_contact(), high_on_contact);
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 6 * 2 * 2 * 2);
}

// ---------------------------------------------------------------------------------------------
// ResolvePolicy.

struct RuleSpec {
  std::string jurisdiction;
  v1::PolicyMode mode;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  v1::PurposeKind kind = v1::PURPOSE_KIND_UNSPECIFIED;
};

struct PolicyCase {
  std::string name;
  std::vector<RuleSpec> rules;
  std::string jurisdiction;
  v1::PolicyMode want;
  v1::Channel channel = v1::EMAIL;
  v1::PurposeKind kind = v1::MARKETING;
};

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.name; }

std::vector<PolicyCase> PolicyCases() {
  using v1::OPT_IN;
  using v1::OPT_OUT;
  return {
      {"NoRulesIsOptIn", {}, "US", OPT_IN},
      {"EmptyJurisdictionIsOptInDespiteStar", {{"*", OPT_OUT}}, "", OPT_IN},
      {"NoMatchingRuleIsOptIn", {{"US", OPT_OUT}, {"US-CA", OPT_OUT}}, "DE", OPT_IN},
      {"StarMatchesAnything", {{"*", OPT_OUT}}, "BR-SP", OPT_OUT},
      {"ExactSubdivisionBeatsCountryOptIn", {{"US", OPT_OUT}, {"US-CA", OPT_IN}}, "US-CA", OPT_IN},
      {"ExactSubdivisionBeatsCountryOptOut",
       {{"US-CA", OPT_OUT}, {"US", OPT_IN}},
       "US-CA",
       OPT_OUT},
      {"CountryRuleCoversSubdivision", {{"US", OPT_OUT}, {"US-CA", OPT_IN}}, "US-NY", OPT_OUT},
      {"OtherSubdivisionRuleIgnored", {{"US-CA", OPT_OUT}}, "US-NY", OPT_IN},
      {"CountryExactMatch", {{"US", OPT_OUT}, {"*", OPT_IN}}, "US", OPT_OUT},
      {"CountryBeatsEu", {{"EU", OPT_IN}, {"DE", OPT_OUT}}, "DE-BY", OPT_OUT},
      {"EuBeatsStar", {{"*", OPT_OUT}, {"EU", OPT_IN}}, "FR-75", OPT_IN},
      {"EuCoversEeaNonMember", {{"*", OPT_OUT}, {"EU", OPT_IN}}, "NO", OPT_IN},
      {"EuSkipsSwitzerland", {{"*", OPT_OUT}, {"EU", OPT_IN}}, "CH", OPT_OUT},
      {"EuSkipsUnitedKingdom", {{"*", OPT_OUT}, {"EU", OPT_IN}}, "GB", OPT_OUT},
      {"StarLosesToEverything", {{"*", OPT_IN}, {"EU", OPT_OUT}}, "IE", OPT_OUT},
      {"ChannelRuleBeatsAnyChannel",
       {{"US", OPT_OUT}, {"US", OPT_IN, v1::SMS}},
       "US",
       OPT_IN,
       v1::SMS},
      {"ChannelRuleForOtherChannelIgnored",
       {{"US", OPT_OUT}, {"US", OPT_IN, v1::SMS}},
       "US",
       OPT_OUT,
       v1::EMAIL},
      {"JurisdictionOutranksChannel", {{"*", OPT_IN, v1::EMAIL}, {"US", OPT_OUT}}, "US", OPT_OUT},
      {"KindRuleBeatsAnyKind",
       {{"US", OPT_OUT}, {"US", OPT_IN, v1::CHANNEL_UNSPECIFIED, v1::PROFILING}},
       "US",
       OPT_IN,
       v1::EMAIL,
       v1::PROFILING},
      {"KindRuleForOtherKindIgnored",
       {{"US", OPT_OUT}, {"US", OPT_IN, v1::CHANNEL_UNSPECIFIED, v1::PROFILING}},
       "US",
       OPT_OUT},
      {"ChannelOutranksKind",
       {{"US", OPT_IN, v1::CHANNEL_UNSPECIFIED, v1::MARKETING}, {"US", OPT_OUT, v1::EMAIL}},
       "US",
       OPT_OUT},
      {"ChannelAndKindBeatChannel",
       {{"US", OPT_IN, v1::EMAIL}, {"US", OPT_OUT, v1::EMAIL, v1::MARKETING}},
       "US",
       OPT_OUT},
      {"ChannelAndKindBeatChannelWhateverTheOrder",
       {{"US", OPT_OUT, v1::EMAIL, v1::MARKETING}, {"US", OPT_IN, v1::EMAIL}},
       "US",
       OPT_OUT},
      {"TcpaStyleSmsOptInUnderEmailOptOut",
       {{"US", OPT_OUT}, {"US", OPT_IN, v1::SMS}, {"EU", OPT_IN}, {"*", OPT_IN}},
       "US-CA",
       OPT_IN,
       v1::SMS},
  };
}

class ResolvePolicyTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(ResolvePolicyTest, PicksMostSpecificRule) {
  const PolicyCase& c = GetParam();
  v1::DefaultPolicy policy;
  for (const RuleSpec& r : c.rules) {
    v1::PolicyRule* rule = policy.add_rules();
    rule->set_jurisdiction(r.jurisdiction);
    rule->set_mode(r.mode);
    rule->set_channel(r.channel);
    rule->set_purpose_kind(r.kind);
  }
  EXPECT_EQ(v1::PolicyMode_Name(ResolvePolicy(&policy, c.jurisdiction, c.channel, c.kind)),
            v1::PolicyMode_Name(c.want));
}

INSTANTIATE_TEST_SUITE_P(Policy, ResolvePolicyTest, ::testing::ValuesIn(PolicyCases()),
                         CaseName<PolicyCase>);

TEST(ResolvePolicyNullTest, NullPolicyIsOptIn) {
  EXPECT_EQ(ResolvePolicy(nullptr, "US", v1::EMAIL, v1::MARKETING), v1::OPT_IN);
}

// ---------------------------------------------------------------------------------------------
// InEuropeanEconomicArea.

TEST(InEuropeanEconomicAreaTest, MembersAndSubdivisions) {
  for (const char* j :
       {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE",    "ES",    "FI",   "FR", "GR",
        "EL", "HR", "HU", "IE", "IT", "LT", "LU", "LV",    "MT",    "NL",   "PL", "PT",
        "RO", "SE", "SI", "SK", "IS", "LI", "NO", "DE-BY", "FR-75", "NO-03"}) {
    EXPECT_TRUE(InEuropeanEconomicArea(j)) << j;
  }
}

TEST(InEuropeanEconomicAreaTest, NonMembers) {
  for (const char* j :
       {"", "GB", "CH", "US", "US-CA", "TR", "UA", "EU", "*", "de", "DEU", "D", "GB-NIR"}) {
    EXPECT_FALSE(InEuropeanEconomicArea(j)) << j;
  }
}

// ---------------------------------------------------------------------------------------------
// QuietHoursEnd: exact instants, including the nights clocks change.

struct QuietCase {
  std::string name;
  uint32_t start;
  uint32_t end;
  std::string zone;
  absl::Time now;
  std::optional<absl::Time> want;
  std::vector<v1::Channel> channels = {};
  v1::Channel channel = v1::EMAIL;
};

void PrintTo(const QuietCase& c, std::ostream* os) { *os << c.name; }

v1::QuietHours MakeQuietHours(const QuietCase& c) {
  v1::QuietHours q;
  q.set_start_minute(c.start);
  q.set_end_minute(c.end);
  q.set_time_zone(c.zone);
  for (v1::Channel ch : c.channels) q.add_channels(ch);
  return q;
}

std::vector<QuietCase> QuietCases() {
  const std::optional<absl::Time> kOutside;
  const uint32_t k9 = Min(9, 0), k17 = Min(17, 0), k22 = Min(22, 0), k7 = Min(7, 0);
  return {
      {"InsideDaytimeWindow", k9, k17, "UTC", Utc(2026, 1, 15, 12, 0), Utc(2026, 1, 15, 17, 0)},
      {"StartIsInside", k9, k17, "UTC", Utc(2026, 1, 15, 9, 0), Utc(2026, 1, 15, 17, 0)},
      {"EndIsOutside", k9, k17, "UTC", Utc(2026, 1, 15, 17, 0), kOutside},
      {"LastSecondIsInside", k9, k17, "UTC", Utc(2026, 1, 15, 16, 59, 59), Utc(2026, 1, 15, 17, 0)},
      {"BeforeWindow", k9, k17, "UTC", Utc(2026, 1, 15, 8, 59, 59), kOutside},
      {"AfterWindow", k9, k17, "UTC", Utc(2026, 1, 15, 20, 0), kOutside},
      {"OvernightBeforeMidnight", k22, k7, "UTC", Utc(2026, 1, 15, 23, 30), Utc(2026, 1, 16, 7, 0)},
      {"OvernightAtStart", k22, k7, "UTC", Utc(2026, 1, 15, 22, 0), Utc(2026, 1, 16, 7, 0)},
      {"OvernightAfterMidnight", k22, k7, "UTC", Utc(2026, 1, 16, 2, 0), Utc(2026, 1, 16, 7, 0)},
      {"OvernightAtMidnight", k22, k7, "UTC", Utc(2026, 1, 16, 0, 0), Utc(2026, 1, 16, 7, 0)},
      {"OvernightAtEnd", k22, k7, "UTC", Utc(2026, 1, 16, 7, 0), kOutside},
      {"OvernightDuringDay", k22, k7, "UTC", Utc(2026, 1, 15, 12, 0), kOutside},
      {"OvernightAcrossMonthEnd", k22, k7, "UTC", Utc(2026, 1, 31, 23, 0), Utc(2026, 2, 1, 7, 0)},
      {"EmptyWindow", k9, k9, "UTC", Utc(2026, 1, 15, 9, 0), kOutside},
      {"ListedChannel",
       k9,
       k17,
       "UTC",
       Utc(2026, 1, 15, 12, 0),
       Utc(2026, 1, 15, 17, 0),
       {v1::SMS, v1::EMAIL}},
      {"UnlistedChannel", k9, k17, "UTC", Utc(2026, 1, 15, 12, 0), kOutside, {v1::SMS}},
      {"UnknownZoneIsUtc", k9, k17, "Mars/Olympus_Mons", Utc(2026, 1, 15, 12, 0),
       Utc(2026, 1, 15, 17, 0)},
      // Berlin is UTC+1 in winter: 23:30 local is 22:30Z, 07:00 local is 06:00Z.
      {"BerlinWinterOvernight", k22, k7, "Europe/Berlin", Utc(2026, 1, 15, 22, 30),
       Utc(2026, 1, 16, 6, 0)},
      {"BerlinWinterBeforeStartLocal", k22, k7, "Europe/Berlin", Utc(2026, 1, 15, 20, 59),
       kOutside},
      // Berlin springs forward on 2026-03-29 at 01:00Z (02:00 CET -> 03:00 CEST): the night is an
      // hour shorter, and 07:00 CEST is 05:00Z, not 06:00Z.
      {"BerlinSpringForwardFromEvening", k22, k7, "Europe/Berlin", Utc(2026, 3, 28, 21, 30),
       Utc(2026, 3, 29, 5, 0)},
      {"BerlinSpringForwardBeforeJump", k22, k7, "Europe/Berlin", Utc(2026, 3, 29, 0, 30),
       Utc(2026, 3, 29, 5, 0)},
      {"BerlinSpringForwardAfterJump", k22, k7, "Europe/Berlin", Utc(2026, 3, 29, 1, 30),
       Utc(2026, 3, 29, 5, 0)},
      // A window ending at 02:30, a time Berlin skips that night: it ends at the jump (03:00 CEST).
      {"BerlinEndSkipped", k22, Min(2, 30), "Europe/Berlin", Utc(2026, 3, 29, 0, 45),
       Utc(2026, 3, 29, 1, 0)},
      // A window starting at 02:30: after the jump the clock reads 03:15, inside 02:30-06:00.
      {"BerlinStartSkippedAfterJump", Min(2, 30), Min(6, 0), "Europe/Berlin",
       Utc(2026, 3, 29, 1, 15), Utc(2026, 3, 29, 4, 0)},
      {"BerlinStartSkippedBeforeJump", Min(2, 30), Min(6, 0), "Europe/Berlin",
       Utc(2026, 3, 29, 0, 45), kOutside},
      // Berlin falls back on 2026-10-25 at 01:00Z (03:00 CEST -> 02:00 CET): 07:00 CET is 06:00Z.
      {"BerlinFallBack", k22, k7, "Europe/Berlin", Utc(2026, 10, 24, 20, 30),
       Utc(2026, 10, 25, 6, 0)},
      // New York falls back on 2026-11-01 at 06:00Z (02:00 EDT -> 01:00 EST): 07:00 EST is 12:00Z.
      {"NewYorkFallBackFromEvening", k22, k7, "America/New_York", Utc(2026, 11, 1, 2, 0),
       Utc(2026, 11, 1, 12, 0)},
      {"NewYorkFallBackFirstOneThirty", k22, k7, "America/New_York", Utc(2026, 11, 1, 5, 30),
       Utc(2026, 11, 1, 12, 0)},
      {"NewYorkFallBackSecondOneThirty", k22, k7, "America/New_York", Utc(2026, 11, 1, 6, 30),
       Utc(2026, 11, 1, 12, 0)},
      {"NewYorkFallBackBeforeStart", k22, k7, "America/New_York", Utc(2026, 11, 1, 1, 59),
       kOutside},
      // A window ending at 01:30, which New York reads twice that night.
      {"NewYorkEndRepeatedFirstPass", k22, Min(1, 30), "America/New_York", Utc(2026, 11, 1, 5, 10),
       Utc(2026, 11, 1, 5, 30)},
      {"NewYorkEndRepeatedBetweenPasses", k22, Min(1, 30), "America/New_York",
       Utc(2026, 11, 1, 5, 45), kOutside},
      {"NewYorkEndRepeatedSecondPass", k22, Min(1, 30), "America/New_York", Utc(2026, 11, 1, 6, 10),
       Utc(2026, 11, 1, 6, 30)},
      // New York springs forward on 2026-03-08 at 07:00Z (02:00 EST -> 03:00 EDT).
      {"NewYorkSpringForward", k22, k7, "America/New_York", Utc(2026, 3, 8, 3, 30),
       Utc(2026, 3, 8, 11, 0)},
  };
}

class QuietHoursEndTest : public ::testing::TestWithParam<QuietCase> {};

TEST_P(QuietHoursEndTest, EndsAtTheRightInstant) {
  const QuietCase& c = GetParam();
  const std::optional<absl::Time> got = QuietHoursEnd(MakeQuietHours(c), c.channel, c.now);
  ASSERT_EQ(got.has_value(), c.want.has_value())
      << (got.has_value() ? absl::FormatTime(*got) : "nullopt");
  if (got.has_value()) {
    EXPECT_EQ(absl::FormatTime(*got, absl::UTCTimeZone()),
              absl::FormatTime(*c.want, absl::UTCTimeZone()));
  }
}

INSTANTIATE_TEST_SUITE_P(Windows, QuietHoursEndTest, ::testing::ValuesIn(QuietCases()),
                         CaseName<QuietCase>);

// Walks a fake clock through whole nights, including both clock changes, and checks that whenever
// a check is told to wait, waiting until retry_after is exactly enough: a second before, it is
// still quiet; at retry_after the check allows.
TEST(QuietHoursWalkTest, RetryAfterIsTheFirstAllowedInstant) {
  struct Night {
    std::string zone;
    absl::Time from;
    uint32_t start, end;
  };
  const std::vector<Night> nights = {
      {"Europe/Berlin", Utc(2026, 3, 28, 18, 0), Min(22, 0), Min(7, 0)},
      {"Europe/Berlin", Utc(2026, 3, 28, 18, 0), Min(22, 0), Min(2, 30)},
      {"Europe/Berlin", Utc(2026, 10, 24, 18, 0), Min(22, 0), Min(7, 0)},
      {"America/New_York", Utc(2026, 10, 31, 22, 0), Min(22, 0), Min(7, 0)},
      {"America/New_York", Utc(2026, 10, 31, 22, 0), Min(23, 0), Min(1, 30)},
      {"America/New_York", Utc(2026, 3, 7, 22, 0), Min(22, 0), Min(7, 0)},
  };
  for (const Night& night : nights) {
    World w;
    w.jurisdiction = "US";
    w.Rule("US", v1::OPT_OUT);
    w.Quiet(night.start, night.end, night.zone);
    testing::FakeClock clock(night.from);
    int quiet_steps = 0;
    for (int step = 0; step < 16 * 6; ++step, clock.Advance(absl::Minutes(10))) {
      w.now = clock.Now();
      SCOPED_TRACE(::testing::Message() << night.zone << " at " << absl::FormatTime(w.now));
      absl::StatusOr<v1::CheckResponse> got = Decide(w.Input());
      ASSERT_TRUE(got.ok()) << got.status();
      if (got->reason() != v1::QUIET_HOURS) {
        EXPECT_EQ(got->reason(), v1::DEFAULT_OPT_OUT);
        continue;
      }
      ++quiet_steps;
      const absl::Time retry = FromTs(got->retry_after());
      ASSERT_GT(retry, w.now);
      EXPECT_LE(retry - w.now, absl::Hours(10));
      w.now = retry - absl::Seconds(1);
      got = Decide(w.Input());
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->reason(), v1::QUIET_HOURS);
      EXPECT_EQ(FromTs(got->retry_after()), retry);
      w.now = retry;
      got = Decide(w.Input());
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->reason(), v1::DEFAULT_OPT_OUT);
    }
    EXPECT_GT(quiet_steps, 0) << night.zone;
  }
}

TEST(ConfirmationRequiredTest, MatchesChannelAndJurisdiction) {
  v1::Purpose p;
  p.add_channels(v1::EMAIL);
  p.add_channels(v1::SMS);
  auto add = [&](v1::Channel channel, std::string jurisdiction) {
    v1::ConfirmationRule* rule = p.add_confirmation();
    rule->set_channel(channel);
    rule->set_jurisdiction(std::move(jurisdiction));
  };
  EXPECT_FALSE(ConfirmationRequired(p, v1::EMAIL, "DE"));
  EXPECT_FALSE(ConfirmationRequired(p, v1::EMAIL, ""));
  add(v1::EMAIL, "DE");
  add(v1::EMAIL, "EU");
  add(v1::CHANNEL_UNSPECIFIED, "US-CA");
  add(v1::SMS, "CH");
  EXPECT_TRUE(ConfirmationRequired(p, v1::EMAIL, "DE"));
  EXPECT_TRUE(ConfirmationRequired(p, v1::EMAIL, "DE-BY"));  // country of a subdivision
  EXPECT_TRUE(ConfirmationRequired(p, v1::EMAIL, "FR"));     // EU member
  EXPECT_TRUE(ConfirmationRequired(p, v1::EMAIL, "NO"));     // EEA
  EXPECT_FALSE(ConfirmationRequired(p, v1::EMAIL, "US"));
  EXPECT_FALSE(ConfirmationRequired(p, v1::SMS, "DE"));
  EXPECT_TRUE(ConfirmationRequired(p, v1::SMS, "US-CA"));  // a rule for every channel
  EXPECT_FALSE(ConfirmationRequired(p, v1::SMS, "US-NY"));
  EXPECT_FALSE(
      ConfirmationRequired(p, v1::SMS, "US"));  // a state's rule does not cover the country
  EXPECT_TRUE(ConfirmationRequired(p, v1::SMS, "CH"));
  // A decision for every channel matches a rule for any channel.
  EXPECT_TRUE(ConfirmationRequired(p, v1::CHANNEL_UNSPECIFIED, "CH"));
  EXPECT_FALSE(ConfirmationRequired(p, v1::CHANNEL_UNSPECIFIED, "JP"));
  // Unknown jurisdiction: the strictest reading.
  EXPECT_TRUE(ConfirmationRequired(p, v1::EMAIL, ""));
  add(v1::EMAIL, "*");
  EXPECT_TRUE(ConfirmationRequired(p, v1::EMAIL, "JP"));
  EXPECT_FALSE(ConfirmationRequired(p, v1::PUSH, "JP"));
}

}  // namespace
}  // namespace assent::core
