// Cluster mode's pure parts: the partitioner agrees with librdkafka's murmur2 (so consentd's
// owners, the events topics and the senders agree on a target's partition), every store key of
// a target routes to that target's route key, and the committer hands its groups to a durable
// sink (cluster/node.h's Commit) with the stamps Admit gave, failing what Admit refuses.
#include <librdkafka/rdkafka.h>

#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cluster/partition.h"
#include "cluster/placement.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/due.h"
#include "ledger/events.h"
#include "ledger/route.h"
#include "store/committer.h"
#include "store/keys.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

TEST(PartitionTest, AgreesWithLibrdkafkaMurmur2) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 70);
  for (int i = 0; i < 5000; ++i) {
    std::string key(length(rng), '\0');
    for (char& c : key) c = static_cast<char>(byte(rng));
    for (int32_t partitions : {1, 6, 12, 64, 97}) {
      if (key.empty()) continue;  // librdkafka picks a random partition for empty keys
      const int32_t theirs = rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(),
                                                              partitions, nullptr, nullptr);
      ASSERT_EQ(cluster::PartitionOf(key, partitions), theirs)
          << "key of " << key.size() << " bytes, " << partitions << " partitions";
    }
  }
  // The route keys Assent uses.
  for (const char* key : {"acme/alice", "acme/c:email:0f3a", "acme", "t/s"}) {
    EXPECT_EQ(cluster::PartitionOf(key, 6),
              rd_kafka_msg_partitioner_murmur2(nullptr, key, strlen(key), 6, nullptr, nullptr));
  }
}

// A partition's route key (the re-permission walk's cursor in that partition) is in it, the same
// on every call, and there is none outside the partitions.
TEST(PartitionTest, APartitionRouteKeyIsInItsPartition) {
  for (int32_t partitions = 1; partitions <= 64; ++partitions) {
    for (int32_t p = 0; p < partitions; ++p) {
      const std::string key = cluster::PartitionRouteKey(p, partitions);
      ASSERT_EQ(cluster::PartitionOf(key, partitions), p) << key;
      EXPECT_EQ(cluster::PartitionRouteKey(p, partitions), key);
    }
  }
  EXPECT_EQ(cluster::PartitionRouteKey(6, 6), "");
  EXPECT_EQ(cluster::PartitionRouteKey(-1, 6), "");
}

// The per-partition cursors of the walks (a campaign's, an offboarding's, the proof of
// enforcement's) route to the partition of the route key they hold; an offboarding job goes with
// its tenant's catalog. The campaigns' and offboardings' cursors are shared (every instance sums
// or checks them); the proof's is its partition's own.
TEST(RouteTest, AWalksCursorRoutesToThePartitionItNames) {
  const std::string rk = cluster::PartitionRouteKey(4, 6);
  std::string campaign("p\0", 2);
  campaign += rk + std::string("\0acme\0news\0", 12) + std::string("\0\0\0\2", 4);
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kLifecycle, campaign), rk);
  EXPECT_TRUE(ledger::IsSharedWrite(store::Cf::kLifecycle, campaign));
  const std::string offboarding = std::string("q\0", 2) + rk + std::string("\0acme", 5);
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kRights, offboarding), rk);
  EXPECT_TRUE(ledger::IsSharedWrite(store::Cf::kRights, offboarding));
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kProof, "q" + rk), rk);
  EXPECT_FALSE(ledger::IsSharedWrite(store::Cf::kProof, "q" + rk));
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kRights, store::OffboardingKey("acme")),
            ledger::TenantRouteKey("acme"));
  // A legal hold is not shared: only where its subject's partition is kept in full.
  EXPECT_FALSE(ledger::IsSharedWrite(store::Cf::kRights, store::LegalHoldKey("acme", "alice")));
  // Not a cursor: no route of its own.
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kLifecycle, std::string("p\0", 2)), std::nullopt);
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kProof, store::ProofPendingKey(4, 17)), std::nullopt);
}

