// The preference center's double opt-in pages (GET/POST /c/{token}) on a real HTTP server, against
// a fake consentd on a real gRPC server (ConfirmDecision lives in consentd; here it answers what
// the test says and remembers what it was asked).
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/server.h"
#include "httplib.h"
#include "links/token.h"
#include "prefcenter/app.h"
#include "prometheus/registry.h"
#include "rpc/tls.h"
#include "testing/status_matchers.h"

namespace assent::prefcenter {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHash[] = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

class FakeCatalog final : public v1::CatalogService::Service {
 public:
  grpc::Status GetTenant(grpc::ServerContext*, const v1::GetTenantRequest* request,
                         v1::Tenant* response) override {
    if (request->name() != "tenants/acme") return {grpc::StatusCode::NOT_FOUND, "no tenant"};
    response->set_tenant_id("acme");
    response->set_display_name("Acme <Shop>");
    return grpc::Status::OK;
  }
  grpc::Status ListPurposes(grpc::ServerContext*, const v1::ListPurposesRequest*,
                            v1::ListPurposesResponse* response) override {
    v1::Purpose* p = response->add_purposes();
    p->set_purpose_id("news");
    p->set_display_name("Weekly <b>news</b>");
    p->set_kind(v1::MARKETING);
    p->add_channels(v1::EMAIL);
    return grpc::Status::OK;
  }
  grpc::Status GetDefaultPolicy(grpc::ServerContext*, const v1::GetDefaultPolicyRequest*,
                                v1::DefaultPolicy*) override {
    return {grpc::StatusCode::NOT_FOUND, "no policy"};
  }
};

class FakeConsent final : public v1::ConsentService::Service {
 public:
  grpc::Status GetContactPointState(grpc::ServerContext*, const v1::GetContactPointStateRequest*,
                                    v1::ContactPointState* response) override {
    absl::MutexLock lock(&mu_);
    *response = contact_;
    return grpc::Status::OK;
  }
  grpc::Status ConfirmDecision(grpc::ServerContext*, const v1::ConfirmDecisionRequest* request,
                               v1::ConfirmDecisionResponse* response) override {
    absl::MutexLock lock(&mu_);
    confirms_.push_back(*request);
    if (!confirm_status_.ok()) return confirm_status_;
    for (const v1::ConsentRecord& r : contact_.decisions()) {
      v1::ConsentRecord* out = response->add_records();
      *out = r;
      out->set_state(v1::GRANTED);
    }
    response->set_already_confirmed(confirms_.size() > 1);
    return grpc::Status::OK;
  }

  absl::Mutex mu_;
  v1::ContactPointState contact_ ABSL_GUARDED_BY(mu_);
  grpc::Status confirm_status_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ConfirmDecisionRequest> confirms_ ABSL_GUARDED_BY(mu_);
};

class ConfirmPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&catalog_);
    builder.RegisterService(&consent_);
    grpc_ = builder.BuildAndStart();
    ASSERT_NE(grpc_, nullptr);
    {
      absl::MutexLock lock(&consent_.mu_);
      v1::ConsentRecord* r = consent_.contact_.add_decisions();
      r->set_purpose_id("news");
      r->set_channel(v1::EMAIL);
      r->set_state(v1::PENDING);
      r->set_sequence(3);
    }
    config_.keyring = std::make_shared<const links::KeyRing>(
        std::vector<links::KeyRing::Key>{{"k1", std::string(32, 'k'), ""}});
    config_.public_url = "https://prefs.example";
    config_.http.listen = "127.0.0.1:0";
    config_.client_rate = 1000;
    config_.client_burst = 1000;
    config_.link_rate = 1000;
    config_.link_burst = 1000;
    auto channel = rpc::Dial(absl::StrCat("127.0.0.1:", port), rpc::TlsOptions{});
    ASSERT_OK(channel.status());
    client_ = std::make_unique<ConsentClient>(*channel, SystemClock::Get(), absl::Seconds(5),
                                              absl::Seconds(30));
    app_ = std::make_unique<App>(config_, *client_, SystemClock::Get(), nullptr, registry_);
    auto server = http::Server::Create(config_.http, &registry_);
    ASSERT_OK(server.status());
    server_ = *std::move(server);
    app_->Register(*server_);
    ASSERT_OK(server_->Start());
    http_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (grpc_) grpc_->Shutdown();
  }

  std::string Token(v1::LinkKind kind = v1::CONFIRMATION, uint64_t sequence = 3,
                    absl::Duration ttl = absl::Hours(1)) {
    links::LinkClaims claims;
    claims.tenant = "acme";
    claims.kind = kind;
    claims.target.mutable_contact()->set_type(v1::CONTACT_EMAIL);
    claims.target.mutable_contact()->set_hash(kHash);
    claims.confirm_sequence = kind == v1::CONFIRMATION ? sequence : 0;
    claims.expire_time = absl::Now() + ttl;
    absl::StatusOr<std::string> token = links::MintLink(*config_.keyring, claims);
    EXPECT_OK(token.status());
    return token.value_or("");
  }

  // The form's hidden fields of a GET page, as a POST body.
  static std::string FormBody(const std::string& html) {
    auto value = [&](const std::string& name) {
      const std::string marker = absl::StrCat("name=\"", name, "\" value=\"");
      const size_t at = html.find(marker);
      if (at == std::string::npos) return std::string();
      const size_t start = at + marker.size();
      return html.substr(start, html.find('"', start) - start);
    };
    return absl::StrCat("nonce=", value("nonce"), "&csrf=", value("csrf"));
  }

  size_t Confirms() {
    absl::MutexLock lock(&consent_.mu_);
    return consent_.confirms_.size();
  }

  FakeCatalog catalog_;
  FakeConsent consent_;
  std::unique_ptr<grpc::Server> grpc_;
  Config config_;
  prometheus::Registry registry_;
  std::unique_ptr<ConsentClient> client_;
  std::unique_ptr<App> app_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(ConfirmPageTest, GetShowsWhatIsConfirmedEscapedAndWritesNothing) {
  const std::string token = Token();
  httplib::Headers headers = {{"Accept-Language", "de"}};
  auto res = http_->Get(absl::StrCat("/c/", token), headers);
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("Anmeldung bestätigen"));
  EXPECT_THAT(res->body, HasSubstr("Weekly &lt;b&gt;news&lt;/b&gt;"));
  EXPECT_THAT(res->body, Not(HasSubstr("<b>news</b>")));
  EXPECT_THAT(res->body, HasSubstr(absl::StrCat("action=\"/c/", token, "\"")));
  EXPECT_THAT(res->body, HasSubstr("name=\"csrf\""));
  EXPECT_EQ(Confirms(), 0u);
}

