// The HTML pages: the preference center, its saves, one-click unsubscribe and "send me a new link".
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "http/form.h"
#include "links/encoding.h"
#include "prefcenter/app.h"
#include "spdlog/spdlog.h"

namespace assent::prefcenter {
namespace {

constexpr size_t kMaxUserAgent = 1024;
constexpr size_t kHistoryShown = 30;
constexpr absl::Duration kUnsubscribePageLinkTtl = absl::Hours(24 * 7);

std::string Field(const std::multimap<std::string, std::string>& form, const std::string& key) {
  auto it = form.find(key);
  return it == form.end() ? "" : it->second;
}

nlohmann::json ChangesJson(const std::vector<std::string>& changes) {
  nlohmann::json items = nlohmann::json::array();
  for (const std::string& c : changes) items.push_back({{"text", c}});
  return items;
}

}  // namespace

std::string LinkDigest(const std::string& token) { return Sha256Hex(token).substr(0, 32); }

v1::Evidence RequestEvidence(const httplib::Request& req, const http::RequestContext& ctx) {
  v1::Evidence evidence;
  evidence.set_ip_address(ctx.client_address);
  std::string agent = req.get_header_value("User-Agent");
  if (agent.size() > kMaxUserAgent) agent.resize(kMaxUserAgent);
  // The service accepts printable text only; anything else is dropped rather than refused.
  agent.erase(std::remove_if(agent.begin(), agent.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x20; }),
              agent.end());
  evidence.set_user_agent(agent);
  return evidence;
}

void App::SendPreferences(const httplib::Request& req, httplib::Response& res,
                          const std::string& token, const PageData& page,
                          const std::vector<PurposeView>& purposes, nlohmann::json banners) {
  const std::string& lang = page.lang;
  nlohmann::json view =
      Common(lang, page.claims.tenant, page.tenant->tenant.display_name(), "preferences_title");
  for (auto& [key, value] : banners.items()) view[key] = value;
  const std::string nonce = links::Base64Url(RandomBytes(16));
  const std::string action = absl::StrCat("/p/", token);
  view["form"] = {{"action", action},
                  {"csrf", CsrfToken(page.claims.tenant, LinkDigest(token), nonce)},
                  {"nonce", nonce},
                  {"sequence", page.Sequences()}};
  view["stop_all"] = {{"action", action + "/stop-all"}};
  const std::string download_nonce = links::Base64Url(RandomBytes(16));
  view["download"] = {{"action", action + "/download"},
                      {"csrf", CsrfToken(page.claims.tenant, DownloadScope(token), download_nonce)},
                      {"nonce", download_nonce}};
  if (page.subject.has_value()) {
    if (page.subject->gpc_opt_out()) {
      view["gpc"] = {{"recorded", true}};
    } else if (req.get_header_value("Sec-GPC") == "1") {
      view["gpc"] = {{"pending", true}};
    }
  }
  nlohmann::json list = nlohmann::json::array();
  int id = 0;
  for (const PurposeView& p : purposes) {
    nlohmann::json purpose = {{"purpose_id", p.purpose->purpose_id()}, {"label", p.label}};
    if (!p.description.empty()) purpose["description"] = p.description;
    if (p.has_notice) {
      purpose["notice"] = {{"version", absl::StrCat(p.notice_version)}, {"text", p.notice_text}};
    }
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& [topic, rows] : p.groups) {
      nlohmann::json group;
      if (!topic.empty()) group["topic_label"] = topic;
      nlohmann::json row_list = nlohmann::json::array();
      for (const Row& r : rows) {
        nlohmann::json row = {
            {"id", absl::StrCat("r", ++id)},
            {"name", r.name},
            {"channel_label",
             renderer_.locales().T(lang, absl::StrCat("channel_", ChannelKey(r.channel)))},
            {"checked", r.checked},
            {"state_class", r.state_class},
            {"state_label", renderer_.locales().T(lang, absl::StrCat("state_", r.state_class))}};
        if (r.disabled) row["disabled"] = true;
        if (!r.reason.empty()) row["reason"] = r.reason;
        row_list.push_back(row);
      }
      group["rows"] = row_list;
      groups.push_back(group);
    }
    purpose["groups"] = groups;
    list.push_back(purpose);
  }
  view["purposes"] = list;
  if (page.has_preferences()) view["settings"] = SettingsView(page, renderer_.locales());
  nlohmann::json entries =
      HistoryEntries(page, renderer_.locales(), ReadHistory(page), kHistoryShown);
  if (!entries.empty()) view["history"] = {{"entries", entries}};
  Send(res, 200, "preferences", std::move(view), page.claims.tenant);
}

