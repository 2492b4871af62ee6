#include "store/store.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "assent/storage/v1/storage.pb.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "rocksdb/cache.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/convenience.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "store/keys.h"
#include "store/migrations.h"
#include "store/report_keys.h"
#include "store/retention_filters.h"

namespace assent::store {
namespace {

constexpr std::string_view kCfNames[kCfCount] = {
    "subjects", "contacts",  "history", "outbox", "idempotency", "catalog", "meta",
    "due",      "lifecycle", "proof",   "keys",   "rights",      "import",  "reports"};

// The first 8 bytes of `key` from `offset` as a big-endian integer, zero-padded: comparing these
// orders keys as a bytewise comparison of those bytes does, and equal values need the full keys.
uint64_t PrefixAt(std::string_view key, size_t offset) {
  uint64_t value = 0;
  for (size_t i = offset; i < offset + 8; ++i) {
    value = (value << 8) | (i < key.size() ? static_cast<uint8_t>(key[i]) : 0);
  }
  return value;
}

// The indices of `keys` in bytewise order (how every Assent column family compares). RocksDB would
// sort unsorted input itself through its comparator's virtual calls. The keys of a batch share a
// long prefix (the tenant), so comparing whole keys would compare it again for every pair: each key
// is reduced to the 8 bytes after the common prefix, and only ties compare the keys themselves.
std::vector<uint32_t> SortedOrder(const std::vector<std::string_view>& keys) {
  size_t common = keys.empty() ? 0 : keys[0].size();
  for (std::string_view key : keys) {
    const size_t n = std::min(common, key.size());
    common = std::mismatch(key.begin(), key.begin() + n, keys[0].begin()).first - key.begin();
  }
  struct Entry {
    uint64_t prefix;
    uint32_t index;
  };
  std::vector<Entry> entries(keys.size());
  for (uint32_t i = 0; i < keys.size(); ++i) entries[i] = {PrefixAt(keys[i], common), i};
  std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return keys[a.index] < keys[b.index];
  });
  std::vector<uint32_t> order(keys.size());
  for (size_t i = 0; i < entries.size(); ++i) order[i] = entries[i].index;
  return order;
}

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return StorageUnavailable(absl::StrCat(Sv(what), ": ", s.ToString()));
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

}  // namespace

// Drops idempotency records whose TTL has passed when RocksDB compacts them, so the column family
// stays bounded by the request rate times the TTL. Reads ignore expired records anyway, so when
// exactly a record disappears does not matter.
class ExpiredIdempotencyFilter final : public rocksdb::CompactionFilter {
 public:
  explicit ExpiredIdempotencyFilter(const Clock& clock) : clock_(clock) {}
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    storage::v1::IdempotencyRecord record;
    if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
    return absl::FromUnixSeconds(record.expire_time().seconds()) <= clock_.Now();
  }
  const char* Name() const override { return "assent.ExpiredIdempotencyFilter"; }

 private:
  const Clock& clock_;
};

std::string_view CfName(Cf cf) { return kCfNames[static_cast<int>(cf)]; }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options,
                                                   const Clock& clock) {
  if (options.path.empty()) return InvalidField("data_dir", "must not be empty");
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) return StorageUnavailable(absl::StrCat("create ", options.path, ": ", ec.message()));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Writers are already serialised by the Committer; pipelining lets the WAL write of one group
  // overlap the memtable insert of the previous one.
  db_options.enable_pipelined_write = true;
  db_options.max_background_jobs = 2;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.keep_log_file_num = 4;
  // Erasure and retention rely on an obsolete WAL file being deleted, not archived (a WAL TTL or
  // size limit would archive it) or reused with old records still in it (recycling): these are
  // RocksDB's defaults, stated here because CompactAll's guarantee depends on them.
  db_options.WAL_ttl_seconds = 0;
  db_options.WAL_size_limit_MB = 0;
  db_options.recycle_log_file_num = 0;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Tickers only (no timers): block-cache hit ratio for metrics at negligible cost.
  auto statistics = rocksdb::CreateDBStatistics();
  statistics->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
  db_options.statistics = statistics;

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;

  auto idempotency_filter = std::make_unique<ExpiredIdempotencyFilter>(clock);
  // Owned by the store (which outlives its database) so that the filters' references stay valid.
  auto retention = std::make_unique<RetentionOptions>(options.retention);
  auto stub_filter = std::make_unique<ErasureStubRetentionFilter>(*retention, clock);
  auto history_filters = std::make_shared<HistoryRetentionFilterFactory>(*retention, clock);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (std::string_view name : kCfNames) {
    rocksdb::ColumnFamilyOptions cf;
    cf.write_buffer_size = options.write_buffer_bytes;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf.compression = rocksdb::kLZ4Compression;
    // ZSTD where data stays (states, history, catalog): a better ratio for the long term. Outbox
    // records live until Kafka acknowledges them, usually milliseconds, so spending ZSTD's CPU
    // on the ones that do reach the last level (while Kafka is away) buys nothing lasting.
    cf.bottommost_compression =
        name == CfName(Cf::kOutbox) ? rocksdb::kLZ4Compression : rocksdb::kZSTD;
    if (name == CfName(Cf::kIdempotency)) cf.compaction_filter = idempotency_filter.get();
    if (name == CfName(Cf::kRights)) cf.compaction_filter = stub_filter.get();
    if (name == CfName(Cf::kHistory)) cf.compaction_filter_factory = history_filters;
    if (name == CfName(Cf::kReports)) cf.merge_operator = NewReportCountsMergeOperator();
    descriptors.emplace_back(std::string(name), cf);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open ", options.path));

  std::unique_ptr<Store> store(new Store());
  store->retention_ = std::move(retention);
  store->idempotency_filter_ = std::move(idempotency_filter);
  store->stub_filter_ = std::move(stub_filter);
  store->history_filters_ = std::move(history_filters);
  store->statistics_ = std::move(statistics);
  store->db_.reset(raw);
  // handles[0] is the default family, which Assent does not use; RocksDB still wants it closed.
  store->handles_.assign(handles.begin() + 1, handles.end());
  store->db_->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
  store->history_filters_->Attach(raw, store->Handle(Cf::kSubjects), store->Handle(Cf::kContacts),
                                  store->Handle(Cf::kRights));
  store->write_options_.sync = options.sync_writes;
  RETURN_IF_ERROR(store->InitFormat(clock));
  return store;
}