// The range assignor's layout (librdkafka's rd_kafka_range_assignor_assign_cb): contiguous
// ranges, the first partitions % members members one partition more; members beyond the
// partitions get none.
TEST(PlacementTest, RangeOwnerLaysPartitionsOutAsTheRangeAssignorDoes) {
  auto layout = [](int32_t partitions, int members) {
    std::vector<int> out;
    for (int32_t p = 0; p < partitions; ++p)
      out.push_back(cluster::RangeOwner(p, partitions, members));
    return out;
  };
  EXPECT_THAT(layout(3, 2), ElementsAre(0, 0, 1));
  EXPECT_THAT(layout(6, 3), ElementsAre(0, 0, 1, 1, 2, 2));
  EXPECT_THAT(layout(6, 4), ElementsAre(0, 0, 1, 1, 2, 3));
  EXPECT_THAT(layout(7, 3), ElementsAre(0, 0, 0, 1, 1, 2, 2));
  EXPECT_THAT(layout(2, 3), ElementsAre(0, 1));
  EXPECT_THAT(layout(5, 1), ElementsAre(0, 0, 0, 0, 0));
}

std::vector<cluster::GroupMember> Members(const std::vector<std::string>& nodes) {
  std::vector<cluster::GroupMember> out;
  // Listed in another order than the member ids sort: the assignor's order is the ids'.
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    out.push_back({"consentd-" + *it + "-5b1f", *it});
  }
  return out;
}

// The owner of `partition` once the nodes in `gone` left (the range assignor over the rest).
std::string OwnerWithout(std::vector<std::string> nodes, const std::vector<std::string>& gone,
                         int32_t partition, int32_t partitions) {
  std::erase_if(nodes, [&](const std::string& n) {
    return std::find(gone.begin(), gone.end(), n) != gone.end();
  });
  std::sort(nodes.begin(), nodes.end());
  return nodes[cluster::RangeOwner(partition, partitions, static_cast<int>(nodes.size()))];
}

TEST(PlacementTest, AnOwnersFirstStandbyIsWhoTheAssignorGivesThePartitionToWhenTheOwnerLeaves) {
  const std::vector<std::string> nodes{"a", "b", "c"};
  std::vector<cluster::PartitionPlacement> placed = cluster::PlaceStandbys(Members(nodes), 6, 1);
  ASSERT_EQ(placed.size(), 6u);
  EXPECT_EQ(placed[0].owner, "a");
  EXPECT_EQ(placed[2].owner, "b");
  EXPECT_EQ(placed[5].owner, "c");
  for (int32_t p = 0; p < 6; ++p) {
    ASSERT_EQ(placed[p].standbys.size(), 1u) << p;
    EXPECT_EQ(placed[p].standbys[0], OwnerWithout(nodes, {placed[p].owner}, p, 6)) << p;
    // With three instances and six partitions one standby also covers every other departure:
    // no partition moves to an instance that does not keep it.
    for (const std::string& gone : nodes) {
      const std::string next = OwnerWithout(nodes, {gone}, p, 6);
      EXPECT_TRUE(next == placed[p].owner || next == placed[p].standbys[0])
          << "partition " << p << " after " << gone << " left goes to " << next;
    }
  }
}

// Two standbys: whichever single instance leaves, every partition goes to an instance that keeps
// it; up to five instances, a join moves none to one that does not either (beyond that a join
// can shift a partition between two others; docs/SCALING.md).
TEST(PlacementTest, TwoStandbysCoverAnySingleDepartureAndUpToFiveInstancesAJoin) {
  for (int members = 2; members <= 9; ++members) {
    for (int32_t partitions = 1; partitions <= 40; ++partitions) {
      std::vector<std::string> nodes;
      for (int i = 0; i < members; ++i) nodes.push_back(std::string(1, static_cast<char>('a' + i)));
      const std::vector<cluster::PartitionPlacement> placed =
          cluster::PlaceStandbys(Members(nodes), partitions, 2);
      for (int32_t p = 0; p < partitions; ++p) {
        const cluster::PartitionPlacement& at = placed[p];
        ASSERT_EQ(at.standbys.size(), static_cast<size_t>(std::min(2, members - 1)));
        EXPECT_EQ(at.standbys[0], OwnerWithout(nodes, {at.owner}, p, partitions));
        auto kept = [&](const std::string& node) {
          return node == at.owner ||
                 std::find(at.standbys.begin(), at.standbys.end(), node) != at.standbys.end();
        };
        for (const std::string& gone : nodes) {
          if (members == 1) continue;
          EXPECT_TRUE(kept(OwnerWithout(nodes, {gone}, p, partitions)))
              << members << " members, " << partitions << " partitions: partition " << p
              << " after " << gone << " left";
        }
        // A newcomer joins at any place of the order: a partition it does not take stays with
        // an instance that keeps it.
        for (int place = 0; members <= 5 && place <= members; ++place) {
          const int owner = cluster::RangeOwner(p, partitions, members + 1);
          if (owner == place) continue;
          const std::string next = nodes[owner < place ? owner : owner - 1];
          EXPECT_TRUE(kept(next)) << members << " members, " << partitions
                                  << " partitions: partition " << p << " after a join at " << place;
        }
      }
    }
  }
}