void App::GetPreferences(const httplib::Request& req, httplib::Response& res,
                         const http::RequestContext& ctx) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::PREFERENCE_CENTER, claims, false)) return;
  absl::StatusOr<PageData> page = Load(claims, req);
  if (!page.ok()) {
    spdlog::warn("msg=\"read failed\" route=preferences_get error=\"{}\"",
                 page.status().ToString());
    return SendError(req, res, page.status().code() == absl::StatusCode::kNotFound ? 404 : 500,
                     claims.tenant);
  }
  SendPreferences(req, res, token, *page, BuildPurposes(*page, renderer_.locales()), {});
}

std::optional<std::vector<std::string>> App::AlreadySaved(const PageData& page,
                                                          const std::string& nonce) {
  const std::string prefix = absl::StrCat("pc-", nonce);
  std::vector<std::string> changes;
  bool any = false;
  // Newest first: every record after the form's state must be this form's own (another writer
  // in between would have failed this form's expected_sequence).
  for (const v1::HistoryRecord& h : ReadHistory(page)) {
    if (absl::StartsWith(h.idempotency_key(), prefix)) {
      any = true;
      for (const v1::DecisionChange& d : h.decisions()) {
        const v1::ConsentRecord& r = d.after();
        auto it = page.tenant->catalog.purposes.find(r.purpose_id());
        const v1::Purpose* purpose =
            it == page.tenant->catalog.purposes.end() ? nullptr : &it->second;
        changes.push_back(renderer_.locales().Fill(
            page.lang, absl::StrCat("change_", r.state() == v1::GRANTED ? "granted" : "withdrawn"),
            {{"what", What(renderer_.locales(), page.lang, purpose, r.purpose_id(), r.topic(),
                           r.channel())}}));
      }
      if (h.kind() == v1::PREFERENCES_SET) {
        changes.push_back(renderer_.locales().T(page.lang, "history_preferences"));
      }
      continue;
    }
    break;
  }
  if (!any) return std::nullopt;
  return changes;
}

