// The preference center's pure parts: how a row is judged (the service's own decision rule, in
// words), what a submitted form changes, "stop all marketing", the locales and the renderer's
// escaping, and the brand checks of the configuration.
#include <memory>

#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prefcenter/config.h"
#include "prefcenter/page.h"
#include "prefcenter/render.h"
#include "testing/status_matchers.h"

namespace assent::prefcenter {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::StatusIs;

const absl::Time kNow = absl::FromUnixSeconds(1796000000);  // 2026-11-30T00:53:20Z

v1::Purpose Purpose(const std::string& id, v1::PurposeKind kind, std::vector<v1::Channel> channels,
                    std::vector<std::string> topics = {}) {
  v1::Purpose p;
  p.set_purpose_id(id);
  p.set_display_name(id);
  p.set_kind(kind);
  p.set_notice_version(2);
  p.set_min_notice_version(1);
  for (auto c : channels) p.add_channels(c);
  for (auto& t : topics) p.add_topics(t);
  auto* de = p.add_texts();
  de->set_language("de");
  de->set_display_name(id + " (de)");
  auto* notice = p.add_notices();
  notice->set_notice_version(2);
  notice->set_language("en");
  notice->set_text("We send news.");
  notice->set_sha256("ab");
  return p;
}

v1::ConsentRecord Decision(const std::string& purpose, v1::Channel channel, v1::ConsentState state,
                           int seq, const std::string& topic = "") {
  v1::ConsentRecord r;
  r.set_record_id(absl::StrCat(seq, "-0"));
  r.set_sequence(seq);
  r.set_purpose_id(purpose);
  r.set_channel(channel);
  r.set_topic(topic);
  r.set_state(state);
  r.mutable_evidence()->set_notice_version(2);
  *r.mutable_effective_time() = ToProto(kNow - absl::Hours(24 * 10 - seq));
  return r;
}

class PrefcenterPageTest : public ::testing::Test {
 protected:
  PrefcenterPageTest() {
    auto info = std::make_shared<TenantInfo>();
    info->tenant.set_tenant_id("acme");
    info->tenant.set_display_name("Acme");
    info->catalog.purposes["news"] = Purpose("news", v1::MARKETING, {v1::EMAIL, v1::SMS});
    info->catalog.purposes["offers"] =
        Purpose("offers", v1::MARKETING, {v1::EMAIL}, {"running", "kids"});
    info->catalog.purposes["orders"] = Purpose("orders", v1::TRANSACTIONAL, {v1::EMAIL});
    info->catalog.purposes["partners"] = Purpose("partners", v1::SALE_OR_SHARE, {v1::TARGETED_ADS});
    auto* rule = info->catalog.policy.add_rules();
    rule->set_jurisdiction("US");
    rule->set_channel(v1::EMAIL);
    rule->set_mode(v1::OPT_OUT);
    page_.tenant = info;
    page_.claims.tenant = "acme";
    page_.claims.target.set_subject_id("cust-1");
    page_.subject.emplace();
    page_.subject->set_subject_id("cust-1");
    page_.subject->set_sequence(7);
    page_.subject->set_last_jurisdiction("US");
    page_.lang = "en";
    page_.now = kNow;
  }

  const Row& RowFor(const std::vector<PurposeView>& purposes, const std::string& name) {
    for (const PurposeView& p : purposes) {
      for (const auto& [topic, rows] : p.groups) {
        for (const Row& r : rows) {
          if (r.name == name) return r;
        }
      }
    }
    ADD_FAILURE() << "no row " << name;
    static Row none;
    return none;
  }

