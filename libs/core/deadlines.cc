#include "core/deadlines.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "core/decision.h"
#include "core/validate.h"

namespace assent::core {
namespace {

constexpr size_t kMaxRuleNameLength = 64;

// The nth (1-based) `weekday` of a month.
absl::CivilDay NthWeekday(int64_t year, int month, absl::Weekday weekday, int n) {
  const absl::CivilDay first(year, month, 1);
  return absl::NextWeekday(first - 1, weekday) + 7 * (n - 1);
}

// The last `weekday` of a month.
absl::CivilDay LastWeekday(int64_t year, int month, absl::Weekday weekday) {
  const absl::CivilDay first_of_next = absl::CivilDay(absl::CivilMonth(year, month) + 1);
  return absl::PrevWeekday(first_of_next, weekday);
}

// A fixed-date holiday moved to the weekday it is observed on.
absl::CivilDay Observed(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::saturday:
      return day - 1;
    case absl::Weekday::sunday:
      return day + 1;
    default:
      return day;
  }
}

// The observed dates of the year's federal holidays (5 U.S.C. 6103(a)). New Year's Day of the
// next year can fall on 31 December of this one; the caller checks that.
bool IsHolidayOfYear(absl::CivilDay day, int64_t year) {
  using W = absl::Weekday;
  const absl::CivilDay holidays[] = {
      Observed(absl::CivilDay(year, 1, 1)),    // New Year's Day
      NthWeekday(year, 1, W::monday, 3),       // Birthday of Martin Luther King, Jr.
      NthWeekday(year, 2, W::monday, 3),       // Washington's Birthday
      LastWeekday(year, 5, W::monday),         // Memorial Day
      Observed(absl::CivilDay(year, 6, 19)),   // Juneteenth National Independence Day
      Observed(absl::CivilDay(year, 7, 4)),    // Independence Day
      NthWeekday(year, 9, W::monday, 1),       // Labor Day
      NthWeekday(year, 10, W::monday, 2),      // Columbus Day
      Observed(absl::CivilDay(year, 11, 11)),  // Veterans Day
      NthWeekday(year, 11, W::thursday, 4),    // Thanksgiving Day
      Observed(absl::CivilDay(year, 12, 25)),  // Christmas Day
  };
  return std::find(std::begin(holidays), std::end(holidays), day) != std::end(holidays);
}

const absl::TimeZone& DeadlineZone() {
  static const absl::TimeZone* zone = [] {
    auto* tz = new absl::TimeZone;
    if (!absl::LoadTimeZone("America/New_York", tz)) *tz = absl::FixedTimeZone(-4 * 60 * 60);
    return tz;
  }();
  return *zone;
}

bool AppliesTo(const DeadlineRule& rule, DeadlineAction action) {
  switch (action) {
    case DeadlineAction::kRefusal:
      return rule.refusals;
    case DeadlineAction::kWithdrawal:
      return rule.withdrawals;
    case DeadlineAction::kSuppression:
      return rule.suppressions;
  }
  return false;
}

bool CoversChannel(const DeadlineRule& rule, std::span<const v1::Channel> channels) {
  if (rule.channel == v1::CHANNEL_UNSPECIFIED) return !channels.empty();
  return std::any_of(channels.begin(), channels.end(), [&](v1::Channel c) {
    return c == rule.channel || c == v1::CHANNEL_UNSPECIFIED;
  });
}

}  // namespace

std::vector<DeadlineRule> DefaultDeadlineRules() {
  DeadlineRule can_spam{.name = "can-spam", .jurisdiction = "US", .channel = v1::EMAIL, .days = 10};
  DeadlineRule tcpa_sms{.name = "tcpa-sms", .jurisdiction = "US", .channel = v1::SMS, .days = 10};
  DeadlineRule tcpa_voice{
      .name = "tcpa-voice", .jurisdiction = "US", .channel = v1::VOICE, .days = 10};
  DeadlineRule ccpa{.name = "ccpa-sale",
                    .jurisdiction = "US-CA",
                    .purpose_kind = v1::SALE_OR_SHARE,
                    .days = 15,
                    .suppressions = false};
  DeadlineRule bulk_sender{.name = "bulk-sender",
                           .jurisdiction = "*",
                           .channel = v1::EMAIL,
                           .days = 2,
                           .business_days = false};
  return {can_spam, tcpa_sms, tcpa_voice, ccpa, bulk_sender};
}