TEST_F(ConfirmPageTest, PostConfirmsWithTheClickAsEvidenceAndThanks) {
  const std::string token = Token();
  auto page = http_->Get(absl::StrCat("/c/", token));
  ASSERT_TRUE(page);
  httplib::Headers headers = {{"User-Agent", "TestBrowser/1.0"}, {"Accept-Language", "en"}};
  auto res = http_->Post(absl::StrCat("/c/", token), headers, FormBody(page->body),
                         "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("Thank you, you are subscribed"));
  EXPECT_THAT(res->body, HasSubstr("/p/"));
  absl::MutexLock lock(&consent_.mu_);
  ASSERT_EQ(consent_.confirms_.size(), 1u);
  const v1::ConfirmDecisionRequest& sent = consent_.confirms_[0];
  EXPECT_EQ(sent.tenant(), "acme");
  EXPECT_EQ(sent.token(), token);
  EXPECT_EQ(sent.evidence().ip_address(), "127.0.0.1");
  EXPECT_EQ(sent.evidence().user_agent(), "TestBrowser/1.0");
  EXPECT_EQ(sent.evidence().language(), "en");
  EXPECT_EQ(sent.actor(), "prefcenter");
  EXPECT_EQ(sent.source(), "confirmation-link");
}

TEST_F(ConfirmPageTest, PostWithoutAValidCsrfTokenIsForbidden) {
  const std::string token = Token();
  auto res = http_->Post(absl::StrCat("/c/", token), "nonce=x&csrf=1.bad",
                         "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(Confirms(), 0u);
}

TEST_F(ConfirmPageTest, ALapsedConfirmationAnswers410) {
  const std::string token = Token();
  auto page = http_->Get(absl::StrCat("/c/", token));
  ASSERT_TRUE(page);
  {
    absl::MutexLock lock(&consent_.mu_);
    consent_.confirm_status_ = {grpc::StatusCode::FAILED_PRECONDITION, "no longer pending"};
  }
  auto res = http_->Post(absl::StrCat("/c/", token), FormBody(page->body),
                         "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 410);
  EXPECT_THAT(res->body, HasSubstr("Nothing to confirm"));
}

TEST_F(ConfirmPageTest, NothingPendingAtTheLinksSequenceAnswers410) {
  auto res = http_->Get(absl::StrCat("/c/", Token(v1::CONFIRMATION, 4)));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 410);
  EXPECT_THAT(res->body, HasSubstr("Nothing to confirm"));
}

TEST_F(ConfirmPageTest, BadExpiredAndOtherKindsOfLinksAreRefused) {
  auto res = http_->Get("/c/v2.k1.garbage.mac");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = http_->Get(absl::StrCat("/c/", Token(v1::PREFERENCE_CENTER)));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = http_->Get(absl::StrCat("/c/", Token(v1::CONFIRMATION, 3, -absl::Hours(1))));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 410);
  res = http_->Post(absl::StrCat("/c/", Token(v1::CONFIRMATION, 3, -absl::Hours(1))), "",
                    "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 410);
  EXPECT_EQ(Confirms(), 0u);
}

}  // namespace
}  // namespace assent::prefcenter
