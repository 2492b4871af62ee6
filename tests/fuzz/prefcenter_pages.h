// The pages the preference-center harnesses submit to: tenant "acme" with purposes "news"
// (MARKETING: EMAIL, SMS), "offers" (MARKETING: EMAIL, topics running and kids), "orders"
// (TRANSACTIONAL) and "partners" (SALE_OR_SHARE: TARGETED_ADS), a US opt-out rule for EMAIL;
// either a subject link (decisions, quiet hours, a frequency cap) or a link to a contact point
// that is linked to no subject (no preferences).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/time_util.h"
#include "core/validate.h"
#include "prefcenter/page.h"
#include "prefcenter/render.h"

namespace assent::fuzz {

inline const absl::Time kPageTime = absl::FromUnixSeconds(1796083200);  // 2026-12-01T00:00:00Z

inline v1::Purpose PagePurpose(const std::string& id, v1::PurposeKind kind,
                               std::vector<v1::Channel> channels,
                               std::vector<std::string> topics = {}) {
  v1::Purpose p;
  p.set_purpose_id(id);
  p.set_display_name(id);
  p.set_kind(kind);
  p.set_notice_version(1);
  for (auto c : channels) p.add_channels(c);
  for (auto& t : topics) p.add_topics(t);
  v1::NoticeText* notice = p.add_notices();
  notice->set_notice_version(1);
  notice->set_language("en");
  notice->set_text("We send news.");
  return p;
}

inline v1::ConsentRecord PageDecision(const std::string& purpose, v1::Channel channel,
                                      v1::ConsentState state, int sequence,
                                      const std::string& topic = "") {
  v1::ConsentRecord r;
  r.set_record_id(std::to_string(sequence) + "-0");
  r.set_sequence(sequence);
  r.set_purpose_id(purpose);
  r.set_channel(channel);
  r.set_topic(topic);
  r.set_state(state);
  r.mutable_evidence()->set_notice_version(1);
  *r.mutable_effective_time() = ToProto(kPageTime - absl::Hours(48));
  return r;
}

// `subject`: a subject link; otherwise a contact point's link without a subject.
inline prefcenter::PageData MakePage(bool subject) {
  auto info = std::make_shared<prefcenter::TenantInfo>();
  info->tenant.set_tenant_id("acme");
  info->tenant.set_display_name("Acme");
  info->catalog.purposes["news"] = PagePurpose("news", v1::MARKETING, {v1::EMAIL, v1::SMS});
  info->catalog.purposes["offers"] =
      PagePurpose("offers", v1::MARKETING, {v1::EMAIL}, {"running", "kids"});
  info->catalog.purposes["orders"] = PagePurpose("orders", v1::TRANSACTIONAL, {v1::EMAIL});
  info->catalog.purposes["partners"] =
      PagePurpose("partners", v1::SALE_OR_SHARE, {v1::TARGETED_ADS});
  v1::PolicyRule* rule = info->catalog.policy.add_rules();
  rule->set_jurisdiction("US");
  rule->set_channel(v1::EMAIL);
  rule->set_mode(v1::OPT_OUT);
  prefcenter::PageData page;
  page.tenant = info;
  page.claims.tenant = "acme";
  page.lang = "en";
  page.now = kPageTime;
  if (subject) {
    page.claims.target.set_subject_id("cust-1");
    v1::SubjectState& s = page.subject.emplace();
    s.set_subject_id("cust-1");
    s.set_sequence(7);
    s.set_last_jurisdiction("US");
    *s.add_decisions() = PageDecision("news", v1::SMS, v1::GRANTED, 3);
    *s.add_decisions() = PageDecision("offers", v1::EMAIL, v1::WITHDRAWN, 4, "kids");
    v1::QuietHours* quiet = s.mutable_preferences()->mutable_quiet_hours();
    quiet->set_start_minute(22 * 60);
    quiet->set_end_minute(7 * 60);
    quiet->set_time_zone("Europe/Berlin");
    v1::FrequencyCap* cap = s.mutable_preferences()->add_frequency_caps();
    cap->set_channel(v1::EMAIL);
    cap->set_max_messages(3);
    *cap->mutable_period() = ToProtoDuration(absl::Hours(24 * 7));
  } else {
    v1::ContactRef* ref = page.claims.target.mutable_contact();
    ref->set_type(v1::CONTACT_EMAIL);
    ref->set_hash(std::string(64, 'a'));
    v1::ContactPointState& c = page.contact.emplace();
    *c.mutable_contact() = *ref;
    c.set_sequence(2);
    *c.add_decisions() = PageDecision("news", v1::EMAIL, v1::GRANTED, 2);
  }
  return page;
}

struct Pages {
  prefcenter::Locales locales;
  prefcenter::PageData subject = MakePage(true);
  prefcenter::PageData contact = MakePage(false);
  std::vector<prefcenter::PurposeView> subject_purposes =
      prefcenter::BuildPurposes(subject, locales);
  std::vector<prefcenter::PurposeView> contact_purposes =
      prefcenter::BuildPurposes(contact, locales);
};

inline const Pages& ThePages() {
  static const Pages* pages = new Pages;
  return *pages;
}

// What every plan must satisfy, whatever was submitted: each decision is a row of the page that
// is not disabled and whose box changed; preferences appear only on a subject's page, changed,
// within their limits and valid as consentd validates them (core::ValidatePreferences). A plan
// error is INVALID_ARGUMENT with a locale key ("form_error_...").
inline void RequirePlanSound(const absl::StatusOr<prefcenter::Plan>& plan,
                             const prefcenter::PageData& page,
                             const std::vector<prefcenter::PurposeView>& purposes,
                             const std::multimap<std::string, std::string>& form) {
  if (!plan.ok()) {
    Require(plan.status().code() == absl::StatusCode::kInvalidArgument &&
                StdSv(plan.status().message()).starts_with("form_error_"),
            "a plan error is INVALID_ARGUMENT with a form_error_ locale key",
            plan.status().ToString());
    return;
  }
  for (const auto& [row, state] : plan->decisions) {
    const prefcenter::Row* found = nullptr;
    for (const prefcenter::PurposeView& p : purposes) {
      for (const auto& [topic, rows] : p.groups) {
        for (const prefcenter::Row& r : rows) {
          if (r.name == row.name) found = &r;
        }
      }
    }
    Require(found != nullptr && !found->disabled, "a decision is for an enabled row", row.name);
    auto it = form.find(row.name);
    const bool on = it != form.end() && it->second == "on";
    Require(on != found->checked && state == (on ? v1::GRANTED : v1::WITHDRAWN),
            "a decision records the box's new state", row.name);
    Require(plan->notices.contains(row.purpose_id), "a decision has its notice", row.name);
  }
  if (plan->preferences.has_value()) {
    Require(page.has_preferences(), "preferences change only on a subject's page");
    const v1::Preferences& p = *plan->preferences;
    Require(p.SerializeAsString() != page.subject->preferences().SerializeAsString(),
            "a preferences change changes something");
    // What consentd's SetPreferences will check: a plan it would refuse fails the save later.
    const absl::Status valid = core::ValidatePreferences("preferences", p);
    Require(valid.ok(), "planned preferences pass consentd's validation", valid.ToString());
    if (p.has_quiet_hours()) {
      Require(p.quiet_hours().start_minute() < 24 * 60 && p.quiet_hours().end_minute() < 24 * 60 &&
                  !p.quiet_hours().time_zone().empty(),
              "quiet hours are times of day in a zone", p.ShortDebugString());
    }
  }
  Require(plan->changes.size() >= plan->decisions.size(), "every decision is told in words");
}

}  // namespace assent::fuzz
