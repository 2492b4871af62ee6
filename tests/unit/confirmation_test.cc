// Double opt-in in the ledger, over real RocksDB with the fake clock: GRANTED stored PENDING with
// a ConfirmationRequested notice whose sealed secret opens to the address and link,
// ConfirmDecision, second clicks, refusals, imports, resend limits, and no plain address on disk.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/lifecycle.pb.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "links/sealed.h"
#include "links/token.h"
#include "store/keys.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kAddress[] = "Jane.Doe-Confirm@Example.COM";
constexpr char kNormalized[] = "Jane.Doe-Confirm@example.com";

class ConfirmationTest : public testing::LedgerFixture {
 protected:
  void Configure(LedgerOptions& options) override {
    options.link_keyring = std::make_shared<const links::KeyRing>(
        std::vector<links::KeyRing::Key>{{"l1", std::string(32, 'L'), ""}});
    options.confirmation_keyring = seal_ring_;
    options.link_base_url = "https://prefs.example.com";
  }

  void SetUp() override {
    LedgerFixture::SetUp();
    clock_.Set(absl::FromUnixSeconds(1800000000));
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    ASSERT_OK(Sync<v1::Tenant>(&Ledger::CreateTenant, tenant).status());
    v1::CreatePurposeRequest request;
    request.set_parent("tenants/acme");
    v1::Purpose* p = request.mutable_purpose();
    p->set_purpose_id("newsletter");
    p->set_display_name("Newsletter");
    p->set_kind(v1::MARKETING);
    p->set_legal_basis(v1::CONSENT);
    p->add_channels(v1::EMAIL);
    p->add_channels(v1::SMS);
    p->set_notice_version(1);
    *p->mutable_lifespan() = ToProtoDuration(absl::Hours(24 * 365));
    *p->mutable_pending_ttl() = ToProtoDuration(absl::Hours(48));
    v1::ConfirmationRule* rule = p->add_confirmation();
    rule->set_channel(v1::EMAIL);
    rule->set_jurisdiction("EU");
    ASSERT_OK(Sync<v1::Purpose>(&Ledger::CreatePurpose, request).status());
  }

  v1::RecordDecisionsRequest Grant(bool by_address, v1::Channel channel = v1::EMAIL,
                                   std::string jurisdiction = "DE") {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    if (by_address) {
      request.mutable_target()->mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
      request.mutable_target()->mutable_contact_point()->set_value(kAddress);
    } else {
      request.mutable_target()->set_subject_id("customer-1");
    }
    request.set_source("web-signup-v3");
    request.set_actor("signup-service");
    request.set_jurisdiction(jurisdiction);
    auto* d = request.add_decisions();
    d->set_purpose_id("newsletter");
    d->set_channel(channel);
    d->set_state(v1::GRANTED);
    return request;
  }

  absl::StatusOr<v1::RecordDecisionsResponse> Record(const v1::RecordDecisionsRequest& r) {
    return Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, r);
  }

  // Every ConfirmationRequested in the outbox, in order.
  std::vector<v1::ConfirmationRequested> Notices() {
    std::vector<v1::ConfirmationRequested> out;
    auto it = store_->NewIterator(store::Cf::kOutbox);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      storage::v1::OutboxRecord record;
      EXPECT_TRUE(record.ParseFromString(it->value().ToString()));
      if (record.topic() != storage::v1::TOPIC_LIFECYCLE) continue;
      v1::ConfirmationRequested notice;
      EXPECT_TRUE(notice.ParseFromString(record.value()));
      out.push_back(notice);
    }
    return out;
  }

  absl::StatusOr<v1::ConfirmationSecret> OpenSecret(const v1::ConfirmationRequested& notice) {
    ASSIGN_OR_RETURN(std::string bytes,
                     links::Open(*seal_ring_, notice.sealed(), notice.event_id()));
    v1::ConfirmationSecret secret;
    if (!secret.ParseFromString(bytes)) return absl::DataLossError("secret");
    return secret;
  }

  absl::StatusOr<v1::ConfirmDecisionResponse> Confirm(const std::string& token) {
    v1::ConfirmDecisionRequest request;
    request.set_tenant("acme");
    request.set_token(token);
    request.set_actor("prefcenter");
    request.mutable_evidence()->set_ip_address("203.0.113.7");
    request.mutable_evidence()->set_user_agent("Mozilla/5.0 test");
    request.mutable_evidence()->set_language("de");
    return Sync<v1::ConfirmDecisionResponse>(&Ledger::ConfirmDecision, request,
                                             Caller{"spiffe://prefcenter"});
  }

  // The token of the first notice, from its sealed secret.
  std::string TokenOfFirstNotice() {
    auto notices = Notices();
    EXPECT_FALSE(notices.empty());
    if (notices.empty()) return "";
    auto secret = OpenSecret(notices.front());
    EXPECT_TRUE(secret.ok()) << secret.status();
    return secret.ok() ? secret->token() : "";
  }

  v1::CheckResponse CheckAddress() {
    v1::CheckRequest request;
    request.set_tenant("acme");
    request.mutable_target()->mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    request.mutable_target()->mutable_contact_point()->set_value(kAddress);
    request.set_purpose_id("newsletter");
    request.set_channel(v1::EMAIL);
    request.set_jurisdiction("DE");
    auto response = ledger_->Check(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::CheckResponse();
  }

  std::shared_ptr<const links::KeyRing> seal_ring_ = std::make_shared<const links::KeyRing>(
      std::vector<links::KeyRing::Key>{{"s1", std::string(32, 'S'), ""}});
};