  Locales locales_;
  PageData page_;
};

TEST_F(PrefcenterPageTest, RowsSayWhatTheDecisionRuleSaysInWords) {
  *page_.subject->add_decisions() = Decision("news", v1::SMS, v1::PENDING, 3);
  *page_.subject->add_decisions() = Decision("offers", v1::EMAIL, v1::WITHDRAWN, 4, "kids");
  auto purposes = BuildPurposes(page_, locales_);
  // Transactional purposes are not a choice.
  ASSERT_EQ(purposes.size(), 3u);
  const Row& email = RowFor(purposes, "consent:news:EMAIL");
  EXPECT_TRUE(email.checked);  // US email is OPT_OUT by policy
  EXPECT_EQ(email.state_class, "not_set");
  EXPECT_EQ(email.reason_code, "default_opt_out");
  const Row& sms = RowFor(purposes, "consent:news:SMS");
  EXPECT_EQ(sms.state_class, "pending");
  EXPECT_THAT(sms.reason, HasSubstr("confirm"));
  const Row& kids = RowFor(purposes, "consent:offers:kids:EMAIL");
  EXPECT_FALSE(kids.checked);
  EXPECT_EQ(kids.state_class, "withdrawn");
  EXPECT_EQ(kids.record_id, "4-0");
  EXPECT_EQ(purposes[0].notice_text, "We send news.");
  EXPECT_EQ(purposes[0].notice_language, "en");
  // A German page names the purpose in German where the catalog has it.
  page_.lang = "de";
  EXPECT_EQ(BuildPurposes(page_, locales_)[0].label, "news (de)");
}

TEST_F(PrefcenterPageTest, QuietHoursKeepTheBoxTickedAndSayWhy) {
  *page_.subject->add_decisions() = Decision("news", v1::EMAIL, v1::GRANTED, 3);
  auto* q = page_.subject->mutable_preferences()->mutable_quiet_hours();
  q->set_start_minute(0);
  q->set_end_minute(24 * 60 - 1);
  q->set_time_zone("UTC");
  const auto purposes = BuildPurposes(page_, locales_);
  const Row& email = RowFor(purposes, "consent:news:EMAIL");
  EXPECT_TRUE(email.checked);
  EXPECT_EQ(email.state_class, "granted");
  EXPECT_EQ(email.reason, "Messages wait during your quiet hours (00:00–23:59).");
}

TEST_F(PrefcenterPageTest, AHardBouncedAddressCannotBeTickedBack) {
  page_.contact.emplace();
  auto* s = page_.contact->add_suppressions();
  s->set_channel(v1::EMAIL);
  s->set_kind(v1::Suppression::HARD_BOUNCE);
  const auto purposes = BuildPurposes(page_, locales_);
  const Row& email = RowFor(purposes, "consent:news:EMAIL");
  EXPECT_EQ(email.state_class, "paused");
  EXPECT_TRUE(email.disabled);
}

TEST_F(PrefcenterPageTest, AFormChangesOnlyWhatChanged) {
  auto purposes = BuildPurposes(page_, locales_);
  // Rendered: the EMAIL rows ticked (US email is opt-out by default), the others unticked.
  std::multimap<std::string, std::string> form = {{"consent:news:SMS", "on"},
                                                  {"consent:offers:running:EMAIL", "on"},
                                                  {"consent:offers:kids:EMAIL", "on"},
                                                  {"language", "en"},
                                                  {"quiet_hours_tz", "UTC"}};
  ASSERT_OK_AND_ASSIGN(Plan plan, PlanFromForm(page_, purposes, form, locales_));
  ASSERT_EQ(plan.decisions.size(), 2u);
  EXPECT_EQ(plan.decisions[0].first.name, "consent:news:EMAIL");
  EXPECT_EQ(plan.decisions[0].second, v1::WITHDRAWN);
  EXPECT_EQ(plan.decisions[1].first.name, "consent:news:SMS");
  EXPECT_EQ(plan.decisions[1].second, v1::GRANTED);
  EXPECT_THAT(plan.changes, ::testing::ElementsAre("“news” by email: unsubscribed",
                                                   "“news” by text message: subscribed",
                                                   "Preferred language: English"));
  ASSERT_TRUE(plan.preferences.has_value());
  EXPECT_EQ(plan.preferences->preferred_language(), "en");
}

TEST_F(PrefcenterPageTest, BadTimesAndCapsAreRefusedWithTheMessageToShow) {
  auto purposes = BuildPurposes(page_, locales_);
  std::multimap<std::string, std::string> form = {{"quiet_hours_enabled", "on"},
                                                  {"quiet_hours_start", "25:00"},
                                                  {"quiet_hours_end", "07:00"},
                                                  {"quiet_hours_tz", "UTC"}};
  EXPECT_THAT(PlanFromForm(page_, purposes, form, locales_),
              StatusIs(absl::StatusCode::kInvalidArgument, "form_error_invalid_time"));
  // A window that ends when it starts: consentd refuses it (empty or the whole day).
  form = {{"quiet_hours_enabled", "on"},
          {"quiet_hours_start", "22:00"},
          {"quiet_hours_end", "22:00"},
          {"quiet_hours_tz", "UTC"}};
  EXPECT_THAT(PlanFromForm(page_, purposes, form, locales_),
              StatusIs(absl::StatusCode::kInvalidArgument, "form_error_invalid_time"));
  form = {{"cap_EMAIL_count", "500"}, {"cap_EMAIL_period", "WEEK"}};
  EXPECT_THAT(PlanFromForm(page_, purposes, form, locales_),
              StatusIs(absl::StatusCode::kInvalidArgument, "form_error_invalid_cap"));
  form = {{"cap_EMAIL_count", "3"}, {"cap_EMAIL_period", "WEEK"}, {"consent:news:EMAIL", "on"}};
  ASSERT_OK_AND_ASSIGN(Plan plan, PlanFromForm(page_, purposes, form, locales_));
  ASSERT_EQ(plan.preferences->frequency_caps_size(), 1);
  EXPECT_EQ(plan.preferences->frequency_caps(0).max_messages(), 3u);
  EXPECT_EQ(FromProto(plan.preferences->frequency_caps(0).period()), absl::Hours(24 * 7));
  EXPECT_THAT(plan.changes, ::testing::Contains("Email: at most 3 per week"));
}

TEST_F(PrefcenterPageTest, StopAllWithdrawsEveryMarketingChannelAndTopic) {
  *page_.subject->add_decisions() = Decision("offers", v1::EMAIL, v1::GRANTED, 3, "running");
  Plan plan = PlanStopAll(page_, BuildPurposes(page_, locales_), locales_);
  std::set<std::string> keys;
  for (const auto& [row, state] : plan.decisions) {
    EXPECT_EQ(state, v1::WITHDRAWN);
    keys.insert(absl::StrCat(row.purpose_id, "/", row.topic, "/", v1::Channel_Name(row.channel)));
  }
  EXPECT_EQ(keys, (std::set<std::string>{"news//EMAIL", "news//SMS", "offers//EMAIL",
                                         "offers/running/EMAIL", "offers/kids/EMAIL"}));
  // The sale-or-share purpose is not marketing; GPC covers it.
  auto gpc = GpcDecisions(BuildPurposes(page_, locales_));
  ASSERT_EQ(gpc.size(), 1u);
  EXPECT_EQ(gpc[0].first.purpose_id, "partners");
}

TEST(PrefcenterLocalesTest, FillsPlaceholdersOnceAndKnowsEveryLanguage) {
  Locales l;
  for (const std::string& lang : kLanguages) {
    EXPECT_NE(l.T(lang, "preferences_title"), "preferences_title") << lang;
  }
  EXPECT_EQ(l.Fill("en", "what_purpose", {{"purpose", "{purpose}"}}), "“{purpose}”");
  EXPECT_EQ(Locales::Supported("de-CH"), "de");
  EXPECT_EQ(Locales::Supported("pt-BR"), "");
  EXPECT_EQ(Locales::FormatTime("en", kNow, absl::UTCTimeZone(), true), "Nov 30, 2026, 12:53 AM");
  EXPECT_EQ(Locales::FormatTime("de", kNow, absl::UTCTimeZone(), true), "30. Nov. 2026, 00:53");
}

TEST(PrefcenterRenderTest, EveryValueIsEscaped) {
  Renderer renderer;
  nlohmann::json view = {
      {"lang", "en"},
      {"csp_nonce", "n"},
      {"css_url", "/assets/prefcenter.css"},
      {"brand",
       {{"name", "<b>Acme</b>"}, {"primary_color", "#1d4ed8"}, {"accent_color", "#0f766e"}}},
      {"page_title", "t"},
      {"status", "404"},
      {"message", "<script>alert(1)</script>"}};
  ASSERT_OK_AND_ASSIGN(std::string html, renderer.Render("error", view));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;Acme&lt;/b&gt;"));
  EXPECT_THAT(html, HasSubstr("<html lang=\"en\""));
}

}  // namespace
}  // namespace assent::prefcenter