absl::Status Store::InitFormat(const Clock& clock) {
  ASSIGN_OR_RETURN(auto stored, Get(Cf::kMeta, kFormatKey));
  storage::v1::FormatInfo info;
  if (!stored.has_value()) {
    // A new store: write the current format.
    opened_format_version_ = kFormatVersion;
    info.set_format_version(kFormatVersion);
    *info.mutable_create_time() = ToProto(clock.Now());
    rocksdb::WriteBatch batch;
    batch.Put(Handle(Cf::kMeta), std::string(kFormatKey), info.SerializeAsString());
    return Write(&batch);
  }
  if (!info.ParseFromString(*stored)) return Corrupt("format record");
  opened_format_version_ = info.format_version();
  if (info.format_version() > kFormatVersion) {
    return FailedPrecondition(absl::StrCat("the store has on-disk format ", info.format_version(),
                                           " but this build reads at most ", kFormatVersion,
                                           "; run a newer consentd"));
  }
  while (info.format_version() < kFormatVersion) {
    rocksdb::WriteBatch batch;
    RETURN_IF_ERROR(Migrate(*this, info.format_version(), clock.Now(), batch));
    info.set_format_version(info.format_version() + 1);
    *info.mutable_migrate_time() = ToProto(clock.Now());
    batch.Put(Handle(Cf::kMeta), std::string(kFormatKey), info.SerializeAsString());
    RETURN_IF_ERROR(Write(&batch));
  }
  return absl::OkStatus();
}

Store::~Store() { Close().IgnoreError(); }

absl::Status Store::Close() {
  if (db_ == nullptr) return absl::OkStatus();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  rocksdb::Status flushed = db_->Flush(flush, handles_);
  // The history filters read through the handles destroyed below: no compaction may still run.
  history_filters_->Detach();
  rocksdb::CancelAllBackgroundWork(db_.get(), /*wait=*/true);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  handles_.clear();
  rocksdb::Status closed = db_->Close();
  db_.reset();
  RETURN_IF_ERROR(FromRocks(flushed, "flush"));
  return FromRocks(closed, "close");
}

absl::StatusOr<std::optional<std::string>> Store::Get(Cf cf, std::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), Handle(cf), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, absl::StrCat("read ", Sv(CfName(cf))));
  return std::optional<std::string>(std::move(value));
}

std::vector<absl::StatusOr<std::optional<std::string>>> Store::MultiGet(
    Cf cf, const std::vector<std::string>& keys) const {
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), Handle(cf), keys.size(), slices.data(), values.data(),
                statuses.data());
  std::vector<absl::StatusOr<std::optional<std::string>>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      out.emplace_back(std::nullopt);
    } else if (!statuses[i].ok()) {
      out.emplace_back(FromRocks(statuses[i], absl::StrCat("read ", Sv(CfName(cf)))));
    } else {
      out.emplace_back(std::optional<std::string>(values[i].ToString()));
    }
  }
  return out;
}

