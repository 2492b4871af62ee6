// Subject rights in the ledger over real RocksDB: identifying evidence sealed per target and
// opened on reads, erasure by crypto-shredding (stub, suppressed contact points, closed chain,
// Check denies, no byte of the evidence left in the data directory after a compaction), legal
// holds, subjects recorded again after an erasure, stores written before evidence was sealed,
// master-key rotation, offboarding and re-applied erasures.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/events.pb.h"
#include "cluster/partition.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/events.h"
#include "store/keys.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kIp[] = "203.0.113.77";
constexpr char kUserAgent[] = "Mozilla/5.0 (ErasureTest; Shredded) Gecko/20100101";
constexpr char kAddress[] = "erase.me@example.com";

class ErasureTest : public testing::LedgerFixture {
 protected:
  void Configure(LedgerOptions& options) override {
    if (!sealed_) options.evidence_keyring = nullptr;
    if (keyring_ != nullptr) options.evidence_keyring = keyring_;
  }

  void SetUp() override {
    LedgerFixture::SetUp();
    clock_.Set(absl::FromUnixSeconds(1800000000));
    Catalog();
  }

  void Catalog() {
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
    p->set_notice_version(1);
    ASSERT_OK(Sync<v1::Purpose>(&Ledger::CreatePurpose, request).status());
    // US email marketing is opt-out (CAN-SPAM): without a record, a check allows.
    v1::SetDefaultPolicyRequest policy;
    policy.set_parent("tenants/acme");
    v1::PolicyRule* rule = policy.mutable_policy()->add_rules();
    rule->set_jurisdiction("US");
    rule->set_channel(v1::EMAIL);
    rule->set_mode(v1::OPT_OUT);
    ASSERT_OK(Sync<v1::DefaultPolicy>(&Ledger::SetDefaultPolicy, policy).status());
  }

  // Two subjects sealed under master key m1, then the keyring with m2 appended (the newest).
  void TwoSubjectsThenRotate() {
    keyring_ = std::make_shared<const links::KeyRing>(
        std::vector<links::KeyRing::Key>{{"m1", std::string(32, 'a'), ""}});
    Reopen();
    ASSERT_OK(Record("s-1", v1::GRANTED).status());
    ASSERT_OK(Record("s-2", v1::GRANTED).status());
    keyring_ = std::make_shared<const links::KeyRing>(std::vector<links::KeyRing::Key>{
        {"m1", std::string(32, 'a'), ""}, {"m2", std::string(32, 'b'), ""}});
    Reopen();
  }

