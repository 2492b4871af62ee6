// Retention over real RocksDB in a temporary directory, with the fake clock: history kept after a
// target's last activity for its tenant's period and then removed by compaction, erasure stubs
// likewise, the current state never; VerifyHistory tells removed by retention from broken; and
// Store::CompactAll leaves no byte of a deleted value in the data directory, WAL included.
#include <filesystem>
#include <fstream>
#include <iterator>

#include "assent/v1/rights.pb.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/history.h"
#include "rocksdb/write_batch.h"
#include "store/keys.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::Duration kDay = absl::Hours(24);

class RetentionTest : public testing::LedgerFixture {
 protected:
  void ConfigureStore(store::StoreOptions& options) override {
    options.retention.history = 365 * kDay;
    options.retention.erasure_stubs = 730 * kDay;
    options.retention.tenants["beta"].history = 30 * kDay;
    options.retention.tenants["gamma"].erasure_stubs = 10 * kDay;
  }

  void SetUp() override {
    LedgerFixture::SetUp();
    for (const char* tenant : {"acme", "beta"}) {
      v1::CreateTenantRequest create;
      create.mutable_tenant()->set_tenant_id(tenant);
      create.mutable_tenant()->set_display_name(tenant);
      ASSERT_OK(Sync<v1::Tenant>(&Ledger::CreateTenant, create).status());
      v1::CreatePurposeRequest purpose;
      purpose.set_parent(absl::StrCat("tenants/", tenant));
      v1::Purpose* p = purpose.mutable_purpose();
      p->set_purpose_id("marketing.newsletter");
      p->set_display_name("Newsletter");
      p->set_kind(v1::MARKETING);
      p->set_legal_basis(v1::CONSENT);
      p->add_channels(v1::EMAIL);
      p->set_notice_version(1);
      ASSERT_OK(Sync<v1::Purpose>(&Ledger::CreatePurpose, purpose).status());
    }
  }

  void Record(const std::string& tenant, const std::string& subject, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant(tenant);
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web-signup-v3");
    request.set_actor("signup-service");
    auto* d = request.add_decisions();
    d->set_purpose_id("marketing.newsletter");
    d->set_state(state);
    ASSERT_OK(Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, request).status());
  }

  // The sequences of the subject's history records present in the store.
  std::vector<uint64_t> Sequences(const std::string& tenant, const std::string& subject) {
    std::vector<uint64_t> out;
    const std::string prefix = store::HistoryPrefix(tenant, store::SubjectEntity(subject));
    auto it = store_->NewIterator(store::Cf::kHistory);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      out.push_back(
          *store::HistoryKeySequence(std::string_view(it->key().data(), it->key().size())));
    }
    return out;
  }

  void Compact() { ASSERT_OK(store_->CompactAll().status()); }

  absl::StatusOr<v1::VerifyHistoryResponse> Verify(const std::string& tenant,
                                                   const std::string& subject) {
    v1::VerifyHistoryRequest request;
    request.set_tenant(tenant);
    request.mutable_target()->set_subject_id(subject);
    return ledger_->VerifyHistory(request);
  }

  // What an erasure leaves (the lead's EraseSubject writes the same): no state, a stub.
  void WriteStub(const std::string& tenant, const std::string& subject, uint64_t sequence,
                 bool delete_state) {
    v1::ErasureStub stub;
    stub.set_tenant(tenant);
    stub.set_subject_id(subject);
    *stub.mutable_erase_time() = ToProto(clock_.Now());
    stub.set_sequence(sequence);
    rocksdb::WriteBatch batch;
    if (delete_state) {
      batch.Delete(store_->Handle(store::Cf::kSubjects), store::SubjectKey(tenant, subject));
    }
    batch.Put(store_->Handle(store::Cf::kRights), store::ErasureStubKey(tenant, subject),
              stub.SerializeAsString());
    ASSERT_OK(store_->Write(&batch));
  }

  bool HasStub(const std::string& tenant, const std::string& subject) {
    auto got = store_->Get(store::Cf::kRights, store::ErasureStubKey(tenant, subject));
    EXPECT_OK(got.status());
    return got.ok() && got->has_value();
  }
};

