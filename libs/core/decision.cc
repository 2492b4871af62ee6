#include "core/decision.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/errors.h"

namespace assent::core {
namespace {

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  // ToUnixSeconds rounds towards the infinite past, so the remainder is 0..999999999 ns, the range
  // Timestamp requires.
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

template <typename RepeatedEnum>
bool ContainsChannel(const RepeatedEnum& channels, v1::Channel channel) {
  return std::find(channels.begin(), channels.end(), channel) != channels.end();
}

bool SuppressionApplies(const v1::Suppression& s, v1::Channel channel) {
  return s.channel() == v1::CHANNEL_UNSPECIFIED || s.channel() == channel;
}

// Only an address that cannot receive anything may block a receipt or a password reset.
bool IsHard(v1::Suppression::Kind kind) {
  return kind == v1::Suppression::HARD_BOUNCE || kind == v1::Suppression::INVALID;
}

// A matching decision and whose it is (exactly one of subject and contact is set).
struct Candidate {
  const v1::ConsentRecord* record = nullptr;
  // 3 topic+channel, 2 topic, 1 channel, 0 purpose only.
  int level = 0;
  const v1::SubjectState* subject = nullptr;
  const v1::ContactPointState* contact = nullptr;
};

// How strongly a state denies, for ties in effective time: any denial beats a grant, and a refusal
// beats a confirmation that is still pending. Unknown states rank as refusals so that damaged data
// fails closed.
int DenialRank(v1::ConsentState state) {
  switch (state) {
    case v1::GRANTED:
      return 0;
    case v1::PENDING:
      return 1;
    default:
      return 2;
  }
}

// True when `a` should decide rather than `b`. Full ties keep `b`, the one seen first (the contact
// point's records are seen before the subject's), so the result depends only on the input.
bool Beats(const Candidate& a, const Candidate& b) {
  if (a.level != b.level) return a.level > b.level;
  const absl::Time ta = ToTime(a.record->effective_time());
  const absl::Time tb = ToTime(b.record->effective_time());
  if (ta != tb) return ta > tb;
  return DenialRank(a.record->state()) > DenialRank(b.record->state());
}

void ConsiderDecisions(const google::protobuf::RepeatedPtrField<v1::ConsentRecord>& decisions,
                       const CheckInput& input, const Candidate& origin,
                       std::optional<Candidate>& best) {
  for (const v1::ConsentRecord& record : decisions) {
    if (record.purpose_id() != input.purpose->purpose_id()) continue;
    const bool has_channel = record.channel() != v1::CHANNEL_UNSPECIFIED;
    const bool has_topic = !record.topic().empty();
    if (has_channel && record.channel() != input.channel) continue;
    if (has_topic && record.topic() != input.topic) continue;
    Candidate candidate = origin;
    candidate.record = &record;
    candidate.level = (has_topic ? 2 : 0) + (has_channel ? 1 : 0);
    if (!best.has_value() || Beats(candidate, *best)) best = candidate;
  }
}

// Rule 5's choice among the contact point's and the linked subject's decisions together; nullopt
// when none matches.
std::optional<Candidate> BestDecision(const CheckInput& input) {
  std::optional<Candidate> best;
  if (input.contact != nullptr) {
    ConsiderDecisions(input.contact->decisions(), input, Candidate{.contact = input.contact}, best);
  }
  if (input.subject != nullptr) {
    ConsiderDecisions(input.subject->decisions(), input, Candidate{.subject = input.subject}, best);
  }
  return best;
}

// The jurisdiction rule 7 uses: the request's, else the subject's stated one, else the latest seen
// on its decisions; empty when unknown.
std::string_view EffectiveJurisdiction(const CheckInput& input) {
  if (!input.jurisdiction.empty()) return input.jurisdiction;
  if (input.subject == nullptr) return {};
  if (!input.subject->preferences().jurisdiction().empty()) {
    return input.subject->preferences().jurisdiction();
  }
  return input.subject->last_jurisdiction();
}

// Builds verdicts; every response carries the jurisdiction the check was judged under.
class ResponseBuilder {
 public:
  explicit ResponseBuilder(std::string_view jurisdiction) : jurisdiction_(jurisdiction) {}

