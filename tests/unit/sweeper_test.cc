// Time-driven changes over a real store with a fake clock: the due index written with each
// grant, reminders and expiry by the sweeper (once each, stable ids), entries made stale by newer
// decisions, PENDING decisions whose window closes, and the backfill of a store written before the
// due index existed.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/events.pb.h"
#include "assent/v1/lifecycle.pb.h"
#include "cluster/partition.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/due.h"
#include "ledger/route.h"
#include "rocksdb/write_batch.h"
#include "store/keys.h"
#include "testing/ledger_fixture.h"
#include "testing/status_matchers.h"

namespace assent::ledger {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

struct Published {
  std::string type;
  std::string key;
  std::string value;
};

class SweeperTest : public testing::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    ASSERT_OK(Sync<v1::Tenant>(&Ledger::CreateTenant, tenant).status());
    // Reminds 2 s before a grant's expiry.
    ASSERT_OK(CreatePurpose("news", absl::Seconds(2)).status());
    ASSERT_OK(CreatePurpose("offers", absl::ZeroDuration()).status());
  }

  absl::StatusOr<v1::Purpose> CreatePurpose(const std::string& id, absl::Duration remind_before) {
    v1::CreatePurposeRequest request;
    request.set_parent("tenants/acme");
    v1::Purpose* p = request.mutable_purpose();
    p->set_purpose_id(id);
    p->set_display_name(id);
    p->set_kind(v1::MARKETING);
    p->set_legal_basis(v1::CONSENT);
    p->add_channels(v1::EMAIL);
    p->set_notice_version(1);
    if (remind_before > absl::ZeroDuration()) {
      *p->mutable_remind_before() = ToProtoDuration(remind_before);
    }
    return Sync<v1::Purpose>(&Ledger::CreatePurpose, request);
  }

  // A decision on `purpose` for `subject`, expiring `ttl` from now when ttl > 0.
  absl::StatusOr<v1::RecordDecisionsResponse> Record(const std::string& subject,
                                                     v1::ConsentState state, absl::Duration ttl,
                                                     const std::string& purpose = "news") {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web-signup");
    request.set_actor("signup-service");
    auto* d = request.add_decisions();
    d->set_purpose_id(purpose);
    d->set_state(state);
    if (ttl > absl::ZeroDuration()) *d->mutable_expire_time() = ToProto(clock_.Now() + ttl);
    return Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, request);
  }

  v1::CheckResponse Check(const std::string& subject) {
    v1::CheckRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_purpose_id("news");
    request.set_channel(v1::EMAIL);
    auto response = ledger_->Check(request);
    EXPECT_OK(response.status());
    return response.ok() ? *response : v1::CheckResponse();
  }

  // Every outbox record, oldest first, with its message type.
  std::vector<Published> Outbox() {
    std::vector<Published> out;
    auto it = store_->NewIterator(store::Cf::kOutbox);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      storage::v1::OutboxRecord r;
      EXPECT_TRUE(r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
      std::string type;
      for (const auto& h : r.headers()) {
        if (h.key() == "message-type") type = h.value();
      }
      out.push_back({type, r.key(), r.value()});
    }
    return out;
  }
  std::vector<std::string> ExpiringIds() {
    std::vector<std::string> ids;
    for (const Published& p : Outbox()) {
      if (p.type != "assent.v1.ConsentExpiring") continue;
      v1::ConsentExpiring notice;
      EXPECT_TRUE(notice.ParseFromString(p.value));
      ids.push_back(notice.event_id());
    }
    return ids;
  }
  std::vector<v1::ConsentChanged> Changes(v1::ChangeKind kind) {
    std::vector<v1::ConsentChanged> out;
    for (const Published& p : Outbox()) {
      if (p.type != "assent.v1.ConsentChanged") continue;
      v1::ConsentChanged change;
      EXPECT_TRUE(change.ParseFromString(p.value));
      if (change.kind() == kind) out.push_back(change);
    }
    return out;
  }
  int DueEntries() {
    int n = 0;
    auto it = store_->NewIterator(store::Cf::kDue);
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  }
  SweepStats Sweep() {
    auto stats = ledger_->SweepDue(clock_.Now(), 1000);
    EXPECT_OK(stats.status());
    return stats.ok() ? *stats : SweepStats();
  }
};

