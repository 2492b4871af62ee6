// The preference center's JSON API save (POST /api/v1/preferences/{token}): the body read by
// prefcenter/api_body.h ReadApiSave into the form it stands for, then PlanFromForm, as api.cc
// does. Input: one byte choosing the page ('c': a contact point's link without preferences;
// anything else: a subject's link with preferences), then the JSON body.
// Properties: a refused body is INVALID_ARGUMENT naming its field (the API's 400), never an
// escaped JSON exception (a 500); the form it stands for names only rows of the page; the plan is
// sound (prefcenter_pages.h RequirePlanSound); and a body with the sequence alone changes nothing
// (the API's form of the page as it is plans no decision and no preferences change); a frequency
// cap is saved with the number the body sent.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "fuzz/prefcenter_pages.h"
#include "nlohmann/json.hpp"
#include "prefcenter/api_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  fuzz::Input input(data, size);
  const fuzz::Pages& pages = fuzz::ThePages();
  const bool contact = input.Byte() == 'c';
  const prefcenter::PageData& page = contact ? pages.contact : pages.subject;
  const auto& purposes = contact ? pages.contact_purposes : pages.subject_purposes;

  static const bool unchanged_is_empty = [&] {
    for (bool c : {false, true}) {
      const prefcenter::PageData& p = c ? pages.contact : pages.subject;
      const auto& v = c ? pages.contact_purposes : pages.subject_purposes;
      absl::StatusOr<prefcenter::ApiSave> save =
          prefcenter::ReadApiSave(R"({"sequence": "7"})", p, v);
      fuzz::Require(save.ok(), "a body with the sequence alone is read", save.status().ToString());
      absl::StatusOr<prefcenter::Plan> plan =
          prefcenter::PlanFromForm(p, v, save->form, pages.locales);
      fuzz::Require(plan.ok() && plan->decisions.empty() && !plan->preferences.has_value(),
                    "a body with the sequence alone changes nothing",
                    plan.ok() ? "" : plan.status().ToString());
    }
    return true;
  }();
  (void)unchanged_is_empty;

  const std::string_view text = input.Rest();
  absl::StatusOr<prefcenter::ApiSave> save = prefcenter::ReadApiSave(text, page, purposes);
  if (!save.ok()) {
    fuzz::RequireInvalidField(save.status(), "");
    return 0;
  }
  for (const auto& [name, value] : save->form) {
    if (!name.starts_with("consent:")) continue;
    bool known = false;
    for (const prefcenter::PurposeView& p : purposes) {
      for (const auto& [topic, rows] : p.groups) {
        for (const prefcenter::Row& r : rows) known = known || r.name == name;
      }
    }
    fuzz::Require(known, "the API's form names only rows of the page", name);
  }
  const absl::StatusOr<prefcenter::Plan> plan =
      prefcenter::PlanFromForm(page, purposes, save->form, pages.locales);
  fuzz::RequirePlanSound(plan, page, purposes, save->form);
  if (!plan.ok() || !plan->preferences.has_value()) return 0;
  // A frequency cap the body set is saved with exactly the number sent (the last one for its
  // channel), never a number that wrapped on the way.
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* caps = nullptr;
  if (auto p = body.find("preferences"); p != body.end() && p->is_object()) {
    if (auto c = p->find("frequency_caps"); c != p->end() && c->is_array()) caps = &*c;
  }
  for (const v1::FrequencyCap& cap : plan->preferences->frequency_caps()) {
    if (caps == nullptr) break;
    const nlohmann::json* sent = nullptr;
    for (const nlohmann::json& c : *caps) {
      auto channel = c.find("channel");
      if (channel != c.end() && channel->is_string() &&
          channel->get<std::string>() == prefcenter::ChannelKey(cap.channel())) {
        sent = &c;
      }
    }
    if (sent == nullptr) continue;
    auto max = sent->find("max_messages");
    fuzz::Require(max != sent->end() && max->is_number_integer() &&
                      max->dump() == std::to_string(cap.max_messages()),
                  "a cap is saved with the number sent", sent->dump());
  }
  return 0;
}