  v1::CheckResponse Make(v1::Verdict verdict, v1::Reason reason) const {
    v1::CheckResponse response;
    response.set_verdict(verdict);
    response.set_reason(reason);
    response.set_jurisdiction(std::string(jurisdiction_));
    return response;
  }

  v1::CheckResponse Suppressed(const v1::ContactPointState& contact,
                               const v1::Suppression& suppression) const {
    v1::CheckResponse response = Make(v1::DENY, v1::ADDRESS_SUPPRESSED);
    response.set_record_id(suppression.record_id());
    response.set_record_sequence(suppression.sequence());
    *response.mutable_decided_by()->mutable_contact() = contact.contact();
    return response;
  }

  v1::CheckResponse FromDecision(const Candidate& c, const v1::Purpose& purpose,
                                 absl::Time now) const {
    const v1::ConsentRecord& record = *c.record;
    v1::CheckResponse response = Make(v1::DENY, v1::EXPLICIT_DENY);
    if (record.state() == v1::PENDING) {
      response.set_reason(v1::PENDING_CONFIRMATION);
    } else if (record.state() == v1::LAPSED) {
      response.set_reason(v1::EXPIRED);
    } else if (record.state() == v1::GRANTED) {
      // Expiry first: the notice version only matters for a grant that is still in force.
      const uint32_t min_notice = std::max<uint32_t>(purpose.min_notice_version(), 1);
      if (record.has_expire_time() && ToTime(record.expire_time()) <= now) {
        response.set_reason(v1::EXPIRED);
      } else if (record.evidence().notice_version() < min_notice) {
        response.set_reason(v1::REPERMISSION_REQUIRED);
      } else {
        response.set_verdict(v1::ALLOW);
        response.set_reason(v1::EXPLICIT_GRANT);
      }
    }
    response.set_record_id(record.record_id());
    response.set_record_sequence(record.sequence());
    if (c.contact != nullptr) {
      *response.mutable_decided_by()->mutable_contact() = c.contact->contact();
    } else {
      response.mutable_decided_by()->set_subject_id(c.subject->subject_id());
    }
    return response;
  }

 private:
  std::string_view jurisdiction_;
};

// Attaches what shapes an allowed contact: the frequency caps for the channel, and (unless
// transactional) quiet hours, which turn the ALLOW into a DENY with a time to retry. The deciding
// record stays in the response either way, so the sender can log what allowed it.
v1::CheckResponse Constrain(v1::CheckResponse response, const CheckInput& input,
                            bool apply_quiet_hours) {
  if (input.subject == nullptr) return response;
  const v1::Preferences& prefs = input.subject->preferences();
  if (apply_quiet_hours && prefs.has_quiet_hours()) {
    if (std::optional<absl::Time> end =
            QuietHoursEnd(prefs.quiet_hours(), input.channel, input.now)) {
      response.set_verdict(v1::DENY);
      response.set_reason(v1::QUIET_HOURS);
      SetTimestamp(*end, response.mutable_retry_after());
      return response;
    }
  }
  for (const v1::FrequencyCap& cap : prefs.frequency_caps()) {
    if (cap.channel() == input.channel) *response.add_frequency_caps() = cap;
  }
  return response;
}

// The first instant after `now` at which the wall clock in `tz` reads `civil` or later.
absl::Time NextWallClock(absl::CivilMinute civil, const absl::TimeZone& tz, absl::Time now) {
  const absl::TimeZone::TimeInfo info = tz.At(absl::CivilSecond(civil));
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::SKIPPED:
      // A spring-forward gap swallows `civil`: the clock first reads later than it at the jump.
      return info.trans;
    case absl::TimeZone::TimeInfo::REPEATED:
      // A fall-back reads `civil` twice; when `now` lies between the two, the second is next.
      return info.pre > now ? info.pre : info.post;
    case absl::TimeZone::TimeInfo::UNIQUE:
      break;
  }
  return info.pre;
}

}  // namespace

