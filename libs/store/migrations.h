// On-disk format migrations. Each migration takes the store from version N to N+1 inside one
// WriteBatch together with the new format record, so a crash leaves either the old or the new
// format. To change the format: bump kFormatVersion in store.h, add a function here that rewrites
// what changed, register it in kMigrations (migrations.cc), and add a test that opens a store
// written in the old format.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rocksdb/write_batch.h"

namespace assent::store {

class Store;

// Adds to `batch` everything that takes the store from `from_version` to `from_version + 1`;
// `now` is the migration's time.
// FAILED_PRECONDITION when no migration exists for that version.
absl::Status Migrate(Store& store, uint32_t from_version, absl::Time now,
                     rocksdb::WriteBatch& batch);

}  // namespace assent::store