TEST_F(SweeperTest, AGrantIsRemindedOnceAndThenExpiresOnce) {
  ASSERT_OK_AND_ASSIGN(auto granted, Record("s1", v1::GRANTED, absl::Seconds(3)));
  // The expiry and the reminder, written with the grant.
  EXPECT_EQ(DueEntries(), 2);

  clock_.Advance(absl::Milliseconds(500));
  SweepStats stats = Sweep();
  EXPECT_EQ(stats.reminders + stats.expired, 0);
  EXPECT_THAT(ExpiringIds(), IsEmpty());

  clock_.Advance(absl::Milliseconds(700));  // 1.2 s: inside the 2 s reminder window
  stats = Sweep();
  EXPECT_EQ(stats.reminders, 1);
  EXPECT_THAT(ExpiringIds(), ElementsAre("acme/s1/1-0/expiring"));
  EXPECT_EQ(Check("s1").verdict(), v1::ALLOW);
  stats = Sweep();
  EXPECT_EQ(stats.reminders, 0) << "a reminder is sent once";

  clock_.Advance(absl::Seconds(2));  // 3.2 s: past the expiry
  stats = Sweep();
  EXPECT_EQ(stats.expired, 1);
  EXPECT_EQ(DueEntries(), 0);
  const auto expired = Changes(v1::DECISIONS_EXPIRED);
  ASSERT_THAT(expired, SizeIs(1));
  EXPECT_EQ(expired[0].event_id(), "acme/s1/2");
  EXPECT_EQ(expired[0].actor(), "assent");
  EXPECT_EQ(expired[0].source(), "expiry");
  ASSERT_THAT(expired[0].decisions(), SizeIs(1));
  EXPECT_EQ(expired[0].decisions(0).before().state(), v1::GRANTED);
  EXPECT_EQ(expired[0].decisions(0).after().state(), v1::LAPSED);
  EXPECT_EQ(expired[0].decisions(0).after().effective_time().seconds(),
            granted.records(0).expire_time().seconds());
  // The state the senders receive says LAPSED, so their views deny without reading a clock.
  ASSERT_EQ(expired[0].state().subject().decisions_size(), 1);
  EXPECT_EQ(expired[0].state().subject().decisions(0).state(), v1::LAPSED);

  const v1::CheckResponse check = Check("s1");
  EXPECT_EQ(check.verdict(), v1::DENY);
  EXPECT_EQ(check.reason(), v1::EXPIRED);
  EXPECT_EQ(check.record_id(), "2-0");
  stats = Sweep();
  EXPECT_EQ(stats.expired, 0) << "an expiry happens once";
  EXPECT_THAT(Changes(v1::DECISIONS_EXPIRED), SizeIs(1));
}

// An imported grant whose reminder time had passed when it was imported gets no reminder (the
// customer would be reminded at once of a consent given elsewhere, long ago), only its expiry;
// one whose reminder time is still ahead is reminded as any grant.
TEST_F(SweeperTest, AnImportedGrantPastItsReminderTimeIsNotReminded) {
  auto import = [&](const std::string& subject, absl::Duration ttl) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("crm-export");
    request.set_actor("assentctl-import");
    request.mutable_import()->set_origin("crm");
    *request.mutable_import()->mutable_original_effective_time() =
        ToProto(clock_.Now() - absl::Hours(24 * 365));
    auto* d = request.add_decisions();
    d->set_purpose_id("news");
    d->set_state(v1::GRANTED);
    *d->mutable_expire_time() = ToProto(clock_.Now() + ttl);
    return Sync<v1::RecordDecisionsResponse>(&Ledger::RecordDecisions, request);
  };
  ASSERT_OK(import("late", absl::Seconds(1)).status());  // reminder was due 1 s ago
  EXPECT_EQ(DueEntries(), 1) << "the expiry only";
  ASSERT_OK(import("early", absl::Seconds(5)).status());  // reminder due in 3 s
  EXPECT_EQ(DueEntries(), 3);
  clock_.Advance(absl::Milliseconds(1200));
  SweepStats stats = Sweep();
  EXPECT_EQ(stats.reminders, 0);
  EXPECT_EQ(stats.expired, 1);
  clock_.Advance(absl::Seconds(2));
  stats = Sweep();
  EXPECT_EQ(stats.reminders, 1);
  EXPECT_THAT(ExpiringIds(), ElementsAre("acme/early/1-0/expiring"));
}

