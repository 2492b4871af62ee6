// Subject rights end to end, with real processes: consentd over a real Kafka broker and a running
// sender's enforcement library. An erasure shreds the evidence (no byte of it left in the data
// directory after a full compaction, none in plain text on Kafka at any time), tombstones the
// state topic, makes the running sender deny at once, keeps addresses suppressed, respects a
// legal hold, keeps the chain verifiable, and survives a restore of an older backup (the erasure
// log is re-applied before consentd serves).
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "assent/v1/rights.grpc.pb.h"
#include "common/clock.h"
#include "enforce/enforcer.h"
#include "gtest/gtest.h"
#include "store/store.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace assent {
namespace {

using testing::WaitFor;

constexpr char kSecret[] = "integration-test-contact-key-secret-0123456789";
constexpr char kIp[] = "192.0.2.201";
constexpr char kUserAgent[] = "RightsTestAgent/7.3 (+erasure; shredded)";
constexpr char kPurpose[] = "marketing.newsletter";

class RightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<testing::KafkaBroker>(dir_.Sub("kafka"));
    ASSERT_TRUE(broker_->Start()) << broker_->error();
    secret_file_ = dir_.path() + "/secret";
    std::ofstream(secret_file_) << kSecret << "\n";
    chmod(secret_file_.c_str(), 0600);
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    Start();
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(server_->SeedCatalog(kPurpose, {v1::EMAIL, v1::SMS}));
    v1::SetDefaultPolicyRequest policy;
    policy.set_parent("tenants/acme");
    v1::PolicyRule* rule = policy.mutable_policy()->add_rules();
    rule->set_jurisdiction("US");
    rule->set_channel(v1::EMAIL);
    rule->set_mode(v1::OPT_OUT);
    v1::DefaultPolicy out;
    ASSERT_TRUE(server_->catalog().SetDefaultPolicy(Ctx().get(), policy, &out).ok());
  }

  void Start() {
    server_->Start({"--kafka-brokers", broker_->bootstrap(), "--contact-key-secret-file",
                    secret_file_, "--erasure-log-file", dir_.path() + "/erasure.log"});
    rights_ = v1::SubjectRightsService::NewStub(server_->channel());
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  void Record(const std::string& subject, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web-signup-v3");
    request.set_actor("signup");
    request.set_jurisdiction("US");
    request.mutable_evidence()->set_ip_address(kIp);
    request.mutable_evidence()->set_user_agent(kUserAgent);
    auto* d = request.add_decisions();
    d->set_purpose_id(kPurpose);
    d->set_channel(v1::EMAIL);
    d->set_state(state);
    v1::RecordDecisionsResponse response;
    grpc::Status s = server_->consent().RecordDecisions(Ctx().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void Link(const std::string& subject, const std::string& address) {
    v1::LinkContactPointRequest link;
    link.set_tenant("acme");
    link.set_subject_id(subject);
    link.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    link.mutable_contact_point()->set_value(address);
    link.set_actor("crm");
    link.set_source("crm-sync");
    v1::LinkContactPointResponse linked;
    grpc::Status s = server_->consent().LinkContactPoint(Ctx().get(), link, &linked);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Erase(const std::string& subject, v1::EraseSubjectResponse* out) {
    v1::EraseSubjectRequest request;
    request.set_tenant("acme");
    request.set_subject_id(subject);
    request.set_reason("GDPR Art. 17 request");
    return rights_->EraseSubject(Ctx().get(), request, out);
  }

  static v1::CheckRequest CheckOf(v1::Target target) {
    v1::CheckRequest c;
    c.set_tenant("acme");
    *c.mutable_target() = std::move(target);
    c.set_purpose_id(kPurpose);
    c.set_channel(v1::EMAIL);
    c.set_jurisdiction("US");
    return c;
  }
  static v1::Target Subject(const std::string& id) {
    v1::Target t;
    t.set_subject_id(id);
    return t;
  }
  static v1::Target Address(const std::string& address) {
    v1::Target t;
    t.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    t.mutable_contact_point()->set_value(address);
    return t;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::KafkaBroker> broker_;
  std::string secret_file_;
  std::unique_ptr<testing::ConsentdProcess> server_;
  std::unique_ptr<v1::SubjectRightsService::Stub> rights_;
};

TEST_F(RightsTest, ErasureShredsDeniesAtOnceAndSurvivesARestore) {
  // s-1 granted (by subject, and so by its linked address a1); s-2 withdrew on the subject only
  // (a2: allowed by default before the withdrawal); a3 was unsubscribed before the erasure.
  Record("s-1", v1::GRANTED);
  Link("s-1", "a1@example.com");
  Link("s-1", "a3@example.com");
  Record("s-2", v1::GRANTED);
  Record("s-2", v1::WITHDRAWN);
  Link("s-2", "a2@example.com");
  Record("held", v1::GRANTED);
  {
    v1::SuppressContactPointRequest suppress;
    suppress.set_tenant("acme");
    suppress.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    suppress.mutable_contact_point()->set_value("a3@example.com");
    suppress.set_kind(v1::Suppression::UNSUBSCRIBED);
    suppress.set_actor("email-one-click");
    suppress.set_source("email-one-click");
    v1::SuppressContactPointResponse out;
    ASSERT_TRUE(server_->consent().SuppressContactPoint(Ctx().get(), suppress, &out).ok());
  }
  v1::SetLegalHoldRequest hold;
  hold.set_tenant("acme");
  hold.set_subject_id("held");
  hold.set_hold(true);
  hold.set_reason("litigation 2026-17");
  v1::SetLegalHoldResponse held;
  ASSERT_TRUE(rights_->SetLegalHold(Ctx().get(), hold, &held).ok());

  // A backup taken now, before the erasure (the data directory copied while consentd is down).
  ASSERT_EQ(server_->Stop(), 0);
  std::filesystem::copy(dir_.Sub("data"), dir_.path() + "/backup",
                        std::filesystem::copy_options::recursive);
  Start();
  ASSERT_FALSE(HasFatalFailure());

  // A running sender, caught up.
  enforce::EnforcerOptions options;
  options.follower.brokers = broker_->bootstrap();
  options.service_address = server_->address();
  options.contact_key_secret = kSecret;
  options.catalog_cache_file = dir_.path() + "/catalog.cache";
  options.service_deadline = absl::Seconds(2);
  auto enforcer = enforce::Enforcer::Start(options, SystemClock::Get());
  ASSERT_TRUE(enforcer.ok()) << enforcer.status();
  ASSERT_TRUE(WaitFor([&] { return (*enforcer)->Fresh(); }, absl::Seconds(60)));
  auto local = [&](v1::Target target) {
    auto v = (*enforcer)->Check(CheckOf(std::move(target)));
    return v.ok() ? v->response : v1::CheckResponse();
  };
  ASSERT_TRUE(
      WaitFor([&] { return local(Subject("s-1")).verdict() == v1::ALLOW; }, absl::Seconds(10)));
  EXPECT_EQ(local(Address("a1@example.com")).verdict(), v1::ALLOW);

  // The legal hold refuses; the others are erased.
  v1::EraseSubjectResponse erased;
  grpc::Status refused = Erase("held", &erased);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("legal hold"), std::string::npos);
  ASSERT_TRUE(Erase("s-1", &erased).ok());
  EXPECT_EQ(erased.erasure().suppressed_contacts_size(), 2);
  ASSERT_TRUE(Erase("s-2", &erased).ok());
  grpc::Status unknown = Erase("nobody", &erased);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);

  // The running sender denies at once (within the event latency), by subject and by address.
  ASSERT_TRUE(
      WaitFor([&] { return local(Subject("s-1")).reason() == v1::ERASED; }, absl::Seconds(10)));
  ASSERT_TRUE(
      WaitFor([&] { return local(Address("a1@example.com")).reason() == v1::ADDRESS_SUPPRESSED; },
              absl::Seconds(10)));
  EXPECT_EQ(local(Address("a2@example.com")).verdict(), v1::DENY);  // was only withdrawn on s-2
  EXPECT_EQ(local(Address("a3@example.com")).verdict(), v1::DENY);  // suppressed before
  EXPECT_EQ(local(Subject("held")).verdict(), v1::ALLOW);
  v1::CheckResponse remote;
  ASSERT_TRUE(
      server_->consent().Check(Ctx().get(), CheckOf(Address("a2@example.com")), &remote).ok());
  EXPECT_EQ(remote.verdict(), v1::DENY);

  // The chain still verifies and ends with the erasure.
  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  verify.mutable_target()->set_subject_id("s-1");
  v1::VerifyHistoryResponse verified;
  ASSERT_TRUE(server_->consent().VerifyHistory(Ctx().get(), verify, &verified).ok());
  EXPECT_TRUE(verified.valid()) << verified.problem();

  // The state topic's latest record for the subject is a tombstone; nothing on Kafka, ever,
  // carried the IP address or user agent in plain text.
  auto state =
      testing::ConsumeAll(broker_->bootstrap(), "assent.consent.state.v1", absl::Seconds(30),
                          [](const std::vector<testing::KafkaRecord>& records) {
                            int tombstones = 0;
                            for (const auto& r : records) {
                              if ((r.key == "acme/s-1" || r.key == "acme/s-2") && r.tombstone)
                                ++tombstones;
                            }
                            return tombstones == 2;
                          });
  const testing::KafkaRecord* last = nullptr;
  for (const auto& r : state) {
    if (r.key == "acme/s-1") last = &r;
    EXPECT_EQ(r.value.find(kIp), std::string::npos);
    EXPECT_EQ(r.value.find(kUserAgent), std::string::npos);
  }
  ASSERT_NE(last, nullptr);
  EXPECT_TRUE(last->tombstone);
  auto changes = testing::ConsumeAll(
      broker_->bootstrap(), "assent.consent.changes.v1", absl::Seconds(30),
      [](const std::vector<testing::KafkaRecord>& records) { return records.size() >= 12; });
  ASSERT_GE(changes.size(), 12u);
  for (const auto& r : changes) {
    EXPECT_EQ(r.value.find(kIp), std::string::npos) << r.key;
    EXPECT_EQ(r.value.find(kUserAgent), std::string::npos) << r.key;
  }
  (*enforcer)->Stop();

  // After a full compaction no byte of the data directory, WAL included, holds them.
  ASSERT_EQ(server_->Stop(), 0);
  {
    store::StoreOptions store_options;
    store_options.path = dir_.Sub("data");
    auto store = store::Store::Open(store_options, SystemClock::Get());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CompactAll().ok());
  }
  EXPECT_TRUE(testing::FilesContaining(dir_.Sub("data"), kIp).empty());
  EXPECT_TRUE(testing::FilesContaining(dir_.Sub("data"), kUserAgent).empty());

  // Restoring the backup taken before the erasure: the erasure log is re-applied before consentd
  // serves, so its very first answer already denies.
  std::filesystem::remove_all(dir_.Sub("data"));
  std::filesystem::rename(dir_.path() + "/backup", dir_.Sub("data"));
  Start();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(server_->consent().Check(Ctx().get(), CheckOf(Subject("s-1")), &remote).ok());
  EXPECT_EQ(remote.reason(), v1::ERASED);
  ASSERT_TRUE(
      server_->consent().Check(Ctx().get(), CheckOf(Address("a2@example.com")), &remote).ok());
  EXPECT_EQ(remote.verdict(), v1::DENY);
  v1::GetErasureRequest get;
  get.set_tenant("acme");
  get.set_subject_id("s-2");
  v1::ErasureStub stub;
  ASSERT_TRUE(rights_->GetErasure(Ctx().get(), get, &stub).ok());
  EXPECT_NE(server_->log().find("erasures re-applied"), std::string::npos);
}

TEST_F(RightsTest, ErasuresUnderKillLeaveNothingHalfDone) {
  constexpr int kSubjects = 60;
  for (int i = 0; i < kSubjects; ++i) {
    Record(absl::StrCat("k-", i), v1::GRANTED);
    Link(absl::StrCat("k-", i), absl::StrCat("k", i, "@example.com"));
  }
  // Erasures race a kill -9: some are acknowledged, some not.
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> callers;
  std::vector<bool> acked(kSubjects, false);
  std::mutex mu;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = t; i < kSubjects; i += 4) {
        v1::EraseSubjectResponse out;
        if (Erase(absl::StrCat("k-", i), &out).ok()) {
          std::lock_guard lock(mu);
          acked[i] = true;
          ++acknowledged;
        }
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return acknowledged.load() >= 10; }, absl::Seconds(30)));
  server_->Kill();
  for (auto& c : callers) c.join();
  Start();
  ASSERT_FALSE(HasFatalFailure());
  int erased = 0;
  for (int i = 0; i < kSubjects; ++i) {
    SCOPED_TRACE(i);
    const std::string subject = absl::StrCat("k-", i);
    v1::GetSubjectStateRequest get;
    get.set_tenant("acme");
    get.set_subject_id(subject);
    v1::SubjectState state;
    const bool present = server_->consent().GetSubjectState(Ctx().get(), get, &state).ok();
    v1::GetErasureRequest get_erasure;
    get_erasure.set_tenant("acme");
    get_erasure.set_subject_id(subject);
    v1::ErasureStub stub;
    const bool stubbed = rights_->GetErasure(Ctx().get(), get_erasure, &stub).ok();
    // Either all of it or none of it.
    EXPECT_NE(present, stubbed);
    if (acked[i]) {
      EXPECT_TRUE(stubbed) << "an acknowledged erasure was lost";
    }
    v1::CheckResponse address;
    ASSERT_TRUE(
        server_->consent()
            .Check(Ctx().get(), CheckOf(Address(absl::StrCat("k", i, "@example.com"))), &address)
            .ok());
    v1::VerifyHistoryRequest verify;
    verify.set_tenant("acme");
    verify.mutable_target()->set_subject_id(subject);
    v1::VerifyHistoryResponse verified;
    ASSERT_TRUE(server_->consent().VerifyHistory(Ctx().get(), verify, &verified).ok());
    EXPECT_TRUE(verified.valid()) << verified.problem();
    if (stubbed) {
      ++erased;
      EXPECT_EQ(address.reason(), v1::ADDRESS_SUPPRESSED);
      EXPECT_EQ(stub.suppressed_contacts_size(), 1);
    } else {
      EXPECT_EQ(address.reason(), v1::EXPLICIT_GRANT);
      EXPECT_EQ(state.contacts_size(), 1);
    }
  }
  EXPECT_GE(erased, 10);
}

}  // namespace
}  // namespace assent
