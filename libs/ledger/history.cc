#include "ledger/history.h"

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/time_util.h"
#include "common/wire.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

// The bytes hashed: the deterministic serialization, stable for a given schema, which is all the
// chain needs (a schema change is a format migration).
std::string Canonical(const v1::HistoryRecord& record) { return SerializeDeterministic(record); }

std::string Digest(std::string_view previous_hash, std::string_view canonical) {
  std::string input;
  input.reserve(previous_hash.size() + canonical.size());
  input.append(previous_hash);
  input.append(canonical);
  return Sha256(input);
}

}  // namespace

std::string HistoryHash(const v1::HistoryRecord& record) {
  if (record.hash().empty()) return Digest(record.previous_hash(), Canonical(record));
  v1::HistoryRecord copy = record;
  copy.clear_hash();
  return Digest(record.previous_hash(), Canonical(copy));
}

std::string SealRecord(v1::HistoryRecord& record) {
  record.clear_hash();
  std::string bytes = Canonical(record);
  record.set_hash(Digest(record.previous_hash(), bytes));
  AppendMessageField(bytes, v1::HistoryRecord::kHashFieldNumber, record.hash());
  return bytes;
}

absl::StatusOr<v1::VerifyHistoryResponse> VerifyChain(
    const store::Store& store, std::string_view tenant, std::string_view entity,
    uint64_t state_sequence, std::string_view state_head, const std::optional<PruneRule>& prune) {
  v1::VerifyHistoryResponse out;
  auto broken = [&out](uint64_t seq, std::string problem) {
    out.set_valid(false);
    out.set_first_broken_sequence(seq);
    out.set_problem(std::move(problem));
    out.set_pruned_through_sequence(0);
    return out;
  };
  const std::string prefix = store::HistoryPrefix(tenant, entity);
  auto it = store.NewIterator(store::Cf::kHistory);
  std::string previous_hash;
  uint64_t expected = 1;
  // While set, the start of the chain is missing and the first record present was recorded at
  // this time: retention explains the gap only if it was past retention before the next activity.
  std::optional<absl::Time> unexplained_gap;
  auto gap_problem = [&] {
    return absl::StrCat("sequences 1..", out.pruned_through_sequence(),
                        " are missing and the target was active within its retention after them");
  };
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    auto seq = store::HistoryKeySequence(key);
    if (!seq.has_value()) return broken(expected, "malformed history key");
    v1::HistoryRecord record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return broken(*seq, "record does not parse");
    }
    if (unexplained_gap.has_value()) {
      if (!store::PastRetention(*unexplained_gap, prune->retention,
                                FromProto(record.recorded_time()))) {
        return broken(1, gap_problem());
      }
      unexplained_gap.reset();
    }
    if (expected == 1 && *seq > 1 && prune.has_value() && *seq <= state_sequence &&
        record.sequence() == *seq) {
      // The start of the chain may have gone with retention: link on from this record.
      out.set_pruned_through_sequence(*seq - 1);
      previous_hash = record.previous_hash();
      expected = *seq;
      unexplained_gap = FromProto(record.recorded_time());
    }
    if (*seq != expected) {
      return broken(expected,
                    absl::StrCat("sequence ", expected, " is missing (next is ", *seq, ")"));
    }
    if (record.sequence() != *seq) {
      return broken(*seq, absl::StrCat("record says sequence ", record.sequence()));
    }
    if (record.previous_hash() != previous_hash) {
      return broken(*seq, "previous_hash is not the hash of the preceding record");
    }
    if (record.personal_data_redacted()) {
      // Written before evidence was sealed and redacted by an erasure: it keeps the hash it was
      // sealed with (checked as the next record's link), but cannot be re-hashed.
      out.set_redacted_records(out.redacted_records() + 1);
    } else if (HistoryHash(record) != record.hash()) {
      return broken(*seq, "hash does not match the record's contents");
    }
    previous_hash = record.hash();
    out.set_records_checked(out.records_checked() + 1);
    ++expected;
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  if (unexplained_gap.has_value() &&
      !store::PastRetention(*unexplained_gap, prune->retention, prune->now)) {
    return broken(1, gap_problem());
  }
  if (expected == 1 && state_sequence > 0 && prune.has_value() &&
      store::PastRetention(prune->last_activity, prune->retention, prune->now)) {
    // Every record went with retention; the state (or stub) still names the chain's end.
    out.set_pruned_through_sequence(state_sequence);
    out.set_valid(true);
    return out;
  }
  if (expected - 1 != state_sequence) {
    return broken(expected, absl::StrCat("history ends at sequence ", expected - 1,
                                         " but the state is at ", state_sequence));
  }
  if (previous_hash != state_head) {
    return broken(state_sequence, "the state's chain head is not the last record's hash");
  }
  out.set_valid(true);
  return out;
}

}  // namespace assent::ledger
