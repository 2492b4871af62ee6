// Statutory deadlines: by when a refusal, a withdrawal or a suppression must be honoured
// (ConsentRecord.honour_by, Suppression.honour_by).
//
// Pure: no I/O, no clock. Days are counted on the calendar of America/New_York: US law sets these
// deadlines (CAN-SPAM, the TCPA, the CCPA) and the US business day is a US-local one; of the
// mainland's zones New York's day ends first, so "the end of day N" there is never later than
// anywhere else on the mainland (counting in UTC would move a request made on a US evening to the
// next day and the deadline a day later). Should the zone database be missing, a fixed UTC-4
// (New York's summer offset, whose day ends earliest) stands in.
//
// "Within N days" of a request made at time t: the day of t (in that calendar) is day 0 and does
// not count; the deadline is the end (23:59:59) of the Nth day after it, counting every day for
// calendar-day rules and only business days (Monday to Friday, not a US federal holiday as
// observed) for business-day rules. A request at 09:00 on Monday 2026-03-02 with 10 business days
// must be honoured by the end of Monday 2026-03-16.
//
// When several rules match, the earliest deadline wins: each rule is a legal (or contractual)
// floor, so the strictest one that applies is the one a sender must meet.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "assent/v1/types.pb.h"

namespace assent::core {

// What is to be honoured.
enum class DeadlineAction { kRefusal, kWithdrawal, kSuppression };

struct DeadlineRule {
  // Shown in config errors and the effective config ("can-spam"). Required, unique, 1..64
  // characters.
  std::string name;
  // "US-CA" (exact subdivision), "US" (the country and its subdivisions), "EU" (the EU/EEA) or
  // "*" (anywhere, also when the jurisdiction is unknown). Required.
  std::string jurisdiction;
  // CHANNEL_UNSPECIFIED: every channel.
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  // PURPOSE_KIND_UNSPECIFIED: every kind. A rule for one kind never matches a suppression (a
  // suppression is for a channel, not for a purpose).
  v1::PurposeKind purpose_kind = v1::PURPOSE_KIND_UNSPECIFIED;
  // 1..kMaxDeadlineDays.
  int days = 0;
  // Business days (skipping weekends and US federal holidays) or calendar days.
  bool business_days = true;
  // Which actions the rule applies to (at least one).
  bool refusals = true;
  bool withdrawals = true;
  bool suppressions = true;
};

constexpr int kMaxDeadlineDays = 366;
constexpr int kMaxDeadlineRules = 1000;

// The defaults (README "Statutory deadlines"):
//   can-spam     US  EMAIL                  10 business days  (15 U.S.C. 7704(a)(4))
//   tcpa-sms     US  SMS                    10 business days  (FCC 24-24, 47 CFR 64.1200(a)(10))
//   tcpa-voice   US  VOICE                  10 business days  (FCC 24-24)
//   ccpa-sale    US-CA  SALE_OR_SHARE       15 business days  (Cal. Code Regs. tit. 11, 7026(f))
//                (refusals and withdrawals; not suppressions)
//   bulk-sender  *   EMAIL                   2 calendar days  (Gmail and Yahoo sender rules)
std::vector<DeadlineRule> DefaultDeadlineRules();

// INVALID_ARGUMENT naming the field ("<field>[2].days") for a rule without a name, a duplicate
// name, a bad jurisdiction, channel or kind, days out of range, or no action; more than
// kMaxDeadlineRules rules.
absl::Status ValidateDeadlineRules(const std::vector<DeadlineRule>& rules, std::string_view field);

struct DeadlineQuery {
  DeadlineAction action = DeadlineAction::kWithdrawal;
  // The channels the action covers (a decision without a channel covers every channel of its
  // purpose); CHANNEL_UNSPECIFIED in the list stands for every channel.
  std::span<const v1::Channel> channels;
  // "US-NY", "DE", ...; empty: unknown (only "*" rules match).
  std::string_view jurisdiction;
  // PURPOSE_KIND_UNSPECIFIED for a suppression.
  v1::PurposeKind purpose_kind = v1::PURPOSE_KIND_UNSPECIFIED;
  // When the request was made (the effective time; an import's original time).
  absl::Time time;
};

struct Deadline {
  absl::Time honour_by;
  // The rule that set it (the earliest; on a tie the first in the table).
  std::string rule;
};

// The earliest deadline over the rules that match the query; nullopt when none does.
std::optional<Deadline> HonourBy(const std::vector<DeadlineRule>& rules,
                                 const DeadlineQuery& query);

// The calendar helpers HonourBy uses, exposed for tests and tools.
// True for the observed date of a US federal holiday (5 U.S.C. 6103: a Saturday holiday is
// observed on the Friday before, a Sunday one on the Monday after; New Year's Day on a Saturday
// is observed on 31 December of the year before).
bool IsUsFederalHoliday(absl::CivilDay day);
// Monday to Friday and not a US federal holiday.
bool IsBusinessDay(absl::CivilDay day);
// The day deadlines count from: the date of `t` in America/New_York.
absl::CivilDay DeadlineDay(absl::Time t);
// The last second (23:59:59) of `day` in America/New_York.
absl::Time EndOfDeadlineDay(absl::CivilDay day);
// The Nth business day after `day` (`day` itself does not count). n >= 0.
absl::CivilDay AddBusinessDays(absl::CivilDay day, int n);

}  // namespace assent::core
