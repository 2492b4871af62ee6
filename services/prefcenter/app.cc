#include "prefcenter/app.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/hex.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "http/form.h"
#include "http/response.h"
#include "links/encoding.h"
#include "spdlog/spdlog.h"

namespace assent::prefcenter {
namespace {

constexpr int kHistoryPage = 20;
constexpr std::string_view kCsrfLabel = "assent/prefcenter-csrf/v1";

// A CSRF token's MAC (after "<issued>.") under `secret`.
std::string CsrfMac(const std::string& secret, const std::string& scope, const std::string& nonce,
                    int64_t issued) {
  return links::Base64Url(HmacSha256(secret, absl::StrCat(scope, "\n", nonce, "\n", issued)));
}

std::string Csp(const std::string& nonce) {
  return absl::StrCat("default-src 'none'; style-src 'self' 'nonce-", nonce,
                      "'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; "
                      "base-uri 'none'");
}

}  // namespace

App::App(const Config& config, ConsentClient& client, const Clock& clock, LinkMailer* mailer,
         prometheus::Registry& registry)
    : config_(config),
      client_(client),
      clock_(clock),
      mailer_(mailer),
      fallback_csrf_key_(RandomBytes(32)),
      unsubscribes_(prometheus::BuildCounter()
                        .Name("assent_prefcenter_unsubscribes_total")
                        .Help("Withdrawals made through the preference center, by how")
                        .Register(registry)),
      saves_(prometheus::BuildCounter()
                 .Name("assent_prefcenter_saves_total")
                 .Help("Preference-center form submissions, by result")
                 .Register(registry)),
      link_errors_(prometheus::BuildCounter()
                       .Name("assent_prefcenter_link_errors_total")
                       .Help("Links refused, by why (invalid, expired)")
                       .Register(registry)),
      downloads_(prometheus::BuildCounter()
                     .Name("assent_prefcenter_downloads_total")
                     .Help("\"Download my data\": links asked for and files downloaded, by result "
                           "(asked, rate_limited, error, downloaded, export_error)")
                     .Register(registry)),
      confirmations_(prometheus::BuildCounter()
                         .Name("assent_prefcenter_confirmations_total")
                         .Help("Double opt-in confirmations posted, by result (confirmed, already, "
                               "gone, invalid, forbidden, error)")
                         .Register(registry)) {
  http::RateLimiterOptions client_options;
  client_options.rate_per_second = config.client_rate;
  client_options.burst = config.client_burst;
  client_limiter_ = *http::RateLimiter::Create(client_options, clock);
  http::RateLimiterOptions link_options;
  link_options.rate_per_second = config.link_rate;
  link_options.burst = config.link_burst;
  link_limiter_ = *http::RateLimiter::Create(link_options, clock);
}

void App::Register(http::Server& server) {
  // Any length: an oversized token gets the 400 link page from VerifyLink, not a 404.
  const std::string token = "([^/]+)";
  server.Get("preferences_get", "/p/" + token, [this](const auto& req, auto& res, const auto& ctx) {
    GetPreferences(req, res, ctx);
  });
  server.Post("preferences_post", "/p/" + token,
              [this](const auto& req, auto& res, const auto& ctx) {
                PostPreferences(req, res, ctx, false);
              });
  server.Post("stop_all", "/p/" + token + "/stop-all",
              [this](const auto& req, auto& res, const auto& ctx) {
                PostPreferences(req, res, ctx, true);
              });
  server.Get("unsubscribe_get", "/u/" + token, [this](const auto& req, auto& res, const auto& ctx) {
    GetUnsubscribe(req, res, ctx);
  });
  server.Post(
      "unsubscribe_post", "/u/" + token,
      [this](const auto& req, auto& res, const auto& ctx) { PostUnsubscribe(req, res, ctx); });
  server.Get("confirm_get", "/c/" + token,
             [this](const auto& req, auto& res, const auto& ctx) { GetConfirm(req, res, ctx); });
  server.Post("confirm_post", "/c/" + token,
              [this](const auto& req, auto& res, const auto& ctx) { PostConfirm(req, res, ctx); });
  server.Post(
      "download_request", "/p/" + token + "/download",
      [this](const auto& req, auto& res, const auto& ctx) { PostDownloadRequest(req, res, ctx); });
  server.Get("export_get", "/x/" + token,
             [this](const auto& req, auto& res, const auto& ctx) { GetExport(req, res, ctx); });
  server.Post("export_post", "/x/" + token,
              [this](const auto& req, auto& res, const auto& ctx) { PostExport(req, res, ctx); });
  server.Post("resend", "/r",
              [this](const auto& req, auto& res, const auto& ctx) { PostResend(req, res, ctx); });
  const std::string api = "/api/v1/preferences/" + token;
  auto api_handler = [this](const auto& req, auto& res, const auto& ctx) { Api(req, res, ctx); };
  server.Get("api", api, api_handler);
  server.Post("api", api, api_handler);
  server.Options("api_preflight", api, api_handler);
  if (config_.bench_static_route) {
    auto ok = [](const auto&, auto& res, const auto&) { res.set_content("ok", "text/plain"); };
    server.Get("bench_static", "/__bench/static", ok);
    server.Post("bench_static", "/__bench/static", ok);
  }
  server.Get("jwks", "/\\.well-known/jwks\\.json",
             [this](const auto&, auto& res, const auto&) { Jwks(res); });
  server.Get("assets", "/assets/prefcenter\\.css",
             [this](const auto& req, auto& res, const auto&) { Stylesheet(req, res); });
  // Any other page a person may type or truncate: the HTML 404, not a bare one.
  server.Get("not_found", "/.*", [this](const auto& req, auto& res, const auto& ctx) {
    if (Admit(req, res, ctx, "", false)) SendError(req, res, 404, "");
  });
}

// --- shared -------------------------------------------------------------------------------------

std::string App::Language(const httplib::Request& req, const v1::SubjectState* subject) const {
  if (subject != nullptr) {
    std::string preferred = Locales::Supported(subject->preferences().preferred_language());
    if (!preferred.empty()) return preferred;
  }
  return http::AcceptLanguage(req.get_header_value("Accept-Language"), kLanguages);
}

nlohmann::json App::Common(const std::string& lang, const std::string& tenant,
                           const std::string& display_name, const std::string& title_key) const {
  const Brand brand = BrandFor(config_, tenant, display_name);
  nlohmann::json view = {
      {"lang", lang},
      {"css_url",
       absl::StrCat("/assets/prefcenter.css?v=", renderer_.stylesheet_version(),
                    brand.css_file.empty() || tenant.empty() ? "" : absl::StrCat("&t=", tenant))},
      {"brand",
       {{"name", brand.name},
        {"primary_color", brand.primary_color},
        {"accent_color", brand.accent_color}}},
      {"page_title", renderer_.locales().T(lang, title_key)}};
  if (!brand.logo_url.empty()) view["brand"]["logo_url"] = brand.logo_url;
  if (!brand.privacy_url.empty()) view["privacy_url"] = brand.privacy_url;
  return view;
}

void App::Send(httplib::Response& res, int status, std::string_view page, nlohmann::json view,
               const std::string& tenant) {
  const std::string nonce = absl::Base64Escape(RandomBytes(16));
  view["csp_nonce"] = nonce;
  const Brand brand = BrandFor(config_, tenant, "");
  absl::StatusOr<std::string> html = renderer_.Render(page, std::move(view), brand.template_dir);
  if (!html.ok()) {
    spdlog::error("msg=\"render failed\" page={} error=\"{}\"", page, html.status().ToString());
    res.status = 500;
    res.set_content("Internal error\n", "text/plain; charset=utf-8");
    return;
  }
  res.status = status;
  http::SetSecurityHeaders(res, Csp(nonce));
  res.set_content(*html, "text/html; charset=utf-8");
}

void App::SendError(const httplib::Request& req, httplib::Response& res, int status,
                    const std::string& tenant, absl::Duration retry_after) {
  const std::string lang = Language(req, nullptr);
  nlohmann::json view =
      Common(lang, tenant, DisplayName(tenant), absl::StrCat("error_", status, "_title"));
  view["status"] = absl::StrCat(status);
  const Locales& l = renderer_.locales();
  if (status == 429) {
    const int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(retry_after));
    view["message"] = seconds == 1
                          ? l.T(lang, "error_429_message_one")
                          : l.Fill(lang, "error_429_message", {{"seconds", absl::StrCat(seconds)}});
    res.set_header("Retry-After", absl::StrCat(seconds));
  } else {
    view["message"] = l.T(lang, absl::StrCat("error_", status, "_message"));
  }
  Send(res, status, "error", std::move(view), tenant);
}

