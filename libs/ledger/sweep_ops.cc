// Time-driven changes: the sweeper's work on the due index (ledger/due.h) and the backfill that
// indexes grants stored before the index existed.
//
// Each target's due entries are handled in one committer mutation that deletes the entries in
// the same batch as the notices and the history record they produce. A crash therefore leaves
// either both (the work is done and will not be redone) or neither (the entry is still there and
// the next sweep does the same work again, producing the same event ids and the same sequence):
// a consumer sees each reminder and each expiry once, by id, however often consentd dies.
#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "assent/v1/lifecycle.pb.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "ledger/change.h"
#include "ledger/due.h"
#include "ledger/events.h"
#include "ledger/ledger.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

// The history's actor of changes Assent makes by itself, and their sources.
constexpr std::string_view kAssentActor = "assent";
constexpr std::string_view kExpirySource = "expiry";
constexpr std::string_view kConfirmationWindowSource = "confirmation-window";

struct DueWork {
  std::string key;
  DueKey due;
};

// Waits for many committer mutations at once, keeping the first error.
class Pending {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
  }
  void Done(absl::Status s) {
    absl::MutexLock lock(&mu_);
    if (!s.ok() && status_.ok()) status_ = std::move(s);
    --outstanding_;
  }
  absl::Status Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &outstanding_));
    return status_;
  }

 private:
  absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// Does the due work of one target's entries (already deleted from the index by the caller).
template <typename State>
void SweepTarget(store::Txn& txn, const v1::TargetRef& target, const std::vector<DueWork>& work,
                 State& state, SweepStats& stats) {
  const absl::Time now = txn.now();
  auto find = [&](std::string_view record_id) -> int {
    for (int i = 0; i < state.decisions_size(); ++i) {
      if (state.decisions(i).record_id() == record_id) return i;
    }
    return -1;
  };
  std::vector<int> lapse_granted;
  std::vector<int> lapse_pending;
  for (const DueWork& w : work) {
    const int i = find(w.due.record_id);
    const v1::ConsentRecord* record = i < 0 ? nullptr : &state.decisions(i);
    const bool expiring = record != nullptr && record->has_expire_time() &&
                          (record->state() == v1::GRANTED || record->state() == v1::PENDING);
    if (!expiring) {
      ++stats.dropped;
      continue;
    }
    const absl::Time expire = FromProto(record->expire_time());
    if (w.due.kind == DueKind::kRemind) {
      // A reminder is sent once for every grant, even late (the sweeper was down through the
      // reminder window): consumers see the expire_time; the expiry itself follows it.
      if (record->state() != v1::GRANTED) {
        ++stats.dropped;
        continue;
      }
      v1::ConsentExpiring notice;
      notice.set_event_id(
          absl::StrCat(EventKey(state.tenant(), target), "/", record->record_id(), "/expiring"));
      notice.set_tenant(state.tenant());
      *notice.mutable_target() = target;
      *notice.mutable_record() = *record;
      *notice.mutable_notice_time() = ToProto(now);
      txn.PutNew(store::Cf::kOutbox, store::OutboxKey(txn.NextOutboxId()),
                 BuildNoticeRecord(state.tenant(), target, notice, now).SerializeAsString());
      ++stats.reminders;
      continue;
    }
    if (expire > now) {
      // Made for an expiry that has since moved (cannot happen for an unchanged record).
      ++stats.dropped;
      continue;
    }
    auto& list = record->state() == v1::GRANTED ? lapse_granted : lapse_pending;
    if (std::find(list.begin(), list.end(), i) == list.end()) list.push_back(i);
  }
  for (bool granted : {true, false}) {
    const std::vector<int>& list = granted ? lapse_granted : lapse_pending;
    if (list.empty()) continue;
    v1::HistoryRecord history;
    history.set_tenant(state.tenant());
    *history.mutable_target() = target;
    history.set_kind(granted ? v1::DECISIONS_EXPIRED : v1::PENDING_EXPIRED);
    history.set_actor(std::string(kAssentActor));
    history.set_source(std::string(granted ? kExpirySource : kConfirmationWindowSource));
    *history.mutable_recorded_time() = ToProto(now);
    absl::Time effective = absl::InfiniteFuture();
    const uint64_t sequence = state.sequence() + 1;
    for (size_t j = 0; j < list.size(); ++j) {
      v1::ConsentRecord& current = *state.mutable_decisions(list[j]);
      v1::DecisionChange* change = history.add_decisions();
      *change->mutable_before() = current;
      effective = std::min(effective, FromProto(current.expire_time()));
      current.set_record_id(absl::StrCat(sequence, "-", j));
      current.set_sequence(sequence);
      current.set_state(v1::LAPSED);
      *current.mutable_recorded_time() = history.recorded_time();
      *current.mutable_effective_time() = current.expire_time();
      current.set_actor(std::string(kAssentActor));
      current.clear_on_behalf_of();
      current.set_source(history.source());
      current.clear_imported();
      current.clear_import_origin();
      current.clear_honour_by();
      *change->mutable_after() = current;
    }
    *history.mutable_effective_time() = ToProto(effective);
    AppendChange(txn, history, state);
    (granted ? stats.expired : stats.pending_expired) += static_cast<int>(list.size());
  }
}

}  // namespace

