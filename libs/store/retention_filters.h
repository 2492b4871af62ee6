// The compaction filters that enforce retention (retention.h). Internal to the store: Store::Open
// installs them and attaches the open database.
#pragma once

#include <atomic>
#include <memory>

#include "common/clock.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "store/retention.h"

namespace assent::store {

// Makes one HistoryRetentionFilter per compaction (Cf::kHistory). Each filter reads the current
// state of the targets whose records it sees (Cf::kSubjects, Cf::kContacts; Cf::kRights for an
// erased subject's stub) and caches the answer for one target at a time: the keys of a target
// arrive together. Until Attach(), and after Detach(), it filters nothing.
//
// A target's state is read when the filter reaches its first record, not at the compaction's
// start, so a write that made it active again before then keeps its records. A write that lands
// after that read, during the same compaction, cannot save the records the filter already judged
// past retention (they were); the last record stays in any case, and the new record links to it,
// so the chain still verifies (ledger/history.h; unless that write read the clock before the
// filter did, a window of microseconds, when VerifyHistory would report the start missing).
//
// Thread safety: CreateCompactionFilter from any thread; each filter is used by one thread.
class HistoryRetentionFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  // `options` and `clock` must outlive the factory.
  HistoryRetentionFilterFactory(const RetentionOptions& options, const Clock& clock)
      : options_(options), clock_(clock) {}

  // The database and the handles of the column families the filters read. They must stay valid
  // until Detach() and until every compaction started before it has finished.
  void Attach(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* subjects,
              rocksdb::ColumnFamilyHandle* contacts, rocksdb::ColumnFamilyHandle* rights);
  void Detach() { db_.store(nullptr, std::memory_order_release); }

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override;
  const char* Name() const override { return "assent.HistoryRetentionFilterFactory"; }

 private:
  const RetentionOptions& options_;
  const Clock& clock_;
  rocksdb::ColumnFamilyHandle* subjects_ = nullptr;
  rocksdb::ColumnFamilyHandle* contacts_ = nullptr;
  rocksdb::ColumnFamilyHandle* rights_ = nullptr;
  // Published last (release) so that a reader that sees it also sees the handles.
  std::atomic<rocksdb::DB*> db_{nullptr};
};

// Drops erasure stubs (Cf::kRights, keys "e" \0 tenant \0 subject) whose erase_time plus the
// tenant's erasure_stubs retention has passed, and with the same period the fencing records of
// link intents (cluster mode: "n" subject counters and "j" half records), whose intent numbers
// are start times; every other key of the family is kept.
class ErasureStubRetentionFilter final : public rocksdb::CompactionFilter {
 public:
  // `options` and `clock` must outlive the filter.
  ErasureStubRetentionFilter(const RetentionOptions& options, const Clock& clock)
      : options_(options), clock_(clock) {}
  bool Filter(int level, const rocksdb::Slice& key, const rocksdb::Slice& value,
              std::string* new_value, bool* value_changed) const override;
  const char* Name() const override { return "assent.ErasureStubRetentionFilter"; }

 private:
  const RetentionOptions& options_;
  const Clock& clock_;
};

}  // namespace assent::store
