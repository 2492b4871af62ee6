// The single writer of the store, with pipelined group commit.
//
// Every change to the store is a Mutation: a function that reads what it needs through a Txn and
// stages its writes there. The committer runs mutations one at a time on its own thread, so a
// mutation sees every earlier mutation's writes (sequence numbers are assigned without races), and
// gathers all mutations that queued up meanwhile into one WriteBatch with one fsync. Many
// concurrent callers therefore share each disk flush instead of queueing behind one flush each:
// durability costs latency, not throughput.
//
// Two threads form a pipeline. The committer thread runs the mutations of group N+1 while the
// writer thread makes group N durable (WAL write and fsync) and then completes it (commit hooks,
// observers, done callbacks, which send the gRPC responses). Group N+1's mutations read group N's
// writes from its in-memory overlay until they are in the store. At most two groups are past the
// committer thread at once: one being written and one waiting for it.
//
// A mutation that returns an error has none of its writes applied; the others in its group are
// unaffected. When a group's write fails, every mutation in it fails with UNAVAILABLE and nothing
// is applied; so does every group prepared on top of it (they read its writes).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
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

// Marks a failure after which nothing of the write was applied anywhere, so that repeating it
// cannot write twice (cluster mode: the partition's ownership moved before the transaction
// committed). consentd then sends the write to the partition's current owner.
absl::Status NotApplied(absl::Status status);
bool IsNotApplied(const absl::Status& status);

// One write a mutation staged, in staging order.
struct StagedOp {
  Cf cf;
  std::string key;
  std::optional<std::string> value;  // nullopt: delete
  bool merge = false;                // value is a merge operand
};

// Where groups become durable instead of the store's fsync'ed WAL: cluster mode appends each
// group to Kafka in a transaction (libs/cluster). A sink applies what it made durable to the store
// itself, before Commit returns.
class DurableSink {
 public:
  // One admitted mutation's writes, with the stamp Admit gave them.
  struct Write {
    std::vector<StagedOp> ops;
    uint64_t stamp = 0;
  };
  virtual ~DurableSink() = default;
  // On the committer thread, after a mutation ran: whether its writes may join the group, with a
  // stamp Commit gets back (cluster mode: the ownership epoch the mutation read its state in). An
  // error fails the mutation (its writes are dropped), e.g. UNAVAILABLE when this instance does
  // not own a partition the writes fall in.
  virtual absl::StatusOr<uint64_t> Admit(const std::vector<StagedOp>& ops) = 0;
  // On the writer thread: makes the group's writes durable and applies them to the store, or
  // fails with nothing of them applied anywhere.
  virtual absl::Status Commit(std::vector<Write>& writes) = 0;
};

// What a mutation sees: reads return the latest value, including writes staged earlier in the
// same group and by this mutation. Only valid during the mutation call.
class Txn {
 public:
  absl::StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key);
  void Put(Cf cf, std::string_view key, std::string value);
  // Writes a key that no mutation reads back (a new history or outbox record): staged for the
  // batch only, without the copy that Get would otherwise be served from.
  void PutNew(Cf cf, std::string_view key, std::string value);
  void Delete(Cf cf, std::string_view key);
  // Stages a RocksDB merge operand (the column family's merge operator combines it with the
  // stored value). Not visible to Get: only for keys no mutation reads back (report aggregates).
  void Merge(Cf cf, std::string_view key, std::string operand);
  // A new, never reused outbox id (ids increase in commit order).
  uint64_t NextOutboxId();
  // The commit time of this mutation (the committer's clock when the mutation started).
  absl::Time now() const { return now_; }
  // Runs `fn` on the writer thread after the group is durable, before the done callbacks (groups
  // in commit order). Used to refresh in-memory caches of what was written.
  void OnCommit(absl::AnyInvocable<void()> fn) { on_commit_.push_back(std::move(fn)); }

 private:
  friend class Committer;
  using Op = StagedOp;
  using Overlay = absl::flat_hash_map<std::string, std::optional<std::string>>;
  // The writes of groups handed to the writer but not yet known to be in the store, oldest
  // first, each with its group number.
  using InFlight = std::deque<std::pair<uint64_t, std::shared_ptr<const Overlay>>>;
  Txn(Store& store, Committer& committer, const Overlay& group, const InFlight& in_flight,
      absl::Time now)
      : store_(store), committer_(committer), group_(group), in_flight_(in_flight), now_(now) {}
  static std::string OverlayKey(Cf cf, std::string_view key);

  Store& store_;
  Committer& committer_;
  const Overlay& group_;
  const InFlight& in_flight_;
  Overlay local_;
  std::vector<Op> ops_;
  std::vector<absl::AnyInvocable<void()>> on_commit_;
  absl::Time now_;
};

