// The JSON API for tenants' own front ends: GET and POST /api/v1/preferences/{token}, the same
// content and the same rules as the pages (a stale sequence is refused, the form's nonce is an
// Idempotency-Key header here), with CORS for the configured origins.
//
//   GET  -> {"tenant", "language", "sequence", "gpc": {...}, "purposes": [{"purpose_id", "label",
//            "description", "notice": {"version", "language", "text", "sha256"}, "choices":
//            [{"topic", "channel", "checked", "state", "reason", "reason_text", "disabled",
//            "verdict", "record_id"}]}], "preferences": {...} (proto3 JSON), "history": [...]}
//   POST {"sequence": "...", "choices": [{"purpose_id", "topic", "channel", "checked"}],
//         "preferences": {"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "..."}
//         | null, "preferred_language", "preferred_channel", "frequency_caps":
//         [{"channel", "max_messages", "period": "DAY|WEEK|MONTH"}]}}  (each part optional)
//        -> 200 {"changes": [...], "view": <as GET>}; 409 stale sequence; 400 bad input naming
//           the field; Content-Type must be application/json (so no HTML form can post here).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "google/protobuf/util/json_util.h"
#include "links/encoding.h"
#include "prefcenter/api_body.h"
#include "prefcenter/app.h"
#include "spdlog/spdlog.h"

namespace assent::prefcenter {
namespace {

void Json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void JsonError(httplib::Response& res, int status, std::string_view message) {
  Json(res, status, {{"error", {{"code", status}, {"message", std::string(message)}}}});
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

nlohmann::json App::ApiView(const PageData& page, const std::vector<PurposeView>& purposes,
                            const std::vector<v1::HistoryRecord>& history) const {
  nlohmann::json view = {
      {"tenant", page.claims.tenant}, {"language", page.lang}, {"sequence", page.Sequences()}};
  if (page.subject.has_value()) view["gpc"] = {{"recorded", page.subject->gpc_opt_out()}};
  nlohmann::json list = nlohmann::json::array();
  for (const PurposeView& p : purposes) {
    nlohmann::json purpose = {{"purpose_id", p.purpose->purpose_id()},
                              {"label", p.label},
                              {"description", p.description},
                              {"kind", v1::PurposeKind_Name(p.purpose->kind())}};
    if (p.has_notice) {
      purpose["notice"] = {{"version", p.notice_version},
                           {"language", p.notice_language},
                           {"text", p.notice_text},
                           {"sha256", p.notice_sha256}};
    }
    nlohmann::json choices = nlohmann::json::array();
    for (const auto& [topic, rows] : p.groups) {
      for (const Row& r : rows) {
        choices.push_back({{"topic", r.topic},
                           {"channel", ChannelKey(r.channel)},
                           {"checked", r.checked},
                           {"disabled", r.disabled},
                           {"state", r.state_class},
                           {"reason", r.reason_code},
                           {"reason_text", r.reason},
                           {"verdict", v1::Verdict_Name(r.verdict)},
                           {"record_id", r.record_id}});
      }
    }
    purpose["choices"] = choices;
    list.push_back(purpose);
  }
  view["purposes"] = list;
  if (page.has_preferences()) {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (google::protobuf::util::MessageToJsonString(page.subject->preferences(), &json, options)
            .ok()) {
      view["preferences"] = nlohmann::json::parse(json);
    }
  }
  view["history"] = HistoryEntries(page, renderer_.locales(), history, 100);
  return view;
}

void App::Api(const httplib::Request& req, httplib::Response& res,
              const http::RequestContext& ctx) {
  const std::string origin = req.get_header_value("Origin");
  if (!origin.empty() && std::find(config_.cors_origins.begin(), config_.cors_origins.end(),
                                   origin) != config_.cors_origins.end()) {
    res.set_header("Access-Control-Allow-Origin", origin);
    res.set_header("Vary", "Origin");
  }
  if (req.method == "OPTIONS") {
    res.set_header("Access-Control-Allow-Methods", "GET, POST");
    res.set_header("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key");
    res.set_header("Access-Control-Max-Age", "600");
    res.status = 204;
    return;
  }
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, true)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::PREFERENCE_CENTER, claims, true)) return;
  absl::StatusOr<PageData> page = Load(claims, req);
  if (!page.ok()) {
    spdlog::warn("msg=\"read failed\" route=api error=\"{}\"", page.status().ToString());
    return JsonError(res, 500, "the preferences could not be read");
  }
  std::vector<PurposeView> purposes = BuildPurposes(*page, renderer_.locales());
  if (req.method != "POST") return Json(res, 200, ApiView(*page, purposes, ReadHistory(*page)));

  if (!absl::StartsWith(Lower(req.get_header_value("Content-Type")), "application/json")) {
    return JsonError(res, 415, "Content-Type must be application/json");
  }
  absl::StatusOr<ApiSave> save = ReadApiSave(req.body, *page, purposes);
  if (!save.ok()) return JsonError(res, 400, std::string(save.status().message()));
  if (save->sequence != page->Sequences()) {
    return Json(res, 409,
                {{"error",
                  {{"code", 409},
                   {"message",
                    "sequence: the preferences changed since they "
                    "were read; nothing was saved"}}},
                 {"view", ApiView(*page, purposes, ReadHistory(*page))}});
  }
  absl::StatusOr<Plan> plan = PlanFromForm(*page, purposes, save->form, renderer_.locales());
  if (!plan.ok()) {
    return JsonError(
        res, 400,
        absl::StrCat("preferences: ",
                     renderer_.locales().T("en", std::string(plan.status().message()))));
  }
  std::string nonce = req.get_header_value("Idempotency-Key");
  if (nonce.empty() || nonce.size() > 64) nonce = links::Base64Url(RandomBytes(16));
  const bool gpc = req.get_header_value("Sec-GPC") == "1" && page->subject.has_value() &&
                   !page->subject->gpc_opt_out();
  absl::StatusOr<std::vector<std::string>> changes =
      Execute(req, ctx, *page, purposes, *plan, nonce, gpc);
  if (!changes.ok()) {
    if (changes.status().code() == absl::StatusCode::kFailedPrecondition) {
      return JsonError(res, 409, "sequence: the preferences changed while saving");
    }
    spdlog::warn("msg=\"save failed\" route=api error=\"{}\"", changes.status().ToString());
    return JsonError(res, 500, "the preferences could not be saved");
  }
  saves_.Add({{"result", "api"}}).Increment();
  auto fresh = Load(claims, req);
  nlohmann::json out = {{"changes", *changes}};
  if (fresh.ok()) {
    out["view"] = ApiView(*fresh, BuildPurposes(*fresh, renderer_.locales()), ReadHistory(*fresh));
  }
  Json(res, 200, out);
}

}  // namespace assent::prefcenter