absl::StatusOr<v1::CheckResponse> Decide(const CheckInput& input) {
  if (input.purpose == nullptr) return InvalidField("purpose", "required");
  const v1::Purpose& purpose = *input.purpose;
  if (input.channel == v1::CHANNEL_UNSPECIFIED) return InvalidField("channel", "required");
  if (!ContainsChannel(purpose.channels(), input.channel)) {
    return InvalidField(
        "channel", absl::StrCat(v1::Channel_Name(input.channel), " is not a channel of purpose ",
                                purpose.purpose_id()));
  }
  const std::string_view jurisdiction = EffectiveJurisdiction(input);
  const ResponseBuilder respond(jurisdiction);
  const bool transactional = purpose.kind() == v1::TRANSACTIONAL;

  // Rules 2 and 3: a transactional message only needs an address that works.
  if (input.contact != nullptr) {
    for (const v1::Suppression& s : input.contact->suppressions()) {
      if (!SuppressionApplies(s, input.channel)) continue;
      if (transactional && !IsHard(s.kind())) continue;
      return respond.Suppressed(*input.contact, s);
    }
  }
  if (transactional) {
    return Constrain(respond.Make(v1::ALLOW, v1::TRANSACTIONAL_ALLOWED), input,
                     /*apply_quiet_hours=*/false);
  }

  // An erased customer is never contacted again for anything but a transactional message.
  if (input.subject_erased) {
    v1::CheckResponse response = respond.Make(v1::DENY, v1::ERASED);
    response.mutable_decided_by()->set_subject_id(std::string(input.erased_subject_id));
    return response;
  }

  // Rule 4.
  if (input.subject != nullptr &&
      ContainsChannel(input.subject->preferences().global_opt_out_channels(), input.channel)) {
    v1::CheckResponse response = respond.Make(v1::DENY, v1::GLOBAL_OPT_OUT);
    response.mutable_decided_by()->set_subject_id(input.subject->subject_id());
    return response;
  }

  // Rule 5.
  if (std::optional<Candidate> best = BestDecision(input)) {
    v1::CheckResponse response = respond.FromDecision(*best, purpose, input.now);
    if (response.verdict() != v1::ALLOW) return response;
    return Constrain(std::move(response), input, /*apply_quiet_hours=*/true);
  }

  // Rule 6: GPC is an opt-out of sale/sharing, which targeted advertising is whatever the purpose.
  if (input.subject != nullptr && input.subject->gpc_opt_out() &&
      (purpose.kind() == v1::SALE_OR_SHARE || input.channel == v1::TARGETED_ADS)) {
    v1::CheckResponse response = respond.Make(v1::DENY, v1::GPC_OPT_OUT);
    response.set_record_id(input.subject->gpc_record_id());
    response.mutable_decided_by()->set_subject_id(input.subject->subject_id());
    return response;
  }

  // Rule 7.
  if (ResolvePolicy(input.policy, jurisdiction, input.channel, purpose.kind()) != v1::OPT_OUT) {
    return respond.Make(v1::DENY, v1::NO_CONSENT);
  }
  return Constrain(respond.Make(v1::ALLOW, v1::DEFAULT_OPT_OUT), input,
                   /*apply_quiet_hours=*/true);
}

v1::PolicyMode ResolvePolicy(const v1::DefaultPolicy* policy, std::string_view jurisdiction,
                             v1::Channel channel, v1::PurposeKind kind) {
  // Without a jurisdiction no opt-out regime can be shown to apply, so consent is required.
  if (policy == nullptr || jurisdiction.empty()) return v1::OPT_IN;
  const v1::PolicyRule* best = nullptr;
  std::tuple<int, bool, bool> best_score;
  for (const v1::PolicyRule& rule : policy->rules()) {
    const int place = MatchJurisdiction(rule.jurisdiction(), jurisdiction);
    if (place == 0) continue;
    const bool channel_specific = rule.channel() != v1::CHANNEL_UNSPECIFIED;
    const bool kind_specific = rule.purpose_kind() != v1::PURPOSE_KIND_UNSPECIFIED;
    if (channel_specific && rule.channel() != channel) continue;
    if (kind_specific && rule.purpose_kind() != kind) continue;
    const std::tuple<int, bool, bool> score{place, channel_specific, kind_specific};
    if (best == nullptr || score > best_score) {
      best = &rule;
      best_score = score;
    }
  }
  // A rule without a mode cannot be stored; if one appears anyway, fail closed.
  return best != nullptr && best->mode() == v1::OPT_OUT ? v1::OPT_OUT : v1::OPT_IN;
}