TEST_F(RetentionTest, AnErasedSubjectsHistoryIsKeptForItsRetentionThenRemoved) {
  Record("acme", "alice", v1::GRANTED);
  Record("acme", "alice", v1::WITHDRAWN);
  Record("acme", "alice", v1::GRANTED);
  WriteStub("acme", "alice", 3, /*delete_state=*/true);
  Compact();
  EXPECT_THAT(Sequences("acme", "alice"), ElementsAre(1, 2, 3));

  clock_.Advance(364 * kDay);
  Compact();
  EXPECT_THAT(Sequences("acme", "alice"), ElementsAre(1, 2, 3));

  clock_.Advance(2 * kDay);
  Compact();
  EXPECT_THAT(Sequences("acme", "alice"), IsEmpty());
  // The stub has its own, longer retention.
  EXPECT_TRUE(HasStub("acme", "alice"));
}

TEST_F(RetentionTest, AnActiveSubjectsHistoryIsKept) {
  Record("acme", "bob", v1::GRANTED);
  Record("acme", "bob", v1::WITHDRAWN);
  clock_.Advance(364 * kDay);
  Compact();
  EXPECT_THAT(Sequences("acme", "bob"), ElementsAre(1, 2));
  ASSERT_OK_AND_ASSIGN(auto verified, Verify("acme", "bob"));
  EXPECT_TRUE(verified.valid()) << verified.problem();
  EXPECT_EQ(verified.pruned_through_sequence(), 0u);
  EXPECT_EQ(verified.records_checked(), 2u);
}

TEST_F(RetentionTest, PastRetentionTheStateAndLastRecordStayAndVerifyReportsPruned) {
  Record("acme", "carol", v1::GRANTED);
  Record("acme", "carol", v1::GRANTED);
  Record("acme", "carol", v1::WITHDRAWN);
  clock_.Advance(366 * kDay);
  Compact();
  EXPECT_THAT(Sequences("acme", "carol"), ElementsAre(3));

  // The withdrawal is still in force: the state is never removed.
  v1::CheckRequest check;
  check.set_tenant("acme");
  check.mutable_target()->set_subject_id("carol");
  check.set_purpose_id("marketing.newsletter");
  check.set_channel(v1::EMAIL);
  ASSERT_OK_AND_ASSIGN(auto verdict, ledger_->Check(check));
  EXPECT_EQ(verdict.verdict(), v1::DENY);
  EXPECT_EQ(verdict.reason(), v1::EXPLICIT_DENY);

  ASSERT_OK_AND_ASSIGN(auto verified, Verify("acme", "carol"));
  EXPECT_TRUE(verified.valid()) << verified.problem();
  EXPECT_EQ(verified.pruned_through_sequence(), 2u);
  EXPECT_EQ(verified.records_checked(), 1u);
}

TEST_F(RetentionTest, ASubjectActiveAgainBeforeCompactionKeepsItsRecords) {
  Record("acme", "dave", v1::GRANTED);
  Record("acme", "dave", v1::WITHDRAWN);
  clock_.Advance(366 * kDay);
  Record("acme", "dave", v1::GRANTED);
  Compact();
  EXPECT_THAT(Sequences("acme", "dave"), ElementsAre(1, 2, 3));
  ASSERT_OK_AND_ASSIGN(auto verified, Verify("acme", "dave"));
  EXPECT_TRUE(verified.valid()) << verified.problem();
  EXPECT_EQ(verified.pruned_through_sequence(), 0u);
}

TEST_F(RetentionTest, ASubjectActiveAgainAfterPruningStillVerifies) {
  Record("acme", "erin", v1::GRANTED);
  Record("acme", "erin", v1::GRANTED);
  Record("acme", "erin", v1::WITHDRAWN);
  clock_.Advance(366 * kDay);
  Compact();
  clock_.Advance(kDay);
  Record("acme", "erin", v1::GRANTED);
  Compact();
  EXPECT_THAT(Sequences("acme", "erin"), ElementsAre(3, 4));
  ASSERT_OK_AND_ASSIGN(auto verified, Verify("acme", "erin"));
  EXPECT_TRUE(verified.valid()) << verified.problem();
  EXPECT_EQ(verified.pruned_through_sequence(), 2u);
  EXPECT_EQ(verified.records_checked(), 2u);
}