absl::StatusOr<std::vector<std::string>> App::Execute(const httplib::Request& req,
                                                      const http::RequestContext& ctx,
                                                      const PageData& page,
                                                      const std::vector<PurposeView>& purposes,
                                                      const Plan& plan, const std::string& nonce,
                                                      bool gpc) {
  std::vector<std::string> changes = plan.changes;
  const v1::Evidence evidence = RequestEvidence(req, ctx);
  uint64_t target_sequence =
      page.contact.has_value() ? page.contact->sequence() : page.subject->sequence();
  uint64_t subject_sequence = page.subject.has_value() ? page.subject->sequence() : 0;
  const bool target_is_subject = !page.contact.has_value();
  int call = 0;
  auto record = [&](const v1::TargetRef& target, bool on_subject,
                    const std::vector<std::pair<Row, v1::ConsentState>>& decisions,
                    bool with_gpc) -> absl::Status {
    // One request per notice language: evidence.language names the text each digest is of.
    std::map<std::string, std::vector<const std::pair<Row, v1::ConsentState>*>> by_language;
    for (const auto& d : decisions) {
      auto it = plan.notices.find(d.first.purpose_id);
      const PurposeView* view = it != plan.notices.end() ? it->second : nullptr;
      if (view == nullptr) {
        for (const PurposeView& p : purposes) {
          if (p.purpose->purpose_id() == d.first.purpose_id) view = &p;
        }
      }
      by_language[view != nullptr && view->has_notice ? view->notice_language : page.lang]
          .push_back(&d);
    }
    for (const auto& [language, group] : by_language) {
      v1::RecordDecisionsRequest request;
      request.set_tenant(page.claims.tenant);
      *request.mutable_target() = ToTarget(target);
      request.set_source(kSource);
      request.set_actor(kActor);
      request.set_idempotency_key(absl::StrCat("pc-", nonce, "-", call++));
      *request.mutable_evidence() = evidence;
      request.mutable_evidence()->set_language(language);
      request.mutable_evidence()->set_gpc(with_gpc);
      request.set_expected_sequence(on_subject ? subject_sequence : target_sequence);
      for (const auto* d : group) {
        v1::DecisionInput* in = request.add_decisions();
        in->set_purpose_id(d->first.purpose_id);
        in->set_channel(d->first.channel);
        in->set_topic(d->first.topic);
        in->set_state(d->second);
        for (const PurposeView& p : purposes) {
          if (p.purpose->purpose_id() != d->first.purpose_id || !p.has_notice) continue;
          in->set_notice_version(p.notice_version);
          if (p.notice_language == language) in->set_notice_sha256(p.notice_sha256);
        }
      }
      ASSIGN_OR_RETURN(v1::RecordDecisionsResponse response, client_.Record(request));
      if (on_subject) subject_sequence = response.sequence();
      if (on_subject == target_is_subject) target_sequence = response.sequence();
    }
    return absl::OkStatus();
  };
  if (!plan.decisions.empty()) {
    RETURN_IF_ERROR(record(page.claims.target, target_is_subject, plan.decisions, false));
  }
  if (gpc) {
    v1::TargetRef subject;
    subject.set_subject_id(page.subject->subject_id());
    std::vector<std::pair<Row, v1::ConsentState>> decisions = GpcDecisions(purposes);
    if (!decisions.empty()) {
      RETURN_IF_ERROR(record(subject, true, decisions, true));
      changes.push_back(renderer_.locales().T(page.lang, "change_gpc"));
    }
  }
  if (plan.preferences.has_value()) {
    v1::SetPreferencesRequest request;
    request.set_tenant(page.claims.tenant);
    request.set_subject_id(page.subject->subject_id());
    *request.mutable_preferences() = *plan.preferences;
    request.set_actor(kActor);
    request.set_source(kSource);
    request.set_idempotency_key(absl::StrCat("pc-", nonce, "-prefs"));
    request.set_expected_sequence(subject_sequence);
    RETURN_IF_ERROR(client_.SetPreferences(request).status());
  }
  return changes;
}

void App::PostPreferences(const httplib::Request& req, httplib::Response& res,
                          const http::RequestContext& ctx, bool stop_all) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::PREFERENCE_CENTER, claims, false)) return;
  const auto form = http::ParseForm(req.body);
  const std::string nonce = Field(form, "nonce");
  if (CrossSite(req) || !CsrfValid(claims.tenant, LinkDigest(token), nonce, Field(form, "csrf"))) {
    saves_.Add({{"result", "forbidden"}}).Increment();
    return SendError(req, res, 403, claims.tenant);
  }
  absl::StatusOr<PageData> page = Load(claims, req);
  if (!page.ok()) {
    spdlog::warn("msg=\"read failed\" route=preferences_post error=\"{}\"",
                 page.status().ToString());
    return SendError(req, res, 500, claims.tenant);
  }
  std::vector<PurposeView> purposes = BuildPurposes(*page, renderer_.locales());
  const Locales& locales = renderer_.locales();
  auto saved = [&](const std::vector<std::string>& changes) {
    nlohmann::json view =
        Common(page->lang, claims.tenant, page->tenant->tenant.display_name(), "saved_title");
    if (!changes.empty()) view["changes"] = {{"items", ChangesJson(changes)}};
    view["back_url"] = absl::StrCat("/p/", token);
    Send(res, 200, "saved", std::move(view), claims.tenant);
  };
  if (Field(form, "sequence") != page->Sequences()) {
    // A double click lands here with the first click's writes already made: show its result.
    if (auto changes = AlreadySaved(*page, nonce); changes.has_value()) {
      saves_.Add({{"result", "replayed"}}).Increment();
      return saved(*changes);
    }
    saves_.Add({{"result", "stale"}}).Increment();
    return SendPreferences(req, res, token, *page, purposes, {{"stale_banner", true}});
  }
  absl::StatusOr<Plan> plan = stop_all ? PlanStopAll(*page, purposes, locales)
                                       : PlanFromForm(*page, purposes, form, locales);
  if (!plan.ok()) {
    saves_.Add({{"result", "invalid"}}).Increment();
    return SendPreferences(
        req, res, token, *page, purposes,
        {{"error_banner",
          {{"message", locales.T(page->lang, std::string(plan.status().message()))}}}});
  }
  const bool gpc = req.get_header_value("Sec-GPC") == "1" && page->subject.has_value() &&
                   !page->subject->gpc_opt_out();
  absl::StatusOr<std::vector<std::string>> changes =
      Execute(req, ctx, *page, purposes, *plan, nonce, gpc);
  if (!changes.ok()) {
    if (changes.status().code() == absl::StatusCode::kFailedPrecondition) {
      saves_.Add({{"result", "stale"}}).Increment();
      auto fresh = Load(claims, req);
      if (fresh.ok()) {
        return SendPreferences(req, res, token, *fresh, BuildPurposes(*fresh, locales),
                               {{"stale_banner", true}});
      }
    }
    spdlog::warn("msg=\"save failed\" error=\"{}\"", changes.status().ToString());
    saves_.Add({{"result", "error"}}).Increment();
    return SendPreferences(
        req, res, token, *page, purposes,
        {{"error_banner", {{"message", locales.T(page->lang, "form_error_generic")}}}});
  }
  saves_.Add({{"result", stop_all ? "stop_all" : "saved"}}).Increment();
  for (const auto& [row, state] : plan->decisions) {
    if (state == v1::WITHDRAWN) {
      unsubscribes_.Add({{"how", stop_all ? "stop_all" : "preference_center"}}).Increment();
    }
  }
  saved(*changes);
}

