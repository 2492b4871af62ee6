// The real preference center (prefcenter) against a real consentd, driven over HTTP the way a
// customer's browser and a mailbox provider drive it: pages carry their security headers and never
// write; bad and expired links are refused and record nothing; catalog text is escaped; RFC 8058
// one-click unsubscribe; the save form's evidence, CSRF, double-submit, stale-form, GPC and
// stop-all rules; X-Forwarded-For only from trusted proxies; rate limits; the JSON API and its
// CORS; the service's own metrics. What was recorded is read back through consentd's gRPC API.
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "links/encoding.h"
#include "links/keyring.h"
#include "links/token.h"
#include "nlohmann/json.hpp"
#include "testing/consentd_process.h"
#include "testing/prefcenter_process.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::_;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using testing::HtmlForm;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;
using testing::StatusIs;

constexpr char kTenant[] = "acme";
// MARKETING on EMAIL and SMS, with an English notice text.
constexpr char kNewsletter[] = "marketing.newsletter";
// MARKETING on EMAIL and SMS, named in markup (and in German markup).
constexpr char kOffers[] = "marketing.offers";
// SALE_OR_SHARE on TARGETED_ADS: what a Global Privacy Control signal withdraws.
constexpr char kSharing[] = "ads.sharing";
constexpr char kNoticeText[] =
    "Once a week we email you our newsletter with news & offers. You can stop it at any time.";
constexpr char kScriptName[] = "<script>alert(1)</script>";
constexpr char kGermanName[] = "<b>Angebote</b>";
constexpr char kGermanDescription[] = "<img src=x onerror=alert(2)>";
constexpr char kUserAgent[] =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
constexpr char kFormType[] = "application/x-www-form-urlencoded";
constexpr char kOneClickBody[] = "List-Unsubscribe=One-Click";
constexpr char kPrefsForm[] = R"(id="prefs")";
constexpr char kShopOrigin[] = "https://shop.example.com";

// Rate limits that no test but the rate-limit one comes near, and `extra` flags.
std::vector<std::string> NoLimits(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {
      "--limits-client-rate", "100000", "--limits-client-burst", "100000",
      "--limits-link-rate",   "100000", "--limits-link-burst",   "100000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A keyring of one key `id` with a fresh random secret, written to `path` and parsed.
absl::StatusOr<links::KeyRing> NewKeyRing(const std::string& id, const std::string& path) {
  const std::string yaml = absl::StrCat("keys:\n  - id: ", id, "\n    secret: \"",
                                        absl::Base64Escape(RandomBytes(32)), "\"\n");
  std::ofstream(path) << yaml;
  chmod(path.c_str(), 0600);  // consentd refuses a keyring others can read
  return links::KeyRing::Parse(yaml);
}

// One unary call with a deadline, its status as an absl::Status (for the status matchers).
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Rpc(Stub& stub,
                             grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                          Response*),
                             const Request& request) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  Response response;
  const grpc::Status status = (stub.*method)(&ctx, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return response;
}

v1::Target SubjectTarget(const std::string& subject) {
  v1::Target target;
  target.set_subject_id(subject);
  return target;
}
v1::Target AddressTarget(const std::string& email) {
  v1::Target target;
  target.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  target.mutable_contact_point()->set_value(email);
  return target;
}
v1::TargetRef SubjectRef(const std::string& subject) {
  v1::TargetRef ref;
  ref.set_subject_id(subject);
  return ref;
}

links::LinkClaims PageClaims(const std::string& subject, absl::Duration ttl = absl::Hours(1)) {
  links::LinkClaims claims;
  claims.tenant = kTenant;
  claims.kind = v1::PREFERENCE_CENTER;
  claims.target = SubjectRef(subject);
  claims.expire_time = absl::Now() + ttl;
  return claims;
}
links::LinkClaims OneClickClaims(const v1::TargetRef& target, const std::string& purpose,
                                 v1::Channel channel, absl::Duration ttl = absl::Hours(1)) {
  links::LinkClaims claims;
  claims.tenant = kTenant;
  claims.kind = v1::ONE_CLICK_UNSUBSCRIBE;
  claims.target = target;
  claims.purpose_id = purpose;
  claims.channel = channel;
  claims.expire_time = absl::Now() + ttl;
  return claims;
}

// `token` with one character of its signature changed.
std::string Tampered(std::string token) {
  char& c = token[token.size() - 20];
  c = c == 'A' ? 'B' : 'A';
  return token;
}

// A genuine token of another tenant with its payload edited to name `tenant` (signature kept).
std::string Readdressed(const std::string& token, const std::string& tenant) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 4 || !links::DecodeBase64Url(parts[2], &payload)) return "";
  payload.replace(0, payload.find('\n'), tenant);
  parts[2] = links::Base64Url(payload);
  return absl::StrJoin(parts, ".");
}

// Headers of a request from a desktop browser.
httplib::Headers Browser(httplib::Headers extra = {}) {
  extra.emplace("User-Agent", kUserAgent);
  extra.emplace("Accept", "text/html,application/xhtml+xml");
  return extra;
}
// Headers of a form a browser posts from a page of `address` itself: it names its origin.
httplib::Headers SameOrigin(const std::string& address, httplib::Headers extra = {}) {
  extra.emplace("Origin", absl::StrCat("http://", address));
  return Browser(std::move(extra));
}

void ExpectSecurityHeaders(const httplib::Response& res) {
  EXPECT_THAT(res.get_header_value("Content-Type"), StartsWith("text/html"));
  EXPECT_THAT(res.get_header_value("Content-Security-Policy"), HasSubstr("frame-ancestors 'none'"));
  EXPECT_EQ(res.get_header_value("X-Frame-Options"), "DENY");
  EXPECT_EQ(res.get_header_value("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(res.get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res.get_header_value("Cache-Control"), "no-store");
}

// The sum of the samples of `name` whose labels include every one of `labels` (`route="x"`), or
// -1 when there is none, from Prometheus text format.
double Sample(const std::string& metrics, const std::string& name,
              const std::vector<std::string>& labels) {
  double total = -1;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, name + "{")) continue;
    const size_t close = line.rfind('}');
    const absl::string_view set = line.substr(0, close);
    if (!std::all_of(labels.begin(), labels.end(),
                     [&](const std::string& l) { return absl::StrContains(set, l); })) {
      continue;
    }
    double value = 0;
    if (absl::SimpleAtod(line.substr(close + 2), &value)) total = std::max(total, 0.0) + value;
  }
  return total;
}

class PrefcenterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keyring_file_ = dir_.Sub("links.yaml");
    ASSERT_OK_AND_ASSIGN(keyring_, NewKeyRing("k1", keyring_file_));
    consentd_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    consentd_->Start({"--links-keyring-file", keyring_file_});
    ASSERT_FALSE(HasFatalFailure());
    SeedCatalog();
    ASSERT_FALSE(HasFatalFailure());
    prefcenter_ = StartPrefcenter("prefcenter", NoLimits({"--cors-origins", kShopOrigin}));
    ASSERT_FALSE(HasFatalFailure());
    client_ = prefcenter_->Client();
  }

  void TearDown() override {
    if (HasFailure() && prefcenter_ != nullptr) {
      std::cerr << "prefcenter log:\n" << prefcenter_->log();
    }
  }

  // The catalog is complete before prefcenter starts (it caches catalogs for catalog_ttl).
  void SeedCatalog() {
    ASSERT_TRUE(consentd_->SeedCatalog(kNewsletter, {v1::EMAIL, v1::SMS}));
    v1::GetPurposeRequest get;
    get.set_name(absl::StrCat("tenants/", kTenant, "/purposes/", kNewsletter));
    ASSERT_OK_AND_ASSIGN(v1::Purpose newsletter,
                         Rpc(consentd_->catalog(), &v1::CatalogService::Stub::GetPurpose, get));
    newsletter.set_display_name("Weekly newsletter");
    v1::NoticeText* notice = newsletter.add_notices();
    notice->set_notice_version(1);
    notice->set_language("en");
    notice->set_text(kNoticeText);
    v1::UpdatePurposeRequest update;
    *update.mutable_purpose() = newsletter;
    ASSERT_OK(Rpc(consentd_->catalog(), &v1::CatalogService::Stub::UpdatePurpose, update));

    auto create = [&](const std::string& id, const std::string& name, v1::PurposeKind kind,
                      const std::vector<v1::Channel>& channels) {
      v1::CreatePurposeRequest request;
      request.set_parent(absl::StrCat("tenants/", kTenant));
      v1::Purpose* p = request.mutable_purpose();
      p->set_purpose_id(id);
      p->set_display_name(name);
      p->set_kind(kind);
      p->set_legal_basis(v1::CONSENT);
      for (v1::Channel c : channels) p->add_channels(c);
      p->set_notice_version(1);
      return request;
    };
    v1::CreatePurposeRequest offers =
        create(kOffers, kScriptName, v1::MARKETING, {v1::EMAIL, v1::SMS});
    v1::PurposeText* german = offers.mutable_purpose()->add_texts();
    german->set_language("de");
    german->set_display_name(kGermanName);
    german->set_description(kGermanDescription);
    ASSERT_OK(Rpc(consentd_->catalog(), &v1::CatalogService::Stub::CreatePurpose, offers));
    ASSERT_OK(Rpc(consentd_->catalog(), &v1::CatalogService::Stub::CreatePurpose,
                  create(kSharing, "Sharing with advertising partners", v1::SALE_OR_SHARE,
                         {v1::TARGETED_ADS})));
  }

  std::unique_ptr<testing::PrefcenterProcess> StartPrefcenter(
      const std::string& name, const std::vector<std::string>& args) {
    auto process = std::make_unique<testing::PrefcenterProcess>(PREFCENTER_PATH, dir_.path(), name);
    process->Start(consentd_->address(), keyring_file_, args);
    return process;
  }

  // --- consentd, as the tenant's own systems use it -----------------------------------------

  absl::StatusOr<v1::RecordDecisionsResponse> Record(const v1::Target& target,
                                                     const std::string& purpose,
                                                     const std::vector<v1::Channel>& channels,
                                                     v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant(kTenant);
    *request.mutable_target() = target;
    request.set_source("web-signup-v3");
    request.set_actor("signup-service");
    for (v1::Channel c : channels) {
      v1::DecisionInput* d = request.add_decisions();
      d->set_purpose_id(purpose);
      d->set_channel(c);
      d->set_state(state);
    }
    return Rpc(consentd_->consent(), &v1::ConsentService::Stub::RecordDecisions, request);
  }

  // The target's whole history, oldest first (empty when nothing was ever recorded).
  std::vector<v1::HistoryRecord> History(const v1::Target& target) {
    v1::ListHistoryRequest request;
    request.set_tenant(kTenant);
    *request.mutable_target() = target;
    request.set_page_size(1000);
    auto page = Rpc(consentd_->consent(), &v1::ConsentService::Stub::ListHistory, request);
    if (page.status().code() == absl::StatusCode::kNotFound) return {};
    EXPECT_OK(page);
    if (!page.ok()) return {};
    return {page->records().begin(), page->records().end()};
  }

  v1::CheckResponse Check(const v1::Target& target, const std::string& purpose,
                          v1::Channel channel) {
    v1::CheckRequest request;
    request.set_tenant(kTenant);
    *request.mutable_target() = target;
    request.set_purpose_id(purpose);
    request.set_channel(channel);
    auto response = Rpc(consentd_->consent(), &v1::ConsentService::Stub::Check, request);
    EXPECT_OK(response);
    return response.value_or(v1::CheckResponse());
  }

  absl::StatusOr<v1::SubjectState> SubjectState(const std::string& subject) {
    v1::GetSubjectStateRequest request;
    request.set_tenant(kTenant);
    request.set_subject_id(subject);
    return Rpc(consentd_->consent(), &v1::ConsentService::Stub::GetSubjectState, request);
  }

  // --- links and HTTP -------------------------------------------------------------------------

  // A token for `claims` signed with `ring` (default: the keyring prefcenter verifies with).
  std::string Mint(const links::LinkClaims& claims, const links::KeyRing* ring = nullptr) {
    absl::StatusOr<std::string> token = links::MintLink(ring != nullptr ? *ring : keyring_, claims);
    EXPECT_OK(token);
    return token.value_or("");
  }

  httplib::Result Get(const std::string& path, const httplib::Headers& headers = Browser(),
                      httplib::Client* via = nullptr) {
    return (via != nullptr ? *via : *client_).Get(path.c_str(), headers);
  }
  httplib::Result Post(const std::string& path, const std::string& body,
                       const std::string& content_type, const httplib::Headers& headers,
                       httplib::Client* via = nullptr) {
    return (via != nullptr ? *via : *client_)
        .Post(path.c_str(), headers, body, content_type.c_str());
  }
  // Opens the preference center of `token` and returns its form whose tag has `marker`.
  std::optional<HtmlForm> OpenForm(const std::string& token, const char* marker = kPrefsForm,
                                   const httplib::Headers& headers = Browser(),
                                   httplib::Client* via = nullptr) {
    httplib::Result res = Get("/p/" + token, headers, via);
    if (!res) {
      ADD_FAILURE() << "GET /p/: " << httplib::to_string(res.error());
      return std::nullopt;
    }
    EXPECT_EQ(res->status, 200) << res->body;
    std::optional<HtmlForm> form = HtmlForm::Find(res->body, marker);
    EXPECT_TRUE(form.has_value()) << "no form " << marker << " in:\n" << res->body;
    return form;
  }
  // Posts `form` to its action as a browser on the page would.
  httplib::Result Submit(const HtmlForm& form, httplib::Headers extra = {}) {
    return Post(form.action(), form.Body(), kFormType,
                SameOrigin(prefcenter_->address(), std::move(extra)));
  }

  testing::TempDir dir_;
  std::string keyring_file_;
  links::KeyRing keyring_;
  std::unique_ptr<testing::ConsentdProcess> consentd_;
  std::unique_ptr<testing::PrefcenterProcess> prefcenter_;
  std::unique_ptr<httplib::Client> client_;
};