TEST_F(ConfirmationTest, GrantIsStoredPendingWithASealedNoticeThatOpensToTheAddress) {
  ASSERT_OK_AND_ASSIGN(auto response, Record(Grant(true)));
  EXPECT_TRUE(response.confirmation_required());
  ASSERT_THAT(response.records(), SizeIs(1));
  EXPECT_EQ(response.records(0).state(), v1::PENDING);
  EXPECT_EQ(FromProto(response.records(0).expire_time()), clock_.Now() + absl::Hours(48));
  EXPECT_EQ(CheckAddress().reason(), v1::PENDING_CONFIRMATION);

  auto notices = Notices();
  ASSERT_THAT(notices, SizeIs(1));
  const v1::ConfirmationRequested& notice = notices[0];
  EXPECT_EQ(notice.event_id(), absl::StrCat("acme/c:email:", response.target().contact().hash(),
                                            "/", response.sequence(), "/confirmation"));
  EXPECT_EQ(notice.sequence(), response.sequence());
  ASSERT_THAT(notice.records(), SizeIs(1));
  EXPECT_EQ(notice.records(0).state(), v1::PENDING);
  EXPECT_EQ(FromProto(notice.expire_time()), clock_.Now() + absl::Hours(48));
  EXPECT_EQ(notice.sealed().key_id(), "s1");
  ASSERT_OK_AND_ASSIGN(auto secret, OpenSecret(notice));
  EXPECT_EQ(secret.contact_point().value(), kNormalized);
  EXPECT_EQ(secret.contact_point().type(), v1::CONTACT_EMAIL);
  EXPECT_EQ(secret.url(), absl::StrCat("https://prefs.example.com/c/", secret.token()));
  // The sealed value is bound to its event id.
  EXPECT_THAT(links::Open(*seal_ring_, notice.sealed(), "acme/other").status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("")));
}

TEST_F(ConfirmationTest, OnlyMatchingChannelsAndJurisdictionsNeedConfirmation) {
  // SMS has no rule; US is not in the EU.
  ASSERT_OK_AND_ASSIGN(auto sms, Record(Grant(false, v1::SMS)));
  EXPECT_FALSE(sms.confirmation_required());
  EXPECT_EQ(sms.records(0).state(), v1::GRANTED);
  ASSERT_OK_AND_ASSIGN(auto us, Record(Grant(false, v1::EMAIL, "US-CA")));
  EXPECT_FALSE(us.confirmation_required());
  // A decision for every channel matches the EMAIL rule; a subdivision of an EU country too.
  ASSERT_OK_AND_ASSIGN(auto all, Record(Grant(false, v1::CHANNEL_UNSPECIFIED, "FR-75")));
  EXPECT_TRUE(all.confirmation_required());
  EXPECT_EQ(all.records(0).state(), v1::PENDING);
  EXPECT_THAT(Notices(), SizeIs(1));
}

TEST_F(ConfirmationTest, SubjectTargetGetsANoticeWithoutASealedSecret) {
  ASSERT_OK_AND_ASSIGN(auto response, Record(Grant(false)));
  EXPECT_TRUE(response.confirmation_required());
  auto notices = Notices();
  ASSERT_THAT(notices, SizeIs(1));
  EXPECT_FALSE(notices[0].has_sealed());
  EXPECT_EQ(notices[0].event_id(),
            absl::StrCat("acme/customer-1/", response.sequence(), "/confirmation"));
  // The tenant's systems get their link from CreateLink.
  v1::CreateLinkRequest link;
  link.set_tenant("acme");
  link.mutable_target()->set_subject_id("customer-1");
  link.set_kind(v1::CONFIRMATION);
  link.set_confirm_sequence(response.sequence());
  ASSERT_OK_AND_ASSIGN(auto created, ledger_->CreateLink(link));
  EXPECT_THAT(created.url(), HasSubstr("/c/"));
  EXPECT_EQ(FromProto(created.expire_time()), clock_.Now() + absl::Hours(48));
  ASSERT_OK_AND_ASSIGN(auto confirmed, Confirm(created.token()));
  EXPECT_EQ(confirmed.records(0).state(), v1::GRANTED);
}

