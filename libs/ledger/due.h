// The due index: time-driven work written in the same batch as the decision that causes it, so
// that nothing due is ever forgotten and nothing is found by scanning every target.
//
//   key   = due time (big-endian unix microseconds) | kind (1 byte) | tenant \0 entity \0 record_id
//   value = the serialized TargetRef of the record's target
//
// Keys sort by due time, so the sweeper reads what is due with one forward scan from the start.
// An entry only says "look at this record at this time": the sweeper checks that the record is
// still the target's current decision in the state the entry was made for, so entries left
// behind by a newer decision (a withdrawal, a renewal) are dropped without effect.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "assent/v1/types.pb.h"
#include "ledger/catalog_cache.h"
#include "store/committer.h"

namespace assent::ledger {

enum class DueKind : char {
  // Publish ConsentExpiring (Purpose.remind_before ahead of the grant's expiry).
  kRemind = 'r',
  // The grant or PENDING decision runs out: it becomes LAPSED.
  kExpire = 'x',
};

struct DueKey {
  absl::Time due;
  DueKind kind = DueKind::kExpire;
  std::string tenant;
  std::string entity;
  std::string record_id;
};

std::string EncodeDueKey(const DueKey& key);
// nullopt when `key` is not a due key.
std::optional<DueKey> DecodeDueKey(std::string_view key);
// The smallest key of entries due after `t` (every key below it is due at or before `t`).
std::string DueKeyAfter(absl::Time t);

// Stages the due entries of `record` of `target`: its expiry when it is GRANTED or PENDING with an
// expire_time, and for a GRANTED one whose purpose (in `catalog`) has remind_before, its reminder
// (no earlier than `now`: a grant that is already inside its reminder window is reminded at once).
void IndexDue(store::Txn& txn, const Catalog& catalog, std::string_view tenant,
              const v1::TargetRef& target, const v1::ConsentRecord& record, absl::Time now);
// IndexDue for every decision a change wrote (the `after` of each DecisionChange), with the
// catalog's current snapshot (taken only when some decision expires).
void IndexDue(store::Txn& txn, const CatalogCache& catalog, const v1::HistoryRecord& change);

}  // namespace assent::ledger