// Told about every durable group commit, on the writer thread (must not block). The outbox
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
  // Null (default): groups are written to the store's WAL. Otherwise the sink makes them durable
  // (not owned; must outlive the committer). Without a sink the next group is prepared while the
  // writer writes one (an fsync takes about a millisecond, running the mutations is comparable);
  // with one the next group is formed only once the writer is free: a sink's write (a Kafka
  // transaction) takes tens of milliseconds, and a group formed as it began would hold only what
  // had arrived by then, leaving what arrives during it to wait two writes instead of one.
  DurableSink* sink = nullptr;
};

struct CommitterStats {
  uint64_t groups = 0;
  uint64_t mutations = 0;
  uint64_t failed_writes = 0;        // groups not written: their write failed, or one they read did
  uint64_t rejected_queue_full = 0;  // refused at Submit: RESOURCE_EXHAUSTED
  uint64_t rejected_deadline = 0;    // dropped unrun: DEADLINE_EXCEEDED
};

class Committer {
 public:
  using Mutation = absl::AnyInvocable<absl::Status(Txn&)>;
  // Called exactly once, on the writer thread (or the caller's, when refused at Submit) with the
  // mutation's status, once its writes are durable (or not applied). Must not block.
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
  // Refuses new mutations, completes the queued ones, and joins the threads. Idempotent.
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
  // One group on its way from the committer thread to the store.
  struct Group {
    uint64_t number = 0;
    // The oldest group whose overlay the mutations could read: if any group from `base` on
    // fails its write, this one fails too.
    uint64_t base = 0;
    rocksdb::WriteBatch batch;
    // With a sink: each admitted mutation's writes, instead of `batch`.
    std::vector<DurableSink::Write> writes;
    size_t write_bytes = 0;
    std::vector<Done> done;
    std::vector<absl::Status> results;
    std::vector<absl::AnyInvocable<void()>> on_commit;
  };
  void Loop();
  // Runs the items' mutations into a group (committer thread).
  std::unique_ptr<Group> Prepare(std::vector<Item>& items, uint64_t number, uint64_t base,
                                 Txn::Overlay& overlay, const Txn::InFlight& in_flight);
  void WriterLoop();
  // Makes a group durable and completes it (writer thread).
  void Finish(Group& group);

  Store& store_;
  const Clock& clock_;
  const CommitterOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  CommitterStats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<CommitObserver*> observers_ ABSL_GUARDED_BY(mu_);
  // Groups prepared and not yet taken by the writer.
  std::deque<std::unique_ptr<Group>> prepared_ ABSL_GUARDED_BY(mu_);
  bool committer_done_ ABSL_GUARDED_BY(mu_) = false;
  // The writer holds a group it has not finished yet.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // The newest group the writer has finished (written or failed).
  uint64_t finished_through_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_failed_ = 0;     // writer thread only
  uint64_t next_outbox_id_ = 1;  // committer thread only
  std::atomic<uint64_t> last_outbox_id_{0};
  std::thread thread_;
  std::thread writer_;
};

}  // namespace assent::store