// One line per history record, for failure messages.
std::string Summary(const std::vector<v1::HistoryRecord>& history) {
  std::string out;
  for (const v1::HistoryRecord& r : history) {
    absl::StrAppend(&out, "\n  #", r.sequence(), " ", v1::ChangeKind_Name(r.kind()),
                    " source=", r.source());
    for (const v1::DecisionChange& d : r.decisions()) {
      absl::StrAppend(&out, " ", d.after().purpose_id(), ":", v1::Channel_Name(d.after().channel()),
                      "=", v1::ConsentState_Name(d.after().state()));
    }
    if (r.kind() == v1::PREFERENCES_SET) {
      absl::StrAppend(&out, " preferences_after={", r.preferences_after().ShortDebugString(), "}");
    }
  }
  return out;
}

int DecisionRecords(const std::vector<v1::HistoryRecord>& history) {
  return static_cast<int>(std::count_if(history.begin(), history.end(), [](const auto& r) {
    return r.kind() == v1::DECISIONS_RECORDED;
  }));
}

// --- pages and links ------------------------------------------------------------------------

TEST_F(PrefcenterTest, PagesRenderWithSecurityHeadersAndNeverWrite) {
  ASSERT_OK(Record(SubjectTarget("alice"), kNewsletter, {v1::EMAIL}, v1::GRANTED));
  const std::string page = Mint(PageClaims("alice"));
  const std::string unsubscribe = Mint(OneClickClaims(SubjectRef("alice"), kNewsletter, v1::EMAIL));
  for (int i = 0; i < 3; ++i) {
    httplib::Result res = Get("/p/" + page);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << res->body;
    ExpectSecurityHeaders(*res);
    EXPECT_THAT(res->body, HasSubstr("Weekly newsletter"));
    // The page shows what is recorded.
    std::optional<HtmlForm> form = HtmlForm::Find(res->body, kPrefsForm);
    ASSERT_TRUE(form.has_value()) << res->body;
    EXPECT_TRUE(form->Checked("consent:marketing.newsletter:EMAIL"));
    EXPECT_FALSE(form->Checked("consent:marketing.newsletter:SMS"));

    // The one-click page for people (and link scanners) only asks.
    httplib::Result ask = Get("/u/" + unsubscribe);
    ASSERT_TRUE(ask) << httplib::to_string(ask.error());
    EXPECT_EQ(ask->status, 200) << ask->body;
    ExpectSecurityHeaders(*ask);
    std::optional<HtmlForm> confirm =
        HtmlForm::Find(ask->body, absl::StrCat(R"(action="/u/)", unsubscribe, "\""));
    ASSERT_TRUE(confirm.has_value()) << ask->body;
    EXPECT_EQ(confirm->Value("List-Unsubscribe"), "One-Click");
  }
  EXPECT_THAT(History(SubjectTarget("alice")), SizeIs(1));
  EXPECT_EQ(Check(SubjectTarget("alice"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);
}

TEST_F(PrefcenterTest, BadLinksAnswer400AndRecordNothing) {
  ASSERT_OK(Record(SubjectTarget("alice"), kNewsletter, {v1::EMAIL}, v1::GRANTED));
  ASSERT_OK_AND_ASSIGN(const links::KeyRing other_key_id,
                       NewKeyRing("k2", dir_.Sub("other-id.yaml")));
  ASSERT_OK_AND_ASSIGN(const links::KeyRing other_keyring,
                       NewKeyRing("k1", dir_.Sub("other-ring.yaml")));
  const std::pair<std::string, links::LinkClaims> kinds[] = {
      {"/p/", PageClaims("alice")},
      {"/u/", OneClickClaims(SubjectRef("alice"), kNewsletter, v1::EMAIL)}};
  for (const auto& [prefix, claims] : kinds) {
    const std::string good = Mint(claims);
    links::LinkClaims globex = claims;
    globex.tenant = "globex";
    const std::pair<std::string, std::string> bad[] = {
        {"tampered", Tampered(good)},
        {"truncated", good.substr(0, good.size() - 10)},
        {"another key id", Mint(claims, &other_key_id)},
        {"another keyring", Mint(claims, &other_keyring)},
        {"another tenant's, edited", Readdressed(Mint(globex), kTenant)},
        {"oversized", good + std::string(5000 - good.size(), 'A')},
        {"garbage", "hello-world"},
    };
    for (const auto& [why, token] : bad) {
      SCOPED_TRACE(absl::StrCat(prefix, " ", why));
      ASSERT_NE(token, good);
      httplib::Result get = Get(prefix + token);
      // A save or a one-click, as it would be posted.
      httplib::Result post = Post(prefix + token, prefix == "/u/" ? kOneClickBody : "sequence=1",
                                  kFormType, SameOrigin(prefcenter_->address()));
      for (const httplib::Result* res : {&get, &post}) {
        ASSERT_TRUE(*res) << httplib::to_string(res->error());
        EXPECT_EQ((*res)->status, 400) << (*res)->body;
        if ((*res)->status != 400) continue;  // the page checks below would only repeat it
        ExpectSecurityHeaders(**res);
        EXPECT_THAT((*res)->body, HasSubstr("This link does not work"));
      }
    }
  }
  EXPECT_THAT(History(SubjectTarget("alice")), SizeIs(1));
  EXPECT_EQ(Check(SubjectTarget("alice"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);
}

TEST_F(PrefcenterTest, ExpiredLinkAnswers410WithANewLinkForm) {
  ASSERT_OK(Record(SubjectTarget("alice"), kNewsletter, {v1::EMAIL}, v1::GRANTED));
  const std::string page = Mint(PageClaims("alice", -absl::Hours(1)));
  const std::string unsubscribe =
      Mint(OneClickClaims(SubjectRef("alice"), kNewsletter, v1::EMAIL, -absl::Hours(1)));

  httplib::Result res = Get("/p/" + page);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 410) << res->body;
  ExpectSecurityHeaders(*res);
  EXPECT_THAT(res->body, HasSubstr("This link has expired"));
  EXPECT_THAT(res->body, HasSubstr("Send me a new link"));
  std::optional<HtmlForm> resend = HtmlForm::Find(res->body, R"(action="/r")");
  ASSERT_TRUE(resend.has_value()) << res->body;
  EXPECT_TRUE(resend->Has("email"));
  EXPECT_EQ(resend->Value("token"), page);
  // The form works (the same answer whatever the address) and records nothing.
  resend->Set("email", "alice@example.com");
  httplib::Result sent = Post("/r", resend->Body(), kFormType, SameOrigin(prefcenter_->address()));
  ASSERT_TRUE(sent) << httplib::to_string(sent.error());
  EXPECT_EQ(sent->status, 200) << sent->body;
  EXPECT_THAT(sent->body, HasSubstr("Check your inbox"));

  httplib::Result ask = Get("/u/" + unsubscribe);
  httplib::Result one_click = Post("/u/" + unsubscribe, kOneClickBody, kFormType, {});
  for (const httplib::Result* r : {&ask, &one_click}) {
    ASSERT_TRUE(*r) << httplib::to_string(r->error());
    EXPECT_EQ((*r)->status, 410) << (*r)->body;
    EXPECT_THAT((*r)->body, HasSubstr("This link has expired"));
  }
  EXPECT_THAT(History(SubjectTarget("alice")), SizeIs(1));
  EXPECT_EQ(Check(SubjectTarget("alice"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);
}

TEST_F(PrefcenterTest, CatalogMarkupIsShownEscaped) {
  const std::string page = Mint(PageClaims("alice"));
  httplib::Result en = Get("/p/" + page);
  ASSERT_TRUE(en) << httplib::to_string(en.error());
  EXPECT_EQ(en->status, 200);
  EXPECT_THAT(en->body, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(en->body, Not(HasSubstr("<script")));

  httplib::Result de = Get("/p/" + page, Browser({{"Accept-Language", "de-DE,de;q=0.9"}}));
  ASSERT_TRUE(de) << httplib::to_string(de.error());
  EXPECT_EQ(de->status, 200);
  EXPECT_THAT(de->body, HasSubstr(R"(<html lang="de")"));
  EXPECT_THAT(de->body, HasSubstr("&lt;b&gt;Angebote&lt;/b&gt;"));
  EXPECT_THAT(de->body, HasSubstr("&lt;img src=x onerror=alert(2)&gt;"));
  EXPECT_THAT(de->body, Not(HasSubstr(kGermanName)));
  EXPECT_THAT(de->body, Not(HasSubstr("<img src=x")));

  httplib::Result ask = Get("/u/" + Mint(OneClickClaims(SubjectRef("alice"), kOffers, v1::EMAIL)));
  ASSERT_TRUE(ask) << httplib::to_string(ask.error());
  EXPECT_EQ(ask->status, 200);
  EXPECT_THAT(ask->body, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(ask->body, Not(HasSubstr("<script")));
}

// --- one-click unsubscribe (RFC 8058) ---------------------------------------------------------

TEST_F(PrefcenterTest, OneClickWithdrawsOnceExactlyAsAMailboxProviderSendsIt) {
  ASSERT_OK(Record(SubjectTarget("alice"), kNewsletter, {v1::EMAIL, v1::SMS}, v1::GRANTED));
  const std::string path =
      "/u/" + Mint(OneClickClaims(SubjectRef("alice"), kNewsletter, v1::EMAIL));
  // RFC 8058 section 3.2: a POST with this body and nothing else (no cookie, no Origin).
  const httplib::Headers provider = {{"User-Agent", "MailboxProvider-Unsubscriber/1.0"}};

  httplib::Result first = Post(path, kOneClickBody, kFormType, provider);
  ASSERT_TRUE(first) << httplib::to_string(first.error());
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_FALSE(first->has_header("Location"));
  std::vector<v1::HistoryRecord> history = History(SubjectTarget("alice"));
  ASSERT_THAT(history, SizeIs(2));
  const v1::HistoryRecord& withdrawal = history.back();
  EXPECT_EQ(withdrawal.source(), "email-one-click");
  EXPECT_EQ(withdrawal.target().subject_id(), "alice");
  ASSERT_THAT(withdrawal.decisions(), SizeIs(1));
  const v1::ConsentRecord& after = withdrawal.decisions(0).after();
  EXPECT_EQ(after.purpose_id(), kNewsletter);
  EXPECT_EQ(after.channel(), v1::EMAIL);
  EXPECT_EQ(after.state(), v1::WITHDRAWN);
  EXPECT_EQ(after.source(), "email-one-click");
  v1::CheckResponse email = Check(SubjectTarget("alice"), kNewsletter, v1::EMAIL);
  EXPECT_EQ(email.verdict(), v1::DENY);
  EXPECT_EQ(email.reason(), v1::EXPLICIT_DENY);
  // Only the link's channel.
  EXPECT_EQ(Check(SubjectTarget("alice"), kNewsletter, v1::SMS).reason(), v1::EXPLICIT_GRANT);

  httplib::Result second = Post(path, kOneClickBody, kFormType, provider);
  ASSERT_TRUE(second) << httplib::to_string(second.error());
  EXPECT_EQ(second->status, 200) << second->body;
  EXPECT_FALSE(second->has_header("Location"));
  EXPECT_THAT(History(SubjectTarget("alice")), SizeIs(2));
}

TEST_F(PrefcenterTest, OneClickWithoutTheRfc8058BodyIsRefused) {
  ASSERT_OK(Record(SubjectTarget("alice"), kNewsletter, {v1::EMAIL}, v1::GRANTED));
  const std::string path =
      "/u/" + Mint(OneClickClaims(SubjectRef("alice"), kNewsletter, v1::EMAIL));
  for (const char* body : {"", "List-Unsubscribe=Other", "unsubscribe=1"}) {
    SCOPED_TRACE(body);
    httplib::Result res = Post(path, body, kFormType, {});
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 400) << res->body;
  }
  EXPECT_THAT(History(SubjectTarget("alice")), SizeIs(1));
  EXPECT_EQ(Check(SubjectTarget("alice"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);
}

TEST_F(PrefcenterTest, OneClickOnAContactPointWithdrawsThatAddress) {
  const v1::Target ann = AddressTarget("ann@example.com");
  ASSERT_OK_AND_ASSIGN(v1::RecordDecisionsResponse granted,
                       Record(ann, kNewsletter, {v1::EMAIL}, v1::GRANTED));
  ASSERT_TRUE(granted.target().has_contact());
  ASSERT_EQ(Check(ann, kNewsletter, v1::EMAIL).verdict(), v1::ALLOW);
  // The link names the address only by its keyed hash.
  const std::string token = Mint(OneClickClaims(granted.target(), kNewsletter, v1::EMAIL));
  EXPECT_THAT(token, Not(HasSubstr("ann")));

  httplib::Result res = Post("/u/" + token, kOneClickBody, kFormType, {});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  v1::CheckResponse check = Check(ann, kNewsletter, v1::EMAIL);
  EXPECT_EQ(check.verdict(), v1::DENY);
  EXPECT_EQ(check.reason(), v1::EXPLICIT_DENY);
  std::vector<v1::HistoryRecord> history = History(ann);
  ASSERT_THAT(history, SizeIs(2));
  EXPECT_EQ(history.back().source(), "email-one-click");
  EXPECT_EQ(history.back().target().contact().hash(), granted.target().contact().hash());
}

// --- the save form --------------------------------------------------------------------------

TEST_F(PrefcenterTest, SaveRecordsExactlyTheChangedBoxWithItsEvidence) {
  std::optional<HtmlForm> form = OpenForm(Mint(PageClaims("bob")));
  ASSERT_TRUE(form.has_value());
  EXPECT_FALSE(form->Checked("consent:marketing.newsletter:EMAIL"));
  ASSERT_TRUE(form->Tick("consent:marketing.newsletter:EMAIL", true));
  httplib::Result res = Submit(*form);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  ExpectSecurityHeaders(*res);
  EXPECT_THAT(res->body, HasSubstr("Your choices have been saved"));

  // One box changed, and nothing else the customer saw on the page: one record, one decision.
  std::vector<v1::HistoryRecord> history = History(SubjectTarget("bob"));
  EXPECT_EQ(history.size(), 1u) << Summary(history);
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0].kind(), v1::DECISIONS_RECORDED);
  EXPECT_EQ(history[0].source(), "preference-center");
  ASSERT_THAT(history[0].decisions(), SizeIs(1));
  const v1::ConsentRecord& after = history[0].decisions(0).after();
  EXPECT_EQ(after.purpose_id(), kNewsletter);
  EXPECT_EQ(after.channel(), v1::EMAIL);
  EXPECT_EQ(after.state(), v1::GRANTED);
  EXPECT_EQ(after.source(), "preference-center");
  EXPECT_EQ(after.evidence().notice_version(), 1u);
  EXPECT_EQ(after.evidence().notice_sha256(), Sha256Hex(kNoticeText));
  EXPECT_EQ(after.evidence().language(), "en");
  EXPECT_EQ(after.evidence().ip_address(), "127.0.0.1");
  EXPECT_EQ(after.evidence().user_agent(), kUserAgent);
  EXPECT_EQ(Check(SubjectTarget("bob"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);
}

TEST_F(PrefcenterTest, SavingABoxLeavesTheLanguageTheCustomerNeverChose) {
  // A German browser opens the page and ticks one box; its language list shows no choice, so
  // the browser submits the list's first option.
  const httplib::Headers german = Browser({{"Accept-Language", "de-DE,de;q=0.9"}});
  const std::string token = Mint(PageClaims("bob"));
  std::optional<HtmlForm> form = OpenForm(token, kPrefsForm, german);
  ASSERT_TRUE(form.has_value());
  ASSERT_TRUE(form->Tick("consent:marketing.newsletter:EMAIL", true));
  httplib::Result res =
      Post(form->action(), form->Body(), kFormType,
           SameOrigin(prefcenter_->address(), {{"Accept-Language", "de-DE,de;q=0.9"}}));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Check(SubjectTarget("bob"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);

  ASSERT_OK_AND_ASSIGN(v1::SubjectState state, SubjectState("bob"));
  EXPECT_EQ(state.preferences().preferred_language(), "") << Summary(History(SubjectTarget("bob")));
  // The next visit is still in German.
  httplib::Result again = Get("/p/" + token, german);
  ASSERT_TRUE(again) << httplib::to_string(again.error());
  EXPECT_THAT(again->body, HasSubstr(R"(<html lang="de")"));
}

TEST_F(PrefcenterTest, SaveWithoutAValidCsrfTokenOrFromAnotherSiteIsForbidden) {
  std::optional<HtmlForm> form = OpenForm(Mint(PageClaims("bob")));
  ASSERT_TRUE(form.has_value());
  ASSERT_TRUE(form->Tick("consent:marketing.newsletter:EMAIL", true));
  ASSERT_FALSE(form->Value("csrf").empty());
  HtmlForm no_csrf = *form;
  no_csrf.Remove("csrf");
  HtmlForm wrong_csrf = *form;
  std::string csrf = form->Value("csrf");
  csrf[csrf.size() - 5] = csrf[csrf.size() - 5] == 'A' ? 'B' : 'A';
  wrong_csrf.Set("csrf", csrf);
  HtmlForm other_nonce = *form;
  other_nonce.Set("nonce", "AAAAAAAAAAAAAAAAAAAAAA");
  const std::string self = prefcenter_->address();
  const std::tuple<std::string, std::string, httplib::Headers> attempts[] = {
      {"no csrf", no_csrf.Body(), SameOrigin(self)},
      {"wrong csrf", wrong_csrf.Body(), SameOrigin(self)},
      {"csrf of another nonce", other_nonce.Body(), SameOrigin(self)},
      {"cross-site Origin", form->Body(), Browser({{"Origin", "https://evil.example"}})},
      {"cross-site fetch", form->Body(), Browser({{"Sec-Fetch-Site", "cross-site"}})},
  };
  for (const auto& [why, body, headers] : attempts) {
    SCOPED_TRACE(why);
    httplib::Result res = Post(form->action(), body, kFormType, headers);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 403) << res->body;
    ExpectSecurityHeaders(*res);
    EXPECT_THAT(History(SubjectTarget("bob")), IsEmpty());
  }
  // The same form from its own page is accepted: the refusals were those checks.
  httplib::Result ok = Submit(*form);
  ASSERT_TRUE(ok) << httplib::to_string(ok.error());
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(Check(SubjectTarget("bob"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);
}

TEST_F(PrefcenterTest, DoubleSubmitRecordsOnceAndAnswersBoth) {
  std::optional<HtmlForm> form = OpenForm(Mint(PageClaims("bob")));
  ASSERT_TRUE(form.has_value());
  ASSERT_TRUE(form->Tick("consent:marketing.newsletter:EMAIL", true));
  httplib::Result first = Submit(*form);
  httplib::Result second = Submit(*form);
  for (const httplib::Result* res : {&first, &second}) {
    ASSERT_TRUE(*res) << httplib::to_string(res->error());
    EXPECT_EQ((*res)->status, 200) << (*res)->body;
    EXPECT_THAT((*res)->body, HasSubstr("Your choices have been saved"));
    EXPECT_THAT((*res)->body, Not(HasSubstr("This page was out of date")));
  }
  const std::vector<v1::HistoryRecord> history = History(SubjectTarget("bob"));
  EXPECT_EQ(DecisionRecords(history), 1) << Summary(history);
  EXPECT_EQ(Check(SubjectTarget("bob"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);
}

TEST_F(PrefcenterTest, StaleFormSavesNothingAndShowsTheCurrentChoices) {
  std::optional<HtmlForm> form = OpenForm(Mint(PageClaims("bob")));
  ASSERT_TRUE(form.has_value());
  // After the page was rendered, the tenant's own system records a change.
  ASSERT_OK(Record(SubjectTarget("bob"), kNewsletter, {v1::SMS}, v1::GRANTED));
  ASSERT_TRUE(form->Tick("consent:marketing.newsletter:EMAIL", true));
  httplib::Result res = Submit(*form);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(res->body, HasSubstr("This page was out of date"));
  EXPECT_THAT(res->body, Not(HasSubstr("Your choices have been saved")));
  std::optional<HtmlForm> fresh = HtmlForm::Find(res->body, kPrefsForm);
  ASSERT_TRUE(fresh.has_value()) << res->body;
  EXPECT_TRUE(fresh->Checked("consent:marketing.newsletter:SMS"));
  EXPECT_FALSE(fresh->Checked("consent:marketing.newsletter:EMAIL"));
  EXPECT_NE(fresh->Value("sequence"), form->Value("sequence"));
  EXPECT_NE(fresh->Value("nonce"), form->Value("nonce"));

  EXPECT_THAT(History(SubjectTarget("bob")), SizeIs(1));
  EXPECT_EQ(Check(SubjectTarget("bob"), kNewsletter, v1::EMAIL).verdict(), v1::DENY);
}

TEST_F(PrefcenterTest, AnOlderFormFromASecondTabIsStale) {
  const std::string token = Mint(PageClaims("bob"));
  std::optional<HtmlForm> tab_a = OpenForm(token);
  std::optional<HtmlForm> tab_b = OpenForm(token);
  ASSERT_TRUE(tab_a.has_value() && tab_b.has_value());
  EXPECT_NE(tab_a->Value("nonce"), tab_b->Value("nonce"));
  ASSERT_TRUE(tab_a->Tick("consent:marketing.newsletter:EMAIL", true));
  ASSERT_TRUE(tab_b->Tick("consent:marketing.newsletter:SMS", true));
  httplib::Result saved = Submit(*tab_a);
  ASSERT_TRUE(saved) << httplib::to_string(saved.error());
  EXPECT_THAT(saved->body, HasSubstr("Your choices have been saved"));
  httplib::Result stale = Submit(*tab_b);
  ASSERT_TRUE(stale) << httplib::to_string(stale.error());
  EXPECT_EQ(stale->status, 200) << stale->body;
  EXPECT_THAT(stale->body, HasSubstr("This page was out of date"));
  const std::vector<v1::HistoryRecord> history = History(SubjectTarget("bob"));
  EXPECT_EQ(DecisionRecords(history), 1) << Summary(history);
  EXPECT_EQ(Check(SubjectTarget("bob"), kNewsletter, v1::EMAIL).verdict(), v1::ALLOW);
  EXPECT_EQ(Check(SubjectTarget("bob"), kNewsletter, v1::SMS).verdict(), v1::DENY);
}

TEST_F(PrefcenterTest, GpcIsRecordedOnASaveAndNeverOnAGet) {
  const std::string token = Mint(PageClaims("carol"));
  const httplib::Headers gpc = Browser({{"Sec-GPC", "1"}});
  std::optional<HtmlForm> form;
  for (int i = 0; i < 3; ++i) {
    httplib::Result res = Get("/p/" + token, gpc);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_THAT(res->body, HasSubstr("When you save this page, we will record it"));
    form = HtmlForm::Find(res->body, kPrefsForm);
  }
  EXPECT_THAT(History(SubjectTarget("carol")), IsEmpty());
  EXPECT_THAT(SubjectState("carol"), StatusIs(absl::StatusCode::kNotFound, _));

  ASSERT_TRUE(form.has_value());
  httplib::Result res = Submit(*form, {{"Sec-GPC", "1"}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  ASSERT_OK_AND_ASSIGN(v1::SubjectState state, SubjectState("carol"));
  EXPECT_TRUE(state.gpc_opt_out());
  EXPECT_EQ(Check(SubjectTarget("carol"), kSharing, v1::TARGETED_ADS).verdict(), v1::DENY);
  std::vector<v1::HistoryRecord> history = History(SubjectTarget("carol"));
  ASSERT_FALSE(history.empty());
  ASSERT_FALSE(history[0].decisions().empty());
  EXPECT_TRUE(history[0].decisions(0).after().evidence().gpc());
}

TEST_F(PrefcenterTest, StopAllWithdrawsEveryMarketingPurposeOnEveryChannel) {
  for (const char* purpose : {kNewsletter, kOffers}) {
    ASSERT_OK(Record(SubjectTarget("dave"), purpose, {v1::EMAIL, v1::SMS}, v1::GRANTED));
  }
  ASSERT_OK(Record(SubjectTarget("dave"), kSharing, {v1::TARGETED_ADS}, v1::GRANTED));
  std::optional<HtmlForm> stop = OpenForm(Mint(PageClaims("dave")), R"(id="stop-all")");
  ASSERT_TRUE(stop.has_value());
  EXPECT_THAT(stop->action(), EndsWith("/stop-all"));
  httplib::Result res = Submit(*stop);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  for (const char* purpose : {kNewsletter, kOffers}) {
    for (v1::Channel channel : {v1::EMAIL, v1::SMS}) {
      SCOPED_TRACE(absl::StrCat(purpose, " ", v1::Channel_Name(channel)));
      v1::CheckResponse check = Check(SubjectTarget("dave"), purpose, channel);
      EXPECT_EQ(check.verdict(), v1::DENY);
      EXPECT_EQ(check.reason(), v1::EXPLICIT_DENY);
    }
  }
  // Not marketing: untouched.
  EXPECT_EQ(Check(SubjectTarget("dave"), kSharing, v1::TARGETED_ADS).verdict(), v1::ALLOW);
  const std::vector<v1::HistoryRecord> history = History(SubjectTarget("dave"));
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.back().source(), "preference-center");
}

// --- the edge ----------------------------------------------------------------------------------

TEST_F(PrefcenterTest, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  std::unique_ptr<testing::PrefcenterProcess> proxied =
      StartPrefcenter("proxied", NoLimits({"--trusted-proxies", "127.0.0.1"}));
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<httplib::Client> via_proxy = proxied->Client();
  const httplib::Headers forwarded = {{"X-Forwarded-For", "203.0.113.9"}};
  struct Case {
    std::string subject, address, expected_ip;
    httplib::Client* client;
  };
  for (const Case& c : {Case{"erin", prefcenter_->address(), "127.0.0.1", client_.get()},
                        Case{"frank", proxied->address(), "203.0.113.9", via_proxy.get()}}) {
    SCOPED_TRACE(c.subject);
    ASSERT_OK(Record(SubjectTarget(c.subject), kNewsletter, {v1::EMAIL}, v1::GRANTED));
    // A one-click...
    httplib::Result one_click =
        Post("/u/" + Mint(OneClickClaims(SubjectRef(c.subject), kNewsletter, v1::EMAIL)),
             kOneClickBody, kFormType, forwarded, c.client);
    ASSERT_TRUE(one_click) << httplib::to_string(one_click.error());
    EXPECT_EQ(one_click->status, 200) << one_click->body;
    std::vector<v1::HistoryRecord> history = History(SubjectTarget(c.subject));
    ASSERT_THAT(history, SizeIs(2));
    ASSERT_THAT(history[1].decisions(), SizeIs(1));
    EXPECT_EQ(history[1].decisions(0).after().evidence().ip_address(), c.expected_ip);
    // ...and a save.
    std::optional<HtmlForm> form =
        OpenForm(Mint(PageClaims(c.subject)), kPrefsForm, Browser(forwarded), c.client);
    ASSERT_TRUE(form.has_value());
    ASSERT_TRUE(form->Tick("consent:marketing.newsletter:SMS", true));
    httplib::Result saved =
        Post(form->action(), form->Body(), kFormType, SameOrigin(c.address, forwarded), c.client);
    ASSERT_TRUE(saved) << httplib::to_string(saved.error());
    EXPECT_EQ(saved->status, 200) << saved->body;
    history = History(SubjectTarget(c.subject));
    ASSERT_THAT(history, SizeIs(::testing::Ge(3)));
    ASSERT_THAT(history[2].decisions(), SizeIs(1));
    EXPECT_EQ(history[2].decisions(0).after().channel(), v1::SMS);
    EXPECT_EQ(history[2].decisions(0).after().evidence().ip_address(), c.expected_ip);
  }
}

TEST_F(PrefcenterTest, RateLimitAnswers429WithRetryAfter) {
  std::unique_ptr<testing::PrefcenterProcess> limited =
      StartPrefcenter("limited", {"--limits-client-rate", "1", "--limits-client-burst", "3"});
  ASSERT_FALSE(HasFatalFailure());
  std::unique_ptr<httplib::Client> client = limited->Client();
  const std::string path = "/p/" + Mint(PageClaims("alice"));
  for (int i = 0; i < 3; ++i) {
    httplib::Result res = Get(path, Browser(), client.get());
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << "request " << i + 1;
  }
  httplib::Result res = Get(path, Browser(), client.get());
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 429);
  int retry_after = 0;
  EXPECT_TRUE(absl::SimpleAtoi(res->get_header_value("Retry-After"), &retry_after))
      << "Retry-After: \"" << res->get_header_value("Retry-After") << "\"";
  EXPECT_GE(retry_after, 1);
  EXPECT_THAT(res->body, HasSubstr("Too many requests"));
}

// --- the JSON API ------------------------------------------------------------------------------

TEST_F(PrefcenterTest, JsonApiReadsChoicesAndWithdraws) {
  ASSERT_OK(Record(SubjectTarget("gina"), kNewsletter, {v1::EMAIL}, v1::GRANTED));
  const std::string path = "/api/v1/preferences/" + Mint(PageClaims("gina"));
  httplib::Result res = Get(path, {{"Accept", "application/json"}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(res->get_header_value("Content-Type"), StartsWith("application/json"));
  const nlohmann::json view = nlohmann::json::parse(res->body, nullptr, false);
  ASSERT_TRUE(view.is_object()) << res->body;
  EXPECT_EQ(view.value("sequence", ""), "1");
  std::map<std::string, bool> checked;
  for (const nlohmann::json& purpose : view.value("purposes", nlohmann::json::array())) {
    for (const nlohmann::json& choice : purpose.value("choices", nlohmann::json::array())) {
      checked[absl::StrCat(purpose.value("purpose_id", ""), ":", choice.value("channel", ""))] =
          choice.value("checked", false);
    }
  }
  EXPECT_EQ(checked, (std::map<std::string, bool>{{"ads.sharing:TARGETED_ADS", false},
                                                  {"marketing.newsletter:EMAIL", true},
                                                  {"marketing.newsletter:SMS", false},
                                                  {"marketing.offers:EMAIL", false},
                                                  {"marketing.offers:SMS", false}}));

  const nlohmann::json withdraw = {
      {"sequence", view.value("sequence", "")},
      {"choices", {{{"purpose_id", kNewsletter}, {"channel", "EMAIL"}, {"checked", false}}}}};
  httplib::Result saved = Post(path, withdraw.dump(), "application/json", {});
  ASSERT_TRUE(saved) << httplib::to_string(saved.error());
  EXPECT_EQ(saved->status, 200) << saved->body;
  v1::CheckResponse check = Check(SubjectTarget("gina"), kNewsletter, v1::EMAIL);
  EXPECT_EQ(check.verdict(), v1::DENY);
  EXPECT_EQ(check.reason(), v1::EXPLICIT_DENY);
  std::vector<v1::HistoryRecord> history = History(SubjectTarget("gina"));
  ASSERT_THAT(history, SizeIs(2));
  EXPECT_EQ(history[1].source(), "preference-center");
  ASSERT_THAT(history[1].decisions(), SizeIs(1));
  EXPECT_EQ(history[1].decisions(0).after().state(), v1::WITHDRAWN);
}

TEST_F(PrefcenterTest, JsonApiRefusesAStaleSequenceAndOtherContentTypes) {
  ASSERT_OK(Record(SubjectTarget("gina"), kNewsletter, {v1::EMAIL}, v1::GRANTED));
  const std::string path = "/api/v1/preferences/" + Mint(PageClaims("gina"));
  auto body = [](const std::string& sequence) {
    return nlohmann::json{
        {"sequence", sequence},
        {"choices", {{{"purpose_id", kNewsletter}, {"channel", "EMAIL"}, {"checked", false}}}}}
        .dump();
  };
  httplib::Result stale = Post(path, body("0"), "application/json", {});
  ASSERT_TRUE(stale) << httplib::to_string(stale.error());
  EXPECT_EQ(stale->status, 409) << stale->body;
  httplib::Result text = Post(path, body("1"), "text/plain", {});
  ASSERT_TRUE(text) << httplib::to_string(text.error());
  EXPECT_EQ(text->status, 415) << text->body;
  EXPECT_THAT(History(SubjectTarget("gina")), SizeIs(1));
  EXPECT_EQ(Check(SubjectTarget("gina"), kNewsletter, v1::EMAIL).reason(), v1::EXPLICIT_GRANT);
}

TEST_F(PrefcenterTest, JsonApiCorsAllowsOnlyConfiguredOrigins) {
  const std::string path = "/api/v1/preferences/" + Mint(PageClaims("gina"));
  auto preflight = [&](const std::string& origin) {
    return client_->Options(path.c_str(), {{"Origin", origin},
                                           {"Access-Control-Request-Method", "POST"},
                                           {"Access-Control-Request-Headers", "content-type"}});
  };
  httplib::Result allowed = preflight(kShopOrigin);
  ASSERT_TRUE(allowed) << httplib::to_string(allowed.error());
  EXPECT_GE(allowed->status, 200);
  EXPECT_LT(allowed->status, 300);
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), kShopOrigin);
  httplib::Result other = preflight("https://evil.example");
  ASSERT_TRUE(other) << httplib::to_string(other.error());
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));

  httplib::Result get = Get(path, {{"Origin", kShopOrigin}});
  ASSERT_TRUE(get) << httplib::to_string(get.error());
  EXPECT_EQ(get->get_header_value("Access-Control-Allow-Origin"), kShopOrigin);
  httplib::Result foreign = Get(path, {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(foreign) << httplib::to_string(foreign.error());
  EXPECT_FALSE(foreign->has_header("Access-Control-Allow-Origin"));
}

// --- operability -------------------------------------------------------------------------------

TEST_F(PrefcenterTest, MetricsCountRequestsByRouteAndOneClickUnsubscribes) {
  ASSERT_OK(Record(SubjectTarget("alice"), kNewsletter, {v1::EMAIL}, v1::GRANTED));
  const std::string page = Mint(PageClaims("alice"));
  const std::string unsubscribe = Mint(OneClickClaims(SubjectRef("alice"), kNewsletter, v1::EMAIL));
  httplib::Result get = Get("/p/" + page);
  ASSERT_TRUE(get) << httplib::to_string(get.error());
  ASSERT_EQ(get->status, 200);
  for (int i = 0; i < 2; ++i) {  // the second is a replay: not another unsubscribe
    httplib::Result post = Post("/u/" + unsubscribe, kOneClickBody, kFormType, {});
    ASSERT_TRUE(post) << httplib::to_string(post.error());
    ASSERT_EQ(post->status, 200);
  }
  httplib::Result res = prefcenter_->MetricsClient()->Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200);
  const std::string& metrics = res->body;
  EXPECT_GE(Sample(metrics, "assent_http_requests_total",
                   {R"(route="preferences_get")", R"(method="GET")", R"(code="200")"}),
            1)
      << metrics;
  EXPECT_EQ(Sample(metrics, "assent_http_requests_total",
                   {R"(route="unsubscribe_post")", R"(method="POST")", R"(code="200")"}),
            2)
      << metrics;
  EXPECT_EQ(Sample(metrics, "assent_prefcenter_unsubscribes_total", {R"(how="one_click")"}), 1)
      << metrics;
  // Labels never carry a link.
  EXPECT_THAT(metrics, Not(HasSubstr(page)));
  EXPECT_THAT(metrics, Not(HasSubstr(unsubscribe)));
}

}  // namespace
}  // namespace assent