int MatchJurisdiction(std::string_view rule_jurisdiction, std::string_view jurisdiction) {
  if (rule_jurisdiction == "*") return 1;
  if (jurisdiction.empty() || rule_jurisdiction.empty()) return 0;
  if (rule_jurisdiction == jurisdiction) return 4;
  if (rule_jurisdiction == jurisdiction.substr(0, jurisdiction.find('-'))) return 3;
  if (rule_jurisdiction == "EU" && InEuropeanEconomicArea(jurisdiction)) return 2;
  return 0;
}

bool InEuropeanEconomicArea(std::string_view jurisdiction) {
  // The 27 EU member states (Greece as both its ISO code GR and the EU's EL) plus the EEA's
  // Iceland, Liechtenstein and Norway.
  static constexpr std::array<std::string_view, 31> kEea = {
      "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI",
      "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL",
      "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO"};
  const std::string_view country = jurisdiction.substr(0, jurisdiction.find('-'));
  return std::find(kEea.begin(), kEea.end(), country) != kEea.end();
}

bool JurisdictionCovers(std::string_view rule, std::string_view jurisdiction) {
  if (rule == "*" || rule == jurisdiction) return true;
  if (jurisdiction.empty()) return false;
  if (rule == jurisdiction.substr(0, jurisdiction.find('-'))) return true;
  return rule == "EU" && InEuropeanEconomicArea(jurisdiction);
}

bool ConfirmationRequired(const v1::Purpose& purpose, v1::Channel channel,
                          std::string_view jurisdiction) {
  for (const v1::ConfirmationRule& rule : purpose.confirmation()) {
    const bool channel_matches = channel == v1::CHANNEL_UNSPECIFIED ||
                                 rule.channel() == v1::CHANNEL_UNSPECIFIED ||
                                 rule.channel() == channel;
    if (!channel_matches) continue;
    if (jurisdiction.empty() || JurisdictionCovers(rule.jurisdiction(), jurisdiction)) return true;
  }
  return false;
}

std::optional<absl::Time> QuietHoursEnd(const v1::QuietHours& quiet_hours, v1::Channel channel,
                                        absl::Time now) {
  if (!quiet_hours.channels().empty() && !ContainsChannel(quiet_hours.channels(), channel)) {
    return std::nullopt;
  }
  constexpr uint32_t kMinutesPerDay = 24 * 60;
  const uint32_t start = quiet_hours.start_minute();
  const uint32_t end = quiet_hours.end_minute();
  // Out-of-range minutes are refused when preferences are recorded; an empty window is no window.
  if (start == end || start >= kMinutesPerDay || end >= kMinutesPerDay) return std::nullopt;

  absl::TimeZone tz;
  if (!absl::LoadTimeZone(quiet_hours.time_zone(), &tz)) tz = absl::UTCTimeZone();
  const absl::CivilMinute local = absl::ToCivilMinute(now, tz);
  const absl::CivilDay today = absl::CivilDay(local);
  const auto minute = static_cast<uint32_t>(local.hour() * 60 + local.minute());

  absl::CivilDay end_day = today;
  if (start < end) {
    if (minute < start || minute >= end) return std::nullopt;
  } else if (minute >= start) {
    end_day = today + 1;  // evening part of a window that ends tomorrow morning
  } else if (minute >= end) {
    return std::nullopt;
  }
  const absl::CivilMinute end_local =
      absl::CivilMinute(end_day) + static_cast<int>(end);  // CivilMinute arithmetic is in minutes
  return NextWallClock(end_local, tz, now);
}

}  // namespace assent::core
