// The store against real RocksDB in a temporary directory: key encoding, format version, group
// commit atomicity and ordering, reopen.
#include "store/store.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "assent/storage/v1/storage.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "store/committer.h"
#include "store/keys.h"
#include "store/outbox.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace assent::store {
namespace {

using ::assent::testing::FakeClock;
using ::assent::testing::TempDir;

// A file system whose WAL syncs can be held (to keep a group commit in flight for as long as a
// test needs) and then made to fail, as a full or failing disk would.
class WalFaults final : public rocksdb::FileSystemWrapper {
 public:
  WalFaults() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  static const char* kClassName() { return "WalFaults"; }
  const char* Name() const override { return kClassName(); }

  // From now on a WAL sync waits for Release().
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  // Blocks until a WAL sync is waiting in Hold.
  void AwaitHeldSync() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&waiting_));
  }
  // Lets held syncs go on; they fail when `fail` is true (and so does every later one).
  void Release(bool fail) {
    absl::MutexLock lock(&mu_);
    held_ = false;
    fail_ = fail;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok() && name.size() > 4 && name.substr(name.size() - 4) == ".log") {
      *result = std::make_unique<File>(std::move(*result), this);
    }
    return s;
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, WalFaults* faults)
        : FSWritableFileOwnerWrapper(std::move(file)), faults_(faults) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (!faults_->Gate()) return rocksdb::IOStatus::IOError("injected WAL sync failure");
      return FSWritableFileOwnerWrapper::Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      if (!faults_->Gate()) return rocksdb::IOStatus::IOError("injected WAL sync failure");
      return FSWritableFileOwnerWrapper::Fsync(options, dbg);
    }

   private:
    WalFaults* faults_;
  };

  // Waits while held; false when the sync is to fail.
  bool Gate() {
    absl::MutexLock lock(&mu_);
    waiting_ = held_;
    mu_.Await(absl::Condition(
        +[](bool* held) { return !*held; }, &held_));
    waiting_ = false;
    return !fail_;
  }

  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
};

