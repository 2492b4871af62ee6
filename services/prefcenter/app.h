// The preference center's HTTP routes:
//   GET  /p/{token}            the preference center (writes nothing)
//   POST /p/{token}            saves the form: changed decisions and preferences, with evidence
//   POST /p/{token}/stop-all   withdraws every marketing purpose on every channel
//   GET  /u/{token}            one-click page for a person: one confirm button (writes nothing:
//                              link scanners fetch it)
//   POST /u/{token}            RFC 8058 one-click unsubscribe (no cookie, no redirect, idempotent)
//   GET  /c/{token}            double opt-in: what is being confirmed and a confirm button (writes
//                              nothing: link scanners fetch it)
//   POST /c/{token}            confirms (ConfirmDecision with the click's IP and user agent)
//   POST /r                    "send me a new link" (same answer whatever the address)
//   GET|POST|OPTIONS /api/v1/preferences/{token}   the JSON API (CORS from config)
//   GET  /assets/prefcenter.css                     the stylesheet (a tenant's with ?t=tenant)
// Every token is verified (signature, key, expiry) before anything is read; a bad one gets a
// 400 page, an expired one a 410 page offering a new link, and nothing is recorded. Requests are
// rate-limited per client address and per link (429 with Retry-After). Tokens, addresses and
// client addresses never reach the logs.
//
// Thread safety: handlers run concurrently on the HTTP server's threads.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "http/rate_limiter.h"
#include "http/server.h"
#include "nlohmann/json.hpp"
#include "prefcenter/config.h"
#include "prefcenter/consent_client.h"
#include "prefcenter/page.h"
#include "prefcenter/render.h"
#include "prefcenter/resend.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace assent::prefcenter {

// The confirmed (or pending) decisions as the page's list items, in `lang`.
nlohmann::json ConfirmItems(const Locales& locales, std::string_view lang, const TenantInfo& tenant,
                            const std::vector<v1::ConsentRecord>& records);

class App {
 public:
  // `mailer` may be null ("send me a new link" then sends nothing). Everything must outlive the
  // App; `registry` receives the unsubscribe and save counters.
  App(const Config& config, ConsentClient& client, const Clock& clock, LinkMailer* mailer,
      prometheus::Registry& registry);
  // Adds every route to `server` (before it starts).
  void Register(http::Server& server);

 private:
  struct Link;
  struct Outcome;

  void GetPreferences(const httplib::Request& req, httplib::Response& res,
                      const http::RequestContext& ctx);
  void PostPreferences(const httplib::Request& req, httplib::Response& res,
                       const http::RequestContext& ctx, bool stop_all);
  void GetUnsubscribe(const httplib::Request& req, httplib::Response& res,
                      const http::RequestContext& ctx);
  void PostUnsubscribe(const httplib::Request& req, httplib::Response& res,
                       const http::RequestContext& ctx);
  void GetConfirm(const httplib::Request& req, httplib::Response& res,
                  const http::RequestContext& ctx);
  void PostConfirm(const httplib::Request& req, httplib::Response& res,
                   const http::RequestContext& ctx);
  // The page for a confirmation link with nothing (left) to confirm.
  void SendConfirmGone(const httplib::Request& req, httplib::Response& res,
                       const links::LinkClaims& claims, const std::string& display_name);
  void PostResend(const httplib::Request& req, httplib::Response& res,
                  const http::RequestContext& ctx);
  // "Download my data" (download.cc): POST /p/{token}/download asks consentd to mail an EXPORT
  // link; GET /x/{token} shows the download button; POST /x/{token} streams the JSON Lines file.
  void PostDownloadRequest(const httplib::Request& req, httplib::Response& res,
                           const http::RequestContext& ctx);
  void GetExport(const httplib::Request& req, httplib::Response& res,
                 const http::RequestContext& ctx);
  void PostExport(const httplib::Request& req, httplib::Response& res,
                  const http::RequestContext& ctx);
  // The CSRF scope of the download forms of a link.
  static std::string DownloadScope(const std::string& token);
  void Api(const httplib::Request& req, httplib::Response& res, const http::RequestContext& ctx);
  void Stylesheet(const httplib::Request& req, httplib::Response& res);
  // /.well-known/jwks.json: the keys that verify consent receipts (docs/RECEIPTS.md).
  void Jwks(httplib::Response& res);