  absl::StatusOr<v1::RecordDecisionsResponse> Record(const std::string& subject,
                                                     v1::ConsentState state,
                                                     const std::string& ip = kIp) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web-signup-v3");
    request.set_actor("signup-service");
    request.set_jurisdiction("US");
    request.mutable_evidence()->set_ip_address(ip);
    request.mutable_evidence()->set_user_agent(kUserAgent);
    request.mutable_evidence()->set_reference("form-snapshot-4711");
    auto* d = request.add_decisions();
    d->set_purpose_id("newsletter");
    d->set_channel(v1::EMAIL);
    d->set_state(state);
    return Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, request);
  }

  absl::Status Link(const std::string& subject, const std::string& address) {
    v1::LinkContactPointRequest request;
    request.set_tenant("acme");
    request.set_subject_id(subject);
    request.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    request.mutable_contact_point()->set_value(address);
    request.set_actor("crm");
    request.set_source("crm-sync");
    return Sync<v1::LinkContactPointResponse>(&Ledger::LinkContactPoint, request).status();
  }

  absl::StatusOr<v1::EraseSubjectResponse> Erase(const std::string& subject) {
    v1::EraseSubjectRequest request;
    request.set_tenant("acme");
    request.set_subject_id(subject);
    request.set_actor("privacy-desk");
    request.set_reason("GDPR Art. 17 request 4711");
    return Sync<v1::EraseSubjectResponse>(&Ledger::EraseSubject, request);
  }

  absl::Status Hold(const std::string& subject, bool hold) {
    v1::SetLegalHoldRequest request;
    request.set_tenant("acme");
    request.set_subject_id(subject);
    request.set_hold(hold);
    request.set_reason(hold ? "litigation 2026-17" : "");
    return Sync<v1::SetLegalHoldResponse>(&Ledger::SetLegalHold, request).status();
  }

  v1::CheckResponse Check(v1::Target target) {
    v1::CheckRequest request;
    request.set_tenant("acme");
    *request.mutable_target() = std::move(target);
    request.set_purpose_id("newsletter");
    request.set_channel(v1::EMAIL);
    request.set_jurisdiction("US");
    auto r = ledger_->Check(request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::CheckResponse();
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

  v1::VerifyHistoryResponse Verify(const std::string& subject) {
    v1::VerifyHistoryRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    auto r = ledger_->VerifyHistory(request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::VerifyHistoryResponse();
  }

  std::vector<v1::HistoryRecord> History(const std::string& subject) {
    v1::ListHistoryRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_page_size(1000);
    auto r = ledger_->ListHistory(request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::vector<v1::HistoryRecord>(r->records().begin(), r->records().end())
                  : std::vector<v1::HistoryRecord>();
  }

  // Flushes and fully compacts every column family, so deleted values leave the files.
  void CompactEverything() { ASSERT_OK(store_->CompactAll().status()); }

  // The data directory's files (WAL included) that contain `needle`.
  std::vector<std::string> FilesContaining(std::string_view needle) {
    return testing::FilesContaining(dir_.Sub("db"), needle);
  }

  bool sealed_ = true;
  std::shared_ptr<const links::KeyRing> keyring_;
};

TEST_F(ErasureTest, EvidenceIsSealedInStoreAndEventsAndOpenedOnReads) {
  ASSERT_OK_AND_ASSIGN(auto recorded, Record("s-1", v1::GRANTED));
  // A write's response carries the sealed form only.
  const v1::Evidence& returned = recorded.records(0).evidence();
  EXPECT_TRUE(returned.ip_address().empty());
  EXPECT_TRUE(returned.user_agent().empty());
  EXPECT_TRUE(returned.reference().empty());
  EXPECT_FALSE(returned.sealed().ciphertext().empty());
  // Nothing stored or queued for Kafka holds them in plain text.
  CompactEverything();
  EXPECT_THAT(FilesContaining(kIp), ::testing::IsEmpty());
  EXPECT_THAT(FilesContaining(kUserAgent), ::testing::IsEmpty());
  EXPECT_THAT(FilesContaining("form-snapshot-4711"), ::testing::IsEmpty());
  // Reads that may see evidence open it.
  v1::GetSubjectStateRequest get;
  get.set_tenant("acme");
  get.set_subject_id("s-1");
  ASSERT_OK_AND_ASSIGN(auto state, ledger_->GetSubjectState(get));
  EXPECT_EQ(state.decisions(0).evidence().ip_address(), kIp);
  EXPECT_EQ(state.decisions(0).evidence().user_agent(), kUserAgent);
  EXPECT_EQ(state.decisions(0).evidence().reference(), "form-snapshot-4711");
  EXPECT_FALSE(state.decisions(0).evidence().has_sealed());
  auto history = History("s-1");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].decisions(0).after().evidence().ip_address(), kIp);
  EXPECT_TRUE(Verify("s-1").valid());
}

TEST_F(ErasureTest, EraseShredsEvidenceKeepsProofAndSuppressesAddresses) {
  ASSERT_OK(Link("s-1", kAddress));
  ASSERT_OK(Record("s-1", v1::GRANTED).status());
  // The customer withdrew on the subject only; US email is opt-out by default.
  ASSERT_OK(Record("s-1", v1::WITHDRAWN).status());
  ASSERT_OK_AND_ASSIGN(auto erased, Erase("s-1"));
  EXPECT_FALSE(erased.already_erased());
  const v1::ErasureStub& stub = erased.erasure();
  ASSERT_EQ(stub.decisions_size(), 1);
  EXPECT_EQ(stub.decisions(0).purpose_id(), "newsletter");
  EXPECT_EQ(stub.decisions(0).state(), v1::WITHDRAWN);
  EXPECT_EQ(stub.decisions(0).notice_version(), 1u);
  EXPECT_EQ(stub.decisions(0).source(), "web-signup-v3");
  EXPECT_EQ(stub.suppressed_contacts_size(), 1);
  EXPECT_EQ(stub.reason(), "GDPR Art. 17 request 4711");
  EXPECT_EQ(stub.sequence(), 4u);  // link, grant, withdrawal, erasure

  // The state is gone; the stub answers; the chain verifies and ends with the erasure.
  v1::GetSubjectStateRequest get;
  get.set_tenant("acme");
  get.set_subject_id("s-1");
  EXPECT_THAT(ledger_->GetSubjectState(get),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("subject")));
  v1::GetErasureRequest get_erasure;
  get_erasure.set_tenant("acme");
  get_erasure.set_subject_id("s-1");
  ASSERT_OK_AND_ASSIGN(auto kept, ledger_->GetErasure(get_erasure));
  EXPECT_EQ(kept.chain_head(), stub.chain_head());
  auto verify = Verify("s-1");
  EXPECT_TRUE(verify.valid()) << verify.problem();
  EXPECT_EQ(verify.records_checked(), 4u);
  auto history = History("s-1");
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history.back().kind(), v1::SUBJECT_ERASED);
  // Its sealed evidence can never be opened again.
  EXPECT_TRUE(history[1].decisions(0).after().evidence().shredded());
  EXPECT_TRUE(history[1].decisions(0).after().evidence().ip_address().empty());

  // Never contactable again by default: by subject and by address.
  auto by_subject = Check(Subject("s-1"));
  EXPECT_EQ(by_subject.verdict(), v1::DENY);
  EXPECT_EQ(by_subject.reason(), v1::ERASED);
  auto by_address = Check(Address(kAddress));
  EXPECT_EQ(by_address.verdict(), v1::DENY);
  EXPECT_EQ(by_address.reason(), v1::ADDRESS_SUPPRESSED);
  // A subject never seen is still judged by the default policy.
  EXPECT_EQ(Check(Subject("never-seen")).verdict(), v1::ALLOW);

  // After a full compaction no byte of the data directory, WAL included, holds the evidence.
  CompactEverything();
  EXPECT_THAT(FilesContaining(kIp), ::testing::IsEmpty());
  EXPECT_THAT(FilesContaining(kUserAgent), ::testing::IsEmpty());
  // ... nor the data key: its column family is empty for the tenant.
  auto it = store_->NewIterator(store::Cf::kKeys);
  it->Seek(store::DataKeyPrefix("acme"));
  EXPECT_FALSE(it->Valid() && it->key().starts_with(store::DataKeyPrefix("acme")));

  // Idempotent; unknown subjects are NOT_FOUND.
  ASSERT_OK_AND_ASSIGN(auto again, Erase("s-1"));
  EXPECT_TRUE(again.already_erased());
  EXPECT_EQ(again.erasure().chain_head(), stub.chain_head());
  EXPECT_THAT(Erase("nobody"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("subject")));
}

