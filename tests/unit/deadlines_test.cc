#include "core/deadlines.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace assent::core {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;

absl::TimeZone NewYork() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("America/New_York", &tz));
  return tz;
}

// A New York local time.
absl::Time Ny(int y, int mo, int d, int h, int mi = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), NewYork());
}

// The end (23:59:59) of a New York day.
absl::Time EndOf(int y, int mo, int d) { return Ny(y, mo, d, 23, 59) + absl::Seconds(59); }

TEST(FederalHolidaysTest, ObservedDatesOf2026) {
  using D = absl::CivilDay;
  // July 4 is a Saturday: observed on Friday 3 July.
  const std::vector<D> expected = {D(2026, 1, 1),   D(2026, 1, 19),  D(2026, 2, 16),
                                   D(2026, 5, 25),  D(2026, 6, 19),  D(2026, 7, 3),
                                   D(2026, 9, 7),   D(2026, 10, 12), D(2026, 11, 11),
                                   D(2026, 11, 26), D(2026, 12, 25)};
  std::vector<absl::CivilDay> found;
  for (absl::CivilDay d(2026, 1, 1); d.year() == 2026; ++d) {
    if (IsUsFederalHoliday(d)) found.push_back(d);
  }
  EXPECT_EQ(found, expected);
  EXPECT_FALSE(IsBusinessDay(absl::CivilDay(2026, 7, 3)));
  EXPECT_FALSE(IsBusinessDay(absl::CivilDay(2026, 7, 4)));  // a Saturday anyway
  EXPECT_TRUE(IsBusinessDay(absl::CivilDay(2026, 7, 6)));
  EXPECT_TRUE(IsBusinessDay(absl::CivilDay(2026, 11, 27)));  // the day after is not federal
}

TEST(FederalHolidaysTest, SundayHolidaysMoveToMondayAndSaturdayNewYearToDecember31) {
  // Juneteenth and Christmas 2022 were Sundays.
  EXPECT_TRUE(IsUsFederalHoliday(absl::CivilDay(2022, 6, 20)));
  EXPECT_FALSE(IsUsFederalHoliday(absl::CivilDay(2022, 6, 19)));
  EXPECT_TRUE(IsUsFederalHoliday(absl::CivilDay(2022, 12, 26)));
  // 1 January 2022 and 2028 are Saturdays: observed on 31 December of the year before.
  EXPECT_TRUE(IsUsFederalHoliday(absl::CivilDay(2021, 12, 31)));
  EXPECT_TRUE(IsUsFederalHoliday(absl::CivilDay(2027, 12, 31)));
  EXPECT_FALSE(IsUsFederalHoliday(absl::CivilDay(2026, 12, 31)));
  EXPECT_FALSE(IsUsFederalHoliday(absl::CivilDay(2028, 1, 1)));
  // Veterans Day 2023 was a Saturday.
  EXPECT_TRUE(IsUsFederalHoliday(absl::CivilDay(2023, 11, 10)));
}

struct Case {
  std::string name;
  DeadlineAction action;
  v1::Channel channel;
  std::string jurisdiction;
  v1::PurposeKind kind;
  absl::Time time;
  std::optional<absl::Time> honour_by;  // nullopt: no rule applies
  std::string rule;
};