TEST_F(SweeperTest, TheExpiryIsInTheVerifiedHistory) {
  ASSERT_OK(Record("s1", v1::GRANTED, absl::Seconds(3)).status());
  clock_.Advance(absl::Seconds(4));
  EXPECT_EQ(Sweep().expired, 1);
  v1::ListHistoryRequest list;
  list.set_tenant("acme");
  list.mutable_target()->set_subject_id("s1");
  ASSERT_OK_AND_ASSIGN(auto history, ledger_->ListHistory(list));
  ASSERT_THAT(history.records(), SizeIs(2));
  EXPECT_EQ(history.records(1).kind(), v1::DECISIONS_EXPIRED);
  EXPECT_EQ(history.records(1).actor(), "assent");
  v1::VerifyHistoryRequest verify;
  verify.set_tenant("acme");
  verify.mutable_target()->set_subject_id("s1");
  ASSERT_OK_AND_ASSIGN(auto verified, ledger_->VerifyHistory(verify));
  EXPECT_TRUE(verified.valid()) << verified.problem();
}

TEST_F(SweeperTest, AWithdrawalBeforeTheReminderCancelsReminderAndExpiry) {
  ASSERT_OK(Record("s1", v1::GRANTED, absl::Seconds(3)).status());
  ASSERT_OK(Record("s1", v1::WITHDRAWN, absl::ZeroDuration()).status());
  clock_.Advance(absl::Seconds(5));
  SweepStats stats = Sweep();
  EXPECT_EQ(stats.reminders, 0);
  EXPECT_EQ(stats.expired, 0);
  EXPECT_EQ(stats.dropped, 2);
  EXPECT_THAT(ExpiringIds(), IsEmpty());
  EXPECT_THAT(Changes(v1::DECISIONS_EXPIRED), IsEmpty());
  EXPECT_EQ(Check("s1").reason(), v1::EXPLICIT_DENY);
}

TEST_F(SweeperTest, ARenewedGrantExpiresOnItsNewDateOnly) {
  ASSERT_OK(Record("s1", v1::GRANTED, absl::Seconds(3)).status());
  clock_.Advance(absl::Seconds(1));
  ASSERT_OK(Record("s1", v1::GRANTED, absl::Seconds(10)).status());
  clock_.Advance(absl::Seconds(3));  // past the first grant's expiry
  SweepStats stats = Sweep();
  EXPECT_EQ(stats.expired, 0);
  EXPECT_EQ(Check("s1").verdict(), v1::ALLOW);
  // The renewal's own reminder (2 s before its expiry) and expiry still come.
  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(Sweep().reminders, 1);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Sweep().expired, 1);
  EXPECT_THAT(ExpiringIds(), ElementsAre("acme/s1/2-0/expiring"));
}

TEST_F(SweeperTest, APurposeWithoutReminderOnlyExpires) {
  ASSERT_OK(Record("s1", v1::GRANTED, absl::Seconds(3), "offers").status());
  EXPECT_EQ(DueEntries(), 1);
  clock_.Advance(absl::Seconds(4));
  SweepStats stats = Sweep();
  EXPECT_EQ(stats.reminders, 0);
  EXPECT_EQ(stats.expired, 1);
}

