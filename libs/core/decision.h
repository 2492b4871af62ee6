// The decision rule: "may we contact this target, on this channel, for this purpose, now?"
//
// Pure: no I/O, no clock, no globals (time zones come from absl's tz database, which is static
// system data). The service's Check and BatchCheck and the senders' enforcement library all call
// Decide(), so they agree by construction. The rule, in order (first that applies decides):
//   1. channel not covered by the purpose -> INVALID_ARGUMENT (unknown tenant/purpose are the
//      caller's NOT_FOUND before it gets here);
//   2. TRANSACTIONAL purpose -> ALLOW TRANSACTIONAL_ALLOWED unless the contact point has a hard
//      suppression (HARD_BOUNCE, INVALID) for the channel -> DENY ADDRESS_SUPPRESSED;
//   3. contact-point suppression for the channel -> DENY ADDRESS_SUPPRESSED;
//   4. subject's global opt-out for the channel -> DENY GLOBAL_OPT_OUT;
//   5. explicit decisions (contact point's and linked subject's together): most specific level wins
//      (topic+channel > topic > purpose+channel > purpose); within a level the latest effective
//      time; a tie goes to the denial. DENIED/WITHDRAWN -> EXPLICIT_DENY, PENDING ->
//      PENDING_CONFIRMATION, expired grant -> EXPIRED, notice version below the purpose's minimum
//      -> REPERMISSION_REQUIRED, else ALLOW EXPLICIT_GRANT;
//   6. GPC recorded, for SALE_OR_SHARE purposes or the TARGETED_ADS channel -> DENY GPC_OPT_OUT;
//   7. default policy: OPT_IN -> DENY NO_CONSENT, OPT_OUT -> ALLOW DEFAULT_OPT_OUT;
//   8. an ALLOW from rules 5-7 inside the subject's quiet hours -> DENY QUIET_HOURS, retry_after =
//      the end of the window.
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "assent/v1/types.pb.h"

namespace assent::core {

struct CheckInput {
  // The purpose's current version. Required.
  const v1::Purpose* purpose = nullptr;
  // The tenant's default policy; null means no rules (everything OPT_IN).
  const v1::DefaultPolicy* policy = nullptr;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  // Empty: no topic.
  std::string_view topic;
  // The time to evaluate at.
  absl::Time now;
  // Jurisdiction given with the check; empty: the subject's preferences.jurisdiction, then its
  // last_jurisdiction, else unknown (OPT_IN).
  std::string_view jurisdiction;
  // The subject's state (the target, or the subject a contact point is linked to); null if none.
  const v1::SubjectState* subject = nullptr;
  // The contact point's state when the target is a contact point; null otherwise or if unknown.
  const v1::ContactPointState* contact = nullptr;
  // The subject (target, or linked subject) was erased and has no state since; `subject` is
  // then null. Only transactional purposes are allowed.
  bool subject_erased = false;
  std::string_view erased_subject_id;
};

// Evaluates the rule. Errors: INVALID_ARGUMENT "channel: ..." when the purpose does not cover the
// channel or the channel is unspecified; INVALID_ARGUMENT "purpose" when purpose is null.
// Thread-safe (no shared state).
absl::StatusOr<v1::CheckResponse> Decide(const CheckInput& input);

// The default-policy mode for a jurisdiction, channel and purpose kind (the most specific rule, see
// PolicyRule in catalog.proto). Unknown (empty) jurisdiction or no matching rule -> OPT_IN.
v1::PolicyMode ResolvePolicy(const v1::DefaultPolicy* policy, std::string_view jurisdiction,
                             v1::Channel channel, v1::PurposeKind kind);

// True when `jurisdiction` ("DE", "FR-75", ...) is in the EU/EEA (the region "EU" in policies).
bool InEuropeanEconomicArea(std::string_view jurisdiction);

// How a rule's jurisdiction ("US-CA", "US", "EU" or "*") matches a target's `jurisdiction`, most
// specific highest: 4 the same jurisdiction, 3 its country, 2 "EU" and it is in the EU/EEA, 1 "*"
// (which also matches an unknown, empty, jurisdiction), 0 no match. Policy and deadline rules
// match jurisdictions this way.
int MatchJurisdiction(std::string_view rule_jurisdiction, std::string_view jurisdiction);
// Whether a rule's jurisdiction ("DE", "US-CA", "EU", "*") covers `jurisdiction`: the same code,
// the country of a subdivision ("US" covers "US-CA"), "EU" for EU/EEA members, "*" for any.
bool JurisdictionCovers(std::string_view rule, std::string_view jurisdiction);

// Whether a GRANTED for `purpose` on `channel` in `jurisdiction` must be confirmed by the
// customer (double opt-in, Purpose.confirmation). A rule matches when its channel is unspecified
// or equals `channel` (a decision without a channel, covering every channel of the purpose,
// matches every rule) and its jurisdiction covers `jurisdiction`. An unknown (empty)
// jurisdiction is judged the strictest way: any rule for the channel applies.
bool ConfirmationRequired(const v1::Purpose& purpose, v1::Channel channel,
                          std::string_view jurisdiction);

// When `now` falls inside the quiet hours for `channel`, the time they end; otherwise nullopt.
// A window with start_minute > end_minute crosses midnight; start == end is an empty window.
// Local times that a daylight-saving change skips are resolved forward. An unknown time zone is
// treated as UTC (zones are validated when preferences are recorded).
std::optional<absl::Time> QuietHoursEnd(const v1::QuietHours& quiet_hours, v1::Channel channel,
                                        absl::Time now);

}  // namespace assent::core
