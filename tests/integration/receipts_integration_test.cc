// Consent receipts through the real consentd: RecordDecisions (and the other consent writes)
// return a receipt that verifies with GetReceiptKeys' JWKS; after a key rotation (SIGHUP) old
// receipts still verify and new ones carry the new kid; GetReceipt re-signs a stored record;
// `assentctl receipt verify` exits 0 on a good file and 1 on a tampered one.
#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "assent/v1/receipts.grpc.pb.h"
#include "crypto/signing_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "receipts/verify.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/prefcenter_process.h"
#include "testing/process.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace assent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

class ReceiptsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    NewKey("k1");
    WriteKeyring({"k1"});
  }

  // An Ed25519 key made by the openssl command line, as an operator would (mode 0600).
  void NewKey(const std::string& id) {
    const std::string pem = dir_.Sub(id + ".pem");
    int status = 0;
    testing::RunCommand(absl::StrCat("umask 077 && openssl genpkey -algorithm ed25519 -out ", pem),
                        &status);
    ASSERT_EQ(status, 0);
  }
  void WriteKeyring(const std::vector<std::string>& ids) {
    std::string yaml = "keys:\n";
    for (const std::string& id : ids) {
      absl::StrAppend(&yaml, "  - id: ", id, "\n    private_key_file: ", id, ".pem\n");
    }
    const std::string tmp = keyring() + ".tmp";
    std::ofstream(tmp) << yaml;
    chmod(tmp.c_str(), 0600);
    std::rename(tmp.c_str(), keyring().c_str());
  }
  std::string keyring() const { return dir_.Sub("receipt-keyring.yaml"); }

  void Start(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--receipts-keyring-file", keyring()});
    ASSERT_NO_FATAL_FAILURE(server_->Start(extra));
    ASSERT_TRUE(server_->SeedCatalog("marketing.newsletter", {v1::EMAIL}));
    receipts_ = v1::ReceiptService::NewStub(server_->channel());
  }

  v1::RecordDecisionsResponse Record(const std::string& subject, v1::ConsentState state) {
    v1::RecordDecisionsRequest r;
    r.set_tenant("acme");
    r.mutable_target()->set_subject_id(subject);
    r.set_actor("signup-form");
    r.set_source("web-signup-v3");
    auto* d = r.add_decisions();
    d->set_purpose_id("marketing.newsletter");
    d->set_channel(v1::EMAIL);
    d->set_state(state);
    r.mutable_evidence()->set_ip_address("198.51.100.23");
    r.mutable_evidence()->set_user_agent("ReceiptTestAgent/1.0");
    v1::RecordDecisionsResponse out;
    grpc::Status s = server_->consent().RecordDecisions(Ctx().get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  crypto::Jwks Jwks(std::string* current_kid = nullptr) {
    v1::GetReceiptKeysResponse keys;
    grpc::Status s = receipts_->GetReceiptKeys(Ctx().get(), v1::GetReceiptKeysRequest(), &keys);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (current_kid != nullptr) *current_kid = keys.current_kid();
    auto jwks = crypto::Jwks::Parse(keys.jwks());
    EXPECT_TRUE(jwks.ok()) << jwks.status();
    return jwks.ok() ? *std::move(jwks) : crypto::Jwks();
  }

  struct CtlRun {
    int exit_status = -1;
    std::string out;
  };
  CtlRun Assentctl(const std::string& args) {
    int status = 0;
    CtlRun run;
    run.out = testing::RunCommand(absl::StrCat(ASSENTCTL_PATH, " --server ", server_->address(),
                                               " --tenant acme ", args, " 2>&1"),
                                  &status);
    run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ConsentdProcess> server_;
  std::unique_ptr<v1::ReceiptService::Stub> receipts_;
};

TEST_F(ReceiptsIntegrationTest, RecordDecisionsReturnsAReceiptThatVerifiesWithTheJwks) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::RecordDecisionsResponse response = Record("cust-1", v1::GRANTED);
  ASSERT_TRUE(response.has_receipt());
  const v1::Receipt& receipt = response.receipt();
  EXPECT_EQ(receipt.kid(), "k1");
  // No identifying evidence in what is signed.
  EXPECT_THAT(receipt.claims(), Not(HasSubstr("198.51.100.23")));
  EXPECT_THAT(receipt.claims(), Not(HasSubstr("ReceiptTestAgent")));
  ASSERT_OK_AND_ASSIGN(receipts::VerifiedReceipt v, receipts::VerifyReceipt(receipt, Jwks()));
  EXPECT_EQ(v.tenant, "acme");
  EXPECT_EQ(v.target, "subject:cust-1");
  EXPECT_EQ(v.sequence, response.sequence());
  EXPECT_EQ(v.kind, "DECISIONS_RECORDED");

  // The receipt is the history record's: its hash is the one ListHistory shows.
  v1::ListHistoryRequest history;
  history.set_tenant("acme");
  history.mutable_target()->set_subject_id("cust-1");
  v1::ListHistoryResponse records;
  ASSERT_TRUE(server_->consent().ListHistory(Ctx().get(), history, &records).ok());
  ASSERT_EQ(records.records_size(), 1);
  std::string hex;
  for (unsigned char c : records.records(0).hash())
    absl::StrAppend(&hex, absl::Hex(c, absl::kZeroPad2));
  EXPECT_EQ(v.hash, hex);

  // A replayed idempotent request gets a receipt of the same record too.
  v1::RecordDecisionsRequest again;
  again.set_tenant("acme");
  again.mutable_target()->set_subject_id("cust-1");
  again.set_actor("signup-form");
  again.set_source("web");
  again.set_idempotency_key("idem-1");
  auto* d = again.add_decisions();
  d->set_purpose_id("marketing.newsletter");
  d->set_channel(v1::EMAIL);
  d->set_state(v1::WITHDRAWN);
  v1::RecordDecisionsResponse first, replay;
  ASSERT_TRUE(server_->consent().RecordDecisions(Ctx().get(), again, &first).ok());
  ASSERT_TRUE(server_->consent().RecordDecisions(Ctx().get(), again, &replay).ok());
  EXPECT_TRUE(replay.replayed());
  ASSERT_TRUE(replay.has_receipt());
  ASSERT_OK_AND_ASSIGN(receipts::VerifiedReceipt rv,
                       receipts::VerifyReceipt(replay.receipt(), Jwks()));
  EXPECT_EQ(rv.sequence, first.sequence());
  EXPECT_EQ(replay.receipt().claims(), first.receipt().claims());

  // Three receipts signed on the write path, none failed.
  int status = 0;
  const std::string metrics = testing::RunCommand(
      absl::StrCat("curl -s --max-time 5 'http://", server_->metrics_address(), "/metrics'"),
      &status);
  EXPECT_THAT(metrics, HasSubstr("assent_receipts_total{result=\"signed\"} 3"));
  EXPECT_THAT(metrics, HasSubstr("assent_receipts_total{result=\"failed\"} 0"));
}

TEST_F(ReceiptsIntegrationTest, SuppressAndLinkCarryReceipts) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(Record("cust-2", v1::GRANTED).has_receipt());
  const crypto::Jwks jwks = Jwks();

  v1::LinkContactPointRequest link;
  link.set_tenant("acme");
  link.set_subject_id("cust-2");
  link.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  link.mutable_contact_point()->set_value("jane@example.com");
  link.set_actor("crm");
  link.set_source("crm-sync");
  v1::LinkContactPointResponse linked;
  ASSERT_TRUE(server_->consent().LinkContactPoint(Ctx().get(), link, &linked).ok());
  ASSERT_OK_AND_ASSIGN(auto subject_side, receipts::VerifyReceipt(linked.receipt(), jwks));
  EXPECT_EQ(subject_side.kind, "CONTACT_LINKED");
  EXPECT_EQ(subject_side.sequence, linked.subject_sequence());
  ASSERT_OK_AND_ASSIGN(auto contact_side, receipts::VerifyReceipt(linked.contact_receipt(), jwks));
  EXPECT_THAT(contact_side.target, HasSubstr("contact:CONTACT_EMAIL:"));
  EXPECT_THAT(linked.contact_receipt().claims(), Not(HasSubstr("jane@example.com")));

  v1::UnlinkContactPointRequest unlink;
  unlink.set_tenant("acme");
  unlink.set_subject_id("cust-2");
  *unlink.mutable_contact_point() = link.contact_point();
  unlink.set_actor("crm");
  unlink.set_source("crm-sync");
  v1::UnlinkContactPointResponse unlinked;
  ASSERT_TRUE(server_->consent().UnlinkContactPoint(Ctx().get(), unlink, &unlinked).ok());
  ASSERT_OK_AND_ASSIGN(auto unlinked_contact,
                       receipts::VerifyReceipt(unlinked.contact_receipt(), jwks));
  EXPECT_EQ(unlinked_contact.kind, "CONTACT_UNLINKED");
  EXPECT_EQ(unlinked_contact.target, contact_side.target);
  EXPECT_EQ(unlinked_contact.sequence, unlinked.contact_sequence());

  v1::SuppressContactPointRequest suppress;
  suppress.set_tenant("acme");
  *suppress.mutable_contact_point() = link.contact_point();
  suppress.set_channel(v1::EMAIL);
  suppress.set_kind(v1::Suppression::UNSUBSCRIBED);
  suppress.set_actor("email-one-click");
  suppress.set_source("email-one-click");
  v1::SuppressContactPointResponse suppressed;
  ASSERT_TRUE(server_->consent().SuppressContactPoint(Ctx().get(), suppress, &suppressed).ok());
  ASSERT_OK_AND_ASSIGN(auto s, receipts::VerifyReceipt(suppressed.receipt(), jwks));
  EXPECT_EQ(s.kind, "SUPPRESSION_ADDED");
  EXPECT_EQ(s.sequence, suppressed.sequence());
}

