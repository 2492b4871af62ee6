// Proof of enforcement's bookkeeping in consentd (consentd/proof.h) over a real RocksDB: what
// counts as a withdrawal, the entry and pending index the relay's delivery reports write, that
// they survive a restart, that a re-sent record keeps its first entry, and reading them back.
#include "common/time_util.h"
#include "consentd/proof.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/keys.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace assent::consentd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

v1::ConsentChanged Change(const std::string& subject, uint64_t sequence, v1::ConsentState after) {
  v1::ConsentChanged c;
  c.set_tenant("acme");
  c.mutable_target()->set_subject_id(subject);
  c.set_sequence(sequence);
  c.set_kind(v1::DECISIONS_RECORDED);
  *c.mutable_recorded_time() = ToProto(absl::FromUnixSeconds(1000 + sequence));
  v1::DecisionChange* d = c.add_decisions();
  d->mutable_after()->set_purpose_id("marketing.newsletter");
  d->mutable_after()->set_channel(v1::EMAIL);
  d->mutable_after()->set_state(after);
  return c;
}

TEST(WithdrawalOfTest, DenialsWithdrawalsAndAddedSuppressionsAreWithdrawals) {
  EXPECT_FALSE(WithdrawalOf(Change("s", 1, v1::GRANTED)).has_value());
  EXPECT_FALSE(WithdrawalOf(Change("s", 1, v1::PENDING)).has_value());

  v1::ConsentChanged c = Change("s", 2, v1::WITHDRAWN);
  *c.mutable_decisions(0)->mutable_after()->mutable_honour_by() = ToProto(absl::FromUnixSeconds(9));
  v1::DecisionChange* other = c.add_decisions();
  other->mutable_after()->set_purpose_id("marketing.sms");
  other->mutable_after()->set_topic("deals");
  other->mutable_after()->set_state(v1::DENIED);
  *other->mutable_after()->mutable_honour_by() = ToProto(absl::FromUnixSeconds(5));
  c.add_decisions()->mutable_after()->set_state(v1::GRANTED);
  std::optional<v1::WithdrawalProof> w = WithdrawalOf(c);
  ASSERT_TRUE(w.has_value());
  EXPECT_THAT(w->withdrawn(),
              ElementsAre("marketing.newsletter/EMAIL WITHDRAWN", "marketing.sms/deals DENIED"));
  EXPECT_EQ(FromProto(w->honour_by()), absl::FromUnixSeconds(5));  // the earliest
  EXPECT_EQ(w->sequence(), 2u);
  EXPECT_EQ(w->target().subject_id(), "s");

  v1::ConsentChanged suppressed;
  suppressed.set_tenant("acme");
  suppressed.mutable_target()->mutable_contact()->set_type(v1::CONTACT_EMAIL);
  suppressed.mutable_target()->mutable_contact()->set_hash("ab");
  suppressed.set_sequence(3);
  suppressed.set_kind(v1::SUPPRESSION_ADDED);
  v1::Suppression* old = suppressed.mutable_state()->mutable_contact()->add_suppressions();
  old->set_channel(v1::SMS);
  old->set_sequence(1);
  v1::Suppression* added = suppressed.mutable_state()->mutable_contact()->add_suppressions();
  added->set_channel(v1::EMAIL);
  added->set_kind(v1::Suppression::UNSUBSCRIBED);
  added->set_sequence(3);
  w = WithdrawalOf(suppressed);
  ASSERT_TRUE(w.has_value());
  EXPECT_THAT(w->withdrawn(), ElementsAre("suppression EMAIL UNSUBSCRIBED"));
  EXPECT_FALSE(w->has_honour_by());

  suppressed.set_kind(v1::SUPPRESSION_LIFTED);
  EXPECT_FALSE(WithdrawalOf(suppressed).has_value());
}

TEST(WithdrawalOfTest, AnImportedWithdrawalIsTrackedWithoutItsPastDeadline) {
  v1::ConsentChanged c = Change("s", 1, v1::WITHDRAWN);
  v1::ConsentRecord* after = c.mutable_decisions(0)->mutable_after();
  *after->mutable_honour_by() = ToProto(absl::FromUnixSeconds(9));
  after->set_imported(true);
  after->set_import_origin("crm");
  std::optional<v1::WithdrawalProof> w = WithdrawalOf(c);
  ASSERT_TRUE(w.has_value());
  EXPECT_THAT(w->withdrawn(), ElementsAre("marketing.newsletter/EMAIL WITHDRAWN"));
  EXPECT_FALSE(w->has_honour_by());
}