TEST_F(RetentionTest, MissingRecordsThatRetentionDoesNotExplainAreBroken) {
  Record("acme", "frank", v1::GRANTED);
  Record("acme", "frank", v1::WITHDRAWN);
  Record("acme", "frank", v1::GRANTED);
  rocksdb::WriteBatch batch;
  batch.Delete(store_->Handle(store::Cf::kHistory),
               store::HistoryKey("acme", store::SubjectEntity("frank"), 1));
  ASSERT_OK(store_->Write(&batch));
  // A recent subject: the missing start is tampering, not retention.
  ASSERT_OK_AND_ASSIGN(auto recent, Verify("acme", "frank"));
  EXPECT_FALSE(recent.valid());
  EXPECT_EQ(recent.first_broken_sequence(), 1u);
  EXPECT_EQ(recent.pruned_through_sequence(), 0u);

  // A gap in the middle is broken even past retention.
  Record("acme", "gina", v1::GRANTED);
  Record("acme", "gina", v1::WITHDRAWN);
  Record("acme", "gina", v1::GRANTED);
  rocksdb::WriteBatch middle;
  middle.Delete(store_->Handle(store::Cf::kHistory),
                store::HistoryKey("acme", store::SubjectEntity("gina"), 2));
  ASSERT_OK(store_->Write(&middle));
  clock_.Advance(366 * kDay);
  ASSERT_OK_AND_ASSIGN(auto gap, Verify("acme", "gina"));
  EXPECT_FALSE(gap.valid());
  EXPECT_EQ(gap.first_broken_sequence(), 2u);
}

TEST_F(RetentionTest, ATenantsOverrideAppliesToItsTargetsOnly) {
  Record("acme", "hal", v1::GRANTED);
  Record("acme", "hal", v1::WITHDRAWN);
  Record("beta", "hal", v1::GRANTED);
  Record("beta", "hal", v1::WITHDRAWN);
  clock_.Advance(29 * kDay);
  Compact();
  EXPECT_THAT(Sequences("beta", "hal"), ElementsAre(1, 2));
  clock_.Advance(2 * kDay);
  Compact();
  EXPECT_THAT(Sequences("beta", "hal"), ElementsAre(2));
  EXPECT_THAT(Sequences("acme", "hal"), ElementsAre(1, 2));
}

TEST_F(RetentionTest, ErasureStubsAreRemovedAfterTheirRetentionAndOtherRightsStay) {
  WriteStub("acme", "ida", 1, /*delete_state=*/false);
  WriteStub("gamma", "ida", 1, /*delete_state=*/false);
  v1::LegalHold hold;
  hold.set_reason("case 7");
  *hold.mutable_set_time() = ToProto(clock_.Now());
  rocksdb::WriteBatch batch;
  batch.Put(store_->Handle(store::Cf::kRights), store::LegalHoldKey("acme", "jay"),
            hold.SerializeAsString());
  ASSERT_OK(store_->Write(&batch));

  clock_.Advance(11 * kDay);
  Compact();
  EXPECT_FALSE(HasStub("gamma", "ida"));  // the tenant's override: 10 days
  EXPECT_TRUE(HasStub("acme", "ida"));

  clock_.Advance(718 * kDay);  // 729 days after the erasure
  Compact();
  EXPECT_TRUE(HasStub("acme", "ida"));
  clock_.Advance(2 * kDay);
  Compact();
  EXPECT_FALSE(HasStub("acme", "ida"));
  ASSERT_OK_AND_ASSIGN(auto held,
                       store_->Get(store::Cf::kRights, store::LegalHoldKey("acme", "jay")));
  EXPECT_TRUE(held.has_value());
}

