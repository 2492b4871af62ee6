// Proof of enforcement end to end, with a real Kafka broker, a real consentd and the real email
// and SMS senders: a withdrawal is applied by both registered senders and GetEnforcementProof
// (what `assentctl proof` prints) shows when; with the SMS sender stopped, the next withdrawal is
// applied by email only, and the alert condition (assent_withdrawals_unenforced) holds for sms
// alone once enforcement.alert_after (2 s here) has passed.
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "assent/v1/consent.grpc.pb.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/sender_process.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSecret[] = "integration-test-contact-key-secret-0123456789";
constexpr char kKeyRing[] =
    "keys:\n  - id: test-1\n    secret: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n";
constexpr char kPurpose[] = "marketing.newsletter";

class ProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<testing::KafkaBroker>(dir_.Sub("kafka"));
    ASSERT_TRUE(broker_->Start()) << broker_->error();
    secret_file_ = dir_.path() + "/secret";
    std::ofstream(secret_file_) << kSecret << "\n";
    chmod(secret_file_.c_str(), 0600);  // consentd refuses a secret others can read
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    server_->Start({"--kafka-brokers", broker_->bootstrap(), "--kafka-partitions", "3",
                    "--contact-key-secret-file", secret_file_, "--enforcement-senders", "email,sms",
                    "--enforcement-alert-after", "2s", "--enforcement-instance-timeout", "3s"});
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(server_->SeedCatalog(kPurpose, {v1::EMAIL, v1::SMS}));

    const std::string keyring = dir_.path() + "/links.yaml";
    std::ofstream(keyring) << kKeyRing;
    const std::string config = dir_.path() + "/email.yaml";
    std::ofstream(config) << "templates:\n"
                             "  weekly:\n"
                             "    subject: \"Your week\"\n"
                             "    body: \"Hello\\n\"\n";
    email_ = std::make_unique<testing::SenderProcess>(EMAIL_SENDER_PATH, dir_.path(), "email");
    email_->Start({"--config", config, "--kafka-brokers", broker_->bootstrap(), "--service",
                   server_->address(), "--contact-key-secret-file", secret_file_,
                   "--email-spool-dir", dir_.Sub("email-spool"), "--email-link-keyring-file",
                   keyring, "--email-unsubscribe-url", "https://prefs.example.com/u/{token}",
                   "--email-preferences-url", "https://prefs.example.com/p/{token}",
                   "--enforcement-report-interval", "250ms"});
    ASSERT_FALSE(HasFatalFailure());
    sms_ = std::make_unique<testing::SenderProcess>(SMS_SENDER_PATH, dir_.path(), "sms");
    sms_->Start({"--kafka-brokers", broker_->bootstrap(), "--service", server_->address(),
                 "--contact-key-secret-file", secret_file_, "--sms-spool-dir",
                 dir_.Sub("sms-spool"), "--enforcement-report-interval", "250ms"});
    ASSERT_FALSE(HasFatalFailure());
  }

  void TearDown() override {
    for (auto* sender : {email_.get(), sms_.get()}) {
      if (sender != nullptr && sender->running()) {
        EXPECT_EQ(sender->Stop(), 0) << sender->log();
      }
    }
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
    request.set_source("test");
    request.set_actor("test");
    auto* d = request.add_decisions();
    d->set_purpose_id(kPurpose);
    d->set_state(state);
    v1::RecordDecisionsResponse response;
    grpc::Status s = server_->consent().RecordDecisions(Ctx().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  v1::GetEnforcementProofResponse Proof(const std::string& subject) {
    v1::GetEnforcementProofRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    v1::GetEnforcementProofResponse response;
    grpc::Status s = server_->consent().GetEnforcementProof(Ctx().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  // Polls the proof of `subject`'s newest withdrawal until `done` holds for it (30 s at most).
  template <typename Done>
  ::testing::AssertionResult WaitProof(const std::string& subject, Done done,
                                       v1::WithdrawalProof* out) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    v1::GetEnforcementProofResponse last;
    while (absl::Now() < deadline) {
      last = Proof(subject);
      if (last.withdrawals_size() > 0 && done(last.withdrawals(0))) {
        *out = last.withdrawals(0);
        return ::testing::AssertionSuccess();
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ::testing::AssertionFailure()
           << "last proof: " << last.ShortDebugString() << "\nconsentd log:\n"
           << server_->log();
  }

  // The value of the consentd metric line `series` (exact name and labels), or -1.
  double Metric(const std::string& series) {
    int status = 0;
    const std::string text = testing::RunCommand(
        absl::StrCat("curl -s --max-time 5 'http://", server_->metrics_address(), "/metrics'"),
        &status);
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::StartsWith(line, series + " ")) continue;
      double v = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
    return -1;
  }
  ::testing::AssertionResult WaitMetric(const std::string& series, double value) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    double last = -1;
    while (absl::Now() < deadline) {
      last = Metric(series);
      if (last == value) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(100));
    }
    return ::testing::AssertionFailure() << series << " is " << last << ", not " << value;
  }

  struct Run {
    int exit_status = -1;
    std::string out;
  };
  // `assentctl --server ... --tenant acme proof --subject S`.
  Run Assentctl(const std::string& subject) {
    int status = 0;
    Run run;
    run.out = testing::RunCommand(absl::StrCat(ASSENTCTL_PATH, " --server ", server_->address(),
                                               " --tenant acme proof --subject ", subject, " 2>&1"),
                                  &status);
    run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::KafkaBroker> broker_;
  std::string secret_file_;
  std::unique_ptr<testing::ConsentdProcess> server_;
  std::unique_ptr<testing::SenderProcess> email_;
  std::unique_ptr<testing::SenderProcess> sms_;
};

bool Applied(const v1::WithdrawalProof& w, const std::string& sender) {
  for (const v1::SenderApplication& s : w.senders()) {
    if (s.sender() == sender) return s.has_applied_time();
  }
  return false;
}

TEST_F(ProofTest, BothSendersApplyAWithdrawalAndAStoppedSenderAlerts) {
  Record("cust-1", v1::GRANTED);
  Record("cust-1", v1::WITHDRAWN);

  v1::WithdrawalProof proof;
  ASSERT_TRUE(WaitProof(
      "cust-1",
      [](const v1::WithdrawalProof& w) { return Applied(w, "email") && Applied(w, "sms"); },
      &proof));
  EXPECT_EQ(proof.sequence(), 2u);
  EXPECT_THAT(proof.withdrawn(), ElementsAre("marketing.newsletter WITHDRAWN"));
  ASSERT_EQ(proof.senders_size(), 2);
  EXPECT_EQ(proof.senders(0).sender(), "email");
  EXPECT_EQ(proof.senders(1).sender(), "sms");
  for (const v1::SenderApplication& s : proof.senders()) {
    // Applied after it was recorded (one machine, one clock).
    EXPECT_GE(FromProto(s.applied_time()), FromProto(proof.recorded_time())) << s.sender();
  }
  // The grant is no withdrawal: only one entry.
  EXPECT_EQ(Proof("cust-1").withdrawals_size(), 1);
  EXPECT_TRUE(WaitMetric("assent_withdrawal_enforced_seconds_count{sender=\"email\"}", 1));
  EXPECT_TRUE(WaitMetric("assent_withdrawal_enforced_seconds_count{sender=\"sms\"}", 1));
  EXPECT_TRUE(WaitMetric("assent_enforcement_live_instances{sender=\"sms\"}", 1));
  Run run = Assentctl("cust-1");
  EXPECT_EQ(run.exit_status, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("#2 marketing.newsletter WITHDRAWN: recorded at "));
  EXPECT_THAT(run.out, HasSubstr(", applied by email at +"));
  EXPECT_THAT(run.out, HasSubstr(", by sms at +"));

  // Stop the SMS sender: the next withdrawal is applied by email only, and past alert_after
  // the alert condition holds for sms alone.
  ASSERT_EQ(sms_->Stop(), 0) << sms_->log();
  Record("cust-2", v1::DENIED);
  ASSERT_TRUE(WaitProof(
      "cust-2", [](const v1::WithdrawalProof& w) { return Applied(w, "email"); }, &proof));
  EXPECT_FALSE(Applied(proof, "sms"));
  EXPECT_TRUE(WaitMetric("assent_enforcement_live_instances{sender=\"sms\"}", 0));
  EXPECT_TRUE(WaitMetric("assent_withdrawals_unenforced{sender=\"sms\"}", 1));
  EXPECT_EQ(Metric("assent_withdrawals_unenforced{sender=\"email\"}"), 0);
  EXPECT_GE(Metric("assent_withdrawal_oldest_unenforced_seconds{sender=\"sms\"}"), 2);
  EXPECT_FALSE(Applied(Proof("cust-2").withdrawals(0), "sms"));
  run = Assentctl("cust-2");
  EXPECT_EQ(run.exit_status, 1) << run.out;
  EXPECT_THAT(run.out, HasSubstr("#1 marketing.newsletter DENIED: recorded at "));
  EXPECT_THAT(run.out, HasSubstr(", applied by email at +"));
  EXPECT_THAT(run.out, HasSubstr(", sms: not yet ("));
}

}  // namespace
}  // namespace assent