std::vector<Case> DefaultCases() {
  const auto W = DeadlineAction::kWithdrawal;
  const auto R = DeadlineAction::kRefusal;
  const auto S = DeadlineAction::kSuppression;
  const auto M = v1::MARKETING;
  const auto U = v1::PURPOSE_KIND_UNSPECIFIED;
  return {
      // 10 business days from Monday: the Monday two weeks later.
      {"sms_plain", W, v1::SMS, "US", M, Ny(2026, 3, 2, 9), EndOf(2026, 3, 16), "tcpa-sms"},
      // From a Friday, across two weekends.
      {"sms_weekend", W, v1::SMS, "US-TX", M, Ny(2026, 3, 6, 10), EndOf(2026, 3, 20), "tcpa-sms"},
      // A request on a Saturday counts from the Saturday: Monday is business day 1.
      {"sms_saturday", R, v1::SMS, "US", M, Ny(2026, 3, 7, 12), EndOf(2026, 3, 20), "tcpa-sms"},
      // Across Independence Day observed on Friday 3 July 2026: a day later than without it.
      {"voice_july_4", W, v1::VOICE, "US-NY", M, Ny(2026, 7, 1, 12), EndOf(2026, 7, 16),
       "tcpa-voice"},
      // Across Thanksgiving (26 November 2026); the Friday after counts.
      {"sms_thanksgiving", S, v1::SMS, "US", U, Ny(2026, 11, 23, 8), EndOf(2026, 12, 8),
       "tcpa-sms"},
      // CCPA: 15 business days across Christmas and New Year's Day (both Fridays).
      {"ccpa_holidays", W, v1::TARGETED_ADS, "US-CA", v1::SALE_OR_SHARE, Ny(2026, 12, 18, 16),
       EndOf(2027, 1, 12), "ccpa-sale"},
      {"ccpa_refusal", R, v1::TARGETED_ADS, "US-CA", v1::SALE_OR_SHARE, Ny(2026, 3, 2, 9),
       EndOf(2026, 3, 23), "ccpa-sale"},
      // CCPA is California's: not New York's, not a suppression's, not another kind's.
      {"ccpa_not_ny", W, v1::TARGETED_ADS, "US-NY", v1::SALE_OR_SHARE, Ny(2026, 3, 2, 9),
       std::nullopt, ""},
      {"ccpa_not_suppression", S, v1::TARGETED_ADS, "US-CA", U, Ny(2026, 3, 2, 9), std::nullopt,
       ""},
      {"ccpa_not_marketing", W, v1::TARGETED_ADS, "US-CA", M, Ny(2026, 3, 2, 9), std::nullopt, ""},
      // US email: CAN-SPAM's 10 business days and the bulk-sender 2 days both apply; the earlier
      // wins. 2 calendar days from Friday end on Sunday.
      {"email_us", W, v1::EMAIL, "US", M, Ny(2026, 3, 6, 10), EndOf(2026, 3, 8), "bulk-sender"},
      {"email_us_sale", W, v1::EMAIL, "US-CA", v1::SALE_OR_SHARE, Ny(2026, 3, 6, 10),
       EndOf(2026, 3, 8), "bulk-sender"},
      // The bulk-sender rule holds anywhere, also where the jurisdiction is unknown.
      {"email_de", W, v1::EMAIL, "DE", M, Ny(2026, 3, 6, 10), EndOf(2026, 3, 8), "bulk-sender"},
      {"email_unknown", S, v1::EMAIL, "", U, Ny(2026, 3, 6, 10), EndOf(2026, 3, 8), "bulk-sender"},
      // The day boundary is New York's: 23:30 on Friday is still Friday (04:30 UTC Saturday);
      // 00:30 on Saturday is Saturday. 8 March 2026 is the spring-forward day (ends at 03:59:59Z).
      {"ny_late_friday", W, v1::EMAIL, "US", M, Ny(2026, 3, 6, 23, 30), EndOf(2026, 3, 8),
       "bulk-sender"},
      {"ny_early_saturday", W, v1::EMAIL, "US", M, Ny(2026, 3, 7, 0, 30), EndOf(2026, 3, 9),
       "bulk-sender"},
      // No rule: SMS outside the US, SMS with an unknown jurisdiction, push in the US.
      {"sms_de", W, v1::SMS, "DE", M, Ny(2026, 3, 2, 9), std::nullopt, ""},
      {"sms_unknown", W, v1::SMS, "", M, Ny(2026, 3, 2, 9), std::nullopt, ""},
      {"push_us", W, v1::PUSH, "US", M, Ny(2026, 3, 2, 9), std::nullopt, ""},
  };
}

class DefaultRulesTest : public ::testing::TestWithParam<Case> {};

TEST_P(DefaultRulesTest, HonourBy) {
  const Case& c = GetParam();
  const v1::Channel channels[] = {c.channel};
  const std::optional<Deadline> got =
      HonourBy(DefaultDeadlineRules(), {.action = c.action,
                                        .channels = channels,
                                        .jurisdiction = c.jurisdiction,
                                        .purpose_kind = c.kind,
                                        .time = c.time});
  if (!c.honour_by.has_value()) {
    EXPECT_FALSE(got.has_value()) << "rule " << got->rule << " at " << got->honour_by;
    return;
  }
  ASSERT_TRUE(got.has_value()) << "no rule applied";
  EXPECT_EQ(got->honour_by, *c.honour_by) << absl::FormatTime(got->honour_by, NewYork()) << " vs "
                                          << absl::FormatTime(*c.honour_by, NewYork());
  EXPECT_EQ(got->rule, c.rule);
}

INSTANTIATE_TEST_SUITE_P(Deadlines, DefaultRulesTest, ::testing::ValuesIn(DefaultCases()),
                         [](const auto& param_info) { return param_info.param.name; });

TEST(HonourByTest, SpringForwardEndOfDayIsFourAmUtc) {
  EXPECT_EQ(EndOfDeadlineDay(absl::CivilDay(2026, 3, 8)),
            absl::FromCivil(absl::CivilSecond(2026, 3, 9, 3, 59, 59), absl::UTCTimeZone()));
  EXPECT_EQ(EndOfDeadlineDay(absl::CivilDay(2026, 3, 7)),
            absl::FromCivil(absl::CivilSecond(2026, 3, 8, 4, 59, 59), absl::UTCTimeZone()));
}

