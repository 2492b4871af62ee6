#include "store/outbox.h"

#include "common/errors.h"
#include "rocksdb/write_batch.h"
#include "store/keys.h"

namespace assent::store {

absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(const Store& store, uint64_t after_id,
                                                    size_t max) {
  std::vector<OutboxEntry> out;
  auto it = store.NewIterator(Cf::kOutbox);
  for (it->Seek(OutboxKey(after_id + 1)); it->Valid() && out.size() < max; it->Next()) {
    if (it->key().size() != 8) return Corrupt("outbox key");
    OutboxEntry entry;
    entry.id = ReadBigEndian64(std::string_view(it->key().data(), 8));
    if (!entry.record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corrupt("outbox record");
    }
    out.push_back(std::move(entry));
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  return out;
}

absl::Status DeleteOutbox(Store& store, const std::vector<uint64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  for (uint64_t id : ids) batch.Delete(store.Handle(Cf::kOutbox), OutboxKey(id));
  return store.WriteUnsynced(&batch);
}

absl::StatusOr<uint64_t> CountOutbox(const Store& store) {
  uint64_t count = 0;
  auto it = store.NewIterator(Cf::kOutbox);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  return count;
}

}  // namespace assent::store
