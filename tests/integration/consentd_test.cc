// The real consentd binary on port 0 with a temporary data directory, driven by a real gRPC
// client: the main flow, restart, kill -9 durability, the bad-input matrix, health, reflection.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "reflection_probe.grpc.pb.h"
#include "testing/consentd_process.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

class ConsentdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    server_->Start();
    ASSERT_FALSE(HasFatalFailure());
    SetUpCatalog();
  }

  void Restart() {
    server_->Start();
    ASSERT_FALSE(HasFatalFailure());
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  void SetUpCatalog() {
    ASSERT_TRUE(server_->SeedCatalog("marketing.newsletter", {v1::EMAIL, v1::SMS}));
    v1::SetDefaultPolicyRequest policy;
    policy.set_parent("tenants/acme");
    auto* rule = policy.mutable_policy()->add_rules();
    rule->set_jurisdiction("US");
    rule->set_channel(v1::EMAIL);
    rule->set_mode(v1::OPT_OUT);
    v1::DefaultPolicy set;
    ASSERT_TRUE(server_->catalog().SetDefaultPolicy(Ctx().get(), policy, &set).ok());
  }

  v1::RecordDecisionsRequest Decision(const std::string& subject, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web-signup-v3");
    request.set_actor("signup-service");
    request.mutable_evidence()->set_ip_address("203.0.113.7");
    auto* d = request.add_decisions();
    d->set_purpose_id("marketing.newsletter");
    d->set_channel(v1::EMAIL);
    d->set_state(state);
    return request;
  }

  grpc::Status Record(const v1::RecordDecisionsRequest& request,
                      v1::RecordDecisionsResponse* response) {
    return server_->consent().RecordDecisions(Ctx().get(), request, response);
  }

  v1::CheckResponse Check(const std::string& subject, const std::string& jurisdiction = "") {
    v1::CheckRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_purpose_id("marketing.newsletter");
    request.set_channel(v1::EMAIL);
    request.set_jurisdiction(jurisdiction);
    v1::CheckResponse response;
    grpc::Status status = server_->consent().Check(Ctx().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::vector<v1::HistoryRecord> History(const std::string& subject) {
    v1::ListHistoryRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_page_size(50);
    std::vector<v1::HistoryRecord> out;
    while (true) {
      v1::ListHistoryResponse page;
      grpc::Status status = server_->consent().ListHistory(Ctx().get(), request, &page);
      if (!status.ok()) break;
      for (const auto& r : page.records()) out.push_back(r);
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ConsentdProcess> server_;
};

TEST_F(ConsentdTest, RecordCheckWithdrawCheckHistory) {
  // US email marketing is opt-out by the tenant's policy; unknown jurisdiction is opt-in.
  EXPECT_EQ(Check("alice", "US").reason(), v1::DEFAULT_OPT_OUT);
  EXPECT_EQ(Check("alice").reason(), v1::NO_CONSENT);

  v1::RecordDecisionsResponse granted;
  ASSERT_TRUE(Record(Decision("alice", v1::GRANTED), &granted).ok());
  EXPECT_EQ(granted.sequence(), 1u);
  v1::CheckResponse allow = Check("alice");
  EXPECT_EQ(allow.verdict(), v1::ALLOW);
  EXPECT_EQ(allow.reason(), v1::EXPLICIT_GRANT);
  EXPECT_EQ(allow.record_id(), granted.records(0).record_id());

  v1::RecordDecisionsResponse withdrawn;
  ASSERT_TRUE(Record(Decision("alice", v1::WITHDRAWN), &withdrawn).ok());
  v1::CheckResponse deny = Check("alice", "US");
  EXPECT_EQ(deny.verdict(), v1::DENY);
  EXPECT_EQ(deny.reason(), v1::EXPLICIT_DENY);
  EXPECT_EQ(deny.record_sequence(), 2u);

  auto history = History("alice");
  ASSERT_THAT(history, SizeIs(2));
  EXPECT_EQ(history[1].decisions(0).before().state(), v1::GRANTED);
  EXPECT_EQ(history[1].decisions(0).after().state(), v1::WITHDRAWN);
  EXPECT_EQ(history[1].previous_hash(), history[0].hash());

  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  verify.mutable_target()->set_subject_id("alice");
  v1::VerifyHistoryResponse verified;
  ASSERT_TRUE(server_->consent().VerifyHistory(Ctx().get(), verify, &verified).ok());
  EXPECT_TRUE(verified.valid()) << verified.problem();
  EXPECT_EQ(verified.records_checked(), 2u);
}

TEST_F(ConsentdTest, RestartKeepsEverything) {
  v1::RecordDecisionsResponse r;
  ASSERT_TRUE(Record(Decision("bob", v1::GRANTED), &r).ok());
  const int status = server_->Stop();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << server_->log();
  Restart();
  EXPECT_EQ(Check("bob").reason(), v1::EXPLICIT_GRANT);
  v1::GetTenantRequest get;
  get.set_name("tenants/acme");
  v1::Tenant tenant;
  ASSERT_TRUE(server_->catalog().GetTenant(Ctx().get(), get, &tenant).ok());
  EXPECT_EQ(tenant.display_name(), "Acme Retail");
  ASSERT_TRUE(Record(Decision("bob", v1::WITHDRAWN), &r).ok());
  EXPECT_EQ(r.sequence(), 2u);
}

TEST_F(ConsentdTest, KillNineLosesNoAcknowledgedWrite) {
  // Many concurrent clients write; every acknowledged (subject, sequence, state) is remembered.
  // The server is killed with SIGKILL while writes are still in flight.
  constexpr int kClients = 32;
  constexpr int kSubjects = 64;
  std::mutex mu;
  std::map<std::pair<std::string, uint64_t>, v1::ConsentState> acknowledged;
  std::atomic<bool> stop{false};
  std::atomic<int> acks{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
      auto stub = v1::ConsentService::NewStub(channel);
      for (int i = 0; !stop; ++i) {
        const std::string subject = absl::StrCat("s", (c * 7 + i) % kSubjects);
        const v1::ConsentState state = i % 2 ? v1::GRANTED : v1::WITHDRAWN;
        v1::RecordDecisionsResponse response;
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        if (stub->RecordDecisions(&ctx, Decision(subject, state), &response).ok()) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged[{subject, response.sequence()}] = state;
          ++acks;
        }
      }
    });
  }
  // Let a burst of writes be acknowledged, then kill mid-stream.
  while (acks < 2000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->Kill();
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_GE(acknowledged.size(), 2000u);

  Restart();
  std::map<std::string, std::vector<v1::HistoryRecord>> histories;
  for (int s = 0; s < kSubjects; ++s) {
    const std::string subject = absl::StrCat("s", s);
    histories[subject] = History(subject);
    const auto& h = histories[subject];
    for (size_t i = 0; i < h.size(); ++i) {
      ASSERT_EQ(h[i].sequence(), i + 1) << subject << " has a gap";
      if (i > 0) {
        ASSERT_EQ(h[i].previous_hash(), h[i - 1].hash()) << subject;
      }
    }
    v1::VerifyHistoryRequest verify;
    verify.set_tenant("acme");
    verify.mutable_target()->set_subject_id(subject);
    v1::VerifyHistoryResponse verified;
    if (!h.empty()) {
      ASSERT_TRUE(server_->consent().VerifyHistory(Ctx().get(), verify, &verified).ok());
      EXPECT_TRUE(verified.valid()) << subject << ": " << verified.problem();
    }
  }
  for (const auto& [key, state] : acknowledged) {
    const auto& h = histories[key.first];
    ASSERT_GE(h.size(), key.second) << key.first << " lost acknowledged sequence " << key.second;
    EXPECT_EQ(h[key.second - 1].decisions(0).after().state(), state)
        << key.first << " sequence " << key.second;
  }
}

struct BadCase {
  std::string name;
  std::function<grpc::Status(testing::ConsentdProcess&, grpc::ClientContext*)> call;
  grpc::StatusCode code;
  std::string field;
};

TEST_F(ConsentdTest, BadInputGetsNamedErrorAndChangesNothing) {
  v1::RecordDecisionsResponse seeded;
  ASSERT_TRUE(Record(Decision("carol", v1::GRANTED), &seeded).ok());
  auto record = [this](std::function<void(v1::RecordDecisionsRequest&)> mutate) {
    return [this, mutate](testing::ConsentdProcess& s, grpc::ClientContext* ctx) {
      auto request = Decision("carol", v1::WITHDRAWN);
      mutate(request);
      v1::RecordDecisionsResponse response;
      return s.consent().RecordDecisions(ctx, request, &response);
    };
  };
  const std::vector<BadCase> cases = {
      {"empty tenant", record([](auto& r) { r.set_tenant(""); }),
       grpc::StatusCode::INVALID_ARGUMENT, "tenant"},
      {"unknown tenant", record([](auto& r) { r.set_tenant("globex"); }),
       grpc::StatusCode::NOT_FOUND, "tenant"},
      {"over-long subject",
       record([](auto& r) { r.mutable_target()->set_subject_id(std::string(300, 'a')); }),
       grpc::StatusCode::INVALID_ARGUMENT, "target.subject_id"},
      {"subject with control char",
       record([](auto& r) { r.mutable_target()->set_subject_id("bad\x01id"); }),
       grpc::StatusCode::INVALID_ARGUMENT, "target.subject_id"},
      {"unknown purpose", record([](auto& r) { r.mutable_decisions(0)->set_purpose_id("x.y"); }),
       grpc::StatusCode::NOT_FOUND, "decisions[0].purpose_id"},
      {"uncovered channel",
       record([](auto& r) { r.mutable_decisions(0)->set_channel(v1::TARGETED_ADS); }),
       grpc::StatusCode::INVALID_ARGUMENT, "decisions[0].channel"},
      {"unknown enum", record([](auto& r) {
         r.mutable_decisions(0)->set_state(static_cast<v1::ConsentState>(77));
       }),
       grpc::StatusCode::INVALID_ARGUMENT, "decisions[0].state"},
      {"bad phone", record([](auto& r) {
         auto* cp = r.mutable_target()->mutable_contact_point();
         cp->set_type(v1::CONTACT_PHONE);
         cp->set_value("call me maybe");
       }),
       grpc::StatusCode::INVALID_ARGUMENT, "target.contact_point"},
      {"bad email", record([](auto& r) {
         auto* cp = r.mutable_target()->mutable_contact_point();
         cp->set_type(v1::CONTACT_EMAIL);
         cp->set_value("carol@@example.com");
       }),
       grpc::StatusCode::INVALID_ARGUMENT, "target.contact_point.value"},
      {"future import", record([](auto& r) {
         r.mutable_import()->mutable_original_effective_time()->set_seconds(
             absl::ToUnixSeconds(absl::Now() + absl::Hours(2)));
         r.mutable_import()->set_origin("legacy");
       }),
       grpc::StatusCode::INVALID_ARGUMENT, "import.original_effective_time"},
      {"too many decisions", record([](auto& r) {
         for (int i = 0; i < 150; ++i) *r.add_decisions() = r.decisions(0);
       }),
       grpc::StatusCode::INVALID_ARGUMENT, "decisions"},
      {"bad time zone",
       [](testing::ConsentdProcess& s, grpc::ClientContext* ctx) {
         v1::SetPreferencesRequest request;
         request.set_tenant("acme");
         request.set_subject_id("carol");
         request.set_actor("app");
         request.set_source("prefs");
         auto* q = request.mutable_preferences()->mutable_quiet_hours();
         q->set_start_minute(1320);
         q->set_end_minute(420);
         q->set_time_zone("Europe/Atlantis");
         v1::SetPreferencesResponse response;
         return s.consent().SetPreferences(ctx, request, &response);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "preferences.quiet_hours.time_zone"},
      {"oversized batch check",
       [](testing::ConsentdProcess& s, grpc::ClientContext* ctx) {
         v1::BatchCheckRequest request;
         request.set_tenant("acme");
         request.set_purpose_id("marketing.newsletter");
         request.set_channel(v1::EMAIL);
         for (int i = 0; i < 10001; ++i) request.add_targets()->set_subject_id("x");
         v1::BatchCheckResponse response;
         return s.consent().BatchCheck(ctx, request, &response);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "targets"},
      {"bad purpose definition",
       [](testing::ConsentdProcess& s, grpc::ClientContext* ctx) {
         v1::CreatePurposeRequest request;
         request.set_parent("tenants/acme");
         request.mutable_purpose()->set_purpose_id("new.purpose");
         request.mutable_purpose()->set_display_name("New");
         request.mutable_purpose()->set_kind(v1::MARKETING);
         request.mutable_purpose()->set_legal_basis(v1::CONSENT);
         request.mutable_purpose()->set_notice_version(1);  // no channels
         v1::Purpose response;
         return s.catalog().CreatePurpose(ctx, request, &response);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "purpose.channels"},
      {"bad tenant id",
       [](testing::ConsentdProcess& s, grpc::ClientContext* ctx) {
         v1::CreateTenantRequest request;
         request.mutable_tenant()->set_tenant_id("Not_Valid");
         request.mutable_tenant()->set_display_name("x");
         v1::Tenant response;
         return s.catalog().CreateTenant(ctx, request, &response);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "tenant.tenant_id"},
  };

  // What a client can see of the store before: carol's state, history, and the catalog.
  auto snapshot = [this] {
    std::string out;
    v1::GetSubjectStateRequest get;
    get.set_tenant("acme");
    get.set_subject_id("carol");
    v1::SubjectState state;
    EXPECT_TRUE(server_->consent().GetSubjectState(Ctx().get(), get, &state).ok());
    out += state.SerializeAsString();
    for (const auto& r : History("carol")) out += r.SerializeAsString();
    v1::ListPurposesRequest purposes;
    purposes.set_parent("tenants/acme");
    v1::ListPurposesResponse listed;
    EXPECT_TRUE(server_->catalog().ListPurposes(Ctx().get(), purposes, &listed).ok());
    out += listed.SerializeAsString();
    v1::ListTenantsResponse tenants;
    EXPECT_TRUE(server_->catalog().ListTenants(Ctx().get(), {}, &tenants).ok());
    out += tenants.SerializeAsString();
    return out;
  };
  const std::string before = snapshot();
  for (const BadCase& c : cases) {
    grpc::Status status = c.call(*server_, Ctx().get());
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), StartsWith(c.field)) << c.name;
    EXPECT_EQ(snapshot(), before) << c.name << " changed stored state";
  }
}

TEST_F(ConsentdTest, IdempotentRetryOverTheWire) {
  auto request = Decision("dave", v1::GRANTED);
  request.set_idempotency_key("form-123");
  v1::RecordDecisionsResponse first, second;
  ASSERT_TRUE(Record(request, &first).ok());
  ASSERT_TRUE(Record(request, &second).ok());
  EXPECT_TRUE(second.replayed());
  EXPECT_EQ(second.sequence(), first.sequence());
  EXPECT_THAT(History("dave"), SizeIs(1));
  request.mutable_decisions(0)->set_state(v1::DENIED);
  v1::RecordDecisionsResponse third;
  grpc::Status refused = Record(request, &third);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("idempotency_key"));
}

TEST_F(ConsentdTest, HealthAndReflection) {
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(server_->channel());
  auto ctx = Ctx();
  auto stream = reflection->ServerReflectionInfo(ctx.get());
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("*");
  ASSERT_TRUE(stream->Write(list));
  grpc::reflection::v1alpha::ServerReflectionResponse listed;
  ASSERT_TRUE(stream->Read(&listed));
  std::vector<std::string> names;
  for (const auto& s : listed.list_services_response().service()) names.push_back(s.name());
  EXPECT_THAT(names,
              ::testing::IsSupersetOf({"assent.v1.ConsentService", "assent.v1.CatalogService",
                                       "grpc.health.v1.Health"}));
  // Every listed service is described, the built-in health service too (what grpcurl needs to
  // call grpc.health.v1.Health/Check without the .proto).
  for (const std::string& name : names) {
    grpc::reflection::v1alpha::ServerReflectionRequest describe;
    describe.set_file_containing_symbol(name);
    ASSERT_TRUE(stream->Write(describe));
    grpc::reflection::v1alpha::ServerReflectionResponse described;
    ASSERT_TRUE(stream->Read(&described));
    EXPECT_FALSE(described.has_error_response())
        << name << ": " << described.error_response().error_message();
    EXPECT_FALSE(described.file_descriptor_response().file_descriptor_proto().empty()) << name;
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(ConsentdStartupTest, BadKafkaSettingStopsStartupNamingTheOption) {
  testing::TempDir dir;
  const std::string config = dir.Sub("bad.yaml");
  std::ofstream(config) << "kafka:\n  brokers: 127.0.0.1:1\n  producer:\n    linger.ms: soon\n";
  testing::ChildProcess process(
      CONSENTD_PATH,
      {"--config", config, "--data-dir", dir.Sub("data"), "--listen", "127.0.0.1:0", "--insecure"},
      dir.Sub("log"));
  const int status = process.Wait(absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_THAT(testing::ReadFile(dir.Sub("log")), HasSubstr("kafka.producer.linger.ms"));
}

TEST_F(ConsentdTest, SigtermExitsCleanlyAndStoreReopens) {
  const int status = server_->Stop();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_THAT(server_->log(), HasSubstr("store closed"));
  Restart();
  EXPECT_EQ(Check("nobody").reason(), v1::NO_CONSENT);
}

// Double opt-in through the server: a grant for an address that needs confirmation is stored
// PENDING; a CONFIRMATION link confirms it over gRPC (Check then allows), a second click is
// answered without a write, and a link of another tenant is refused.
TEST(ConsentdConfirmationTest, ConfirmDecisionThroughTheServer) {
  testing::TempDir dir;
  const std::string keyring = "keys:\n  - id: k1\n    secret: \"" +
                              std::string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=") + "\"\n";
  const std::string links_file = dir.path() + "/links.yaml";
  const std::string seal_file = dir.path() + "/confirmation.yaml";
  std::ofstream(links_file) << keyring;
  std::ofstream(seal_file) << keyring;
  chmod(links_file.c_str(), 0600);
  chmod(seal_file.c_str(), 0600);
  testing::ConsentdProcess server(CONSENTD_PATH, dir.Sub("data"), dir.path());
  server.Start({"--links-keyring-file", links_file, "--links-base-url", "https://prefs.example.com",
                "--confirmation-keyring-file", seal_file});
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return c;
  };
  ASSERT_TRUE(server.SeedCatalog("marketing.newsletter", {v1::EMAIL}));
  v1::UpdatePurposeRequest update;
  {
    v1::GetPurposeRequest get;
    get.set_name("tenants/acme/purposes/marketing.newsletter");
    ASSERT_TRUE(server.catalog().GetPurpose(ctx().get(), get, update.mutable_purpose()).ok());
  }
  v1::ConfirmationRule* rule = update.mutable_purpose()->add_confirmation();
  rule->set_channel(v1::EMAIL);
  rule->set_jurisdiction("EU");
  v1::Purpose updated;
  grpc::Status status = server.catalog().UpdatePurpose(ctx().get(), update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::RecordDecisionsRequest grant;
  grant.set_tenant("acme");
  grant.mutable_target()->mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  grant.mutable_target()->mutable_contact_point()->set_value("jane@example.com");
  grant.set_source("web-signup-v3");
  grant.set_actor("signup-service");
  grant.set_jurisdiction("DE");
  auto* d = grant.add_decisions();
  d->set_purpose_id("marketing.newsletter");
  d->set_channel(v1::EMAIL);
  d->set_state(v1::GRANTED);
  v1::RecordDecisionsResponse recorded;
  status = server.consent().RecordDecisions(ctx().get(), grant, &recorded);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(recorded.confirmation_required());
  ASSERT_THAT(recorded.records(), SizeIs(1));
  EXPECT_EQ(recorded.records(0).state(), v1::PENDING);

  v1::CheckRequest check;
  check.set_tenant("acme");
  *check.mutable_target() = grant.target();
  check.set_purpose_id("marketing.newsletter");
  check.set_channel(v1::EMAIL);
  check.set_jurisdiction("DE");
  v1::CheckResponse verdict;
  ASSERT_TRUE(server.consent().Check(ctx().get(), check, &verdict).ok());
  EXPECT_EQ(verdict.reason(), v1::PENDING_CONFIRMATION);

  v1::CreateLinkRequest link;
  link.set_tenant("acme");
  *link.mutable_target() = grant.target();
  link.set_kind(v1::CONFIRMATION);
  link.set_confirm_sequence(recorded.sequence());
  v1::CreateLinkResponse created;
  status = server.consent().CreateLink(ctx().get(), link, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(created.url(), StartsWith("https://prefs.example.com/c/"));

  v1::ConfirmDecisionRequest confirm;
  confirm.set_tenant("acme");
  confirm.set_token(created.token());
  confirm.set_actor("prefcenter");
  confirm.mutable_evidence()->set_ip_address("198.51.100.4");
  confirm.mutable_evidence()->set_user_agent("Mozilla/5.0");
  v1::ConfirmDecisionResponse confirmed;
  status = server.consent().ConfirmDecision(ctx().get(), confirm, &confirmed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(confirmed.already_confirmed());
  ASSERT_THAT(confirmed.records(), SizeIs(1));
  EXPECT_EQ(confirmed.records(0).state(), v1::GRANTED);
  EXPECT_TRUE(confirmed.records(0).evidence().has_confirm_time());
  // The click's address is sealed under the target's data key (consentd runs with an evidence
  // keyring): never in the response in plain text.
  EXPECT_TRUE(confirmed.records(0).evidence().ip_address().empty());
  EXPECT_TRUE(confirmed.records(0).evidence().has_sealed());
  ASSERT_TRUE(server.consent().Check(ctx().get(), check, &verdict).ok());
  EXPECT_EQ(verdict.verdict(), v1::ALLOW);

  v1::ConfirmDecisionResponse again;
  status = server.consent().ConfirmDecision(ctx().get(), confirm, &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(again.already_confirmed());
  EXPECT_EQ(again.sequence(), confirmed.sequence());

  confirm.set_tenant("globex");
  status = server.consent().ConfirmDecision(ctx().get(), confirm, &again);
  EXPECT_NE(status.error_code(), grpc::StatusCode::OK);
  // Resending too soon is refused with the wait.
  v1::ResendConfirmationRequest resend;
  resend.set_tenant("acme");
  *resend.mutable_target() = grant.target();
  resend.set_sequence(recorded.sequence());
  resend.set_actor("signup-service");
  v1::ResendConfirmationResponse resent;
  status = server.consent().ResendConfirmation(ctx().get(), resend, &resent);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

}  // namespace
}  // namespace assent