TEST(HonourByTest, SeveralChannelsTakeTheEarliest) {
  // A decision without a channel covers its purpose's channels: SMS (10 business days) and
  // email (2 days) -> email's.
  const v1::Channel channels[] = {v1::SMS, v1::EMAIL};
  auto got = HonourBy(DefaultDeadlineRules(), {.action = DeadlineAction::kWithdrawal,
                                               .channels = channels,
                                               .jurisdiction = "US",
                                               .purpose_kind = v1::MARKETING,
                                               .time = Ny(2026, 3, 2, 9)});
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->rule, "bulk-sender");
  EXPECT_EQ(got->honour_by, EndOf(2026, 3, 4));
  // CHANNEL_UNSPECIFIED (a suppression of every channel) matches channel rules too.
  const v1::Channel every[] = {v1::CHANNEL_UNSPECIFIED};
  got = HonourBy(DefaultDeadlineRules(), {.action = DeadlineAction::kSuppression,
                                          .channels = every,
                                          .jurisdiction = "US",
                                          .time = Ny(2026, 3, 2, 9)});
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->rule, "bulk-sender");
}

TEST(HonourByTest, EarliestWinsOverSpecificityAndOrder) {
  std::vector<DeadlineRule> rules = {
      {.name = "state", .jurisdiction = "US-NY", .channel = v1::SMS, .days = 5},
      {.name = "anywhere", .jurisdiction = "*", .days = 3},
      {.name = "also-three", .jurisdiction = "US", .days = 3},
  };
  const v1::Channel sms[] = {v1::SMS};
  auto got = HonourBy(rules, {.action = DeadlineAction::kWithdrawal,
                              .channels = sms,
                              .jurisdiction = "US-NY",
                              .time = Ny(2026, 3, 2, 9)});
  ASSERT_TRUE(got.has_value());
  // Ties go to the first rule in the table.
  EXPECT_EQ(got->rule, "anywhere");
  EXPECT_EQ(got->honour_by, EndOf(2026, 3, 5));
}

TEST(HonourByTest, ActionsAndJurisdictions) {
  std::vector<DeadlineRule> rules = {
      {.name = "eu", .jurisdiction = "EU", .days = 1, .refusals = false},
      {.name = "us-ca", .jurisdiction = "US-CA", .days = 2, .business_days = false},
  };
  const v1::Channel sms[] = {v1::SMS};
  auto query = [&](DeadlineAction action, std::string_view jurisdiction) {
    auto got = HonourBy(rules, {.action = action,
                                .channels = sms,
                                .jurisdiction = jurisdiction,
                                .time = Ny(2026, 3, 6, 9)});
    return got.has_value() ? got->rule : std::string("none");
  };
  EXPECT_EQ(query(DeadlineAction::kWithdrawal, "FR-75"), "eu");  // EEA member, subdivision
  EXPECT_EQ(query(DeadlineAction::kWithdrawal, "NO"), "eu");     // EEA, not EU
  EXPECT_EQ(query(DeadlineAction::kRefusal, "FR"), "none");      // the rule is not for refusals
  EXPECT_EQ(query(DeadlineAction::kWithdrawal, "CH"), "none");
  EXPECT_EQ(query(DeadlineAction::kRefusal, "US-CA"), "us-ca");
  EXPECT_EQ(query(DeadlineAction::kRefusal, "US"), "none");  // a subdivision rule: not the country
  EXPECT_EQ(query(DeadlineAction::kRefusal, "US-NV"), "none");
  EXPECT_EQ(query(DeadlineAction::kRefusal, ""), "none");
}

TEST(ValidateDeadlineRulesTest, DefaultsAreValid) {
  EXPECT_OK(ValidateDeadlineRules(DefaultDeadlineRules(), "deadlines.rules"));
}

TEST(ValidateDeadlineRulesTest, NamesTheField) {
  struct Bad {
    DeadlineRule rule;
    std::string field;
  };
  const std::vector<Bad> bad = {
      {{.name = "", .jurisdiction = "US", .days = 1}, "deadlines.rules[1].name"},
      {{.name = "x", .jurisdiction = "", .days = 1}, "deadlines.rules[1].jurisdiction"},
      {{.name = "x", .jurisdiction = "usa", .days = 1}, "deadlines.rules[1].jurisdiction"},
      {{.name = "x", .jurisdiction = "US", .days = 0}, "deadlines.rules[1].days"},
      {{.name = "x", .jurisdiction = "US", .days = kMaxDeadlineDays + 1},
       "deadlines.rules[1].days"},
      {{.name = "x",
        .jurisdiction = "US",
        .days = 1,
        .refusals = false,
        .withdrawals = false,
        .suppressions = false},
       "deadlines.rules[1].applies_to"},
      {{.name = "ok", .jurisdiction = "US", .days = 1}, "deadlines.rules[1].name"},  // duplicate
      {{.name = "x", .jurisdiction = "US", .channel = static_cast<v1::Channel>(99), .days = 1},
       "deadlines.rules[1].channel"},
  };
  for (const Bad& b : bad) {
    std::vector<DeadlineRule> rules = {{.name = "ok", .jurisdiction = "*", .days = 1}, b.rule};
    EXPECT_THAT(ValidateDeadlineRules(rules, "deadlines.rules"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(b.field)))
        << b.field;
  }
}

}  // namespace
}  // namespace assent::core