TEST(PlacementTest, EveryOtherInstanceIsAStandbyWhenTheCountAllowsAndNoneWithZero) {
  const std::vector<cluster::PartitionPlacement> all =
      cluster::PlaceStandbys(Members({"a", "b", "c", "d"}), 8, 5);
  for (const cluster::PartitionPlacement& at : all) {
    EXPECT_EQ(at.standbys.size(), 3u);
    EXPECT_EQ(std::count(at.standbys.begin(), at.standbys.end(), at.owner), 0);
  }
  for (const cluster::PartitionPlacement& at :
       cluster::PlaceStandbys(Members({"a", "b", "c"}), 6, 0)) {
    EXPECT_TRUE(at.standbys.empty());
  }
  EXPECT_TRUE(cluster::PlaceStandbys({}, 6, 1).empty());
}

TEST(PlacementTest, ANewcomerForeseesThePartitionsItWillOwn) {
  // b sorts between a and c: the second range of three.
  EXPECT_THAT(cluster::PartitionsAfterJoin(Members({"a", "c"}), "consentd-b-", 6),
              ElementsAre(2, 3));
  EXPECT_THAT(cluster::PartitionsAfterJoin(Members({"a", "c"}), "consentd-d-", 6),
              ElementsAre(4, 5));
  EXPECT_THAT(cluster::PartitionsAfterJoin(Members({"b", "c"}), "consentd-a-", 6),
              ElementsAre(0, 1));
  EXPECT_THAT(cluster::PartitionsAfterJoin({}, "consentd-a-", 4), ElementsAre(0, 1, 2, 3));
  // More members than partitions: a newcomer last in the order gets none.
  EXPECT_THAT(cluster::PartitionsAfterJoin(Members({"a", "b"}), "consentd-c-", 2),
              ::testing::IsEmpty());
}

TEST(RouteTest, EveryKeyOfATargetRoutesToItsEventKey) {
  v1::TargetRef subject;
  subject.set_subject_id("alice");
  v1::TargetRef contact;
  contact.mutable_contact()->set_type(v1::CONTACT_EMAIL);
  contact.mutable_contact()->set_hash(std::string(64, 'a'));
  for (const v1::TargetRef& target : {subject, contact}) {
    const std::string route = ledger::RouteKey("acme", target);
    EXPECT_EQ(route, ledger::EventKey("acme", target));
    const std::string entity = store::EntityName(target);
    std::vector<std::pair<store::Cf, std::string>> keys = {
        {store::Cf::kHistory, store::HistoryKey("acme", entity, 42)},
        {store::Cf::kKeys, store::DataKeyKey("acme", entity)},
        {store::Cf::kProof, store::ProofKey("acme", entity, 7)},
        {store::Cf::kDue, ledger::EncodeDueKey({absl::FromUnixSeconds(1'800'000'000),
                                                ledger::DueKind::kExpire, "acme", entity, "r-1"})},
    };
    if (target.has_contact()) {
      keys.emplace_back(store::Cf::kContacts, store::ContactKey("acme", target.contact()));
      keys.emplace_back(store::Cf::kRights, store::LinkHalfKey("acme", entity, "alice"));
    } else {
      keys.emplace_back(store::Cf::kSubjects, store::SubjectKey("acme", "alice"));
      keys.emplace_back(store::Cf::kRights, store::LegalHoldKey("acme", "alice"));
      keys.emplace_back(store::Cf::kRights, store::ErasureStubKey("acme", "alice"));
      keys.emplace_back(store::Cf::kRights, store::LinkIntentKey("acme", "alice"));
      keys.emplace_back(store::Cf::kRights, store::LinkIntentCounterKey("acme", "alice"));
    }
    for (const auto& [cf, key] : keys) {
      EXPECT_THAT(ledger::RouteOfWrite(cf, key), Optional(route))
          << store::CfName(cf) << " of " << entity;
    }
  }
  // A tenant's catalog routes by the tenant.
  for (const std::string& key :
       {store::TenantKey("acme"), store::PurposeKey("acme", "news", 3), store::PolicyKey("acme"),
        store::PurposeCurrentKey("acme", "news")}) {
    EXPECT_THAT(ledger::RouteOfWrite(store::Cf::kCatalog, key), Optional(std::string("acme")));
  }
  // Writes tied to no single target travel with the mutation.
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kIdempotency, store::IdempotencyKey("acme", "k")),
            std::nullopt);
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kOutbox, store::OutboxKey(9)), std::nullopt);
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kProof, store::ProofPendingKey(1, 2)), std::nullopt);
  EXPECT_EQ(ledger::RouteOfWrite(store::Cf::kSubjects, "garbage"), std::nullopt);
}