TEST_F(SweeperTest, APendingDecisionLapsesWhenItsWindowCloses) {
  ASSERT_OK(Record("s1", v1::PENDING, absl::Hours(1)).status());
  EXPECT_EQ(DueEntries(), 1) << "no reminder for a pending decision";
  clock_.Advance(absl::Hours(2));
  SweepStats stats = Sweep();
  EXPECT_EQ(stats.pending_expired, 1);
  const auto lapsed = Changes(v1::PENDING_EXPIRED);
  ASSERT_THAT(lapsed, SizeIs(1));
  EXPECT_EQ(lapsed[0].source(), "confirmation-window");
  EXPECT_EQ(lapsed[0].decisions(0).after().state(), v1::LAPSED);
  EXPECT_EQ(Check("s1").verdict(), v1::DENY);
}

TEST_F(SweeperTest, ManyDueEntriesAreSweptInBatchesWithoutLoss) {
  constexpr int kSubjects = 250;
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_OK(Record(absl::StrCat("s", i), v1::GRANTED, absl::Seconds(3)).status());
  }
  clock_.Advance(absl::Seconds(4));
  int reminders = 0, expired = 0, rounds = 0;
  while (true) {
    auto stats = ledger_->SweepDue(clock_.Now(), 64);
    ASSERT_OK(stats.status());
    reminders += stats->reminders;
    expired += stats->expired;
    ++rounds;
    if (!stats->more) break;
  }
  // Both the reminder and the expiry were due: each grant gets its (late) reminder, then lapses.
  EXPECT_EQ(expired, kSubjects);
  EXPECT_GE(rounds, 2 * kSubjects / 64);
  EXPECT_EQ(DueEntries(), 0);
  EXPECT_THAT(Changes(v1::DECISIONS_EXPIRED), SizeIs(kSubjects));
  EXPECT_EQ(reminders, kSubjects);
}

// Cluster mode: an instance sweeps only the entries of the partitions it owns; the others stay
// due for their owners, including past a round's limit of entries passed over.
TEST_F(SweeperTest, AFilterLeavesOtherInstancesEntriesDue) {
  constexpr int kSubjects = 100;
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_OK(Record(absl::StrCat("s", i), v1::GRANTED, absl::Seconds(3), "offers").status());
  }
  clock_.Advance(absl::Seconds(4));
  // "Owned here": the subjects whose number ends in 7 (s7, s17, ..., s97).
  const KeyFilter mine = [](std::string_view key) {
    std::optional<DueKey> due = DecodeDueKey(key);
    return due.has_value() && absl::EndsWith(due->entity, "7");
  };
  int expired = 0;
  for (int round = 0; round < 20; ++round) {  // 4 per round: 32 passed over hit the limit
    auto stats = ledger_->SweepDue(clock_.Now(), 4, mine);
    ASSERT_OK(stats.status());
    expired += stats->expired;
  }
  EXPECT_EQ(expired, 10);
  std::set<std::string> lapsed;
  for (const v1::ConsentChanged& c : Changes(v1::DECISIONS_EXPIRED)) {
    lapsed.insert(c.target().subject_id());
  }
  EXPECT_THAT(lapsed,
              ElementsAre("s17", "s27", "s37", "s47", "s57", "s67", "s7", "s77", "s87", "s97"));
  EXPECT_EQ(DueEntries(), kSubjects - 10);
  // The owner of the rest sweeps them (a round resumes where the previous one stopped, the next
  // one starts over).
  const int first = Sweep().expired;
  EXPECT_EQ(first + Sweep().expired, kSubjects - 10);
  EXPECT_EQ(DueEntries(), 0);
}