TEST_F(ReceiptsIntegrationTest, RotatedKeySignsNewReceiptsAndOldOnesStillVerify) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::RecordDecisionsResponse old_response = Record("cust-3", v1::GRANTED);
  ASSERT_EQ(old_response.receipt().kid(), "k1");

  // Rotation: add a key at the end, SIGHUP.
  ASSERT_NO_FATAL_FAILURE(NewKey("k2"));
  WriteKeyring({"k1", "k2"});
  server_->Signal(SIGHUP);
  std::string current;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        Jwks(&current);
        return current == "k2";
      },
      absl::Seconds(30)))
      << server_->log();

  v1::RecordDecisionsResponse new_response = Record("cust-3", v1::WITHDRAWN);
  EXPECT_EQ(new_response.receipt().kid(), "k2");
  const crypto::Jwks jwks = Jwks();
  ASSERT_OK_AND_ASSIGN(auto old_v, receipts::VerifyReceipt(old_response.receipt(), jwks));
  EXPECT_EQ(old_v.kid, "k1");
  ASSERT_OK_AND_ASSIGN(auto new_v, receipts::VerifyReceipt(new_response.receipt(), jwks));
  EXPECT_EQ(new_v.kid, "k2");

  // GetReceipt re-signs the old record with the current key.
  v1::GetReceiptRequest get;
  get.set_tenant("acme");
  get.mutable_target()->set_subject_id("cust-3");
  get.set_sequence(old_response.sequence());
  v1::Receipt again;
  ASSERT_TRUE(receipts_->GetReceipt(Ctx().get(), get, &again).ok());
  EXPECT_EQ(again.kid(), "k2");
  EXPECT_EQ(again.claims(), old_response.receipt().claims());
  EXPECT_OK(receipts::VerifyReceipt(again, jwks).status());

  // A bad keyring on reload is refused; the keys in use stay.
  { std::ofstream(keyring()) << "keys: []\n"; }
  server_->Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return server_->log().find("receipt keyring refused") != std::string::npos; },
      absl::Seconds(30)));
  EXPECT_EQ(Record("cust-3", v1::GRANTED).receipt().kid(), "k2");

  // An unknown record, and a sequence of 0.
  get.set_sequence(99);
  grpc::Status missing = receipts_->GetReceipt(Ctx().get(), get, &again);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << missing.error_message();
  get.set_sequence(0);
  grpc::Status zero = receipts_->GetReceipt(Ctx().get(), get, &again);
  EXPECT_EQ(zero.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(zero.error_message(), HasSubstr("sequence"));
}

