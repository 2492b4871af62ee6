// The preference center's "download my data" (POST /p/{token}/download, GET/POST /x/{token}) on a
// real HTTP server, against a fake consentd on a real gRPC server (RequestExportLink and
// ExportSubject live in consentd; here they answer what the test says and remember what they
// were asked).
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/server.h"
#include "httplib.h"
#include "links/token.h"
#include "nlohmann/json.hpp"
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
    response->set_display_name("Acme");
    return grpc::Status::OK;
  }
  grpc::Status ListPurposes(grpc::ServerContext*, const v1::ListPurposesRequest*,
                            v1::ListPurposesResponse* response) override {
    v1::Purpose* p = response->add_purposes();
    p->set_purpose_id("news");
    p->set_display_name("News");
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
  grpc::Status GetSubjectState(grpc::ServerContext*, const v1::GetSubjectStateRequest* request,
                               v1::SubjectState* response) override {
    response->set_tenant(request->tenant());
    response->set_subject_id(request->subject_id());
    response->set_sequence(2);
    return grpc::Status::OK;
  }
  grpc::Status RequestExportLink(grpc::ServerContext*, const v1::RequestExportLinkRequest* request,
                                 v1::RequestExportLinkResponse*) override {
    absl::MutexLock lock(&mu_);
    asked_.push_back(*request);
    return status_;
  }

  absl::Mutex mu_;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::RequestExportLinkRequest> asked_ ABSL_GUARDED_BY(mu_);
};

class FakeExport final : public v1::ExportService::Service {
 public:
  grpc::Status ExportSubject(grpc::ServerContext*, const v1::ExportSubjectRequest* request,
                             grpc::ServerWriter<v1::ExportChunk>* writer) override {
    if (request->subject_id() != "customer-1") return {grpc::StatusCode::NOT_FOUND, "no subject"};
    v1::ExportChunk header;
    header.mutable_header()->set_tenant(request->tenant());
    header.mutable_header()->set_subject_id(request->subject_id());
    header.mutable_header()->set_history_length(3);
    writer->Write(header);
    for (uint64_t page = 0; page < 3; ++page) {
      v1::ExportChunk chunk;
      v1::HistoryRecord* r = chunk.mutable_history()->add_records()->mutable_record();
      r->set_sequence(page + 1);
      r->set_source("web-signup");
      writer->Write(chunk);
    }
    v1::ExportChunk trailer;
    trailer.mutable_trailer()->set_record_count(3);
    trailer.mutable_trailer()->set_chain_verified(true);
    writer->Write(trailer);
    return grpc::Status::OK;
  }
};

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&catalog_);
    builder.RegisterService(&consent_);
    builder.RegisterService(&export_);
    grpc_ = builder.BuildAndStart();
    ASSERT_NE(grpc_, nullptr);
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

  std::string Token(v1::LinkKind kind, const std::string& subject = "customer-1",
                    absl::Duration ttl = absl::Minutes(30)) {
    links::LinkClaims claims;
    claims.tenant = "acme";
    claims.kind = kind;
    claims.target.set_subject_id(subject);
    if (kind == v1::EXPORT) {
      claims.address.set_type(v1::CONTACT_EMAIL);
      claims.address.set_hash(kHash);
    }
    claims.expire_time = absl::Now() + ttl;
    absl::StatusOr<std::string> token = links::MintLink(*config_.keyring, claims);
    EXPECT_OK(token.status());
    return token.value_or("");
  }

  // The hidden fields of the form whose action is `action`, as a POST body.
  static std::string FormBody(const std::string& html, const std::string& action) {
    const size_t form = html.find(absl::StrCat("action=\"", action, "\""));
    EXPECT_NE(form, std::string::npos) << action;
    const std::string rest = form == std::string::npos ? "" : html.substr(form);
    auto value = [&](const std::string& name) {
      const std::string marker = absl::StrCat("name=\"", name, "\" value=\"");
      const size_t at = rest.find(marker);
      if (at == std::string::npos) return std::string();
      const size_t start = at + marker.size();
      return rest.substr(start, rest.find('"', start) - start);
    };
    return absl::StrCat("nonce=", value("nonce"), "&csrf=", value("csrf"));
  }

  std::vector<v1::RequestExportLinkRequest> Asked() {
    absl::MutexLock lock(&consent_.mu_);
    return consent_.asked_;
  }

  FakeCatalog catalog_;
  FakeConsent consent_;
  FakeExport export_;
  std::unique_ptr<grpc::Server> grpc_;
  Config config_;
  prometheus::Registry registry_;
  std::unique_ptr<ConsentClient> client_;
  std::unique_ptr<App> app_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(DownloadTest, ThePreferencePageAsksForAnAddressAndConsentdIsAskedToMailTheLink) {
  const std::string token = Token(v1::PREFERENCE_CENTER);
  httplib::Headers headers = {{"Accept-Language", "de"}};
  auto page = http_->Get(absl::StrCat("/p/", token), headers);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("Meine Daten herunterladen"));
  EXPECT_THAT(page->body, HasSubstr("<label class=\"field__label\" for=\"download-email\">"));
  const std::string action = absl::StrCat("/p/", token, "/download");
  const std::string body =
      absl::StrCat(FormBody(page->body, action), "&lang=de&email=Jane%40Example.com");
  // Without the form's CSRF token: refused, nothing asked.
  auto forged =
      http_->Post(action, headers, "email=Jane%40Example.com", "application/x-www-form-urlencoded");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  EXPECT_TRUE(Asked().empty());
  auto res = http_->Post(action, headers, body, "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("Bitte prüfen Sie Ihr Postfach"));
  std::vector<v1::RequestExportLinkRequest> asked = Asked();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].tenant(), "acme");
  EXPECT_EQ(asked[0].target().subject_id(), "customer-1");
  EXPECT_EQ(asked[0].contact_point().type(), v1::CONTACT_EMAIL);
  EXPECT_EQ(asked[0].contact_point().value(), "Jane@Example.com");
  EXPECT_EQ(asked[0].actor(), "prefcenter");
  EXPECT_EQ(asked[0].language(), "de");
}

