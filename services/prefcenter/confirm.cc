// Double opt-in: the confirmation page (/c/{token}) and its confirm button.
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "http/form.h"
#include "links/encoding.h"
#include "prefcenter/app.h"
#include "spdlog/spdlog.h"

namespace assent::prefcenter {
namespace {

constexpr char kConfirmSource[] = "confirmation-link";
constexpr absl::Duration kConfirmPageLinkTtl = absl::Hours(24 * 7);

std::string Field(const std::multimap<std::string, std::string>& form, const std::string& key) {
  auto it = form.find(key);
  return it == form.end() ? "" : it->second;
}

// The decisions a confirmation link names: PENDING, recorded at its sequence, on its target.
std::vector<v1::ConsentRecord> PendingAt(const PageData& page) {
  const auto& decisions =
      page.claims.target.has_contact() ? page.contact->decisions() : page.subject->decisions();
  std::vector<v1::ConsentRecord> pending;
  for (const v1::ConsentRecord& r : decisions) {
    if (r.state() == v1::PENDING && r.sequence() == page.claims.confirm_sequence) {
      pending.push_back(r);
    }
  }
  return pending;
}

}  // namespace

nlohmann::json ConfirmItems(const Locales& locales, std::string_view lang, const TenantInfo& tenant,
                            const std::vector<v1::ConsentRecord>& records) {
  nlohmann::json items = nlohmann::json::array();
  for (const v1::ConsentRecord& r : records) {
    auto it = tenant.catalog.purposes.find(r.purpose_id());
    const v1::Purpose* purpose = it == tenant.catalog.purposes.end() ? nullptr : &it->second;
    items.push_back(
        {{"text", What(locales, lang, purpose, r.purpose_id(), r.topic(), r.channel())}});
  }
  return items;
}

void App::SendConfirmGone(const httplib::Request& req, httplib::Response& res,
                          const links::LinkClaims& claims, const std::string& display_name) {
  const std::string lang = Language(req, nullptr);
  nlohmann::json view = Common(lang, claims.tenant, display_name, "confirm_gone_title");
  view["message"] = renderer_.locales().T(lang, "confirm_gone_text");
  view["preferences_url"] = PreferencesUrl(claims, kConfirmPageLinkTtl);
  Send(res, 410, "confirm_done", std::move(view), claims.tenant);
}

void App::GetConfirm(const httplib::Request& req, httplib::Response& res,
                     const http::RequestContext& ctx) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::CONFIRMATION, claims, false)) return;
  absl::StatusOr<PageData> page = Load(claims, req);
  if (!page.ok()) {
    spdlog::warn("msg=\"read failed\" route=confirm_get error=\"{}\"", page.status().ToString());
    return SendError(req, res, page.status().code() == absl::StatusCode::kNotFound ? 404 : 500,
                     claims.tenant);
  }
  const std::string display_name = page->tenant->tenant.display_name();
  const std::vector<v1::ConsentRecord> pending = PendingAt(*page);
  if (pending.empty()) return SendConfirmGone(req, res, claims, display_name);
  nlohmann::json view = Common(page->lang, claims.tenant, display_name, "confirm_title");
  view["items"] = ConfirmItems(renderer_.locales(), page->lang, *page->tenant, pending);
  const std::string nonce = links::Base64Url(RandomBytes(16));
  view["form"] = {{"action", absl::StrCat("/c/", token)},
                  {"nonce", nonce},
                  {"csrf", CsrfToken(claims.tenant, LinkDigest(token), nonce)}};
  Send(res, 200, "confirm", std::move(view), claims.tenant);
}

void App::PostConfirm(const httplib::Request& req, httplib::Response& res,
                      const http::RequestContext& ctx) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::CONFIRMATION, claims, false)) return;
  const auto form = http::ParseForm(req.body);
  if (CrossSite(req) ||
      !CsrfValid(claims.tenant, LinkDigest(token), Field(form, "nonce"), Field(form, "csrf"))) {
    confirmations_.Add({{"result", "forbidden"}}).Increment();
    return SendError(req, res, 403, claims.tenant);
  }
  auto tenant = client_.Tenant(claims.tenant);
  if (!tenant.ok()) {
    return SendError(req, res, tenant.status().code() == absl::StatusCode::kNotFound ? 404 : 500,
                     claims.tenant);
  }
  const std::string display_name = (*tenant)->tenant.display_name();
  const std::string lang = Language(req, nullptr);
  v1::ConfirmDecisionRequest request;
  request.set_tenant(claims.tenant);
  request.set_token(token);
  *request.mutable_evidence() = RequestEvidence(req, ctx);
  request.mutable_evidence()->set_language(lang);
  request.set_actor(kActor);
  request.set_source(kConfirmSource);
  absl::StatusOr<v1::ConfirmDecisionResponse> confirmed = client_.Confirm(request);
  if (!confirmed.ok()) {
    switch (confirmed.status().code()) {
      case absl::StatusCode::kFailedPrecondition:
      case absl::StatusCode::kNotFound:
        // Lapsed, withdrawn or superseded meanwhile: nothing left to confirm.
        confirmations_.Add({{"result", "gone"}}).Increment();
        return SendConfirmGone(req, res, claims, display_name);
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kPermissionDenied:
        confirmations_.Add({{"result", "invalid"}}).Increment();
        return SendLinkError(req, res, token, false, claims.tenant);
      default:
        confirmations_.Add({{"result", "error"}}).Increment();
        spdlog::warn("msg=\"confirmation failed\" error=\"{}\"", confirmed.status().ToString());
        return SendError(req, res, 500, claims.tenant);
    }
  }
  confirmations_.Add({{"result", confirmed->already_confirmed() ? "already" : "confirmed"}})
      .Increment();
  const Locales& l = renderer_.locales();
  nlohmann::json view = Common(lang, claims.tenant, display_name, "confirmed_title");
  view["success"] = true;
  view["message"] = l.T(lang, "confirmed_text");
  std::vector<v1::ConsentRecord> records(confirmed->records().begin(), confirmed->records().end());
  view["items"] = ConfirmItems(l, lang, **tenant, records);
  view["has_items"] = !records.empty();
  if (confirmed->already_confirmed()) view["note"] = l.T(lang, "confirmed_again");
  view["preferences_url"] = PreferencesUrl(claims, kConfirmPageLinkTtl);
  Send(res, 200, "confirm_done", std::move(view), claims.tenant);
}

}  // namespace assent::prefcenter