bool App::Admit(const httplib::Request& req, httplib::Response& res,
                const http::RequestContext& ctx, const std::string& token, bool json) {
  http::RateLimiter::Result r = client_limiter_->Take(ctx.client_address);
  if (r.allowed && !token.empty()) r = link_limiter_->Take(LinkDigest(token));
  if (r.allowed) return true;
  if (json) {
    http::Reply429(res, r.retry_after);
    return false;
  }
  SendError(req, res, 429, "", r.retry_after);
  return false;
}

void App::SendLinkError(const httplib::Request& req, httplib::Response& res,
                        const std::string& token, bool expired, const std::string& tenant) {
  link_errors_.Add({{"why", expired ? "expired" : "invalid"}}).Increment();
  const std::string lang = Language(req, nullptr);
  nlohmann::json view = Common(lang, tenant, DisplayName(tenant),
                               expired ? "link_expired_title" : "link_invalid_title");
  view["expired"] = expired;
  const std::string nonce = links::Base64Url(RandomBytes(12));
  view["resend"] = {{"action", "/r"},
                    {"csrf", absl::StrCat(nonce, ":", CsrfToken(tenant, "resend", nonce))}};
  if (expired) view["resend"]["token"] = token;
  Send(res, expired ? 410 : 400, "link_error", std::move(view), tenant);
}