TEST_F(DownloadTest, AskingTooSoonIsA429AndAnExportLinkCannotAskForAnother) {
  {
    absl::MutexLock lock(&consent_.mu_);
    consent_.status_ = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too soon");
  }
  const std::string token = Token(v1::PREFERENCE_CENTER);
  auto page = http_->Get(absl::StrCat("/p/", token));
  ASSERT_TRUE(page);
  const std::string action = absl::StrCat("/p/", token, "/download");
  auto res = http_->Post(action, absl::StrCat(FormBody(page->body, action), "&email=a%40b.example"),
                         "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  // Only a preference link may ask: an EXPORT link is not one.
  auto other = http_->Post(absl::StrCat("/p/", Token(v1::EXPORT), "/download"),
                           "email=a%40b.example", "application/x-www-form-urlencoded");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 400);
  EXPECT_EQ(Asked().size(), 1u);
}

TEST_F(DownloadTest, AConsentdThatCannotMintTheLinkIsAnErrorNotAFalseCheckYourInbox) {
  {
    absl::MutexLock lock(&consent_.mu_);
    consent_.status_ = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                    "links: consentd has no link keyring (links.keyring_file)");
  }
  const std::string token = Token(v1::PREFERENCE_CENTER);
  auto page = http_->Get(absl::StrCat("/p/", token));
  ASSERT_TRUE(page);
  const std::string action = absl::StrCat("/p/", token, "/download");
  auto res = http_->Post(action, absl::StrCat(FormBody(page->body, action), "&email=a%40b.example"),
                         "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  // A contact point linked to no subject: the same page as success.
  {
    absl::MutexLock lock(&consent_.mu_);
    consent_.status_ = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                    "target: the contact point is not linked to a subject");
  }
  res = http_->Post(action, absl::StrCat(FormBody(page->body, action), "&email=a%40b.example"),
                    "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(DownloadTest, TheExportLinkStreamsTheSubjectsDataAsAJsonLinesAttachment) {
  const std::string token = Token(v1::EXPORT);
  auto page = http_->Get(absl::StrCat("/x/", token));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Cache-Control"), "no-store");
  EXPECT_THAT(page->body, HasSubstr("Download my data</button>"));
  const std::string action = absl::StrCat("/x/", token);
  auto forged = http_->Post(action, "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  auto res = http_->Post(action, FormBody(page->body, action), "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("application/jsonl"));
  EXPECT_THAT(res->get_header_value("Content-Disposition"),
              HasSubstr("attachment; filename=\"my-data-"));
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  std::vector<std::string> lines = absl::StrSplit(res->body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u);
  nlohmann::json header = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(header["header"]["subjectId"], "customer-1");
  for (size_t i = 1; i <= 3; ++i) {
    nlohmann::json page_json = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(page_json["history"]["records"][0]["record"]["sequence"], std::to_string(i));
  }
  EXPECT_EQ(nlohmann::json::parse(lines[4])["trailer"]["chainVerified"], true);
}

TEST_F(DownloadTest, ExpiredWrongKindAndUnknownSubjectAreRefusedPages) {
  auto expired =
      http_->Get(absl::StrCat("/x/", Token(v1::EXPORT, "customer-1", -absl::Minutes(1))));
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 410);
  EXPECT_THAT(expired->body, HasSubstr("action=\"/r\""));  // offers a new link
  auto wrong = http_->Get(absl::StrCat("/x/", Token(v1::PREFERENCE_CENTER)));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 400);
  const std::string token = Token(v1::EXPORT, "nobody");
  auto page = http_->Get(absl::StrCat("/x/", token));
  ASSERT_TRUE(page);
  const std::string action = absl::StrCat("/x/", token);
  auto res = http_->Post(action, FormBody(page->body, action), "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("text/html"));
}

}  // namespace
}  // namespace assent::prefcenter