TEST_F(ReceiptsIntegrationTest, AssentctlReceiptGetAndVerify) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::RecordDecisionsResponse response = Record("cust-4", v1::GRANTED);
  CtlRun got =
      Assentctl(absl::StrCat("receipt get --subject cust-4 --sequence ", response.sequence()));
  ASSERT_EQ(got.exit_status, 0) << got.out;
  const std::string file = dir_.Sub("receipt.json");
  std::ofstream(file) << got.out;
  v1::GetReceiptKeysResponse keys;
  ASSERT_TRUE(receipts_->GetReceiptKeys(Ctx().get(), v1::GetReceiptKeysRequest(), &keys).ok());
  const std::string jwks = dir_.Sub("jwks.json");
  std::ofstream(jwks) << keys.jwks();

  // Offline: against the JWKS file, the server not asked (a server address that answers nothing).
  int status = 0;
  const std::string offline =
      testing::RunCommand(absl::StrCat(ASSENTCTL_PATH, " --server 127.0.0.1:1 receipt verify ",
                                       file, " --jwks ", jwks, " 2>&1"),
                          &status);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << offline;
  EXPECT_THAT(offline, HasSubstr("receipt verifies: signed by key k1"));
  EXPECT_THAT(offline, HasSubstr("target subject:cust-4"));

  // The receipt from the write response, written as a file, verifies against consentd's keys.
  const std::string from_write = dir_.Sub("from-write.json");
  std::ofstream(from_write) << receipts::ReceiptToJson(response.receipt());
  CtlRun online = Assentctl(absl::StrCat("receipt verify ", from_write));
  EXPECT_EQ(online.exit_status, 0) << online.out;

  // Tampered: GRANTED turned into DENIED in the claims.
  std::string text = testing::ReadFile(file);
  ASSERT_NE(text.find("GRANTED"), std::string::npos);
  const std::string tampered = dir_.Sub("tampered.json");
  std::ofstream(tampered) << absl::StrReplaceAll(text, {{"GRANTED", "DENIED"}});
  CtlRun bad = Assentctl(absl::StrCat("receipt verify ", tampered, " --jwks ", jwks));
  EXPECT_EQ(bad.exit_status, 1) << bad.out;
  EXPECT_THAT(bad.out, HasSubstr("does NOT verify"));
}