TEST_F(ErasureTest, ErasureEventsCarryNoStateAndTombstoneTheStateTopic) {
  ASSERT_OK(Record("s-1", v1::GRANTED).status());
  ASSERT_OK(Erase("s-1").status());
  std::vector<storage::v1::OutboxRecord> records;
  auto it = store_->NewIterator(store::Cf::kOutbox);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    storage::v1::OutboxRecord r;
    ASSERT_TRUE(r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
    records.push_back(r);
  }
  ASSERT_GE(records.size(), 2u);
  const auto& change = records[records.size() - 2];
  const auto& tombstone = records.back();
  v1::ConsentChanged event;
  ASSERT_TRUE(event.ParseFromString(change.value()));
  EXPECT_EQ(event.kind(), v1::SUBJECT_ERASED);
  EXPECT_FALSE(event.has_state());
  EXPECT_EQ(tombstone.topic(), storage::v1::TOPIC_STATE);
  EXPECT_TRUE(tombstone.tombstone());
  EXPECT_EQ(tombstone.key(), "acme/s-1");
  for (const auto& r : records) {
    EXPECT_EQ(r.value().find(kIp), std::string::npos);
    EXPECT_EQ(r.value().find(kUserAgent), std::string::npos);
  }
}

TEST_F(ErasureTest, LegalHoldBlocksErasureUntilLifted) {
  ASSERT_OK(Record("s-1", v1::GRANTED).status());
  ASSERT_OK(Hold("s-1", true));
  EXPECT_THAT(Erase("s-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("legal hold")));
  v1::GetSubjectStateRequest get;
  get.set_tenant("acme");
  get.set_subject_id("s-1");
  EXPECT_OK(ledger_->GetSubjectState(get).status());  // nothing changed
  v1::SetLegalHoldRequest no_reason;
  no_reason.set_tenant("acme");
  no_reason.set_subject_id("s-1");
  no_reason.set_hold(true);
  EXPECT_THAT(Sync<v1::SetLegalHoldResponse>(&Ledger::SetLegalHold, no_reason),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  ASSERT_OK(Hold("s-1", false));
  EXPECT_OK(Erase("s-1").status());
}

TEST_F(ErasureTest, SubjectRecordedAgainContinuesItsChain) {
  ASSERT_OK(Record("s-1", v1::GRANTED).status());
  ASSERT_OK(Erase("s-1").status());
  ASSERT_OK_AND_ASSIGN(auto again, Record("s-1", v1::GRANTED, "198.51.100.9"));
  EXPECT_EQ(again.sequence(), 3u);
  EXPECT_EQ(Check(Subject("s-1")).reason(), v1::EXPLICIT_GRANT);
  auto verify = Verify("s-1");
  EXPECT_TRUE(verify.valid()) << verify.problem();
  auto history = History("s-1");
  ASSERT_EQ(history.size(), 3u);
  // The new record's evidence opens under the new key; the erased one stays shredded.
  EXPECT_EQ(history[2].decisions(0).after().evidence().ip_address(), "198.51.100.9");
  EXPECT_TRUE(history[0].decisions(0).after().evidence().shredded());
}

TEST_F(ErasureTest, StoreWrittenBeforeSealingMigratesAndErasureRedactsOldRecords) {
  // Written as the previous format did: evidence in plain text.
  Close();
  sealed_ = false;
  Open();
  ASSERT_OK(Record("old-1", v1::GRANTED).status());
  ASSERT_OK(Record("old-1", v1::WITHDRAWN).status());
  {
    rocksdb::WriteBatch batch;
    storage::v1::FormatInfo info;
    info.set_format_version(2);
    ASSERT_TRUE(batch
                    .Put(store_->Handle(store::Cf::kMeta), std::string(store::kFormatKey),
                         info.SerializeAsString())
                    .ok());
    ASSERT_OK(store_->Write(&batch));
  }
  // Their events were published (the relay deletes what Kafka acknowledged): the topic, not
  // the store, keeps those until its retention.
  {
    rocksdb::WriteBatch published;
    auto it = store_->NewIterator(store::Cf::kOutbox);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ASSERT_TRUE(published.Delete(store_->Handle(store::Cf::kOutbox), it->key()).ok());
    }
    ASSERT_OK(store_->Write(&published));
  }
  Close();
  sealed_ = true;
  clock_.Advance(absl::Minutes(1));
  Open();
  EXPECT_EQ(store_->opened_format_version(), 2u);
  // Old records verify and read as written.
  EXPECT_TRUE(Verify("old-1").valid());
  EXPECT_EQ(History("old-1")[0].decisions(0).after().evidence().ip_address(), kIp);
  // A new record is sealed.
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK(Record("old-1", v1::GRANTED, "198.51.100.20").status());
  // Erasure removes the old records' identifying evidence and keeps their hashes.
  ASSERT_OK(Erase("old-1").status());
  auto verify = Verify("old-1");
  EXPECT_TRUE(verify.valid()) << verify.problem();
  EXPECT_EQ(verify.redacted_records(), 2u);
  EXPECT_EQ(verify.records_checked(), 4u);
  auto history = History("old-1");
  EXPECT_TRUE(history[0].personal_data_redacted());
  EXPECT_TRUE(history[0].decisions(0).after().evidence().ip_address().empty());
  CompactEverything();
  EXPECT_THAT(FilesContaining(kIp), ::testing::IsEmpty());
  EXPECT_THAT(FilesContaining("198.51.100.20"), ::testing::IsEmpty());
}

// Cluster mode: each instance re-wraps the data keys of the partitions it owns; the others are
// left for their owners.
TEST_F(ErasureTest, AFilterLeavesOtherInstancesDataKeysWrappedAsTheyWere) {
  ASSERT_NO_FATAL_FAILURE(TwoSubjectsThenRotate());
  const KeyFilter only_s1 = [](std::string_view key) {
    return key.find("s-1") != std::string_view::npos;
  };
  ASSERT_OK_AND_ASSIGN(auto mine, ledger_->RewrapDataKeys("", 10, only_s1));
  EXPECT_EQ(mine.rewrapped, 1);
  EXPECT_TRUE(mine.cursor.empty());
  ASSERT_OK_AND_ASSIGN(auto again, ledger_->RewrapDataKeys("", 10, only_s1));
  EXPECT_EQ(again.rewrapped, 0);
  ASSERT_OK_AND_ASSIGN(auto rest, ledger_->RewrapDataKeys("", 10));
  EXPECT_EQ(rest.rewrapped, 1);
}

// The rotation of a cluster: the new master key listed staged on every instance opens data keys
// wrapped with it but wraps nothing, so nothing needs re-wrapping until it is made current.
TEST_F(ErasureTest, AStagedMasterKeyOpensButWrapsNothing) {
  keyring_ = std::make_shared<const links::KeyRing>(std::vector<links::KeyRing::Key>{
      {"m1", std::string(32, 'a'), ""}, {"m2", std::string(32, 'b'), "", /*staged=*/true}});
  Reopen();
  ASSERT_OK(Record("s-1", v1::GRANTED).status());
  ASSERT_OK_AND_ASSIGN(auto nothing, ledger_->RewrapDataKeys("", 10));
  EXPECT_EQ(nothing.rewrapped, 0);
  // m2 made current (by another instance, say): it wraps s-2's new key and re-wraps s-1's.
  keyring_ = std::make_shared<const links::KeyRing>(std::vector<links::KeyRing::Key>{
      {"m1", std::string(32, 'a'), ""}, {"m2", std::string(32, 'b'), ""}});
  Reopen();
  ASSERT_OK(Record("s-2", v1::GRANTED).status());
  ASSERT_OK_AND_ASSIGN(auto rewrapped, ledger_->RewrapDataKeys("", 10));
  EXPECT_EQ(rewrapped.rewrapped, 1);
  // An instance that still lists m2 staged opens both, and does not wrap them back with m1.
  keyring_ = std::make_shared<const links::KeyRing>(std::vector<links::KeyRing::Key>{
      {"m1", std::string(32, 'a'), ""}, {"m2", std::string(32, 'b'), "", /*staged=*/true}});
  Reopen();
  ASSERT_OK_AND_ASSIGN(auto back, ledger_->RewrapDataKeys("", 10));
  EXPECT_EQ(back.rewrapped, 0);
  for (const char* subject : {"s-1", "s-2"}) {
    v1::GetSubjectStateRequest get;
    get.set_tenant("acme");
    get.set_subject_id(subject);
    ASSERT_OK_AND_ASSIGN(auto state, ledger_->GetSubjectState(get));
    EXPECT_EQ(state.decisions(0).evidence().ip_address(), kIp) << subject;
  }
}

TEST_F(ErasureTest, MasterKeyRotationRewrapsDataKeys) {
  ASSERT_NO_FATAL_FAILURE(TwoSubjectsThenRotate());
  ASSERT_OK_AND_ASSIGN(auto first, ledger_->RewrapDataKeys("", 1));
  EXPECT_EQ(first.rewrapped, 1);
  EXPECT_FALSE(first.cursor.empty());
  ASSERT_OK_AND_ASSIGN(auto second, ledger_->RewrapDataKeys(first.cursor, 10));
  EXPECT_EQ(second.rewrapped, 1);
  EXPECT_TRUE(second.cursor.empty());
  // The old master key can go: everything still opens with the new one alone.
  keyring_ = std::make_shared<const links::KeyRing>(
      std::vector<links::KeyRing::Key>{{"m2", std::string(32, 'b'), ""}});
  Reopen();
  v1::GetSubjectStateRequest get;
  get.set_tenant("acme");
  get.set_subject_id("s-2");
  ASSERT_OK_AND_ASSIGN(auto state, ledger_->GetSubjectState(get));
  EXPECT_EQ(state.decisions(0).evidence().ip_address(), kIp);
}

TEST_F(ErasureTest, OffboardingErasesEveryUnheldSubjectAndResumes) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(Record(absl::StrCat("t-", i), v1::GRANTED).status());
  ASSERT_OK(Hold("t-3", true));
  v1::OffboardTenantRequest request;
  request.set_tenant("acme");
  request.set_confirm_tenant("acm");
  EXPECT_THAT(Sync<v1::OffboardingStatus>(&Ledger::OffboardTenant, request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("confirm_tenant")));
  request.set_confirm_tenant("acme");
  ASSERT_OK_AND_ASSIGN(auto started, Sync<v1::OffboardingStatus>(&Ledger::OffboardTenant, request));
  EXPECT_EQ(started.state(), v1::OffboardingStatus::RUNNING);
  ASSERT_OK_AND_ASSIGN(auto round, ledger_->RunOffboarding(2));
  EXPECT_EQ(round.erased_subjects.size(), 2u);
  Reopen();  // resumes from its cursor
  for (int rounds = 0; rounds < 10; ++rounds) {
    ASSERT_OK_AND_ASSIGN(auto r, ledger_->RunOffboarding(2));
    if (r.idle) break;
  }
  v1::GetOffboardingRequest get;
  get.set_tenant("acme");
  ASSERT_OK_AND_ASSIGN(auto done, ledger_->GetOffboarding(get));
  EXPECT_EQ(done.state(), v1::OffboardingStatus::DONE);
  EXPECT_EQ(done.subjects_scanned(), 5u);
  EXPECT_EQ(done.subjects_erased(), 4u);
  EXPECT_EQ(done.subjects_held(), 1u);
  EXPECT_EQ(Check(Subject("t-0")).reason(), v1::ERASED);
  EXPECT_NE(Check(Subject("t-3")).reason(), v1::ERASED);
  // The held subject's data key outlives the offboarding's last phase: its evidence stays
  // readable while the hold lasts.
  ASSERT_OK_AND_ASSIGN(auto held_key,
                       store_->Get(store::Cf::kKeys, store::DataKeyKey("acme", "s:t-3")));
  EXPECT_TRUE(held_key.has_value());
  v1::GetSubjectStateRequest state;
  state.set_tenant("acme");
  state.set_subject_id("t-3");
  ASSERT_OK_AND_ASSIGN(auto held_state, ledger_->GetSubjectState(state));
  ASSERT_GT(held_state.decisions_size(), 0);
  EXPECT_FALSE(held_state.decisions(0).evidence().shredded());
}

// Cluster mode: each instance offboards the partitions it owns, step by step, with a cursor and
// counters per partition; the status sums them on any instance and says DONE once every
// partition's walk (subjects, then data keys) is done. The steps' erasures are run here as the
// runner runs them (one EraseSubject each, by Assent on behalf of who asked).
TEST_F(ErasureTest, OffboardingInClusterModeWalksEachOwnedPartition) {
  constexpr int32_t kCount = 4;
  std::set<int32_t> owned = {1, 3};
  auto partition_of = [](std::string_view route) { return cluster::PartitionOf(route, kCount); };
  ledger_->SetPartitions(
      Partitions{kCount, partition_of, [&owned](int32_t p) { return owned.contains(p); },
                 [](int32_t p) { return cluster::PartitionRouteKey(p, kCount); }});
  std::map<std::string, int32_t> partition;
  for (int i = 0; i < 16; ++i) {
    const std::string subject = absl::StrCat("t-", i);
    ASSERT_OK(Record(subject, v1::GRANTED).status());
    partition[subject] = partition_of(absl::StrCat("acme/", subject));
  }
  ASSERT_OK(Hold("t-3", true));
  v1::OffboardTenantRequest request;
  request.set_tenant("acme");
  request.set_confirm_tenant("acme");
  request.set_reason("contract ended");
  ASSERT_OK(
      Sync<v1::OffboardingStatus>(&Ledger::OffboardTenant, request, Caller{"ops@acme"}).status());
  std::set<std::string> erased;
  auto run_until_idle = [&] {
    for (int rounds = 0; rounds < 200; ++rounds) {
      absl::StatusOr<std::optional<OffboardStep>> step = ledger_->NextOffboardStep(2);
      ASSERT_OK(step.status());
      if (!step->has_value()) return;
      const OffboardStep& s = **step;
      EXPECT_TRUE(owned.contains(s.partition));
      EXPECT_LE(s.subjects.size(), 2u);
      EXPECT_EQ(s.actor, "ops@acme");
      uint64_t now_erased = 0, held = 0;
      for (const std::string& subject : s.subjects) {
        EXPECT_EQ(partition[subject], s.partition) << subject;
        v1::EraseSubjectRequest erase;
        erase.set_tenant(s.tenant);
        erase.set_subject_id(subject);
        erase.set_actor(s.actor);
        auto result =
            Sync<v1::EraseSubjectResponse>(&Ledger::EraseSubject, erase, Caller{"assent"});
        if (absl::IsFailedPrecondition(result.status())) {
          ++held;
        } else {
          ASSERT_OK(result.status());
          if (!result->already_erased()) {
            ++now_erased;
            EXPECT_TRUE(erased.insert(subject).second) << subject << " erased twice";
          }
        }
      }
      ASSERT_OK(ledger_->FinishOffboardStep(s, now_erased, held));
    }
    ADD_FAILURE() << "offboarding did not finish";
  };
  v1::GetOffboardingRequest get;
  get.set_tenant("acme");

  ASSERT_NO_FATAL_FAILURE(run_until_idle());
  uint64_t in_owned = 0;
  for (const auto& [subject, p] : partition) {
    if (owned.contains(p)) {
      ++in_owned;
      if (subject != "t-3") {
        EXPECT_TRUE(erased.contains(subject)) << subject;
      }
    } else {
      EXPECT_NE(Check(Subject(subject)).reason(), v1::ERASED) << subject << " is not owned here";
    }
  }
  ASSERT_GT(in_owned, 0u);
  ASSERT_LT(in_owned, partition.size());
  ASSERT_OK_AND_ASSIGN(auto partial, ledger_->GetOffboarding(get));
  EXPECT_EQ(partial.state(), v1::OffboardingStatus::RUNNING);
  EXPECT_EQ(partial.subjects_scanned(), in_owned);

  owned = {0, 1, 2, 3};  // the other partitions move here
  ASSERT_NO_FATAL_FAILURE(run_until_idle());
  ASSERT_OK_AND_ASSIGN(auto done, ledger_->GetOffboarding(get));
  EXPECT_EQ(done.state(), v1::OffboardingStatus::DONE);
  EXPECT_EQ(done.subjects_scanned(), 16u);
  EXPECT_EQ(done.subjects_erased(), 15u);
  EXPECT_EQ(done.subjects_held(), 1u);
  EXPECT_EQ(done.actor(), "ops@acme");
  EXPECT_TRUE(done.has_finish_time());
  EXPECT_EQ(erased.size(), 15u);
  EXPECT_EQ(Check(Subject("t-0")).reason(), v1::ERASED);
  EXPECT_NE(Check(Subject("t-3")).reason(), v1::ERASED);
  // The data keys of the erased subjects are gone, the held subject's is kept (its evidence stays
  // readable while the hold lasts); a finished offboarding has no step.
  ASSERT_OK_AND_ASSIGN(auto held_key,
                       store_->Get(store::Cf::kKeys, store::DataKeyKey("acme", "s:t-3")));
  EXPECT_TRUE(held_key.has_value());
  ASSERT_OK_AND_ASSIGN(auto erased_key,
                       store_->Get(store::Cf::kKeys, store::DataKeyKey("acme", "s:t-0")));
  EXPECT_FALSE(erased_key.has_value());
  ASSERT_OK_AND_ASSIGN(auto idle, ledger_->NextOffboardStep(2));
  EXPECT_FALSE(idle.has_value());
  // Started again: its summed progress.
  ASSERT_OK_AND_ASSIGN(auto again, Sync<v1::OffboardingStatus>(&Ledger::OffboardTenant, request));
  EXPECT_EQ(again.state(), v1::OffboardingStatus::DONE);
  EXPECT_EQ(again.subjects_erased(), 15u);
}

TEST_F(ErasureTest, ReapplyErasureErasesARestoredSubjectOnce) {
  ASSERT_OK(Record("s-1", v1::GRANTED).status());
  ASSERT_OK(Hold("s-1", true));
  // A restored store still holds the subject (and its old hold): the log's erasure wins.
  ASSERT_OK_AND_ASSIGN(bool erased, ledger_->ReapplyErasure("acme", "s-1", "assent/erasure-log"));
  EXPECT_TRUE(erased);
  ASSERT_OK_AND_ASSIGN(bool again, ledger_->ReapplyErasure("acme", "s-1", "assent/erasure-log"));
  EXPECT_FALSE(again);
  ASSERT_OK_AND_ASSIGN(bool unknown, ledger_->ReapplyErasure("acme", "nobody", "x"));
  EXPECT_FALSE(unknown);
  EXPECT_EQ(Check(Subject("s-1")).reason(), v1::ERASED);
}

}  // namespace
}  // namespace assent::ledger
