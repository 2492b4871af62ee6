// The RocksDB database behind Assent: one database, one column family per access pattern.
//
// Thread safety: every method may be called from any thread. Writes should go through the
// Committer (committer.h), which serialises mutations and group-commits them; Store::Write is the
// primitive it uses.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "rocksdb/statistics.h"
#include "store/retention.h"

namespace assent::store {

class HistoryRetentionFilterFactory;

// Column families (see keys.h for their key layouts).
enum class Cf {
  kSubjects,
  kContacts,
  kHistory,
  kOutbox,
  kIdempotency,
  kCatalog,
  kMeta,
  // Time-driven work: what falls due when (expiry, reminders), written with the decision.
  kDue,
  // Lifecycle bookkeeping: re-permission campaigns and their lists.
  kLifecycle,
  // Proof of enforcement: when each registered sender applied each withdrawal.
  kProof,
  // Per-target data keys that seal identifying evidence, wrapped by the master key; deleting one
  // is the erasure (crypto-shredding).
  kKeys,
  // Subject rights: legal holds, erasure stubs, tenant offboarding.
  kRights,
  // Bulk import: the SHA-256 of every row key imported, kept without a TTL so that a file
  // imported again, even years later, records nothing twice.
  kImport,
  // Consent report aggregates (store/report_keys.h), kept by merge operands written with each
  // history record.
  kReports,
};
inline constexpr int kCfCount = 14;
std::string_view CfName(Cf cf);

// The on-disk format this build reads and writes. Opening a store with a lower version runs the
// migrations in migrations.cc; a higher version is refused.
inline constexpr uint32_t kFormatVersion = 3;

struct StoreOptions {
  // Directory of the database. Required; created if missing.
  std::string path;
  // Shared LRU block cache for every column family. Default 256 MiB.
  size_t block_cache_bytes = 256u << 20;
  // Memtable size per column family. Default 32 MiB.
  size_t write_buffer_bytes = 32u << 20;
  // fsync the WAL before a write returns. Default true; only tests and benchmarks of the
  // non-durable path turn it off.
  bool sync_writes = true;
  // The RocksDB environment (files, threads). Null: the default. Tests pass one that injects
  // I/O faults; not owned, must outlive the store.
  rocksdb::Env* env = nullptr;
  // How long history and erasure stubs are kept (retention.h); enforced when RocksDB compacts.
  // Default 6 years for both, no per-tenant overrides.
  RetentionOptions retention;
};

// What Store::CompactAll did to one column family: its SST bytes before and after, and the
// memtable bytes it flushed.
struct CfCompaction {
  std::string name;
  uint64_t sst_bytes_before = 0;
  uint64_t sst_bytes_after = 0;
  uint64_t memtable_bytes_before = 0;
};
struct CompactionReport {
  std::vector<CfCompaction> families;
  // Live WAL bytes before and after.
  uint64_t wal_bytes_before = 0;
  uint64_t wal_bytes_after = 0;
};

class Store {
 public:
  // Opens (creating if needed) the database. `clock` must outlive the store (it decides when
  // idempotency records have expired during compaction)., checks or writes the format version and
  // runs pending migrations. Errors: UNAVAILABLE when RocksDB cannot open the directory (locked by
  // another process, I/O error); FAILED_PRECONDITION for a format newer than this build.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options,
                                                     const Clock& clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Point read. nullopt when absent; UNAVAILABLE on I/O errors.
  absl::StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) const;
  // Point reads of many keys in one column family, in order.
  std::vector<absl::StatusOr<std::optional<std::string>>> MultiGet(
      Cf cf, const std::vector<std::string>& keys) const;
  // Point reads of many keys in one column family that hand each present value to
  // `fn(index in keys, bytes)` while RocksDB still holds it (no copy; the bytes are valid only
  // during the call), in the keys' sorted order, not the order of `keys`. Absent keys are skipped.
  // Returns the first read error (UNAVAILABLE), or the first error `fn` returns, after which `fn`
  // is not called again.
  absl::Status MultiGetEach(
      Cf cf, const std::vector<std::string_view>& keys,
      absl::FunctionRef<absl::Status(size_t index, std::string_view value)> fn) const;
  // An iterator over one column family (total order). Never null.
  std::unique_ptr<rocksdb::Iterator> NewIterator(Cf cf) const;
  // Applies a batch atomically; durable in the WAL (fsync'ed) before it returns when
  // sync_writes. UNAVAILABLE on failure, in which case nothing of the batch is applied.
  absl::Status Write(rocksdb::WriteBatch* batch);
  // Applies a batch atomically without waiting for fsync: for writes whose loss in a crash is
  // harmless (deleting outbox records that were already published; a lost delete re-sends).
  absl::Status WriteUnsynced(rocksdb::WriteBatch* batch);
  rocksdb::ColumnFamilyHandle* Handle(Cf cf) const { return handles_[static_cast<int>(cf)]; }
  // The format version found on disk when opened (before migrations).
  uint32_t opened_format_version() const { return opened_format_version_; }
  // Flushes memtables and closes the database. Safe to call twice; the destructor calls it.
  absl::Status Close();
  rocksdb::DB* db() const { return db_.get(); }

  // Flushes every column family's memtables, compacts every column family fully down to its
  // last level (so deletes and retention's filters have removed what they remove), and deletes
  // the WAL files and SSTs this made obsolete before it returns: afterwards no file of the data
  // directory holds a value that was deleted before the call (as long as no iterator or snapshot
  // opened before it is still alive: those pin the files they read). Runs in the calling thread
  // and takes as long as rewriting the whole database; calls are serialised. UNAVAILABLE on
  // RocksDB errors.
  absl::StatusOr<CompactionReport> CompactAll();
  // The retention this store enforces (StoreOptions::retention).
  const RetentionOptions& retention() const { return *retention_; }

  // For metrics. An integer RocksDB property summed over Assent's column families (e.g.
  // "rocksdb.total-sst-files-size", "rocksdb.cur-size-all-mem-tables"); 0 when unknown.
  uint64_t SumProperty(const std::string& name) const;
  // Total size of the live WAL files.
  uint64_t WalBytes() const;
  // Block-cache hits and misses since open.
  uint64_t BlockCacheHits() const;
  uint64_t BlockCacheMisses() const;

 private:
  Store() = default;
  absl::Status InitFormat(const Clock& clock);

  // Declared before db_ so that they are destroyed after the database that uses them.
  std::unique_ptr<RetentionOptions> retention_;
  std::unique_ptr<rocksdb::CompactionFilter> idempotency_filter_;
  std::unique_ptr<rocksdb::CompactionFilter> stub_filter_;
  std::shared_ptr<HistoryRetentionFilterFactory> history_filters_;
  absl::Mutex compact_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::WriteOptions write_options_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  uint32_t opened_format_version_ = 0;
};

}  // namespace assent::store