TEST_F(RetentionTest, AContactPointsHistoryFollowsItsStateAndItsSuppressionStays) {
  v1::SuppressContactPointRequest suppress;
  suppress.set_tenant("acme");
  suppress.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  suppress.mutable_contact_point()->set_value("pat@example.com");
  suppress.set_channel(v1::EMAIL);
  suppress.set_kind(v1::Suppression::UNSUBSCRIBED);
  suppress.set_actor("esp-webhook");
  suppress.set_source("email-one-click");
  ASSERT_OK_AND_ASSIGN(
      auto first, Sync<v1::SuppressContactPointResponse>(&Ledger::SuppressContactPoint, suppress));
  suppress.set_lift(true);
  ASSERT_OK(
      Sync<v1::SuppressContactPointResponse>(&Ledger::SuppressContactPoint, suppress).status());
  suppress.set_lift(false);
  ASSERT_OK(
      Sync<v1::SuppressContactPointResponse>(&Ledger::SuppressContactPoint, suppress).status());
  const std::string entity = store::ContactEntity(first.contact());
  auto sequences = [&] {
    std::vector<uint64_t> out;
    const std::string prefix = store::HistoryPrefix("acme", entity);
    auto it = store_->NewIterator(store::Cf::kHistory);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      out.push_back(
          *store::HistoryKeySequence(std::string_view(it->key().data(), it->key().size())));
    }
    return out;
  };
  clock_.Advance(364 * kDay);
  Compact();
  EXPECT_THAT(sequences(), ElementsAre(1, 2, 3));
  clock_.Advance(2 * kDay);
  Compact();
  EXPECT_THAT(sequences(), ElementsAre(3));
  // The suppression is in the state, which retention never removes.
  v1::GetContactPointStateRequest get;
  get.set_tenant("acme");
  get.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  get.mutable_contact_point()->set_value("pat@example.com");
  ASSERT_OK_AND_ASSIGN(v1::ContactPointState state, ledger_->GetContactPointState(get));
  EXPECT_EQ(state.sequence(), 3u);
  EXPECT_GT(state.suppressions_size(), 0);
}

TEST_F(RetentionTest, OrphanHistoryIsRemoved) {
  rocksdb::WriteBatch batch;
  batch.Put(store_->Handle(store::Cf::kHistory),
            store::HistoryKey("acme", store::SubjectEntity("ghost"), 1), "x");
  batch.Put(store_->Handle(store::Cf::kHistory),
            store::HistoryKey("acme", store::SubjectEntity("ghost"), 2), "y");
  ASSERT_OK(store_->Write(&batch));
  Record("acme", "kim", v1::GRANTED);
  Compact();
  EXPECT_THAT(Sequences("acme", "ghost"), IsEmpty());
  EXPECT_THAT(Sequences("acme", "kim"), ElementsAre(1));
}

// Every file under `dir` whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, std::string_view needle) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) out.push_back(entry.path().string());
  }
  return out;
}

TEST_F(RetentionTest, CompactAllLeavesNoByteOfADeletedValueInTheDataDirectory) {
  // One value that reached an SST, one that is only in the WAL and a memtable.
  const std::string in_sst = "ip=203.0.113.77 ua=RetentionTestAgent/1.0";
  const std::string in_wal = "ip=198.51.100.23 ua=RetentionTestAgent/2.0";
  rocksdb::WriteBatch first;
  first.Put(store_->Handle(store::Cf::kProof), "k1", in_sst);
  ASSERT_OK(store_->Write(&first));
  rocksdb::FlushOptions flush;
  ASSERT_TRUE(store_->db()->Flush(flush, store_->Handle(store::Cf::kProof)).ok());
  rocksdb::WriteBatch second;
  second.Put(store_->Handle(store::Cf::kProof), "k2", in_wal);
  ASSERT_OK(store_->Write(&second));
  const std::string dir = dir_.Sub("db");
  ASSERT_THAT(FilesContaining(dir, "203.0.113.77"), Not(IsEmpty()));
  ASSERT_THAT(FilesContaining(dir, "198.51.100.23"), Not(IsEmpty()));

  rocksdb::WriteBatch erase;
  erase.Delete(store_->Handle(store::Cf::kProof), "k1");
  erase.Delete(store_->Handle(store::Cf::kProof), "k2");
  ASSERT_OK(store_->Write(&erase));
  ASSERT_OK_AND_ASSIGN(store::CompactionReport report, store_->CompactAll());

  EXPECT_THAT(FilesContaining(dir, "203.0.113.77"), IsEmpty());
  EXPECT_THAT(FilesContaining(dir, "198.51.100.23"), IsEmpty());
  ASSERT_EQ(report.families.size(), static_cast<size_t>(store::kCfCount));
  EXPECT_EQ(report.families[static_cast<int>(store::Cf::kProof)].name, "proof");
  EXPECT_GT(report.families[static_cast<int>(store::Cf::kProof)].sst_bytes_before, 0u);
  EXPECT_GT(report.wal_bytes_before, 0u);
  // Other data survives, and the store still reopens.
  Record("acme", "lee", v1::GRANTED);
  Reopen();
  EXPECT_THAT(Sequences("acme", "lee"), ElementsAre(1));
}

}  // namespace
}  // namespace assent::ledger