absl::StatusOr<SweepStats> Ledger::SweepDue(absl::Time now, int max_entries,
                                            const KeyFilter& handled_here) {
  SweepStats stats;
  // What is due, grouped by target (one mutation each), read from the store: entries deleted by
  // a mutation still in flight may be read again, and the mutation skips them (txn.Get sees them
  // deleted), so nothing is done twice.
  std::map<std::pair<std::string, std::string>, std::pair<v1::TargetRef, std::vector<DueWork>>>
      targets;
  {
    const std::string end = DueKeyAfter(now);
    std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(store::Cf::kDue);
    int taken = 0;
    int passed_over = 0;
    // Through a backlog, each round resumes after the previous round's last entry instead of
    // stepping again over the deletions the previous rounds left at the start of the index.
    // Once caught up, the next round starts from the beginning, so an entry written meanwhile
    // with an earlier due time (an import of an expired grant) is found too.
    absl::MutexLock sweep_lock(&sweep_mu_);
    if (sweep_cursor_.empty()) {
      it->SeekToFirst();
    } else {
      it->Seek(sweep_cursor_);
    }
    sweep_cursor_.clear();
    for (; it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      if (key >= end) break;
      if (handled_here && !handled_here(key)) {
        // Another instance's: a round that meets many resumes after them next time.
        if (++passed_over >= kMaxPassedOverPerEntry * max_entries) {
          sweep_cursor_ = std::string(key);
          // Go on at once if this round found work of ours among them (a small share of the
          // partitions owned here); a round of others' entries only waits for the interval.
          stats.more = taken > 0;
          break;
        }
        continue;
      }
      if (taken == max_entries) {
        stats.more = true;
        sweep_cursor_ = std::string(key);
        break;
      }
      ++taken;
      std::optional<DueKey> due = DecodeDueKey(key);
      if (!due.has_value()) return Corrupt("due index key");
      stats.oldest_due = std::min(stats.oldest_due, due->due);
      auto& slot = targets[{due->tenant, due->entity}];
      if (slot.second.empty() &&
          !slot.first.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return Corrupt("due index value");
      }
      slot.second.push_back(DueWork{std::string(key), *std::move(due)});
    }
    if (!it->status().ok())
      return StorageUnavailable(absl::StrCat("read due index: ", it->status().ToString()));
  }
  if (targets.empty()) return stats;

  Pending pending;
  absl::Mutex stats_mu;
  for (auto& [id, slot] : targets) {
    pending.Add();
    committer_.Submit(
        [&, target = slot.first, work = std::move(slot.second)](store::Txn& txn) -> absl::Status {
          std::vector<DueWork> live;
          for (const DueWork& w : work) {
            ASSIGN_OR_RETURN(auto present, txn.Get(store::Cf::kDue, w.key));
            if (!present.has_value()) continue;
            txn.Delete(store::Cf::kDue, w.key);
            live.push_back(w);
          }
          if (live.empty()) return absl::OkStatus();
          SweepStats local;
          const std::string& tenant = live.front().due.tenant;
          if (target.has_contact()) {
            ASSIGN_OR_RETURN(auto state, LoadContact(txn, tenant, target.contact()));
            SweepTarget(txn, target, live, state, local);
          } else {
            ASSIGN_OR_RETURN(auto state, LoadSubject(txn, tenant, target.subject_id()));
            SweepTarget(txn, target, live, state, local);
          }
          txn.OnCommit([&stats, &stats_mu, local] {
            absl::MutexLock lock(&stats_mu);
            stats.reminders += local.reminders;
            stats.expired += local.expired;
            stats.pending_expired += local.pending_expired;
            stats.dropped += local.dropped;
          });
          return absl::OkStatus();
        },
        [&pending](absl::Status s) { pending.Done(std::move(s)); });
  }
  RETURN_IF_ERROR(pending.Wait());
  absl::MutexLock lock(&stats_mu);
  return stats;
}