bool App::VerifyToken(const httplib::Request& req, httplib::Response& res, const std::string& token,
                      v1::LinkKind kind, links::LinkClaims& claims, bool json) {
  absl::StatusOr<links::LinkClaims> verified =
      links::VerifyLink(*config_.keyring, config_.legacy_v1_secret, token, clock_.Now());
  bool expired = false;
  if (verified.ok() && verified->kind != kind) {
    verified = absl::InvalidArgumentError("token: a link of another kind");
  }
  if (verified.ok()) {
    claims = *std::move(verified);
    return true;
  }
  expired = verified.status().code() == absl::StatusCode::kFailedPrecondition;
  // Only a genuine (correctly signed) expired token names its tenant to the page.
  std::string tenant;
  if (expired) tenant = links::UnverifiedTenant(token).value_or("");
  if (json) {
    link_errors_.Add({{"why", expired ? "expired" : "invalid"}}).Increment();
    res.status = expired ? 410 : 400;
    res.set_content(
        nlohmann::json(
            {{"error",
              {{"code", res.status},
               {"message", expired ? "the link has expired" : "the link is not valid"}}}})
            .dump(),
        "application/json");
    return false;
  }
  SendLinkError(req, res, token, expired, tenant);
  return false;
}

absl::StatusOr<PageData> App::Load(const links::LinkClaims& claims, const httplib::Request& req) {
  PageData page;
  page.claims = claims;
  page.now = clock_.Now();
  ASSIGN_OR_RETURN(page.tenant, client_.Tenant(claims.tenant));
  if (claims.target.has_contact()) {
    ASSIGN_OR_RETURN(page.contact, client_.Contact(claims.tenant, claims.target.contact()));
    if (!page.contact->linked_subject_id().empty()) {
      ASSIGN_OR_RETURN(page.subject,
                       client_.Subject(claims.tenant, page.contact->linked_subject_id()));
    }
  } else {
    ASSIGN_OR_RETURN(page.subject, client_.Subject(claims.tenant, claims.target.subject_id()));
  }
  page.lang = Language(req, page.subject.has_value() ? &*page.subject : nullptr);
  return page;
}

std::vector<v1::HistoryRecord> App::ReadHistory(const PageData& page) {
  std::vector<v1::HistoryRecord> records;
  auto read = [&](const v1::TargetRef& target) {
    auto history = client_.History(page.claims.tenant, target, kHistoryPage);
    if (!history.ok()) return;
    records.insert(records.end(), history->records().begin(), history->records().end());
  };
  read(page.claims.target);
  if (page.contact.has_value() && page.subject.has_value()) {
    v1::TargetRef subject;
    subject.set_subject_id(page.subject->subject_id());
    read(subject);
  }
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return FromProto(a.recorded_time()) > FromProto(b.recorded_time());
  });
  return records;
}

std::string App::PreferencesUrl(const links::LinkClaims& claims, absl::Duration ttl) const {
  links::LinkClaims page = claims;
  page.kind = v1::PREFERENCE_CENTER;
  page.purpose_id.clear();
  page.channel = v1::CHANNEL_UNSPECIFIED;
  page.expire_time = clock_.Now() + ttl;
  absl::StatusOr<std::string> token = links::MintLink(*config_.keyring, page);
  if (!token.ok()) return "";
  return links::LinkUrl(config_.public_url, v1::PREFERENCE_CENTER, *token);
}