TEST(OwnedKeysTest, AKeyPassesWhenItsRouteIsOwnedOrWhenItRoutesNowhere) {
  v1::TargetRef subject;
  subject.set_subject_id("alice");
  const std::string entity = store::EntityName(subject);
  const std::string due = ledger::EncodeDueKey(
      {absl::FromUnixSeconds(1'800'000'000), ledger::DueKind::kExpire, "acme", entity, "r-1"});
  std::vector<std::string> asked;
  auto owned = ledger::OwnedKeys(store::Cf::kDue, [&](std::string_view route) {
    asked.emplace_back(route);
    return route == "acme/alice";
  });
  EXPECT_TRUE(owned(due));
  EXPECT_THAT(asked, ElementsAre("acme/alice"));
  auto elsewhere = ledger::OwnedKeys(store::Cf::kDue, [](std::string_view) { return false; });
  EXPECT_FALSE(elsewhere(due));
  // A corrupt key is left to the walk, which reports it (as in single-node mode).
  EXPECT_TRUE(elsewhere("garbage"));
}

// A sink that keeps what it is given and applies it like cluster::Node does, refusing the writes
// Admit is told to refuse.
class RecordingSink final : public store::DurableSink {
 public:
  explicit RecordingSink(store::Store& store) : store_(store) {}
  absl::StatusOr<uint64_t> Admit(const std::vector<store::StagedOp>& ops) override {
    absl::MutexLock lock(&mu_);
    for (const store::StagedOp& op : ops) {
      if (op.key == refuse_key_) return absl::UnavailableError("not owned here");
    }
    return ++stamp_;
  }
  absl::Status Commit(std::vector<store::DurableSink::Write>& writes) override {
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    rocksdb::WriteBatch batch;
    for (const auto& w : writes) {
      stamps_.push_back(w.stamp);
      for (const store::StagedOp& op : w.ops) {
        if (op.value.has_value()) {
          batch.Put(store_.Handle(op.cf), op.key, *op.value);
        } else {
          batch.Delete(store_.Handle(op.cf), op.key);
        }
      }
    }
    return store_.WriteUnsynced(&batch);
  }
  void Refuse(std::string key) {
    absl::MutexLock lock(&mu_);
    refuse_key_ = std::move(key);
  }
  void Fail(absl::Status s) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(s);
  }
  std::vector<uint64_t> stamps() {
    absl::MutexLock lock(&mu_);
    return stamps_;
  }

 private:
  store::Store& store_;
  absl::Mutex mu_;
  std::string refuse_key_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  uint64_t stamp_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> stamps_ ABSL_GUARDED_BY(mu_);
};

TEST(CommitterSinkTest, GroupsGoToTheSinkWithTheirStamps) {
  testing::TempDir dir;
  testing::FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  store::StoreOptions options;
  options.path = dir.path();
  auto store = store::Store::Open(options, clock);
  ASSERT_TRUE(store.ok()) << store.status();
  RecordingSink sink(**store);
  store::CommitterOptions committer_options;
  committer_options.sink = &sink;
  store::Committer committer(**store, clock, committer_options);
  auto put = [&](std::string key) {
    return committer.Run([key](store::Txn& txn) {
      txn.Put(store::Cf::kSubjects, key, "v-" + key);
      return absl::OkStatus();
    });
  };
  auto get = [&](const std::string& key) -> std::optional<std::string> {
    auto v = (*store)->Get(store::Cf::kSubjects, key);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : std::nullopt;
  };
  ASSERT_TRUE(put("a").ok());
  ASSERT_TRUE(put("b").ok());
  EXPECT_THAT(get("a"), Optional(std::string("v-a")));
  EXPECT_THAT(sink.stamps(), ElementsAre(1, 2));

  // Refused by Admit: the mutation fails with its status, nothing of it is written.
  sink.Refuse("c");
  absl::Status refused = put("c");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(get("c"), std::nullopt);

  // A failed commit fails the group.
  sink.Fail(absl::UnavailableError("transaction aborted"));
  EXPECT_EQ(put("d").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(get("d"), std::nullopt);
  committer.Stop();
}

}  // namespace
}  // namespace assent