// Cluster mode: a due entry whose key is corrupt fails the round as in single-node mode, although
// it belongs to no partition (the filter lets it through), instead of being passed over.
TEST_F(SweeperTest, ACorruptDueKeyIsReportedWithAFilterToo) {
  // Sorts before every due time to come, and decodes to nothing.
  const std::string corrupt("\0\0\x01", 3);
  ASSERT_FALSE(DecodeDueKey(corrupt).has_value());
  rocksdb::WriteBatch batch;
  batch.Put(store_->Handle(store::Cf::kDue), corrupt, "");
  ASSERT_OK(store_->Write(&batch));
  const KeyFilter nothing_owned =
      OwnedKeys(store::Cf::kDue, [](std::string_view) { return false; });
  absl::StatusOr<SweepStats> stats = ledger_->SweepDue(clock_.Now(), 4, nothing_owned);
  EXPECT_FALSE(stats.ok());
  EXPECT_THAT(std::string(stats.status().message()), HasSubstr("due index key"));
}

TEST_F(SweeperTest, WorkSurvivesAReopenAndIsNotRepeated) {
  ASSERT_OK(Record("s1", v1::GRANTED, absl::Seconds(3)).status());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Sweep().reminders, 1);
  Reopen();
  EXPECT_EQ(Sweep().reminders, 0);
  clock_.Advance(absl::Seconds(3));
  Reopen();
  EXPECT_EQ(Sweep().expired, 1);
  Reopen();
  EXPECT_EQ(Sweep().expired, 0);
  EXPECT_THAT(ExpiringIds(), SizeIs(1));
  EXPECT_THAT(Changes(v1::DECISIONS_EXPIRED), SizeIs(1));
}

TEST_F(SweeperTest, LapsedIsRefusedAsInput) {
  EXPECT_THAT(Record("s1", v1::LAPSED, absl::ZeroDuration()).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("decisions[0].state: LAPSED is set only by Assent")));
}

TEST_F(SweeperTest, RemindBeforeMustBeShorterThanTheLifespan) {
  v1::CreatePurposeRequest request;
  request.set_parent("tenants/acme");
  v1::Purpose* p = request.mutable_purpose();
  p->set_purpose_id("bad");
  p->set_display_name("bad");
  p->set_kind(v1::MARKETING);
  p->set_legal_basis(v1::CONSENT);
  p->add_channels(v1::EMAIL);
  p->set_notice_version(1);
  *p->mutable_lifespan() = ToProtoDuration(absl::Hours(24 * 30));
  *p->mutable_remind_before() = ToProtoDuration(absl::Hours(24 * 30));
  EXPECT_THAT(Sync<v1::Purpose>(&Ledger::CreatePurpose, request).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("purpose.remind_before: must be shorter than lifespan")));
}

// A store written before the due index (format 1): its grants are indexed by the backfill, which
// resumes from its cursor, and then expire like any other.
TEST_F(SweeperTest, TheBackfillIndexesGrantsOfAnOlderStore) {
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(Record(absl::StrCat("s", i), v1::GRANTED, absl::Seconds(3)).status());
  }
  // Turn the store into a format-1 store: no due index, format record 1.
  {
    rocksdb::WriteBatch batch;
    auto it = store_->NewIterator(store::Cf::kDue);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ASSERT_TRUE(batch.Delete(store_->Handle(store::Cf::kDue), it->key()).ok());
    }
    storage::v1::FormatInfo info;
    info.set_format_version(1);
    ASSERT_TRUE(batch
                    .Put(store_->Handle(store::Cf::kMeta), std::string(store::kFormatKey),
                         info.SerializeAsString())
                    .ok());
    ASSERT_OK(store_->Write(&batch));
  }
  Reopen();
  EXPECT_EQ(store_->opened_format_version(), 1u);
  EXPECT_EQ(DueEntries(), 0);
  ASSERT_OK_AND_ASSIGN(auto first, ledger_->BackfillDue(10));
  EXPECT_FALSE(first.done);
  EXPECT_EQ(first.scanned, 10u);
  Reopen();  // the cursor is durable
  EXPECT_EQ(store_->opened_format_version(), store::kFormatVersion);
  BackfillProgress progress;
  int rounds = 1;
  do {
    ASSERT_OK_AND_ASSIGN(progress, ledger_->BackfillDue(10));
    ++rounds;
  } while (!progress.done);
  EXPECT_EQ(progress.scanned, 30u);
  EXPECT_LE(rounds, 6);
  EXPECT_EQ(DueEntries(), 60);
  clock_.Advance(absl::Seconds(4));
  int expired = 0;
  SweepStats stats;
  do {
    stats = Sweep();
    expired += stats.expired;
  } while (stats.more);
  EXPECT_EQ(expired, 30);
  ASSERT_OK_AND_ASSIGN(auto again, ledger_->BackfillDue(10));
  EXPECT_TRUE(again.done);
}

