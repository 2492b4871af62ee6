// The per-target hash chain. Each history record carries the SHA-256 of its predecessor and its
// own hash = SHA-256(previous_hash || deterministic serialization of the record with `hash`
// cleared), so altering, removing or reordering any record breaks every later link.
#pragma once

#include <string>

#include "assent/v1/consent.pb.h"
#include "assent/v1/types.pb.h"
#include "store/store.h"

namespace assent::ledger {

// The hash of `record` as described above (its `hash` field is ignored).
std::string HistoryHash(const v1::HistoryRecord& record);
// Seals a new record: clears and then sets its `hash`, and returns the bytes to store, which
// parse to the sealed record. The record is serialized once, for the hash and the stored bytes
// alike (the hash field goes last on the wire).
std::string SealRecord(v1::HistoryRecord& record);

// Walks the stored history of one target from sequence 1 and reports the first broken link:
// a missing or extra sequence, a previous_hash that is not the predecessor's hash, a hash that
// does not match the record, or a chain end that differs from the state's sequence and head.
// `state_sequence` and `state_head` come from the target's stored state.
// Errors: UNAVAILABLE on store errors (a broken chain is a result, not an error).
absl::StatusOr<v1::VerifyHistoryResponse> VerifyChain(const store::Store& store,
                                                      std::string_view tenant,
                                                      std::string_view entity,
                                                      uint64_t state_sequence,
                                                      std::string_view state_head);

}  // namespace assent::ledger