TEST_F(ConfirmationTest, ConfirmGrantsWithEvidenceAndALifespanFromConfirmation) {
  ASSERT_OK_AND_ASSIGN(auto recorded, Record(Grant(true)));
  const std::string token = TokenOfFirstNotice();
  clock_.Advance(absl::Hours(3));
  ASSERT_OK_AND_ASSIGN(auto confirmed, Confirm(token));
  EXPECT_FALSE(confirmed.already_confirmed());
  EXPECT_EQ(confirmed.sequence(), recorded.sequence() + 1);
  ASSERT_THAT(confirmed.records(), SizeIs(1));
  const v1::ConsentRecord& r = confirmed.records(0);
  EXPECT_EQ(r.state(), v1::GRANTED);
  EXPECT_EQ(FromProto(r.evidence().confirm_time()), clock_.Now());
  // The click's address and agent are sealed like any identifying evidence, and open on reads.
  EXPECT_TRUE(r.evidence().ip_address().empty());
  EXPECT_TRUE(r.evidence().has_sealed());
  v1::GetContactPointStateRequest get;
  get.set_tenant("acme");
  get.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  get.mutable_contact_point()->set_value(kAddress);
  ASSERT_OK_AND_ASSIGN(auto state, ledger_->GetContactPointState(get));
  ASSERT_THAT(state.decisions(), SizeIs(1));
  EXPECT_EQ(state.decisions(0).evidence().ip_address(), "203.0.113.7");
  EXPECT_EQ(state.decisions(0).evidence().user_agent(), "Mozilla/5.0 test");
  EXPECT_EQ(FromProto(r.effective_time()), clock_.Now());
  EXPECT_EQ(FromProto(r.expire_time()), clock_.Now() + absl::Hours(24 * 365));
  v1::CheckResponse check = CheckAddress();
  EXPECT_EQ(check.verdict(), v1::ALLOW);
  EXPECT_EQ(check.reason(), v1::EXPLICIT_GRANT);

  v1::ListHistoryRequest history;
  history.set_tenant("acme");
  history.mutable_target()->mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  history.mutable_target()->mutable_contact_point()->set_value(kAddress);
  history.set_newest_first(true);
  ASSERT_OK_AND_ASSIGN(auto page, ledger_->ListHistory(history));
  ASSERT_GE(page.records_size(), 1);
  EXPECT_EQ(page.records(0).kind(), v1::DECISIONS_CONFIRMED);
  EXPECT_EQ(page.records(0).actor(), "spiffe://prefcenter");
  EXPECT_EQ(page.records(0).on_behalf_of(), "prefcenter");
  EXPECT_EQ(page.records(0).decisions(0).before().state(), v1::PENDING);

  // A second click is answered, not written.
  ASSERT_OK_AND_ASSIGN(auto again, Confirm(token));
  EXPECT_TRUE(again.already_confirmed());
  EXPECT_EQ(again.sequence(), confirmed.sequence());
}

TEST_F(ConfirmationTest, ConfirmAfterWithdrawalOrLapseIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto recorded, Record(Grant(true)));
  const std::string token = TokenOfFirstNotice();
  v1::RecordDecisionsRequest withdraw = Grant(true);
  withdraw.mutable_decisions(0)->set_state(v1::WITHDRAWN);
  clock_.Advance(absl::Seconds(1));
  ASSERT_OK(Record(withdraw).status());
  EXPECT_THAT(Confirm(token).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no longer pending")));
}

TEST_F(ConfirmationTest, ConfirmAfterThePendingTtlIsRefused) {
  ASSERT_OK(Record(Grant(false)).status());
  v1::CreateLinkRequest link;
  link.set_tenant("acme");
  link.mutable_target()->set_subject_id("customer-1");
  link.set_kind(v1::CONFIRMATION);
  link.set_confirm_sequence(1);
  link.mutable_ttl()->set_seconds(3600 * 24 * 10);  // outlives the window on purpose
  ASSERT_OK_AND_ASSIGN(auto created, ledger_->CreateLink(link));
  clock_.Advance(absl::Hours(49));
  EXPECT_THAT(Confirm(created.token()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("window closed")));
}