absl::Status ValidateDeadlineRules(const std::vector<DeadlineRule>& rules, std::string_view field) {
  if (rules.size() > static_cast<size_t>(kMaxDeadlineRules)) {
    return InvalidField(field, absl::StrCat("must have at most ", kMaxDeadlineRules, " rules (got ",
                                            rules.size(), ")"));
  }
  std::set<std::string_view> names;
  for (size_t i = 0; i < rules.size(); ++i) {
    const DeadlineRule& rule = rules[i];
    const std::string at = absl::StrCat(Sv(field), "[", i, "].");
    if (rule.name.empty() || rule.name.size() > kMaxRuleNameLength) {
      return InvalidField(at + "name",
                          absl::StrCat("must be 1..", kMaxRuleNameLength, " characters"));
    }
    if (!names.insert(rule.name).second) {
      return InvalidField(at + "name",
                          absl::StrCat("duplicates an earlier rule's name \"", rule.name, "\""));
    }
    if (rule.jurisdiction.empty()) return InvalidField(at + "jurisdiction", "is required");
    RETURN_IF_ERROR(ValidateJurisdiction(at + "jurisdiction", rule.jurisdiction,
                                         /*allow_policy_wildcards=*/true));
    RETURN_IF_ERROR(ValidateChannel(at + "channel", rule.channel, /*allow_unspecified=*/true));
    if (!v1::PurposeKind_IsValid(rule.purpose_kind)) {
      return InvalidField(at + "purpose_kind", "is not a known purpose kind");
    }
    if (rule.days < 1 || rule.days > kMaxDeadlineDays) {
      return InvalidField(at + "days",
                          absl::StrCat("must be 1..", kMaxDeadlineDays, " (got ", rule.days, ")"));
    }
    if (!rule.refusals && !rule.withdrawals && !rule.suppressions) {
      return InvalidField(at + "applies_to",
                          "must name at least one of refusals, withdrawals, suppressions");
    }
  }
  return absl::OkStatus();
}

bool IsUsFederalHoliday(absl::CivilDay day) {
  if (IsHolidayOfYear(day, day.year())) return true;
  // New Year's Day on a Saturday is observed on the Friday before, in the old year.
  return day.month() == 12 && day.day() == 31 && IsHolidayOfYear(day, day.year() + 1);
}

bool IsBusinessDay(absl::CivilDay day) {
  const absl::Weekday weekday = absl::GetWeekday(day);
  if (weekday == absl::Weekday::saturday || weekday == absl::Weekday::sunday) return false;
  return !IsUsFederalHoliday(day);
}

absl::CivilDay DeadlineDay(absl::Time t) { return absl::ToCivilDay(t, DeadlineZone()); }

absl::Time EndOfDeadlineDay(absl::CivilDay day) {
  // The next day's first instant (which a daylight-saving change never skips at midnight in New
  // York) less one second.
  return absl::FromCivil(day + 1, DeadlineZone()) - absl::Seconds(1);
}

absl::CivilDay AddBusinessDays(absl::CivilDay day, int n) {
  while (n > 0) {
    ++day;
    if (IsBusinessDay(day)) --n;
  }
  return day;
}

std::optional<Deadline> HonourBy(const std::vector<DeadlineRule>& rules,
                                 const DeadlineQuery& query) {
  const absl::CivilDay start = DeadlineDay(query.time);
  std::optional<Deadline> best;
  for (const DeadlineRule& rule : rules) {
    if (!AppliesTo(rule, query.action)) continue;
    if (MatchJurisdiction(rule.jurisdiction, query.jurisdiction) == 0) continue;
    if (!CoversChannel(rule, query.channels)) continue;
    if (rule.purpose_kind != v1::PURPOSE_KIND_UNSPECIFIED &&
        rule.purpose_kind != query.purpose_kind) {
      continue;
    }
    const absl::CivilDay last =
        rule.business_days ? AddBusinessDays(start, rule.days) : start + rule.days;
    const absl::Time end = EndOfDeadlineDay(last);
    if (!best.has_value() || end < best->honour_by) best = Deadline{end, rule.name};
  }
  return best;
}

}  // namespace assent::core