  // Rate limits for the client and (when given) the link; false after answering 429.
  bool Admit(const httplib::Request& req, httplib::Response& res, const http::RequestContext& ctx,
             const std::string& token, bool json);
  // Verifies the token of kind `kind`; false after answering the link-error page.
  bool VerifyToken(const httplib::Request& req, httplib::Response& res, const std::string& token,
                   v1::LinkKind kind, links::LinkClaims& claims, bool json);
  // Reads the tenant's catalog and the link's target(s).
  absl::StatusOr<PageData> Load(const links::LinkClaims& claims, const httplib::Request& req);
  // The page language: the subject's preferred language, else Accept-Language, else English.
  std::string Language(const httplib::Request& req, const v1::SubjectState* subject) const;

  // The catalog's display name of a tenant ("" when unknown or unreachable).
  std::string DisplayName(const std::string& tenant);
  // The view model every page shares, and a page rendered with its security headers.
  nlohmann::json Common(const std::string& lang, const std::string& tenant,
                        const std::string& display_name, const std::string& title_key) const;
  void Send(httplib::Response& res, int status, std::string_view page, nlohmann::json view,
            const std::string& tenant);
  void SendError(const httplib::Request& req, httplib::Response& res, int status,
                 const std::string& tenant, absl::Duration retry_after = absl::ZeroDuration());
  void SendPreferences(const httplib::Request& req, httplib::Response& res,
                       const std::string& token, const PageData& page,
                       const std::vector<PurposeView>& purposes, nlohmann::json banners);
  void SendLinkError(const httplib::Request& req, httplib::Response& res, const std::string& token,
                     bool expired, const std::string& tenant);

  // CSRF tokens bound to a scope (the link) and the form's nonce, signed with a key derived from
  // the link keyring (shared by every replica), valid for form_ttl.
  // The tenant whose link keys make the CSRF keys ("prefcenter" for pages of no tenant).
  static std::string CsrfSubject(const std::string& tenant) {
    return tenant.empty() ? "prefcenter" : tenant;
  }
  std::string CsrfKey(const std::string& tenant) const;
  std::string CsrfToken(const std::string& tenant, const std::string& scope,
                        const std::string& nonce) const;
  bool CsrfValid(const std::string& tenant, const std::string& scope, const std::string& nonce,
                 const std::string& csrf) const;
  // A request that a browser sent from another site (Sec-Fetch-Site, Origin).
  bool CrossSite(const httplib::Request& req) const;

  // Records a plan (and the GPC signal) with the request's evidence; the changes in words.
  absl::StatusOr<std::vector<std::string>> Execute(const httplib::Request& req,
                                                   const http::RequestContext& ctx,
                                                   const PageData& page,
                                                   const std::vector<PurposeView>& purposes,
                                                   const Plan& plan, const std::string& nonce,
                                                   bool gpc);
  // A second submission of a form whose writes are already in the history (a double click):
  // the changes it made, or nullopt when something else changed the target.
  std::optional<std::vector<std::string>> AlreadySaved(const PageData& page,
                                                       const std::string& nonce);
  // A preference-center URL for the target of `claims`, minted here.
  std::string PreferencesUrl(const links::LinkClaims& claims, absl::Duration ttl) const;

  nlohmann::json ApiView(const PageData& page, const std::vector<PurposeView>& purposes,
                         const std::vector<v1::HistoryRecord>& history) const;
  std::vector<v1::HistoryRecord> ReadHistory(const PageData& page);

  const Config& config_;
  ConsentClient& client_;
  const Clock& clock_;
  LinkMailer* mailer_;
  Renderer renderer_;
  std::unique_ptr<http::RateLimiter> client_limiter_;
  std::unique_ptr<http::RateLimiter> link_limiter_;
  const std::string fallback_csrf_key_;
  prometheus::Family<prometheus::Counter>& unsubscribes_;
  prometheus::Family<prometheus::Counter>& saves_;
  prometheus::Family<prometheus::Counter>& link_errors_;
  prometheus::Family<prometheus::Counter>& downloads_;
  prometheus::Family<prometheus::Counter>& confirmations_;
};

}  // namespace assent::prefcenter