class ProofRecordTest : public ::testing::Test {
 protected:
  void Open() {
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    auto store = store::Store::Open(options, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    ProofOptions proof_options;
    proof_options.auditor.senders = {"email", "sms"};
    proof_options.brokers = "127.0.0.1:1";  // nothing listens: no reports, only bookkeeping
    auto proof = EnforcementProof::Start(proof_options, *store_, clock_, registry_);
    ASSERT_TRUE(proof.ok()) << proof.status();
    proof_ = *std::move(proof);
  }
  void Close() {
    proof_.reset();
    store_.reset();
  }
  static events::DeliveredChange Delivered(const v1::ConsentChanged& c, int64_t offset) {
    return {c.SerializeAsString(), 2, offset};
  }
  v1::GetEnforcementProofResponse Read(const std::string& subject, int page_size = 0,
                                       const std::string& token = "") {
    v1::TargetRef target;
    target.set_subject_id(subject);
    auto r = ReadEnforcementProof(*store_, "acme", target, page_size, token, {"email", "sms"});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::GetEnforcementProofResponse();
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<EnforcementProof> proof_;
};

TEST_F(ProofRecordTest, DeliveredWithdrawalsAreRecordedAndSurviveARestart) {
  Open();
  ASSERT_FALSE(HasFatalFailure());
  proof_->OnDelivered(
      {Delivered(Change("s", 1, v1::GRANTED), 10), Delivered(Change("s", 2, v1::WITHDRAWN), 11)});
  EXPECT_EQ(proof_->pending(), 1u);
  // The relay re-sends after a crash: the entry keeps its first publication.
  proof_->OnDelivered({Delivered(Change("s", 2, v1::WITHDRAWN), 40)});
  EXPECT_EQ(proof_->pending(), 1u);
  Close();

  Open();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(proof_->pending(), 1u);
  v1::GetEnforcementProofResponse r = Read("s");
  EXPECT_THAT(r.senders(), ElementsAre("email", "sms"));
  ASSERT_EQ(r.withdrawals_size(), 1);
  const v1::WithdrawalProof& w = r.withdrawals(0);
  EXPECT_EQ(w.sequence(), 2u);
  EXPECT_EQ(w.partition(), 2);
  EXPECT_EQ(w.offset(), 11);
  ASSERT_EQ(w.senders_size(), 2);
  EXPECT_FALSE(w.senders(0).has_applied_time());
  EXPECT_FALSE(w.senders(1).has_applied_time());
  EXPECT_EQ(FromProto(w.recorded_time()), absl::FromUnixSeconds(1002));
  // The pending index names the entry.
  auto index = store_->Get(store::Cf::kProof, store::ProofPendingKey(2, 11));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->value_or(""), store::ProofKey("acme", "s:s", 2));
}

TEST_F(ProofRecordTest, ReadsNewestFirstInPages) {
  Open();
  ASSERT_FALSE(HasFatalFailure());
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    proof_->OnDelivered({Delivered(Change("s", seq, v1::DENIED), static_cast<int64_t>(seq))});
  }
  proof_->OnDelivered({Delivered(Change("other", 1, v1::DENIED), 99)});
  v1::GetEnforcementProofResponse page = Read("s", 2);
  ASSERT_EQ(page.withdrawals_size(), 2);
  EXPECT_EQ(page.withdrawals(0).sequence(), 5u);
  EXPECT_EQ(page.withdrawals(1).sequence(), 4u);
  ASSERT_FALSE(page.next_page_token().empty());
  page = Read("s", 2, page.next_page_token());
  ASSERT_EQ(page.withdrawals_size(), 2);
  EXPECT_EQ(page.withdrawals(0).sequence(), 3u);
  page = Read("s", 2, page.next_page_token());
  ASSERT_EQ(page.withdrawals_size(), 1);
  EXPECT_EQ(page.withdrawals(0).sequence(), 1u);
  EXPECT_TRUE(page.next_page_token().empty());
  EXPECT_THAT(Read("nobody").withdrawals(), IsEmpty());
}

}  // namespace
}  // namespace assent::consentd
