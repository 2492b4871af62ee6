// The per-target hash chain. Each history record carries the SHA-256 of its predecessor and its
// own hash = SHA-256(previous_hash || deterministic serialization of the record with `hash`
// cleared), so altering, removing or reordering any record breaks every later link.
#pragma once

#include <optional>
#include <string>

#include "absl/time/time.h"
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

// How VerifyChain tells records removed by retention (store/retention.h) from missing ones.
struct PruneRule {
  // The tenant's history retention.
  absl::Duration retention;
  absl::Time now;
  // The target's last activity (its state's update_time, or its erasure time): used only when
  // no record at all is left.
  absl::Time last_activity;
};

// Walks the stored history of one target from sequence 1 and reports the first broken link:
// a missing or extra sequence, a previous_hash that is not the predecessor's hash, a hash that
// does not match the record, or a chain end that differs from the state's sequence and head.
// `state_sequence` and `state_head` come from the target's stored state (or erasure stub).
//
// With a `prune` rule, records missing from the start of the chain are reported as removed by
// retention (pruned_through_sequence) rather than broken when retention explains them: the first
// record present, F, was itself past retention before the next activity (the recorded_time of
// record F+1, or `now` when F is the last), which is when retention removes the records before it
// and keeps F (retention.cc). The chain is then verified from F, whose own previous_hash is taken
// on trust. With no record left, the whole chain counts as pruned when last_activity is past
// retention. A gap after the first record present, or a missing start that retention does not
// explain (a recent target), is still broken.
// Errors: UNAVAILABLE on store errors (a broken chain is a result, not an error).
absl::StatusOr<v1::VerifyHistoryResponse> VerifyChain(
    const store::Store& store, std::string_view tenant, std::string_view entity,
    uint64_t state_sequence, std::string_view state_head,
    const std::optional<PruneRule>& prune = std::nullopt);

}  // namespace assent::ledger