TEST_F(ReceiptsIntegrationTest, ConfirmDecisionCarriesTheConfirmationsReceipt) {
  const std::string links = dir_.Sub("links.yaml");
  std::ofstream(links) << "keys:\n  - id: l1\n    secret: \"" << std::string(43, 'A') << "=\"\n";
  chmod(links.c_str(), 0600);
  ASSERT_NO_FATAL_FAILURE(Start({"--links-keyring-file", links}));
  v1::UpdatePurposeRequest update;
  v1::GetPurposeRequest get;
  get.set_name("tenants/acme/purposes/marketing.newsletter");
  ASSERT_TRUE(server_->catalog().GetPurpose(Ctx().get(), get, update.mutable_purpose()).ok());
  v1::ConfirmationRule* rule = update.mutable_purpose()->add_confirmation();
  rule->set_channel(v1::EMAIL);
  rule->set_jurisdiction("EU");
  v1::Purpose updated;
  grpc::Status status = server_->catalog().UpdatePurpose(Ctx().get(), update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::RecordDecisionsRequest grant;
  grant.set_tenant("acme");
  grant.mutable_target()->set_subject_id("cust-6");
  grant.set_source("web-signup-v3");
  grant.set_actor("signup-service");
  grant.set_jurisdiction("DE");
  auto* d = grant.add_decisions();
  d->set_purpose_id("marketing.newsletter");
  d->set_channel(v1::EMAIL);
  d->set_state(v1::GRANTED);
  v1::RecordDecisionsResponse recorded;
  status = server_->consent().RecordDecisions(Ctx().get(), grant, &recorded);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(recorded.confirmation_required());
  EXPECT_THAT(recorded.receipt().claims(), HasSubstr(R"("state":"PENDING")"));

  v1::CreateLinkRequest link;
  link.set_tenant("acme");
  *link.mutable_target() = grant.target();
  link.set_kind(v1::CONFIRMATION);
  link.set_confirm_sequence(recorded.sequence());
  v1::CreateLinkResponse created;
  status = server_->consent().CreateLink(Ctx().get(), link, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::ConfirmDecisionRequest confirm;
  confirm.set_tenant("acme");
  confirm.set_token(created.token());
  confirm.set_actor("prefcenter");
  confirm.mutable_evidence()->set_ip_address("198.51.100.4");
  v1::ConfirmDecisionResponse confirmed;
  status = server_->consent().ConfirmDecision(Ctx().get(), confirm, &confirmed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(confirmed.has_receipt());
  ASSERT_OK_AND_ASSIGN(auto v, receipts::VerifyReceipt(confirmed.receipt(), Jwks()));
  EXPECT_EQ(v.kind, "DECISIONS_CONFIRMED");
  EXPECT_EQ(v.sequence, confirmed.sequence());
  EXPECT_THAT(confirmed.receipt().claims(), HasSubstr(R"("state":"GRANTED")"));
  EXPECT_THAT(confirmed.receipt().claims(), Not(HasSubstr("198.51.100.4")));

  // A second click writes nothing and carries no receipt.
  v1::ConfirmDecisionResponse again;
  ASSERT_TRUE(server_->consent().ConfirmDecision(Ctx().get(), confirm, &again).ok());
  EXPECT_TRUE(again.already_confirmed());
  EXPECT_FALSE(again.has_receipt());
}

TEST_F(ReceiptsIntegrationTest, PreferenceCenterPublishesTheJwksAndAssentctlVerifiesFromIt) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string links = dir_.Sub("link-keyring.yaml");
  std::ofstream(links) << "keys:\n  - id: l1\n    secret: \"" << std::string(43, 'A') << "=\"\n";
  chmod(links.c_str(), 0600);
  testing::PrefcenterProcess prefcenter(PREFCENTER_PATH, dir_.path());
  ASSERT_NO_FATAL_FAILURE(prefcenter.Start(server_->address(), links));
  httplib::Result got = prefcenter.Client()->Get("/.well-known/jwks.json");
  ASSERT_TRUE(got) << prefcenter.log();
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(got->get_header_value("Content-Type"), "application/jwk-set+json");
  EXPECT_THAT(got->get_header_value("Cache-Control"), HasSubstr("max-age="));
  ASSERT_OK_AND_ASSIGN(crypto::Jwks jwks, crypto::Jwks::Parse(got->body));
  EXPECT_NE(jwks.Find("k1"), nullptr);
  EXPECT_THAT(got->body, Not(HasSubstr("PRIVATE")));

  // assentctl verifies a receipt against the published URL.
  v1::RecordDecisionsResponse response = Record("cust-5", v1::GRANTED);
  const std::string file = dir_.Sub("r5.json");
  std::ofstream(file) << receipts::ReceiptToJson(response.receipt());
  CtlRun run = Assentctl(absl::StrCat("receipt verify ", file, " --jwks http://",
                                      prefcenter.address(), "/.well-known/jwks.json"));
  EXPECT_EQ(run.exit_status, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("signed by key k1"));
}

}  // namespace
}  // namespace assent