absl::StatusOr<BackfillProgress> Ledger::BackfillDue(int max_targets) {
  BackfillProgress progress;
  ASSIGN_OR_RETURN(auto cursor, store_.Get(store::Cf::kMeta, store::kDueBackfillKey));
  if (!cursor.has_value()) {
    progress.done = true;
    return progress;
  }
  if (cursor->size() < 9 || ((*cursor)[0] != 's' && (*cursor)[0] != 'c')) {
    return Corrupt("due backfill cursor");
  }
  char phase = (*cursor)[0];
  progress.scanned = store::ReadBigEndian64(std::string_view(*cursor).substr(1));
  const std::string from = cursor->substr(9);
  // The next keys to index, read outside the mutation; the mutation reads each state again
  // (it may have changed since) and moves the cursor in the same batch.
  std::vector<std::string> keys;
  std::string next;
  bool phase_done = false;
  {
    std::unique_ptr<rocksdb::Iterator> it =
        store_.NewIterator(phase == 's' ? store::Cf::kSubjects : store::Cf::kContacts);
    for (it->Seek(from); it->Valid(); it->Next()) {
      if (static_cast<int>(keys.size()) == max_targets) {
        next = it->key().ToString();
        break;
      }
      keys.push_back(it->key().ToString());
    }
    if (!it->status().ok()) {
      return StorageUnavailable(absl::StrCat("read for due backfill: ", it->status().ToString()));
    }
    phase_done = next.empty();
  }
  const uint64_t scanned = progress.scanned + keys.size();
  std::string new_cursor;
  if (!phase_done) {
    new_cursor.push_back(phase);
    store::PutBigEndian64(&new_cursor, scanned);
    new_cursor.append(next);
  } else if (phase == 's') {
    new_cursor.push_back('c');
    store::PutBigEndian64(&new_cursor, scanned);
  }
  int indexed = 0;
  RETURN_IF_ERROR(committer_.Run([&](store::Txn& txn) -> absl::Status {
    auto catalog = catalog_.Snapshot();
    const store::Cf cf = phase == 's' ? store::Cf::kSubjects : store::Cf::kContacts;
    for (const std::string& key : keys) {
      ASSIGN_OR_RETURN(auto raw, txn.Get(cf, key));
      if (!raw.has_value()) continue;
      ASSIGN_OR_RETURN(StoredDecisions stored, DecodeStoredDecisions(phase == 'c', *raw));
      for (const v1::ConsentRecord& record : stored.decisions) {
        if (!record.has_expire_time()) continue;
        IndexDue(txn, *catalog, stored.tenant, stored.target, record, txn.now());
        ++indexed;
      }
    }
    if (new_cursor.empty()) {
      txn.Delete(store::Cf::kMeta, store::kDueBackfillKey);
    } else {
      txn.Put(store::Cf::kMeta, store::kDueBackfillKey, new_cursor);
    }
    return absl::OkStatus();
  }));
  progress.scanned = scanned;
  progress.indexed = indexed;
  progress.done = new_cursor.empty();
  return progress;
}

}  // namespace assent::ledger