absl::Status Store::MultiGetEach(
    Cf cf, const std::vector<std::string_view>& keys,
    absl::FunctionRef<absl::Status(size_t index, std::string_view value)> fn) const {
  const std::vector<uint32_t> order = SortedOrder(keys);
  // RocksDB's MultiGet keeps per-key state in vectors as long as the call: for a whole batch of
  // 10,000 keys they, and the pinned values, are fresh memory every time, i.e. page faults.
  // Chunks of sorted keys keep that memory small enough to be reused from the heap, at the cost of
  // one lookup of the current version per chunk.
  constexpr size_t kChunk = 256;
  std::array<rocksdb::Slice, kChunk> slices;
  std::array<rocksdb::PinnableSlice, kChunk> values;
  std::array<rocksdb::Status, kChunk> statuses;
  for (size_t start = 0; start < order.size(); start += kChunk) {
    const size_t n = std::min(kChunk, order.size() - start);
    for (size_t k = 0; k < n; ++k) {
      const std::string_view key = keys[order[start + k]];
      slices[k] = rocksdb::Slice(key.data(), key.size());
    }
    db_->MultiGet(rocksdb::ReadOptions(), Handle(cf), n, slices.data(), values.data(),
                  statuses.data(), /*sorted_input=*/true);
    absl::Status status;
    for (size_t k = 0; k < n && status.ok(); ++k) {
      if (statuses[k].IsNotFound()) continue;
      if (!statuses[k].ok()) {
        status = FromRocks(statuses[k], absl::StrCat("read ", Sv(CfName(cf))));
      } else {
        status = fn(order[start + k], std::string_view(values[k].data(), values[k].size()));
      }
    }
    for (size_t k = 0; k < n; ++k) values[k].Reset();  // releases the pinned blocks
    RETURN_IF_ERROR(status);
  }
  return absl::OkStatus();
}

std::unique_ptr<rocksdb::Iterator> Store::NewIterator(Cf cf) const {
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions(), Handle(cf)));
}

absl::Status Store::Write(rocksdb::WriteBatch* batch) {
  return FromRocks(db_->Write(write_options_, batch), "write");
}

uint64_t Store::SumProperty(const std::string& name) const {
  if (db_ == nullptr) return 0;
  uint64_t total = 0;
  for (auto* handle : handles_) {
    uint64_t value = 0;
    if (db_->GetIntProperty(handle, name, &value)) total += value;
  }
  return total;
}

uint64_t Store::WalBytes() const {
  if (db_ == nullptr) return 0;
  rocksdb::VectorLogPtr files;
  if (!db_->GetSortedWalFiles(files).ok()) return 0;
  uint64_t total = 0;
  for (const auto& f : files) total += f->SizeFileBytes();
  return total;
}

absl::StatusOr<CompactionReport> Store::CompactAll() {
  absl::MutexLock lock(&compact_mu_);
  CompactionReport report;
  report.wal_bytes_before = WalBytes();
  for (int i = 0; i < kCfCount; ++i) {
    CfCompaction family;
    family.name = std::string(CfName(static_cast<Cf>(i)));
    db_->GetIntProperty(handles_[i], "rocksdb.total-sst-files-size", &family.sst_bytes_before);
    db_->GetIntProperty(handles_[i], "rocksdb.cur-size-all-mem-tables",
                        &family.memtable_bytes_before);
    report.families.push_back(std::move(family));
  }
  // Every family, the unused default one included: a WAL file is obsolete only once every family
  // with data in it has flushed.
  std::vector<rocksdb::ColumnFamilyHandle*> all = handles_;
  all.push_back(db_->DefaultColumnFamily());
  rocksdb::FlushOptions flush;
  flush.wait = true;
  RETURN_IF_ERROR(FromRocks(db_->Flush(flush, all), "flush"));
  rocksdb::CompactRangeOptions compact;
  // Rewrite the last level too: that is where a delete finally removes the value it hides, and
  // where retention's filters see every old record.
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  compact.change_level = false;
  // Background compactions go on meanwhile, so that a store under write load does not stall on a
  // growing level 0 for as long as the whole store takes to rewrite.
  compact.exclusive_manual_compaction = false;
  for (int i = 0; i < kCfCount; ++i) {
    RETURN_IF_ERROR(FromRocks(db_->CompactRange(compact, handles_[i], nullptr, nullptr),
                              absl::StrCat("compact ", Sv(CfName(static_cast<Cf>(i))))));
  }
  // Obsolete files (the flushed WALs, the compacted SSTs) are normally deleted by a background
  // job some time later. Re-enabling deletions scans the directory and deletes them now, in this
  // thread. The options keep no WAL archive (WAL_ttl_seconds and WAL_size_limit_MB are 0) and
  // recycle no WAL file (recycle_log_file_num 0), so deleted means gone.
  RETURN_IF_ERROR(FromRocks(db_->DisableFileDeletions(), "disable file deletions"));
  RETURN_IF_ERROR(FromRocks(db_->EnableFileDeletions(/*force=*/false), "enable file deletions"));
  for (int i = 0; i < kCfCount; ++i) {
    db_->GetIntProperty(handles_[i], "rocksdb.total-sst-files-size",
                        &report.families[i].sst_bytes_after);
  }
  report.wal_bytes_after = WalBytes();
  return report;
}

uint64_t Store::BlockCacheHits() const {
  return statistics_ ? statistics_->getTickerCount(rocksdb::BLOCK_CACHE_HIT) : 0;
}

uint64_t Store::BlockCacheMisses() const {
  return statistics_ ? statistics_->getTickerCount(rocksdb::BLOCK_CACHE_MISS) : 0;
}

absl::Status Store::WriteUnsynced(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions options;
  options.sync = false;
  return FromRocks(db_->Write(options, batch), "write");
}

}  // namespace assent::store