TEST_F(ConfirmationTest, ConfirmRefusesAnotherTenantsTokenAndCallerEvidence) {
  ASSERT_OK(Record(Grant(true)).status());
  v1::ConfirmDecisionRequest request;
  request.set_tenant("acme");
  request.set_token(TokenOfFirstNotice());
  request.set_actor("prefcenter");
  *request.mutable_evidence()->mutable_confirm_time() = ToProto(clock_.Now());
  EXPECT_THAT(Sync<v1::ConfirmDecisionResponse>(&Ledger::ConfirmDecision, request).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("evidence")));
  v1::CreateTenantRequest other;
  other.mutable_tenant()->set_tenant_id("other");
  other.mutable_tenant()->set_display_name("Other");
  ASSERT_OK(Sync<v1::Tenant>(&Ledger::CreateTenant, other).status());
  request.clear_evidence();
  request.set_tenant("other");
  EXPECT_THAT(Sync<v1::ConfirmDecisionResponse>(&Ledger::ConfirmDecision, request).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tenant")));
}

TEST_F(ConfirmationTest, ACallersConfirmTimeIsNoProof) {
  v1::RecordDecisionsRequest request = Grant(true);
  *request.mutable_evidence()->mutable_confirm_time() = ToProto(clock_.Now());
  ASSERT_OK_AND_ASSIGN(auto response, Record(request));
  EXPECT_TRUE(response.confirmation_required());
  EXPECT_EQ(response.records(0).state(), v1::PENDING);
  EXPECT_FALSE(response.records(0).evidence().has_confirm_time());
  EXPECT_EQ(CheckAddress().verdict(), v1::DENY);
}

TEST_F(ConfirmationTest, AnImportKeepsItsStateAndPublishesNothing) {
  v1::RecordDecisionsRequest request = Grant(true);
  request.mutable_import()->set_origin("old-crm");
  *request.mutable_import()->mutable_original_effective_time() =
      ToProto(clock_.Now() - absl::Hours(24));
  *request.mutable_evidence()->mutable_confirm_time() = ToProto(clock_.Now() - absl::Hours(23));
  ASSERT_OK_AND_ASSIGN(auto response, Record(request));
  EXPECT_FALSE(response.confirmation_required());
  EXPECT_EQ(response.records(0).state(), v1::GRANTED);
  EXPECT_TRUE(response.records(0).evidence().has_confirm_time());
  EXPECT_THAT(Notices(), SizeIs(0));
  EXPECT_EQ(CheckAddress().verdict(), v1::ALLOW);
}

TEST_F(ConfirmationTest, ResendIsRateLimitedDurably) {
  ASSERT_OK_AND_ASSIGN(auto recorded, Record(Grant(true)));
  v1::ResendConfirmationRequest resend;
  resend.set_tenant("acme");
  *resend.mutable_target() = Grant(true).target();
  resend.set_sequence(recorded.sequence());
  resend.set_actor("signup-service");
  auto send = [&] {
    return Sync<v1::ResendConfirmationResponse>(&Ledger::ResendConfirmation, resend);
  };
  EXPECT_THAT(send().status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("retry in 300 s")));
  for (int n = 1; n <= kMaxResends; ++n) {
    clock_.Advance(kResendInterval);
    if (n == 3) Reopen();  // the count survives a restart
    ASSERT_OK_AND_ASSIGN(auto sent, send());
    EXPECT_THAT(sent.event_id(), ::testing::EndsWith(absl::StrCat("/confirmation/", n)));
    EXPECT_EQ(FromProto(sent.expire_time()), FromProto(recorded.records(0).expire_time()));
    EXPECT_THAT(send().status(), StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("")));
  }
  clock_.Advance(kResendInterval);
  EXPECT_THAT(send().status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("5 times")));
  auto notices = Notices();
  ASSERT_THAT(notices, SizeIs(1 + kMaxResends));
  ASSERT_OK_AND_ASSIGN(auto secret, OpenSecret(notices.back()));
  EXPECT_EQ(secret.contact_point().value(), kNormalized);
  // The resent link confirms.
  ASSERT_OK_AND_ASSIGN(auto confirmed, Confirm(secret.token()));
  EXPECT_EQ(confirmed.records(0).state(), v1::GRANTED);
}

TEST_F(ConfirmationTest, ThePlainAddressIsInNoStoreFile) {
  ASSERT_OK(Record(Grant(true)).status());
  ASSERT_OK(Confirm(TokenOfFirstNotice()).status());
  Close();  // flushes nothing more, but closes every file
  EXPECT_FALSE(std::filesystem::is_empty(dir_.Sub("db")));
  EXPECT_THAT(testing::FilesContaining(dir_.Sub("db"), "Jane.Doe-Confirm"), ::testing::IsEmpty());
  EXPECT_THAT(testing::FilesContaining(dir_.Sub("db"), "jane.doe-confirm"), ::testing::IsEmpty());
  Open();
}

}  // namespace
}  // namespace assent::ledger