// Re-permission: raising the minimum notice version lists exactly the grants below it, each with
// one notice, at a bounded number of targets per round.
TEST_F(SweeperTest, RaisingTheMinimumNoticeVersionListsExactlyTheGrantsBelowIt) {
  for (const char* s : {"s1", "s2", "s3", "s4", "s5"}) {
    ASSERT_OK(Record(s, v1::GRANTED, absl::ZeroDuration()).status());
  }
  ASSERT_OK(Record("s3", v1::WITHDRAWN, absl::ZeroDuration()).status());
  // Notice version 2, then grants under it.
  v1::GetPurposeRequest get;
  get.set_name("tenants/acme/purposes/news");
  ASSERT_OK_AND_ASSIGN(v1::Purpose purpose, ledger_->GetPurpose(get));
  purpose.set_notice_version(2);
  v1::UpdatePurposeRequest update;
  *update.mutable_purpose() = purpose;
  ASSERT_OK_AND_ASSIGN(purpose, (Sync<v1::Purpose>(&Ledger::UpdatePurpose, update)));
  for (const char* s : {"s6", "s7"}) {
    ASSERT_OK(Record(s, v1::GRANTED, absl::ZeroDuration()).status());
  }
  ASSERT_OK_AND_ASSIGN(auto idle, ledger_->RunRepermission(2));
  EXPECT_TRUE(idle.idle) << "no campaign before the minimum is raised";

  purpose.set_min_notice_version(2);
  *update.mutable_purpose() = purpose;
  ASSERT_OK(Sync<v1::Purpose>(&Ledger::UpdatePurpose, update).status());
  v1::ListRepermissionRequiredRequest list;
  list.set_tenant("acme");
  list.set_purpose_id("news");
  ASSERT_OK_AND_ASSIGN(auto before, ledger_->ListRepermissionRequired(list));
  EXPECT_FALSE(before.complete());
  int rounds = 0, notices = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(auto progress, ledger_->RunRepermission(2));
    if (progress.idle) break;
    EXPECT_LE(progress.targets, 2);
    notices += progress.notices;
    ++rounds;
  }
  EXPECT_EQ(notices, 4);
  EXPECT_GE(rounds, 4);  // 7 subjects, 2 at a time, then the (empty) contact points

  ASSERT_OK_AND_ASSIGN(auto all, ledger_->ListRepermissionRequired(list));
  EXPECT_TRUE(all.complete());
  std::vector<std::string> listed;
  for (const auto& e : all.entries()) {
    listed.push_back(e.target().subject_id());
    EXPECT_EQ(e.record().evidence().notice_version(), 1u);
    EXPECT_EQ(e.min_notice_version(), 2u);
  }
  EXPECT_THAT(listed, ElementsAre("s1", "s2", "s4", "s5"));
  std::vector<std::string> ids;
  for (const Published& p : Outbox()) {
    if (p.type != "assent.v1.RepermissionRequired") continue;
    v1::RepermissionRequired notice;
    ASSERT_TRUE(notice.ParseFromString(p.value));
    ids.push_back(notice.event_id());
  }
  EXPECT_THAT(ids, ElementsAre("acme/s1/1-0/repermission/2", "acme/s2/1-0/repermission/2",
                               "acme/s4/1-0/repermission/2", "acme/s5/1-0/repermission/2"));
  EXPECT_EQ(Check("s1").reason(), v1::REPERMISSION_REQUIRED);

  // Pages of two, and a customer who grants again under the new notice leaves the list.
  ASSERT_OK(Record("s2", v1::GRANTED, absl::ZeroDuration()).status());
  list.set_page_size(2);
  std::vector<std::string> paged;
  do {
    ASSERT_OK_AND_ASSIGN(auto page, ledger_->ListRepermissionRequired(list));
    for (const auto& e : page.entries()) paged.push_back(e.target().subject_id());
    list.set_page_token(page.next_page_token());
  } while (!list.page_token().empty());
  EXPECT_THAT(paged, ElementsAre("s1", "s4", "s5"));
  list.set_page_token("garbage");
  EXPECT_THAT(ledger_->ListRepermissionRequired(list).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  ASSERT_OK_AND_ASSIGN(auto again, ledger_->RunRepermission(2));
  EXPECT_TRUE(again.idle) << "a finished campaign does not run again";
}

