// The email sender's "review your choices" message (issue 15 item 2): an ordinary SendRequest for
// template review-choices, as the tenant's systems send it on a ConsentExpiring notice, gets a
// fresh preference-center link for its recipient in {{preferences_link}}, and that link verifies
// for the recipient's keyed hash. Consent comes from a fake consentd on a real gRPC server (the
// sender's view is not caught up without Kafka, so it asks the service, as it does in production).
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "email_sender/email_sender.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "links/token.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace assent::email {
namespace {

using ::testing::HasSubstr;

class FakeCatalog final : public v1::CatalogService::Service {
 public:
  grpc::Status ListTenants(grpc::ServerContext*, const v1::ListTenantsRequest*,
                           v1::ListTenantsResponse* response) override {
    response->add_tenants()->set_tenant_id("acme");
    return grpc::Status::OK;
  }
  grpc::Status ListPurposes(grpc::ServerContext*, const v1::ListPurposesRequest*,
                            v1::ListPurposesResponse* response) override {
    v1::Purpose* p = response->add_purposes();
    p->set_purpose_id("news");
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
  grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest*,
                     v1::CheckResponse* response) override {
    response->set_verdict(v1::ALLOW);
    response->set_reason(v1::EXPLICIT_GRANT);
    return grpc::Status::OK;
  }
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  chmod(path.c_str(), 0600);
}

TEST(ReviewChoices, TheMessageCarriesAFreshPreferenceLinkForTheRecipient) {
  FakeCatalog catalog;
  FakeConsent consent;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&catalog);
  builder.RegisterService(&consent);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  assent::testing::TempDir dir;
  WriteFile(dir.Sub("contact.secret"), "unit-test-contact-key-secret-0123456789");
  WriteFile(dir.Sub("links.yaml"), absl::StrCat("keys:\n  - id: k1\n    secret: \"",
                                                absl::Base64Escape(std::string(32, 'l')), "\"\n"));
  // The example configuration's template (deploy/senders/email.example.yaml).
  WriteFile(dir.Sub("email.yaml"),
            "templates:\n"
            "  review-choices:\n"
            "    subject: \"Please review your choices\"\n"
            "    body: \"Hello,\\n\\nplease review and renew your choices:\\n"
            "{{preferences_link}}\\n\"\n");
  std::vector<sender::SettingSpec> specs = sender::CommonSpecs("email");
  for (auto& spec : EmailSpecs()) specs.push_back(std::move(spec));
  std::vector<std::string> prefixes = sender::CommonOpenPrefixes();
  for (auto& p : EmailOpenPrefixes()) prefixes.push_back(std::move(p));
  ASSERT_OK_AND_ASSIGN(
      sender::Settings settings,
      sender::Settings::Load(
          "email_sender", "ASSENT_EMAIL_", specs, prefixes,
          {"--config", dir.Sub("email.yaml"), "--kafka-brokers", "127.0.0.1:1", "--service",
           absl::StrCat("127.0.0.1:", port), "--contact-key-secret-file", dir.Sub("contact.secret"),
           "--metrics-listen", "", "--email-spool-dir", dir.Sub("spool"),
           "--email-link-keyring-file", dir.Sub("links.yaml"), "--email-preferences-url",
           "https://prefs.example/p/{token}", "--email-unsubscribe-url",
           "https://prefs.example/u/{token}"},
          {}));
  ASSERT_OK_AND_ASSIGN(sender::CommonConfig common, sender::ReadCommon("email", settings));
  ASSERT_OK_AND_ASSIGN(EmailConfig config, ReadEmailConfig(settings, common.topic_prefix));
  assent::testing::FakeClock clock;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<sender::SenderRuntime> runtime,
                       sender::SenderRuntime::Start(common, clock));
  EmailSender handler(config, *runtime);
  ASSERT_OK(handler.Init());

  sender::v1::SendRequest request;
  request.set_request_id("review-1");
  request.set_tenant("acme");
  request.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  request.mutable_contact_point()->set_value("ana@example.com");
  request.set_purpose_id("news");
  request.set_template_id("review-choices");
  const std::string value = request.SerializeAsString();
  rd_kafka_message_t m{};
  m.payload = const_cast<char*>(value.data());
  m.len = value.size();
  m.key = const_cast<char*>(request.request_id().data());
  m.key_len = request.request_id().size();
  sender::HandleResult result = handler.Handle(m);
  ASSERT_EQ(result.kind, sender::HandleResult::kDone);
  ASSERT_EQ(result.records.size(), 1u);
  sender::v1::SendOutcome outcome;
  ASSERT_TRUE(outcome.ParseFromString(result.records[0].value));
  ASSERT_EQ(outcome.status(), sender::v1::SendOutcome::SENT) << outcome.detail();

  const std::string id = Sha256Hex("acme/review-1");
  std::ifstream in(absl::StrCat(dir.Sub("spool"), "/", id, ".eml"));
  std::stringstream eml;
  eml << in.rdbuf();
  // Quoted-printable: soft line breaks joined, "=3D" back to '='.
  std::string text = eml.str();
  for (size_t at; (at = text.find("=\r\n")) != std::string::npos;) text.erase(at, 3);
  for (size_t at; (at = text.find("=3D")) != std::string::npos;) text.replace(at, 3, "=");
  EXPECT_THAT(text, HasSubstr("Subject: Please review your choices\r\n"));
  const std::string marker = "please review and renew your choices:\r\nhttps://prefs.example/p/";
  const size_t at = text.find(marker);
  ASSERT_NE(at, std::string::npos) << text;
  const size_t start = at + marker.size();
  const std::string token = text.substr(start, text.find("\r\n", start) - start);
  ASSERT_OK_AND_ASSIGN(links::LinkClaims claims,
                       links::VerifyLink(*config.keyring, "", token, clock.Now()));
  EXPECT_EQ(claims.kind, v1::PREFERENCE_CENTER);
  EXPECT_EQ(claims.tenant, "acme");
  EXPECT_TRUE(claims.target.has_contact());
  EXPECT_EQ(claims.expire_time,
            absl::FromUnixSeconds(absl::ToUnixSeconds(clock.Now() + config.preferences_ttl)));
  server->Shutdown();
}

}  // namespace
}  // namespace assent::email