std::string App::DisplayName(const std::string& tenant) {
  if (tenant.empty()) return "";
  auto info = client_.Tenant(tenant);
  return info.ok() ? (*info)->tenant.display_name() : "";
}

// --- CSRF ---------------------------------------------------------------------------------------

std::string App::CsrfKey(const std::string& tenant) const {
  // From the link keyring, so every replica derives the same key; a process-random one only when
  // no key serves the tenant (forms then work on this replica alone).
  auto key = config_.keyring->SigningKey(CsrfSubject(tenant));
  return HmacSha256(key.ok() ? key->hmac_key : fallback_csrf_key_, kCsrfLabel);
}

std::string App::CsrfToken(const std::string& tenant, const std::string& scope,
                           const std::string& nonce) const {
  const int64_t issued = absl::ToUnixSeconds(clock_.Now());
  return absl::StrCat(issued, ".", CsrfMac(CsrfKey(tenant), scope, nonce, issued));
}

bool App::CsrfValid(const std::string& tenant, const std::string& scope, const std::string& nonce,
                    const std::string& csrf) const {
  const size_t dot = csrf.find('.');
  int64_t issued = 0;
  if (dot == std::string::npos || nonce.empty() ||
      !absl::SimpleAtoi(csrf.substr(0, dot), &issued)) {
    return false;
  }
  const absl::Time at = absl::FromUnixSeconds(issued);
  if (clock_.Now() - at > config_.form_ttl || at > clock_.Now() + absl::Minutes(5)) return false;
  // A form rendered by a replica that signs with another key of the keyring (a rotation rolling
  // out, a staged key) is as good as one of ours: every key that serves the tenant is tried, and
  // ours (CsrfKey: this process's random one when no key signs for the tenant).
  const std::string given = csrf.substr(dot + 1);
  bool valid = links::ConstantTimeEquals(CsrfMac(CsrfKey(tenant), scope, nonce, issued), given);
  for (const std::string& link_key : config_.keyring->VerifyingKeys(CsrfSubject(tenant))) {
    valid = links::ConstantTimeEquals(
                CsrfMac(HmacSha256(link_key, kCsrfLabel), scope, nonce, issued), given) ||
            valid;
  }
  return valid;
}

bool App::CrossSite(const httplib::Request& req) const {
  // Browsers that send Sec-Fetch-Site say exactly where a request came from; trust it alone.
  // (Origin is "null" on our own forms: the pages' Referrer-Policy is no-referrer.)
  const std::string site = req.get_header_value("Sec-Fetch-Site");
  if (!site.empty()) return site != "same-origin" && site != "none";
  // Older browsers: a real Origin must be this host. The CSRF token protects the rest.
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty() || origin == "null") return false;
  const std::string host = req.get_header_value("Host");
  return !(origin == absl::StrCat("https://", host) || origin == absl::StrCat("http://", host));
}

void App::Stylesheet(const httplib::Request& req, httplib::Response& res) {
  std::string css(renderer_.Stylesheet());
  const std::string tenant = req.get_param_value("t");
  if (auto it = config_.brands.find(tenant);
      it != config_.brands.end() && !it->second.css_file.empty()) {
    std::ifstream in(it->second.css_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!text.str().empty()) css = text.str();
  }
  res.set_header("Cache-Control", "public, max-age=86400");
  res.set_content(css, "text/css; charset=utf-8");
}

void App::Jwks(httplib::Response& res) {
  absl::StatusOr<std::shared_ptr<const std::string>> jwks = client_.ReceiptKeys();
  if (!jwks.ok()) {
    // No keyring: nothing to publish. Otherwise consentd is unreachable: try again soon.
    const bool none = jwks.status().code() == absl::StatusCode::kFailedPrecondition;
    res.status = none ? 404 : 503;
    if (!none) res.set_header("Retry-After", "5");
    res.set_content(none ? "no receipt keys\n" : "receipt keys unavailable\n",
                    "text/plain; charset=utf-8");
    return;
  }
  // Public keys: anyone may fetch and cache them; a rotation shows within max-age plus the
  // client's own refresh (catalog_ttl).
  res.set_header("Cache-Control", "public, max-age=300");
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_content(**jwks, "application/jwk-set+json");
}

}  // namespace assent::prefcenter
