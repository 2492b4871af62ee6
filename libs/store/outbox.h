// Reading and retiring outbox records: the seam between the store and whatever publishes events
// (the Kafka outbox relay). Records are written by ledger mutations in the same batch as the change
// they announce; a publisher reads them oldest first and deletes each only after the broker has
// acknowledged it, so a crash at any point re-sends rather than loses.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "assent/storage/v1/storage.pb.h"
#include "store/store.h"

namespace assent::store {

struct OutboxEntry {
  uint64_t id = 0;
  storage::v1::OutboxRecord record;
};

// Up to `max` records with id > `after_id`, oldest first. UNAVAILABLE on read errors, DATA_LOSS
// for a record that does not parse.
absl::StatusOr<std::vector<OutboxEntry>> ReadOutbox(const Store& store, uint64_t after_id,
                                                    size_t max);

// Deletes the given records in one batch, without fsync (a delete lost in a crash only means the
// record is published again, which consumers drop by sequence). Deleting an absent id is not an
// error.
absl::Status DeleteOutbox(Store& store, const std::vector<uint64_t>& ids);

// How many records are waiting, counted by iteration (for gauges and tests; O(n)).
absl::StatusOr<uint64_t> CountOutbox(const Store& store);

}  // namespace assent::store