TEST(KeysTest, BigEndianRoundTripAndOrder) {
  std::string a, b;
  PutBigEndian64(&a, 255);
  PutBigEndian64(&b, 256);
  EXPECT_LT(a, b);  // byte order is numeric order
  EXPECT_EQ(ReadBigEndian64(a), 255u);
  EXPECT_EQ(ReadBigEndian64(b), 256u);
  std::string c;
  PutBigEndian32(&c, 0x01020304);
  EXPECT_EQ(c, std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(ReadBigEndian32(c), 0x01020304u);
}

TEST(KeysTest, HistoryKeysSortBySequenceWithinTarget) {
  const std::string k9 = HistoryKey("acme", SubjectEntity("u1"), 9);
  const std::string k10 = HistoryKey("acme", SubjectEntity("u1"), 10);
  EXPECT_LT(k9, k10);
  EXPECT_TRUE(std::string_view(k9).starts_with(HistoryPrefix("acme", SubjectEntity("u1"))));
  // A subject whose id extends another's does not fall under the other's prefix.
  EXPECT_FALSE(std::string_view(HistoryKey("acme", SubjectEntity("u10"), 1))
                   .starts_with(HistoryPrefix("acme", SubjectEntity("u1"))));
  EXPECT_EQ(HistoryKeySequence(k10), 10u);
  EXPECT_EQ(HistoryKeySequence("short"), std::nullopt);
}

TEST(KeysTest, TenantsAreSeparated) {
  EXPECT_NE(SubjectKey("acme", "x"), SubjectKey("acm", "ex"));
  EXPECT_FALSE(std::string_view(PurposeKey("acme-x", "p", 1)).starts_with(PurposePrefix("acme")));
  EXPECT_TRUE(std::string_view(PurposeKey("acme", "p", 1)).starts_with(PurposePrefix("acme")));
  v1::ContactRef ref;
  ref.set_type(v1::CONTACT_EMAIL);
  ref.set_hash("ab12");
  EXPECT_EQ(ContactEntity(ref), "c:email:ab12");
  v1::TargetRef target;
  *target.mutable_contact() = ref;
  EXPECT_EQ(EntityName(target), "c:email:ab12");
}

// Submits a mutation that reads `from` (if not empty) and writes what it read, plus one, to `to`;
// `ran` is notified once the mutation has run, `done` with its result.
struct Step {
  absl::Notification ran;
  absl::Notification finished;
  absl::Status result;
  std::optional<std::string> seen;

  void Submit(Committer& committer, std::string from, std::string to) {
    committer.Submit(
        [this, from, to](Txn& txn) -> absl::Status {
          if (!from.empty()) {
            auto raw = txn.Get(Cf::kSubjects, from);
            if (!raw.ok()) return raw.status();
            seen = *raw;
          }
          txn.Put(Cf::kSubjects, to, std::to_string(seen ? std::stoi(*seen) + 1 : 1));
          ran.Notify();
          return absl::OkStatus();
        },
        [this](absl::Status s) {
          result = std::move(s);
          finished.Notify();
        });
  }
};

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> OpenStore() {
    StoreOptions options;
    options.path = dir_.Sub("db");
    auto store = Store::Open(options, clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::unique_ptr<Store> OpenStoreWithFaults() {
    faults_env_ = rocksdb::NewCompositeEnv(faults_);
    StoreOptions options;
    options.path = dir_.Sub("db");
    options.env = faults_env_.get();
    auto store = Store::Open(options, clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  // Submits `first` (writes "a") and holds its group in the WAL sync; then submits `second`
  // (reads "a", writes "b") and waits until its mutation has run.
  void StartTwoGroups(Committer& committer, Step& first, Step& second) {
    faults_->Hold();
    first.Submit(committer, "", "a");
    faults_->AwaitHeldSync();
    second.Submit(committer, "a", "b");
    second.ran.WaitForNotification();
  }
  // Writes a store whose format record says `version`, as an older or newer build would.
  void WriteFormatVersion(uint32_t version) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    storage::v1::FormatInfo info;
    info.set_format_version(version);
    rocksdb::WriteBatch batch;
    batch.Put(store->Handle(Cf::kMeta), std::string(kFormatKey), info.SerializeAsString());
    ASSERT_TRUE(store->Write(&batch).ok());
  }

  TempDir dir_;
  FakeClock clock_;
  std::shared_ptr<WalFaults> faults_ = std::make_shared<WalFaults>();
  std::unique_ptr<rocksdb::Env> faults_env_;
};

TEST_F(StoreTest, NewStoreRecordsFormatVersion) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->opened_format_version(), kFormatVersion);
  auto raw = store->Get(Cf::kMeta, kFormatKey);
  ASSERT_TRUE(raw.ok() && raw->has_value());
  storage::v1::FormatInfo info;
  ASSERT_TRUE(info.ParseFromString(**raw));
  EXPECT_EQ(info.format_version(), kFormatVersion);
}

TEST_F(StoreTest, RefusesNewerFormat) {
  WriteFormatVersion(kFormatVersion + 1);
  StoreOptions options;
  options.path = dir_.Sub("db");
  auto reopened = Store::Open(options, clock_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(reopened.status().message()), ::testing::HasSubstr("on-disk format"));
}

TEST_F(StoreTest, OlderFormatWithoutMigrationIsRefused) {
  WriteFormatVersion(0);
  StoreOptions options;
  options.path = dir_.Sub("db");
  auto reopened = Store::Open(options, clock_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(std::string(reopened.status().message()), ::testing::HasSubstr("no migration"));
}

TEST_F(StoreTest, SecondOpenOfSameDirectoryIsUnavailable) {
  auto store = OpenStore();
  StoreOptions options;
  options.path = dir_.Sub("db");
  auto second = Store::Open(options, clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(StoreTest, FailedMutationWritesNothingAndOthersInGroupCommit) {
  auto store = OpenStore();
  Committer committer(*store, clock_);
  // Submit three mutations back to back so they are likely to share a group; the middle one
  // stages writes and then fails.
  std::atomic<int> finished{0};
  absl::Notification all_done;
  std::vector<absl::Status> results(3);
  for (int i = 0; i < 3; ++i) {
    committer.Submit(
        [i](Txn& txn) -> absl::Status {
          txn.Put(Cf::kSubjects, "key" + std::to_string(i), "value");
          if (i == 1) return absl::InvalidArgumentError("field: bad");
          return absl::OkStatus();
        },
        [&, i](absl::Status s) {
          results[i] = s;
          if (++finished == 3) all_done.Notify();
        });
  }
  all_done.WaitForNotification();
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(results[2].ok());
  EXPECT_TRUE(store->Get(Cf::kSubjects, "key0")->has_value());
  EXPECT_FALSE(store->Get(Cf::kSubjects, "key1")->has_value());
  EXPECT_TRUE(store->Get(Cf::kSubjects, "key2")->has_value());
}

TEST_F(StoreTest, MutationsSeeEarlierWritesOfTheirGroup) {
  auto store = OpenStore();
  Committer committer(*store, clock_);
  // 8 threads x 200 increments of one counter: every increment must see the previous one, even
  // when they share a group commit.
  constexpr int kThreads = 8, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::Status s = committer.Run([](Txn& txn) -> absl::Status {
          auto raw = txn.Get(Cf::kSubjects, "counter");
          if (!raw.ok()) return raw.status();
          const int value = raw->has_value() ? std::stoi(**raw) : 0;
          txn.Put(Cf::kSubjects, "counter", std::to_string(value + 1));
          return absl::OkStatus();
        });
        ASSERT_TRUE(s.ok()) << s;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(**store->Get(Cf::kSubjects, "counter"), std::to_string(kThreads * kPerThread));
  // Every increment ran; how they were grouped depends on timing and is not asserted.
  EXPECT_EQ(committer.stats().mutations, static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_F(StoreTest, ExpiredDeadlineWritesNothing) {
  auto store = OpenStore();
  Committer committer(*store, clock_);
  absl::Notification done;
  absl::Status result;
  committer.Submit(
      [](Txn& txn) {
        txn.Put(Cf::kSubjects, "late", "x");
        return absl::OkStatus();
      },
      [&](absl::Status s) {
        result = s;
        done.Notify();
      },
      clock_.Now() - absl::Seconds(1));
  done.WaitForNotification();
  EXPECT_EQ(result.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(store->Get(Cf::kSubjects, "late")->has_value());
}

TEST_F(StoreTest, FullQueueIsResourceExhausted) {
  auto store = OpenStore();
  CommitterOptions options;
  options.max_queue = 1;
  Committer committer(*store, clock_, options);
  // Block the committer thread inside a mutation so the queue fills.
  absl::Notification entered, release;
  committer.Submit(
      [&](Txn&) {
        entered.Notify();
        release.WaitForNotification();
        return absl::OkStatus();
      },
      [](absl::Status) {});
  entered.WaitForNotification();
  committer.Submit([](Txn&) { return absl::OkStatus(); }, [](absl::Status) {});  // fills queue
  absl::Status refused;
  committer.Submit([](Txn&) { return absl::OkStatus(); }, [&](absl::Status s) { refused = s; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  release.Notify();
  committer.Stop();
}

TEST_F(StoreTest, NextGroupReadsWritesOfTheGroupBeingMadeDurable) {
  auto store = OpenStoreWithFaults();
  ASSERT_NE(store, nullptr);
  Committer committer(*store, clock_);
  Step first, second;
  StartTwoGroups(committer, first, second);
  // The second group ran while the first is still being made durable, and read its write.
  EXPECT_FALSE(first.finished.HasBeenNotified());
  EXPECT_EQ(second.seen, std::optional<std::string>("1"));
  faults_->Release(/*fail=*/false);
  first.finished.WaitForNotification();
  second.finished.WaitForNotification();
  EXPECT_TRUE(first.result.ok()) << first.result;
  EXPECT_TRUE(second.result.ok()) << second.result;
  EXPECT_EQ(**store->Get(Cf::kSubjects, "a"), "1");
  EXPECT_EQ(**store->Get(Cf::kSubjects, "b"), "2");
}

TEST_F(StoreTest, FailedWriteFailsTheGroupsPreparedOnTopOfIt) {
  auto store = OpenStoreWithFaults();
  ASSERT_NE(store, nullptr);
  Committer committer(*store, clock_);
  Step first, second;
  StartTwoGroups(committer, first, second);  // the second read the first's write from memory
  faults_->Release(/*fail=*/true);
  first.finished.WaitForNotification();
  second.finished.WaitForNotification();
  EXPECT_EQ(first.result.code(), absl::StatusCode::kUnavailable) << first.result;
  // The second group was built on a write that never became durable: it must not be applied
  // either, although its own write might have succeeded.
  EXPECT_EQ(second.result.code(), absl::StatusCode::kUnavailable) << second.result;
  EXPECT_EQ(*store->Get(Cf::kSubjects, "b"), std::nullopt);
  EXPECT_EQ(committer.stats().failed_writes, 2u);  // both groups count as not written
}

TEST_F(StoreTest, StoppedCommitterRefusesAndDrainsQueued) {
  auto store = OpenStore();
  auto committer = std::make_unique<Committer>(*store, clock_);
  absl::Status queued;
  committer->Submit(
      [](Txn& txn) {
        txn.Put(Cf::kSubjects, "queued", "x");
        return absl::OkStatus();
      },
      [&](absl::Status s) { queued = s; });
  committer->Stop();
  EXPECT_TRUE(queued.ok());
  EXPECT_TRUE(store->Get(Cf::kSubjects, "queued")->has_value());
  absl::Status after;
  committer->Submit([](Txn&) { return absl::OkStatus(); }, [&](absl::Status s) { after = s; });
  EXPECT_EQ(after.code(), absl::StatusCode::kUnavailable);
}

TEST_F(StoreTest, OutboxIdsContinueAfterReopen) {
  uint64_t last = 0;
  {
    auto store = OpenStore();
    Committer committer(*store, clock_);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(committer
                      .Run([&](Txn& txn) {
                        last = txn.NextOutboxId();
                        txn.Put(Cf::kOutbox, OutboxKey(last), "event");
                        return absl::OkStatus();
                      })
                      .ok());
    }
  }
  auto store = OpenStore();
  Committer committer(*store, clock_);
  uint64_t next = 0;
  ASSERT_TRUE(committer
                  .Run([&](Txn& txn) {
                    next = txn.NextOutboxId();
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(last, 3u);
  EXPECT_EQ(next, 4u);
}

TEST_F(StoreTest, DataSurvivesReopen) {
  {
    auto store = OpenStore();
    Committer committer(*store, clock_);
    ASSERT_TRUE(committer
                    .Run([](Txn& txn) {
                      txn.Put(Cf::kHistory, "h", "1");
                      txn.Put(Cf::kIdempotency, "i", "2");
                      return absl::OkStatus();
                    })
                    .ok());
  }
  auto store = OpenStore();
  EXPECT_EQ(**store->Get(Cf::kHistory, "h"), "1");
  EXPECT_EQ(**store->Get(Cf::kIdempotency, "i"), "2");
  auto many = store->MultiGet(Cf::kHistory, {"h", "missing"});
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(**many[0], "1");
  EXPECT_FALSE(many[1]->has_value());
}

TEST_F(StoreTest, MultiGetEachHandsOverPresentValuesByIndexAndStopsAtAnError) {
  auto store = OpenStore();
  rocksdb::WriteBatch batch;
  batch.Put(store->Handle(Cf::kSubjects), "a", "1");
  batch.Put(store->Handle(Cf::kSubjects), "c", "3");
  ASSERT_TRUE(store->Write(&batch).ok());
  ASSERT_TRUE(store->db()->Flush(rocksdb::FlushOptions(), store->Handle(Cf::kSubjects)).ok());
  std::vector<std::pair<size_t, std::string>> seen;
  auto collect = [&](size_t i, std::string_view value) {
    seen.emplace_back(i, std::string(value));
    return absl::OkStatus();
  };
  ASSERT_TRUE(store->MultiGetEach(Cf::kSubjects, {"c", "b", "a", "c"}, collect).ok());
  std::sort(seen.begin(), seen.end());  // handed over in key order
  EXPECT_EQ(seen, (std::vector<std::pair<size_t, std::string>>{{0, "3"}, {2, "1"}, {3, "3"}}));
  int calls = 0;
  auto refuse = [&](size_t, std::string_view) {
    ++calls;
    return absl::DataLossError("bad");
  };
  EXPECT_EQ(store->MultiGetEach(Cf::kSubjects, {"a", "c"}, refuse).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 1);
}

// More keys than one MultiGet chunk, sharing a long prefix, some a prefix of another, some equal
// in the 8 bytes after the common prefix, some absent, some named twice: every present one is
// handed over once per time it is named, with its own value, in bytewise key order.
TEST_F(StoreTest, MultiGetEachReadsLargeBatchesInKeyOrder) {
  auto store = OpenStore();
  rocksdb::WriteBatch batch;
  std::vector<std::string_view> keys;
  std::vector<std::string> storage;
  for (int i = 0; i < 1500; ++i) {
    const std::string base = std::string("tenant") + '\0' + "subject-" + std::to_string(i % 700);
    storage.push_back(i % 3 == 0 ? base + "-long-suffix-" + std::to_string(i) : base);
  }
  storage.push_back(std::string("tenant") + '\0' + "subject-");  // a prefix of every other key
  std::set<std::string> written;
  for (size_t i = 0; i < storage.size(); ++i) {
    if (i % 5 == 4) continue;
    batch.Put(store->Handle(Cf::kSubjects), storage[i], "v:" + storage[i]);
    written.insert(storage[i]);
  }
  ASSERT_TRUE(store->Write(&batch).ok());
  std::vector<std::string> present_keys;
  for (const std::string& key : storage) {
    keys.push_back(key);
    if (written.contains(key)) present_keys.push_back(key);
  }
  std::sort(present_keys.begin(), present_keys.end());

  std::vector<std::string> seen_keys;
  ASSERT_TRUE(store
                  ->MultiGetEach(Cf::kSubjects, keys,
                                 [&](size_t i, std::string_view value) {
                                   EXPECT_EQ(value, "v:" + storage[i]);
                                   seen_keys.push_back(storage[i]);
                                   return absl::OkStatus();
                                 })
                  .ok());
  EXPECT_EQ(seen_keys, present_keys);
}

TEST_F(StoreTest, CompactionDropsExpiredIdempotencyRecords) {
  auto store = OpenStore();
  auto put = [&](const std::string& key, absl::Time expire) {
    storage::v1::IdempotencyRecord record;
    record.mutable_expire_time()->set_seconds(absl::ToUnixSeconds(expire));
    rocksdb::WriteBatch batch;
    batch.Put(store->Handle(Cf::kIdempotency), key, record.SerializeAsString());
    ASSERT_TRUE(store->Write(&batch).ok());
  };
  put("expired", clock_.Now() - absl::Hours(1));
  put("live", clock_.Now() + absl::Hours(1));
  ASSERT_TRUE(store->db()->Flush(rocksdb::FlushOptions(), store->Handle(Cf::kIdempotency)).ok());
  ASSERT_TRUE(store->db()
                  ->CompactRange(rocksdb::CompactRangeOptions(), store->Handle(Cf::kIdempotency),
                                 nullptr, nullptr)
                  .ok());
  EXPECT_FALSE(store->Get(Cf::kIdempotency, "expired")->has_value());
  EXPECT_TRUE(store->Get(Cf::kIdempotency, "live")->has_value());
}

TEST_F(StoreTest, OutboxReadsOldestFirstInWindowsAndDeletes) {
  auto store = OpenStore();
  Committer committer(*store, clock_);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(committer
                    .Run([i](Txn& txn) {
                      storage::v1::OutboxRecord record;
                      record.set_key("k" + std::to_string(i));
                      txn.Put(Cf::kOutbox, OutboxKey(txn.NextOutboxId()),
                              record.SerializeAsString());
                      return absl::OkStatus();
                    })
                    .ok());
  }
  auto first = ReadOutbox(*store, 0, 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].record.key(), "k0");
  EXPECT_EQ((*first)[1].id, 2u);
  auto next = ReadOutbox(*store, (*first)[1].id, 10);
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].record.key(), "k2");
  ASSERT_TRUE(DeleteOutbox(*store, {1, 2}).ok());
  EXPECT_EQ(*CountOutbox(*store), 3u);
  EXPECT_EQ((*ReadOutbox(*store, 0, 10))[0].record.key(), "k2");
}

}  // namespace
}  // namespace assent::store