// --- one-click ----------------------------------------------------------------------------------

void App::GetUnsubscribe(const httplib::Request& req, httplib::Response& res,
                         const http::RequestContext& ctx) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::ONE_CLICK_UNSUBSCRIBE, claims, false)) return;
  auto tenant = client_.Tenant(claims.tenant);
  if (!tenant.ok()) {
    return SendError(req, res, tenant.status().code() == absl::StatusCode::kNotFound ? 404 : 500,
                     claims.tenant);
  }
  const std::string lang = Language(req, nullptr);
  const Locales& l = renderer_.locales();
  nlohmann::json view =
      Common(lang, claims.tenant, (*tenant)->tenant.display_name(), "unsubscribe_title");
  auto it = (*tenant)->catalog.purposes.find(claims.purpose_id);
  const std::string purpose =
      it != (*tenant)->catalog.purposes.end() ? PurposeLabel(it->second, lang) : claims.purpose_id;
  const v1::Channel channel =
      claims.channel == v1::CHANNEL_UNSPECIFIED ? v1::EMAIL : claims.channel;
  view["question"] =
      l.Fill(lang, "unsubscribe_question_no_address",
             {{"purpose", purpose},
              {"by_channel", l.T(lang, absl::StrCat("channel_by_", ChannelKey(channel)))}});
  view["form"] = {{"action", absl::StrCat("/u/", token)}};
  view["preferences_url"] = PreferencesUrl(claims, kUnsubscribePageLinkTtl);
  Send(res, 200, "unsubscribe", std::move(view), claims.tenant);
}

