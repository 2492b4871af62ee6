// The reference email sender as a real process, with a real broker and a real consentd: a
// withdrawal recorded through gRPC suppresses the next email (with the reason and the deciding
// record), a granted recipient gets an RFC 5322 message with one-click unsubscribe headers whose
// token verifies, and a sender killed mid-stream and restarted publishes exactly one outcome per
// request.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "assent/sender/v1/sender.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "links/token.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/sender_process.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using sender::v1::SendOutcome;
using sender::v1::SendRequest;
using ::testing::HasSubstr;

constexpr char kSecret[] = "integration-test-contact-key-secret-0123456789";
constexpr char kKeyRing[] =
    "keys:\n  - id: test-1\n    secret: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n";
constexpr char kRequests[] = "assent.email.requests.v1";
constexpr char kOutcomes[] = "assent.email.outcomes.v1";

class EmailSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<testing::KafkaBroker>(dir_.Sub("kafka"));
    ASSERT_TRUE(broker_->Start()) << broker_->error();
    secret_file_ = dir_.path() + "/secret";
    std::ofstream(secret_file_) << kSecret << "\n";
    chmod(secret_file_.c_str(), 0600);  // consentd refuses a secret others can read
    keyring_file_ = dir_.path() + "/links.yaml";
    std::ofstream(keyring_file_) << kKeyRing;
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    server_->Start({"--kafka-brokers", broker_->bootstrap(), "--kafka-partitions", "3",
                    "--contact-key-secret-file", secret_file_});
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(server_->SeedCatalog("marketing.newsletter", {v1::EMAIL}));
    spool_ = dir_.Sub("spool");
    config_ = dir_.path() + "/email.yaml";
    std::ofstream(config_) << "templates:\n"
                              "  weekly:\n"
                              "    subject: \"Your week, {{name}}\"\n"
                              "    body: \"Hello {{name}},\\nhere is your digest.\\n\"\n";
    sender_ = std::make_unique<testing::SenderProcess>(EMAIL_SENDER_PATH, dir_.path(), "email");
    StartSender();
  }

  void StartSender() {
    sender_->Start({"--config", config_, "--kafka-brokers", broker_->bootstrap(), "--service",
                    server_->address(), "--contact-key-secret-file", secret_file_,
                    "--email-spool-dir", spool_, "--email-link-keyring-file", keyring_file_,
                    "--email-unsubscribe-url", "https://prefs.example.com/u/{token}",
                    "--email-preferences-url", "https://prefs.example.com/p/{token}"});
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  static v1::ContactPoint Email(const std::string& address) {
    v1::ContactPoint cp;
    cp.set_type(v1::CONTACT_EMAIL);
    cp.set_value(address);
    return cp;
  }

  // Records a decision on a contact point; returns the record id.
  std::string Decide(const std::string& address, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    *request.mutable_target()->mutable_contact_point() = Email(address);
    request.set_source("web");
    request.set_actor("test");
    auto* d = request.add_decisions();
    d->set_purpose_id("marketing.newsletter");
    d->set_state(state);
    v1::RecordDecisionsResponse response;
    grpc::Status s = server_->consent().RecordDecisions(Ctx().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.records_size() > 0 ? response.records(0).record_id() : "";
  }

  static std::pair<std::string, std::string> Request(const std::string& id,
                                                     const std::string& address) {
    SendRequest r;
    r.set_request_id(id);
    r.set_tenant("acme");
    *r.mutable_contact_point() = Email(address);
    r.set_purpose_id("marketing.newsletter");
    r.set_template_id("weekly");
    (*r.mutable_payload())["name"] = "Ann";
    return {id, r.SerializeAsString()};
  }

  // Outcomes by request id (every one seen, duplicates counted) once `ids` all have one.
  std::map<std::string, std::vector<SendOutcome>> Outcomes(const std::set<std::string>& ids,
                                                           absl::Duration timeout) {
    std::map<std::string, std::vector<SendOutcome>> out;
    testing::ConsumeAll(broker_->bootstrap(), kOutcomes, timeout,
                        [&](const std::vector<testing::KafkaRecord>& records) {
                          out.clear();
                          for (const auto& r : records) {
                            SendOutcome o;
                            if (o.ParseFromString(r.value)) out[o.request_id()].push_back(o);
                          }
                          for (const std::string& id : ids) {
                            if (out.count(id) == 0) return false;
                          }
                          return true;
                        });
    return out;
  }

  // Waits until the sender's view applied `changes` changes (its metric), so that a request sent
  // next is judged on them: Assent's guarantee is "within milliseconds", not read-your-writes.
  void WaitApplied(int changes) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    double applied = 0;
    while (absl::Now() < deadline) {
      for (absl::string_view line : absl::StrSplit(sender_->Metrics(), '\n')) {
        if (absl::StartsWith(line, "assent_sender_view_records_total{") &&
            absl::StrContains(line, "result=\"applied\"")) {
          applied = std::stod(std::string(line.substr(line.rfind(' ') + 1)));
        }
      }
      if (applied >= changes) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "the sender applied " << applied << " of " << changes << " changes";
  }

  testing::TempDir dir_;
  std::string secret_file_, keyring_file_, spool_, config_;
  std::unique_ptr<testing::KafkaBroker> broker_;
  std::unique_ptr<testing::ConsentdProcess> server_;
  std::unique_ptr<testing::SenderProcess> sender_;
};

TEST_F(EmailSenderTest, WithdrawalSuppressesGrantSends) {
  Decide("ann@example.com", v1::GRANTED);
  const std::string withdrawal = Decide("bob@example.com", v1::WITHDRAWN);
  ASSERT_FALSE(withdrawal.empty());
  WaitApplied(2);
  ASSERT_TRUE(
      testing::Produce(broker_->bootstrap(), kRequests,
                       {Request("r-ann", "ann@example.com"), Request("r-bob", "bob@example.com"),
                        Request("r-bad", "not-an-address")},
                       absl::Seconds(30)));
  auto outcomes = Outcomes({"r-ann", "r-bob", "r-bad"}, absl::Seconds(60));
  ASSERT_EQ(outcomes["r-bob"].size(), 1u) << sender_->log();
  const SendOutcome& bob = outcomes["r-bob"][0];
  EXPECT_EQ(bob.status(), SendOutcome::SUPPRESSED);
  EXPECT_EQ(bob.reason(), v1::EXPLICIT_DENY);
  EXPECT_EQ(bob.record_id(), withdrawal);
  EXPECT_TRUE(bob.decided_by().has_contact());

  ASSERT_EQ(outcomes["r-bad"].size(), 1u);
  EXPECT_EQ(outcomes["r-bad"][0].status(), SendOutcome::REJECTED);
  EXPECT_THAT(outcomes["r-bad"][0].detail(), HasSubstr("contact_point.value"));

  ASSERT_EQ(outcomes["r-ann"].size(), 1u) << sender_->log();
  const SendOutcome& ann = outcomes["r-ann"][0];
  ASSERT_EQ(ann.status(), SendOutcome::SENT) << ann.ShortDebugString();
  EXPECT_EQ(ann.reason(), v1::EXPLICIT_GRANT);
  // Exactly one message in the spool, for Ann, with RFC 8058 headers and a valid token.
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(spool_)) {
    if (e.path().filename().string()[0] != '.') files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), 1u);
  const std::string message = testing::ReadFile(files[0]);
  EXPECT_THAT(message, HasSubstr("To: ann@example.com\r\n"));
  EXPECT_THAT(message, HasSubstr("Subject: Your week, Ann\r\n"));
  EXPECT_THAT(message, HasSubstr("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
  EXPECT_THAT(message, HasSubstr(ann.message_id()));
  const size_t at = message.find("<https://prefs.example.com/u/");
  ASSERT_NE(at, std::string::npos);
  const std::string token = message.substr(at + 29, message.find('>', at) - at - 29);
  auto keyring = links::KeyRing::Parse(kKeyRing);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  auto claims = links::VerifyLink(*keyring, "", token, absl::Now());
  ASSERT_TRUE(claims.ok()) << claims.status() << " token=" << token;
  EXPECT_EQ(claims->kind, v1::ONE_CLICK_UNSUBSCRIBE);
  EXPECT_EQ(claims->purpose_id, "marketing.newsletter");
  EXPECT_EQ(claims->channel, v1::EMAIL);
  EXPECT_TRUE(claims->target.has_contact());
  // The footer carries a preference-center link for the same recipient (the body is
  // quoted-printable: soft line breaks removed, tokens hold no '=').
  const std::string body =
      absl::StrReplaceAll(message.substr(message.find("\r\n\r\n") + 4), {{"=\r\n", ""}});
  const size_t footer = body.find("Manage your email preferences: https://prefs.example.com/p/");
  ASSERT_NE(footer, std::string::npos) << body;
  const size_t start = footer + 59;
  const std::string page_token = body.substr(start, body.find_first_of("\r\n", start) - start);
  auto page = links::VerifyLink(*keyring, "", page_token, absl::Now());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->kind, v1::PREFERENCE_CENTER);
  EXPECT_EQ(page->target.SerializeAsString(), claims->target.SerializeAsString());
  EXPECT_EQ(message.find("bob@example.com"), std::string::npos);

  // Withdraw Ann through gRPC: the next email to her is suppressed, citing that record.
  const std::string ann_withdrawal = Decide("ann@example.com", v1::WITHDRAWN);
  WaitApplied(3);
  ASSERT_TRUE(testing::Produce(broker_->bootstrap(), kRequests,
                               {Request("r-ann-2", "ann@example.com")}, absl::Seconds(30)));
  outcomes = Outcomes({"r-ann-2"}, absl::Seconds(60));
  ASSERT_EQ(outcomes["r-ann-2"].size(), 1u);
  EXPECT_EQ(outcomes["r-ann-2"][0].status(), SendOutcome::SUPPRESSED);
  EXPECT_EQ(outcomes["r-ann-2"][0].reason(), v1::EXPLICIT_DENY);
  EXPECT_EQ(outcomes["r-ann-2"][0].record_id(), ann_withdrawal);
  EXPECT_THAT(sender_->Metrics(), HasSubstr("assent_sender_suppressions_total"));
}