// Cluster mode: each instance walks a campaign over the partitions it owns, each partition with
// its own cursor stored in that partition; the campaign is complete once every partition's walk
// is, and a partition taken over later is walked once, without repeating the others.
TEST_F(SweeperTest, ACampaignIsWalkedPerOwnedPartitionWithItsOwnCursor) {
  constexpr int32_t kCount = 4;
  std::set<int32_t> owned = {0, 2};
  auto partition_of = [](std::string_view route) { return cluster::PartitionOf(route, kCount); };
  ledger_->SetPartitions(
      Partitions{kCount, partition_of, [&owned](int32_t p) { return owned.contains(p); },
                 [](int32_t p) { return cluster::PartitionRouteKey(p, kCount); }});
  std::map<std::string, int32_t> partition;  // subject -> partition
  for (int k = 0; k < 40; ++k) {
    const std::string subject = absl::StrCat("s", k);
    ASSERT_OK(Record(subject, v1::GRANTED, absl::ZeroDuration()).status());
    partition[subject] = partition_of(absl::StrCat("acme/", subject));
  }
  v1::GetPurposeRequest get;
  get.set_name("tenants/acme/purposes/news");
  ASSERT_OK_AND_ASSIGN(v1::Purpose purpose, ledger_->GetPurpose(get));
  purpose.set_notice_version(2);
  purpose.set_min_notice_version(2);
  v1::UpdatePurposeRequest update;
  *update.mutable_purpose() = purpose;
  ASSERT_OK(Sync<v1::Purpose>(&Ledger::UpdatePurpose, update).status());

  auto run_until_idle = [&] {
    int notices = 0;
    for (int rounds = 0; rounds < 1000; ++rounds) {
      absl::StatusOr<RepermissionProgress> progress = ledger_->RunRepermission(3);
      EXPECT_OK(progress.status());
      if (!progress.ok() || progress->idle) break;
      EXPECT_LE(progress->targets, 3);
      notices += progress->notices;
    }
    return notices;
  };
  auto notified = [&] {
    std::multiset<std::string> subjects;
    for (const Published& p : Outbox()) {
      if (p.type != "assent.v1.RepermissionRequired") continue;
      v1::RepermissionRequired notice;
      EXPECT_TRUE(notice.ParseFromString(p.value));
      subjects.insert(notice.target().subject_id());
    }
    return subjects;
  };
  v1::ListRepermissionRequiredRequest list;
  list.set_tenant("acme");
  list.set_purpose_id("news");
  list.set_page_size(1000);

  const int first = run_until_idle();
  std::multiset<std::string> expected;
  for (const auto& [subject, p] : partition) {
    if (owned.contains(p)) expected.insert(subject);
  }
  ASSERT_GT(expected.size(), 0u);
  ASSERT_LT(expected.size(), partition.size());
  EXPECT_EQ(first, static_cast<int>(expected.size()));
  EXPECT_EQ(notified(), expected) << "only the owned partitions' subjects, each once";
  ASSERT_OK_AND_ASSIGN(auto partial, ledger_->ListRepermissionRequired(list));
  EXPECT_FALSE(partial.complete()) << "partitions 1 and 3 are not walked yet";
  EXPECT_EQ(partial.entries_size(), static_cast<int>(expected.size()));

  // Each cursor is stored in its own partition.
  int cursors = 0;
  auto it = store_->NewIterator(store::Cf::kLifecycle);
  for (it->Seek(std::string("p\0", 2)); it->Valid() && it->key().starts_with(std::string("p\0", 2));
       it->Next()) {
    std::optional<std::string> route =
        RouteOfWrite(store::Cf::kLifecycle, it->key().ToStringView());
    ASSERT_TRUE(route.has_value());
    EXPECT_TRUE(owned.contains(partition_of(*route)));
    EXPECT_TRUE(IsSharedWrite(store::Cf::kLifecycle, it->key().ToStringView()));
    ++cursors;
  }
  EXPECT_EQ(cursors, 2);

  // The other partitions move here: walked once, the first two not again.
  owned = {0, 1, 2, 3};
  const int second = run_until_idle();
  EXPECT_EQ(first + second, static_cast<int>(partition.size()));
  std::multiset<std::string> all;
  for (const auto& [subject, p] : partition) all.insert(subject);
  EXPECT_EQ(notified(), all) << "every subject once";
  ASSERT_OK_AND_ASSIGN(auto complete, ledger_->ListRepermissionRequired(list));
  EXPECT_TRUE(complete.complete());
  EXPECT_EQ(complete.entries_size(), static_cast<int>(partition.size()));

  // The minimum lowered, then raised to the same version again: a new campaign under the same
  // key, walked again in every partition (the finished cursors were the earlier campaign's).
  ASSERT_OK_AND_ASSIGN(purpose, ledger_->GetPurpose(get));
  purpose.set_min_notice_version(1);
  *update.mutable_purpose() = purpose;
  ASSERT_OK_AND_ASSIGN(purpose, (Sync<v1::Purpose>(&Ledger::UpdatePurpose, update)));
  purpose.set_min_notice_version(2);
  *update.mutable_purpose() = purpose;
  ASSERT_OK(Sync<v1::Purpose>(&Ledger::UpdatePurpose, update).status());
  ASSERT_OK_AND_ASSIGN(auto raised_again, ledger_->ListRepermissionRequired(list));
  EXPECT_FALSE(raised_again.complete());
  EXPECT_EQ(run_until_idle(), static_cast<int>(partition.size()));
  ASSERT_OK_AND_ASSIGN(auto complete_again, ledger_->ListRepermissionRequired(list));
  EXPECT_TRUE(complete_again.complete());
}

TEST(DueKeyTest, RoundTripsAndSortsByTime) {
  DueKey a{absl::FromUnixSeconds(100), DueKind::kRemind, "acme", "s:x", "3-0"};
  DueKey b{absl::FromUnixSeconds(99), DueKind::kExpire, "zeta", "c:email:ab", "1-2"};
  const std::string ka = EncodeDueKey(a);
  const std::string kb = EncodeDueKey(b);
  EXPECT_LT(kb, ka);
  EXPECT_LT(ka, DueKeyAfter(absl::FromUnixSeconds(100)));
  EXPECT_GE(ka, DueKeyAfter(absl::FromUnixSeconds(99)));
  auto decoded = DecodeDueKey(ka);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->due, a.due);
  EXPECT_EQ(decoded->kind, DueKind::kRemind);
  EXPECT_EQ(decoded->tenant, "acme");
  EXPECT_EQ(decoded->entity, "s:x");
  EXPECT_EQ(decoded->record_id, "3-0");
  EXPECT_FALSE(DecodeDueKey("short").has_value());
}

}  // namespace
}  // namespace assent::ledger