void App::PostUnsubscribe(const httplib::Request& req, httplib::Response& res,
                          const http::RequestContext& ctx) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::ONE_CLICK_UNSUBSCRIBE, claims, false)) return;
  const auto form = http::ParseForm(req.body);
  if (Field(form, "List-Unsubscribe") != "One-Click") {
    res.status = 400;
    res.set_content("The body must be List-Unsubscribe=One-Click (RFC 8058).\n",
                    "text/plain; charset=utf-8");
    return;
  }
  auto tenant = client_.Tenant(claims.tenant);
  if (!tenant.ok()) {
    return SendError(req, res, tenant.status().code() == absl::StatusCode::kNotFound ? 404 : 500,
                     claims.tenant);
  }
  auto purpose = (*tenant)->catalog.purposes.find(claims.purpose_id);
  if (purpose == (*tenant)->catalog.purposes.end()) return SendError(req, res, 404, claims.tenant);
  v1::RecordDecisionsRequest request;
  request.set_tenant(claims.tenant);
  *request.mutable_target() = ToTarget(claims.target);
  request.set_source(kOneClickSource);
  request.set_actor(kActor);
  // The same link always makes the same request: a repeated POST replays the first.
  request.set_idempotency_key(absl::StrCat("oc-", LinkDigest(token)));
  *request.mutable_evidence() = RequestEvidence(req, ctx);
  std::vector<v1::Channel> channels;
  if (claims.channel != v1::CHANNEL_UNSPECIFIED) {
    channels.push_back(claims.channel);
  } else {
    for (int c : purpose->second.channels()) channels.push_back(static_cast<v1::Channel>(c));
  }
  for (v1::Channel c : channels) {
    v1::DecisionInput* in = request.add_decisions();
    in->set_purpose_id(claims.purpose_id);
    in->set_channel(c);
    in->set_state(v1::WITHDRAWN);
  }
  absl::StatusOr<v1::RecordDecisionsResponse> recorded = client_.Record(request);
  if (!recorded.ok()) {
    spdlog::warn("msg=\"one-click failed\" error=\"{}\"", recorded.status().ToString());
    return SendError(req, res, 500, claims.tenant);
  }
  if (!recorded->replayed()) unsubscribes_.Add({{"how", "one_click"}}).Increment();
  const std::string lang = Language(req, nullptr);
  const Locales& l = renderer_.locales();
  nlohmann::json view =
      Common(lang, claims.tenant, (*tenant)->tenant.display_name(), "unsubscribed_title");
  view["message"] = l.Fill(
      lang, "unsubscribed_text",
      {{"purpose", PurposeLabel(purpose->second, lang)},
       {"by_channel", l.T(lang, absl::StrCat("channel_by_", ChannelKey(channels.front())))}});
  view["preferences_url"] = PreferencesUrl(claims, kUnsubscribePageLinkTtl);
  Send(res, 200, "unsubscribed", std::move(view), claims.tenant);
}

// --- a new link ---------------------------------------------------------------------------------

void App::PostResend(const httplib::Request& req, httplib::Response& res,
                     const http::RequestContext& ctx) {
  if (!Admit(req, res, ctx, "", false)) return;
  const auto form = http::ParseForm(req.body);
  const std::string token = Field(form, "token");
  // Only a correctly signed token (expired or not) names a tenant here.
  std::optional<links::LinkClaims> claims;
  if (!token.empty()) {
    auto verified =
        links::VerifyLink(*config_.keyring, config_.legacy_v1_secret, token, absl::InfinitePast());
    if (verified.ok()) claims = *std::move(verified);
  }
  const std::string tenant = claims.has_value() ? claims->tenant : "";
  const std::string csrf = Field(form, "csrf");
  const size_t colon = csrf.find(':');
  if (CrossSite(req) || colon == std::string::npos ||
      !CsrfValid(tenant, "resend", csrf.substr(0, colon), csrf.substr(colon + 1))) {
    return SendError(req, res, 403, tenant);
  }
  const std::string lang = Language(req, nullptr);
  // The same answer whatever happens below: the page reveals nothing about who is a customer.
  auto done = [&] {
    Send(res, 200, "resend_done", Common(lang, tenant, DisplayName(tenant), "resend_done_title"),
         tenant);
  };
  const std::string email = Field(form, "email");
  if (!claims.has_value() || email.empty() || email.size() > 512) return done();
  v1::ContactPoint point;
  point.set_type(v1::CONTACT_EMAIL);
  point.set_value(email);
  auto contact = client_.ContactByAddress(tenant, point);
  if (!contact.ok()) return done();
  links::LinkClaims fresh;
  fresh.tenant = tenant;
  fresh.kind = v1::PREFERENCE_CENTER;
  const bool same_target = (claims->target.has_contact() &&
                            claims->target.contact().hash() == contact->contact().hash()) ||
                           (claims->target.has_subject_id() &&
                            claims->target.subject_id() == contact->linked_subject_id());
  // The token's own target when the address is its; otherwise the address itself, which the
  // tenant knows (its link then opens that address's choices only).
  fresh.target = same_target ? claims->target : v1::TargetRef();
  if (!same_target) *fresh.target.mutable_contact() = contact->contact();
  fresh.expire_time = clock_.Now() + config_.resend_link_ttl;
  auto minted = links::MintLink(*config_.keyring, fresh);
  if (minted.ok() && mailer_ != nullptr) {
    absl::Status sent = mailer_->Send(
        tenant, email, links::LinkUrl(config_.public_url, v1::PREFERENCE_CENTER, *minted));
    if (!sent.ok()) spdlog::warn("msg=\"new link not sent\" error=\"{}\"", sent.ToString());
  }
  done();
}

}  // namespace assent::prefcenter
