// The single writer of the store, with group commit.
//
// Every change to the store is a Mutation: a function that reads what it needs through a Txn and
// stages its writes there. The committer runs mutations one at a time on its own thread, so a
// mutation sees every earlier mutation's writes (sequence numbers are assigned without races), and
// gathers all mutations that queued up while the previous group was being made durable into one
// WriteBatch with one fsync. Many concurrent callers therefore share each disk flush instead of
// queueing behind one flush each: durability costs latency, not throughput.
//
// A mutation that returns an error has none of its writes applied; the others in its group are
// unaffected. When the group's write fails, every mutation in it fails with UNAVAILABLE and nothing
// is applied.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "rocksdb/write_batch.h"
#include "store/store.h"

namespace assent::store {

class Committer;

// What a mutation sees: reads return the latest value, including writes staged earlier in the
// same group and by this mutation. Only valid during the mutation call.
class Txn {
 public:
  absl::StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key);
  void Put(Cf cf, std::string_view key, std::string value);
  void Delete(Cf cf, std::string_view key);
  // A new, never reused outbox id (ids increase in commit order).
  uint64_t NextOutboxId();
  // The commit time of this mutation (the committer's clock when the mutation started).
  absl::Time now() const { return now_; }
  // Runs `fn` on the committer thread after the group is durable, before the done callbacks.
  // Used to refresh in-memory caches of what was written.
  void OnCommit(absl::AnyInvocable<void()> fn) { on_commit_.push_back(std::move(fn)); }

 private:
  friend class Committer;
  struct Op {
    Cf cf;
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  using Overlay = absl::flat_hash_map<std::string, std::optional<std::string>>;
  Txn(Store& store, Committer& committer, const Overlay& group, absl::Time now)
      : store_(store), committer_(committer), group_(group), now_(now) {}
  static std::string OverlayKey(Cf cf, std::string_view key);

  Store& store_;
  Committer& committer_;
  const Overlay& group_;
  Overlay local_;
  std::vector<Op> ops_;
  std::vector<absl::AnyInvocable<void()>> on_commit_;
  absl::Time now_;
};

// Told about every durable group commit, on the committer thread (must not block). The outbox
// relay uses it to publish new events at once; metrics use it to count and time commits.
class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // `mutations` succeeded and are durable; `write_latency` is the time spent in the WAL write and
  // fsync; `bytes` is the size of the batch.
  virtual void OnGroupCommitted(size_t mutations, size_t bytes, absl::Duration write_latency) = 0;
};

struct CommitterOptions {
  // Mutations waiting beyond this are refused with RESOURCE_EXHAUSTED. Default 20000.
  size_t max_queue = 20000;
  // At most this many mutations share one WriteBatch. Default 512.
  size_t max_group = 512;
};

struct CommitterStats {
  uint64_t groups = 0;
  uint64_t mutations = 0;
  uint64_t failed_writes = 0;
  uint64_t rejected_queue_full = 0;  // refused at Submit: RESOURCE_EXHAUSTED
  uint64_t rejected_deadline = 0;    // dropped unrun: DEADLINE_EXCEEDED
};

class Committer {
 public:
  using Mutation = absl::AnyInvocable<absl::Status(Txn&)>;
  // Called exactly once, on the committer thread (or the caller's, when refused at Submit) with
  // the mutation's status, once its writes are durable (or not applied). Must not block.
  using Done = absl::AnyInvocable<void(absl::Status)>;

  // `store` must outlive the committer. Starts the writer thread.
  Committer(Store& store, const Clock& clock, CommitterOptions options = {});
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Queues a mutation. RESOURCE_EXHAUSTED (via done) when the queue is full, UNAVAILABLE when
  // stopped; DEADLINE_EXCEEDED when `deadline` passed before the mutation ran (nothing written).
  void Submit(Mutation mutation, Done done, absl::Time deadline = absl::InfiniteFuture());
  // Submit and wait for the result. Must not be called on the committer thread.
  absl::Status Run(Mutation mutation);
  // Refuses new mutations, completes the queued ones, and joins the thread. Idempotent.
  void Stop();

  // Adds an observer (not owned; must outlive the committer or be removed first).
  void AddObserver(CommitObserver* observer);
  void RemoveObserver(CommitObserver* observer);

  size_t queue_depth() const;
  // The newest outbox id handed out (0: none since start). Together with the relay's oldest
  // unpublished id it gives the outbox backlog without scanning it.
  uint64_t last_outbox_id() const { return last_outbox_id_.load(std::memory_order_relaxed); }
  CommitterStats stats() const;

 private:
  friend class Txn;
  struct Item {
    Mutation mutation;
    Done done;
    absl::Time deadline;
  };
  void Loop();
  void RunGroup(std::vector<Item>& items);

  Store& store_;
  const Clock& clock_;
  const CommitterOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  CommitterStats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<CommitObserver*> observers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_outbox_id_ = 1;  // committer thread only
  std::atomic<uint64_t> last_outbox_id_{0};
  std::thread thread_;
};

}  // namespace assent::store