TEST_F(EmailSenderTest, KilledMidStreamPublishesOneOutcomePerRequest) {
  Decide("ann@example.com", v1::GRANTED);
  WaitApplied(1);
  std::vector<std::pair<std::string, std::string>> requests;
  std::set<std::string> ids;
  for (int i = 0; i < 600; ++i) {
    requests.push_back(Request(absl::StrCat("r", i), "ann@example.com"));
    ids.insert(absl::StrCat("r", i));
  }
  ASSERT_TRUE(testing::Produce(broker_->bootstrap(), kRequests, requests, absl::Seconds(30)));
  // Kill as soon as some outcomes are out, then restart.
  Outcomes({"r20"}, absl::Seconds(60));
  sender_->Kill();
  StartSender();
  auto outcomes = Outcomes(ids, absl::Seconds(120));
  for (const std::string& id : ids) {
    ASSERT_EQ(outcomes[id].size(), 1u) << id << "\n" << sender_->log();
    EXPECT_EQ(outcomes[id][0].status(), SendOutcome::SENT);
  }
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(spool_)) {
    if (e.path().filename().string()[0] != '.') ++files;
  }
  EXPECT_EQ(files, ids.size());
  // With the broker gone, SIGTERM still stops the sender cleanly (Stop() gives up after 30 s).
  broker_->Stop();
  EXPECT_EQ(sender_->Stop(), 0) << sender_->log();
}

}  // namespace
}  // namespace assent
