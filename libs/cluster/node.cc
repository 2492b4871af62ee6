#include "cluster/node.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "assent/storage/v1/changelog.pb.h"
#include "cluster/partition.h"
#include "cluster/placement.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "events/kafka.h"
#include "spdlog/spdlog.h"
#include "store/keys.h"

namespace assent::cluster {
namespace {

using storage::v1::ChangelogRecord;
using storage::v1::StoreOp;

constexpr int kReplicaBatch = 512;
// The group consumer's client.id: this prefix and the node id (how the group's member list,
// which the group describes by client id, names instances).
constexpr char kClientIdPrefix[] = "consentd-";

// Meta key of a partition's next changelog offset to apply: "cluster/applied/" + be32 partition.
std::string AppliedKey(int32_t partition) {
  std::string key = "cluster/applied/";
  store::PutBigEndian32(&key, static_cast<uint32_t>(partition));
  return key;
}
// Meta key of the next offset whose shared writes (NodeOptions::shared_write) and claims are
// applied: "cluster/shared/" + be32 partition. At least the applied offset; ahead of it for a
// partition this instance does not keep in full.
std::string SharedKey(int32_t partition) {
  std::string key = "cluster/shared/";
  store::PutBigEndian32(&key, static_cast<uint32_t>(partition));
  return key;
}
std::string OffsetValue(int64_t offset) {
  std::string v;
  store::PutBigEndian64(&v, static_cast<uint64_t>(offset));
  return v;
}

std::optional<store::Cf> CfByName(std::string_view name) {
  for (int i = 0; i < store::kCfCount; ++i) {
    if (store::CfName(static_cast<store::Cf>(i)) == name) return static_cast<store::Cf>(i);
  }
  return std::nullopt;
}

// librdkafka error objects, destroyed on scope exit.
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
struct MetadataDeleter {
  void operator()(rd_kafka_consumer_group_metadata_t* m) const {
    rd_kafka_consumer_group_metadata_destroy(m);
  }
};
using GroupMetadataPtr = std::shared_ptr<rd_kafka_consumer_group_metadata_t>;

std::string ErrorText(const rd_kafka_error_t* e) {
  return absl::StrCat(rd_kafka_error_name(e), ": ", rd_kafka_error_string(e));
}

// Where a produced changelog record landed (set by the delivery report).
struct Delivery {
  bool changelog = true;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  int32_t partition = -1;
  int64_t offset = -1;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->_private == nullptr) return;
  auto* d = static_cast<Delivery*>(m->_private);
  d->err = m->err;
  d->partition = m->partition;
  d->offset = m->offset;
}

}  // namespace

std::string ChangelogTopic(std::string_view topic_prefix) {
  return absl::StrCat(Sv(topic_prefix), "consentd.changelog.v1");
}

class Node::Impl {
 public:
  Impl(NodeOptions options, store::Store& store, const Clock& clock)
      : options_(std::move(options)),
        store_(store),
        clock_(clock),
        topic_(ChangelogTopic(options_.topic_prefix)),
        active_(options_.partitions, false),
        owners_(options_.partitions),
        applied_(options_.partitions, 0),
        shared_(options_.partitions, 0),
        full_(options_.partitions, options_.standbys < 0),
        want_full_(options_.partitions, options_.standbys < 0),
        serving_from_(options_.partitions, 0),
        placement_(options_.partitions),
        end_(options_.partitions, -1),
        start_end_(options_.partitions, -1) {}

  ~Impl() { Stop(); }

  absl::Status Init() {
    if (options_.create_topics) {
      events::TopicSpec spec{topic_,
                             options_.partitions,
                             options_.replication_factor,
                             {{"cleanup.policy", "delete"},
                              {"retention.ms", "-1"},
                              {"retention.bytes", "-1"},
                              {"min.insync.replicas", absl::StrCat(options_.min_insync_replicas)}}};
      RETURN_IF_ERROR(events::CreateTopics(
          {options_.brokers, options_.connection, "kafka.producer."}, {spec}, absl::Seconds(30)));
    }
    for (int32_t p = 0; p < options_.partitions; ++p) {
      ASSIGN_OR_RETURN(std::optional<std::string> stored,
                       store_.Get(store::Cf::kMeta, AppliedKey(p)));
      if (stored.has_value() && stored->size() == 8) {
        applied_[p] = static_cast<int64_t>(store::ReadBigEndian64(*stored));
      }
      ASSIGN_OR_RETURN(stored, store_.Get(store::Cf::kMeta, SharedKey(p)));
      shared_[p] = applied_[p];
      if (stored.has_value() && stored->size() == 8) {
        shared_[p] = std::max(applied_[p], static_cast<int64_t>(store::ReadBigEndian64(*stored)));
      }
    }
    {
      absl::MutexLock lock(&mu_);
      for (int32_t p = 0; p < options_.partitions; ++p) start_applied_.push_back(Position(p));
      last_progress_log_ = clock_.Now();
      started_ = clock_.Now();
    }
    RETURN_IF_ERROR(NewProducers());
    RETURN_IF_ERROR(NewReplicaConsumer());
    RETURN_IF_ERROR(QueryStartEnds());
    replica_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "cluster-replica");
      ReplicaLoop();
    });
    return absl::OkStatus();
  }

  absl::Status Join(std::string advertise_address) {
    if (group_thread_.joinable()) return absl::FailedPreconditionError("cluster: joined already");
    advertise_address_ = std::move(advertise_address);
    RETURN_IF_ERROR(NewGroupConsumer());
    group_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "cluster-group");
      // A new or wiped instance takes partitions only once its replica has replayed the
      // changelog: until then the partitions stay with instances that can serve them. With
      // standbys, that is the shared records of every partition, and everything of the
      // partitions it will own once it joins.
      while (!stopping_.load() && !CaughtUp()) absl::SleepFor(absl::Milliseconds(50));
      WarmUpBeforeJoining();
      if (stopping_.load()) return;
      if (absl::Status s = Subscribe(); !s.ok()) {
        spdlog::error("msg=\"cluster group not joined\" error=\"{}\"", s.ToString());
        return;
      }
      GroupLoop();
    });
    return absl::OkStatus();
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (group_thread_.joinable()) group_thread_.join();
    if (replica_thread_.joinable()) replica_thread_.join();
    {
      absl::MutexLock lock(&producer_mu_);
      for (events::KafkaPtr& p : producers_) p.reset();
    }
  }

  int32_t partitions() const { return options_.partitions; }
  const std::string& node_id() const { return options_.node_id; }
  int standbys() const { return options_.standbys; }

  bool Owns(int32_t p) const {
    absl::MutexLock lock(&mu_);
    return p >= 0 && p < options_.partitions && active_[p];
  }

  std::optional<Owner> OwnerOf(int32_t p) const {
    absl::MutexLock lock(&mu_);
    if (p < 0 || p >= options_.partitions) return std::nullopt;
    return owners_[p];
  }

  bool Replicates(int32_t p) const {
    absl::MutexLock lock(&mu_);
    return p >= 0 && p < options_.partitions && ServesLocked(p);
  }

  std::vector<PartitionStatus> Status() const {
    absl::MutexLock lock(&mu_);
    std::vector<PartitionStatus> out;
    for (int32_t p = 0; p < options_.partitions; ++p) {
      PartitionStatus status;
      status.partition = p;
      status.owner = owners_[p];
      status.owned_here = active_[p];
      status.applied = Position(p);
      status.end = end_[p];
      status.replicated_here = ServesLocked(p);
      status.standbys = placement_[p].standbys;
      out.push_back(std::move(status));
    }
    return out;
  }

  Stats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

  bool CaughtUp() const {
    absl::MutexLock lock(&mu_);
    return caught_up_logged_;
  }

  // Notes (and logs, once) that the replica has replayed the changelog as it stood at start.
  void CheckCaughtUp() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (caught_up_logged_) return;
    for (int32_t p = 0; p < options_.partitions; ++p) {
      if (start_end_[p] < 0 || Position(p) < start_end_[p]) return;
    }
    caught_up_logged_ = true;
    spdlog::info("msg=\"cluster replica caught up\" percent=100 replay_ms={}",
                 absl::ToInt64Milliseconds(clock_.Now() - started_));
  }

  double ReplayProgress() const {
    absl::MutexLock lock(&mu_);
    return ReplayProgressLocked();
  }

  double ReplayProgressLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    int64_t total = 0;
    int64_t done = 0;
    for (int32_t p = 0; p < options_.partitions; ++p) {
      if (start_end_[p] < 0) return 0;
      total += std::max<int64_t>(0, start_end_[p] - start_applied_[p]);
      done += std::max<int64_t>(0, std::min(Position(p), start_end_[p]) - start_applied_[p]);
    }
    return total <= 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  }

  int64_t ReplicaLag() const {
    absl::MutexLock lock(&mu_);
    int64_t lag = 0;
    for (int32_t p = 0; p < options_.partitions; ++p) {
      if (end_[p] > Position(p)) lag += end_[p] - Position(p);
    }
    return lag;
  }

  // True when every partition of `partitions` is kept in full and serves reads here.
  bool ServesAll(const std::vector<int32_t>& partitions) const {
    absl::MutexLock lock(&mu_);
    if (full_changed_) return false;
    for (int32_t p : partitions) {
      if (!ServesLocked(p)) return false;
    }
    return true;
  }

  // The next offset the replica reads in `p`: everything of a partition kept in full is applied
  // below it, only the shared writes and claims of any other.
  int64_t Position(int32_t p) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return full_[p] ? applied_[p] : shared_[p];
  }

  // True when `p` is kept in full here and has been replayed up to where the changelog ended
  // when it became so: reads of its history are answered here.
  bool ServesLocked(int32_t p) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return full_[p] && applied_[p] >= serving_from_[p];
  }

  // The partitions a mutation's writes fall in, each write's partition in `of` (the mutation's
  // first routed partition for writes tied to no target; when none is routed, the lowest
  // partition owned here, -1 when none).
  std::vector<int32_t> Route(const std::vector<store::StagedOp>& ops,
                             std::vector<int32_t>* of) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    std::vector<int32_t> parts(ops.size(), -1);
    int32_t first = -1;
    for (size_t i = 0; i < ops.size(); ++i) {
      std::optional<std::string> route = options_.route_of_write(ops[i].cf, ops[i].key);
      if (route.has_value()) {
        parts[i] = cluster::PartitionOf(*route, options_.partitions);
        if (first < 0) first = parts[i];
      }
    }
    if (first < 0) {
      for (int32_t p = 0; p < options_.partitions && first < 0; ++p) {
        if (active_[p]) first = p;
      }
    }
    std::set<int32_t> touched;
    for (int32_t& p : parts) {
      if (p < 0) p = first;
      touched.insert(p);
    }
    if (of != nullptr) *of = std::move(parts);
    return {touched.begin(), touched.end()};
  }

  absl::StatusOr<uint64_t> Admit(const std::vector<store::StagedOp>& ops) const {
    absl::MutexLock lock(&mu_);
    const std::vector<int32_t> touched = Route(ops, nullptr);
    std::vector<int32_t> owned;
    std::vector<int32_t> missing;
    for (int32_t p : touched) (p >= 0 && active_[p] ? owned : missing).push_back(p);
    if (missing.empty()) return epoch_;
    if (!owned.empty()) {
      // A mutation over partitions of different owners. Links, unlinks and erasures over two
      // partitions run as intents (one partition per mutation, consentd/link_coordinator.h), so
      // only a mutation kind that does not yet would get here: refused, nothing written.
      return store::NotApplied(absl::UnavailableError(absl::StrCat(
          "the write spans partitions ", absl::StrJoin(touched, ", "),
          " and this instance owns only ", absl::StrJoin(owned, ", "),
          ": one write cannot span partitions of different instances (docs/SCALING.md)")));
    }
    return store::NotApplied(absl::UnavailableError(
        absl::StrCat("partition ", missing[0] < 0 ? "(none)" : absl::StrCat(missing[0]),
                     " is not owned by this instance (ownership moved); retry")));
  }

  absl::Status Commit(std::vector<store::DurableSink::Write>& writes) {
    absl::MutexLock producer_lock(&producer_mu_);
    GroupMetadataPtr metadata;
    // Per write, per op: its partition.
    std::vector<std::vector<int32_t>> routes(writes.size());
    std::set<int32_t> touched;
    {
      absl::MutexLock lock(&mu_);
      for (size_t w = 0; w < writes.size(); ++w) {
        if (writes[w].stamp != epoch_) {
          return store::NotApplied(
              absl::UnavailableError("partition ownership moved since the write ran; retry"));
        }
        for (int32_t p : Route(writes[w].ops, &routes[w])) {
          if (p < 0 || !active_[p]) {
            return store::NotApplied(absl::UnavailableError("partition ownership moved; retry"));
          }
          touched.insert(p);
        }
      }
      metadata = metadata_;
    }
    NextProducer();
    if (metadata == nullptr || !EnsureProducer()) {
      return store::NotApplied(absl::UnavailableError("cluster producer not ready; retry"));
    }
    absl::Status committed = Transact(writes, routes, touched, *metadata);
    absl::MutexLock lock(&mu_);
    stats_.transactions++;
    if (!committed.ok()) {
      stats_.transaction_failures++;
      Reclaim();
    }
    return committed;
  }

  // After a failed transaction whose outcome may be unknown (a commit that timed out may still
  // have committed, and the local apply may have failed after it), the partitions owned here are
  // claimed again: writes resume only once the replica has applied everything in them, whatever
  // that transaction's outcome was.
  void Reclaim() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::fill(active_.begin(), active_.end(), false);
    epoch_++;
    awaiting_.clear();
    awaiting_metadata_.reset();
    metadata_.reset();
    // The whole current assignment (a claim in progress is overtaken by this epoch).
    pending_claim_ = assigned_;
    claim_epoch_ = epoch_;
  }

  // One transaction: the writes' changelog records and events, the touched partitions' offsets,
  // commit; then the local apply.
  absl::Status Transact(std::vector<store::DurableSink::Write>& writes,
                        const std::vector<std::vector<int32_t>>& routes,
                        const std::set<int32_t>& touched,
                        rd_kafka_consumer_group_metadata_t& metadata)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    rd_kafka_t* rk = producer();
    if (ErrorPtr e(rd_kafka_begin_transaction(rk)); e != nullptr) {
      return Failed("begin transaction", e.get());
    }
    std::vector<std::unique_ptr<Delivery>> deliveries;
    // Each changelog record's ops (non-outbox), for the local apply once committed.
    std::vector<std::pair<const Delivery*, std::vector<const store::StagedOp*>>> records_ops;
    std::string buffer;
    for (size_t w = 0; w < writes.size(); ++w) {
      std::map<int32_t, ChangelogRecord> records;
      std::map<int32_t, std::vector<const store::StagedOp*>> ops_of;
      for (size_t i = 0; i < writes[w].ops.size(); ++i) {
        const store::StagedOp& op = writes[w].ops[i];
        if (op.cf == store::Cf::kOutbox) {
          RETURN_IF_ERROR(ProduceEvent(rk, op, deliveries));
          continue;
        }
        const int32_t partition = routes[w][i];
        ops_of[partition].push_back(&op);
        StoreOp* out = records[partition].mutable_writes()->add_ops();
        out->set_column_family(std::string(store::CfName(op.cf)));
        out->set_key(op.key);
        if (!op.value.has_value()) {
          out->set_kind(StoreOp::DELETE);
        } else {
          out->set_kind(op.merge ? StoreOp::MERGE : StoreOp::PUT);
          out->set_value(*op.value);
        }
      }
      for (auto& [partition, record] : records) {
        record.SerializeToString(&buffer);
        RETURN_IF_ERROR(ProduceChangelog(rk, partition, buffer, deliveries));
        records_ops.emplace_back(deliveries.back().get(), std::move(ops_of[partition]));
      }
    }
    // Every record is in the log before the offsets are sent: a rebalance that happened before
    // the offsets reach the group makes them (and the whole transaction) refused.
    if (rd_kafka_resp_err_t err = rd_kafka_flush(rk, TimeoutMs()); err) {
      return Abort(absl::StrCat("flush: ", rd_kafka_err2str(err)));
    }
    for (const auto& d : deliveries) {
      if (d->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Abort(absl::StrCat("produce: ", rd_kafka_err2str(d->err)));
      }
    }
    RETURN_IF_ERROR(SendOffsets(rk, touched, metadata));
    RETURN_IF_ERROR(CommitTransaction("commit transaction"));
    return ApplyOwn(records_ops);
  }

 private:
  // Applies this instance's committed records to the store, each unless the replica has applied
  // it already (it may read them first), with the partitions' new applied offsets, in one batch.
  absl::Status ApplyOwn(
      std::vector<std::pair<const Delivery*, std::vector<const store::StagedOp*>>>& records) {
    std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
      return std::tie(a.first->partition, a.first->offset) <
             std::tie(b.first->partition, b.first->offset);
    });
    absl::MutexLock apply_lock(&apply_mu_);
    std::vector<int64_t> applied;
    std::vector<int64_t> shared;
    std::vector<bool> full;
    {
      absl::MutexLock lock(&mu_);
      applied = applied_;
      shared = shared_;
      full = full_;
    }
    rocksdb::WriteBatch local;
    std::set<int32_t> moved;
    for (const auto& [d, ops] : records) {
      const int32_t p = d->partition;
      if (d->offset < (full[p] ? applied[p] : shared[p])) continue;  // the replica applied it
      // The partition stopped being kept in full while this transaction ran (ownership moved and
      // this instance is no standby): only its shared part, as the replica would, so that the
      // applied offset never passes records whose other writes were not applied.
      const bool shared_new = d->offset >= shared[p];
      for (const store::StagedOp* op : ops) {
        if (IsShared(op->cf, op->key) ? !shared_new : !full[p]) continue;
        if (!op->value.has_value()) {
          local.Delete(store_.Handle(op->cf), op->key);
        } else if (op->merge) {
          local.Merge(store_.Handle(op->cf), op->key, *op->value);
        } else {
          local.Put(store_.Handle(op->cf), op->key, *op->value);
        }
      }
      Advance(p, d->offset, full[p], applied, shared, moved);
    }
    if (moved.empty()) return absl::OkStatus();
    for (int32_t p : moved) {
      local.Put(store_.Handle(store::Cf::kMeta), AppliedKey(p), OffsetValue(applied[p]));
      local.Put(store_.Handle(store::Cf::kMeta), SharedKey(p), OffsetValue(shared[p]));
    }
    absl::Status written = store_.WriteUnsynced(&local);
    if (!written.ok()) {
      // Durable in Kafka, not here: the replica applies it when it reads it (its offset did not
      // move); the write is answered as failed and the partitions are claimed again (Reclaim).
      spdlog::error("msg=\"local apply of a committed transaction failed\" error=\"{}\"",
                    written.ToString());
      return written;
    }
    absl::MutexLock lock(&mu_);
    for (int32_t p : moved) {
      applied_[p] = std::max(applied_[p], applied[p]);
      shared_[p] = std::max(shared_[p], shared[p]);
    }
    return absl::OkStatus();
  }

  // Commits the open transaction. A commit that times out (a broker failing over) is resumed, as
  // librdkafka requires: until it is resolved no other transactional call is allowed. One that
  // still fails leaves a producer that is rebuilt (its successor's init_transactions completes or
  // aborts it).
  absl::Status CommitTransaction(std::string_view step)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    constexpr int kAttempts = 4;
    for (int attempt = 1;; ++attempt) {
      ErrorPtr e(rd_kafka_commit_transaction(producer(), TimeoutMs()));
      if (e == nullptr) return absl::OkStatus();
      if (rd_kafka_error_is_retriable(e.get()) && attempt < kAttempts) {
        spdlog::warn(
            "msg=\"cluster transaction commit not finished; resuming it\" step=\"{}\" "
            "attempt={} error=\"{}\"",
            step, attempt, ErrorText(e.get()));
        continue;
      }
      if (rd_kafka_error_is_retriable(e.get())) {
        spdlog::error(
            "msg=\"cluster transaction commit unresolved; rebuilding the producer\" "
            "step=\"{}\" error=\"{}\"",
            step, ErrorText(e.get()));
        const std::string text = ErrorText(e.get());
        RebuildProducer();
        return absl::UnavailableError(
            absl::StrCat("cluster write: ", Sv(step), ": ", text,
                         "; the write may not have been applied: retry with its idempotency key"));
      }
      return Failed(step, e.get(), /*committing=*/true);
    }
  }

  int TimeoutMs() const {
    return static_cast<int>(absl::ToInt64Milliseconds(options_.commit_timeout));
  }

  absl::Status ProduceChangelog(rd_kafka_t* rk, int32_t partition, const std::string& value,
                                std::vector<std::unique_ptr<Delivery>>& deliveries) {
    deliveries.push_back(std::make_unique<Delivery>());
    rd_kafka_resp_err_t err =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_OPAQUE(deliveries.back().get()), RD_KAFKA_V_END);
    if (err) return Abort(absl::StrCat("produce changelog: ", rd_kafka_err2str(err)));
    return absl::OkStatus();
  }

  absl::Status ProduceEvent(rd_kafka_t* rk, const store::StagedOp& op,
                            std::vector<std::unique_ptr<Delivery>>& deliveries) {
    storage::v1::OutboxRecord record;
    if (!op.value.has_value() || !record.ParseFromString(*op.value)) {
      return Abort("an outbox record does not parse");
    }
    const std::string topic = options_.topic_name(record.topic());
    rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers_size());
    for (const auto& h : record.headers()) {
      rd_kafka_header_add(headers, h.key().data(), static_cast<ssize_t>(h.key().size()),
                          h.value().data(), static_cast<ssize_t>(h.value().size()));
    }
    deliveries.push_back(std::make_unique<Delivery>());
    deliveries.back()->changelog = false;
    void* value = record.tombstone() ? nullptr : const_cast<char*>(record.value().data());
    const size_t size = record.tombstone() ? 0 : record.value().size();
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(const_cast<char*>(record.key().data()), record.key().size()),
        RD_KAFKA_V_VALUE(value, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(deliveries.back().get()), RD_KAFKA_V_END);
    if (err) {
      rd_kafka_headers_destroy(headers);
      return Abort(absl::StrCat("produce event: ", rd_kafka_err2str(err)));
    }
    return absl::OkStatus();
  }

  absl::Status SendOffsets(rd_kafka_t* rk, const std::set<int32_t>& partitions,
                           rd_kafka_consumer_group_metadata_t& metadata) {
    events::PartitionListPtr offsets(
        rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    {
      absl::MutexLock lock(&mu_);
      for (int32_t p : partitions) {
        rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), p)->offset = applied_[p];
      }
    }
    ErrorPtr e(rd_kafka_send_offsets_to_transaction(rk, offsets.get(), &metadata, TimeoutMs()));
    if (e != nullptr) return Failed("send offsets (fenced by the group generation?)", e.get());
    return absl::OkStatus();
  }

  // Aborts the open transaction after a failure of ours (not librdkafka's).
  absl::Status Abort(std::string what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    // Aborting with records still in flight can fail fatally (librdkafka#4849): flush first.
    (void)rd_kafka_flush(producer(), TimeoutMs());
    ErrorPtr e(rd_kafka_abort_transaction(producer(), TimeoutMs()));
    if (e != nullptr && rd_kafka_error_is_fatal(e.get())) RebuildProducer();
    return store::NotApplied(
        absl::UnavailableError(absl::StrCat("cluster write: ", what, "; nothing was written")));
  }

  // A transactional call failed: abort what can be aborted, rebuild a producer that is fenced or
  // otherwise fatally failed. Nothing of the transaction is visible either way.
  absl::Status Failed(std::string_view what, rd_kafka_error_t* e, bool committing = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    const std::string text = ErrorText(e);
    if (rd_kafka_error_is_fatal(e)) {
      spdlog::error("msg=\"cluster producer failed fatally; rebuilding\" step=\"{}\" error=\"{}\"",
                    what, text);
      RebuildProducer();
    } else {
      // Abortable (or retriable: a retry is the client's, with its idempotency key). Flushed
      // first: aborting with records in flight can fail fatally (librdkafka#4849).
      (void)rd_kafka_flush(producer(), TimeoutMs());
      ErrorPtr aborted(rd_kafka_abort_transaction(producer(), TimeoutMs()));
      if (aborted != nullptr && rd_kafka_error_is_fatal(aborted.get())) RebuildProducer();
    }
    spdlog::warn("msg=\"cluster transaction failed; aborted\" step=\"{}\" error=\"{}\"", what,
                 text);
    if (!committing) {
      // Failed before the commit was asked for: the transaction is aborted, nothing is visible.
      return store::NotApplied(absl::UnavailableError(
          absl::StrCat("cluster write: ", Sv(what), ": ", text, "; nothing was written")));
    }
    return absl::UnavailableError(
        absl::StrCat("cluster write: ", Sv(what), ": ", text,
                     "; the write may not have been applied: retry with its idempotency key"));
  }

  // True when there is a producer, making one when a rebuild failed earlier (the brokers were
  // unreachable when the previous one had to go).
  bool EnsureProducer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    if (producers_[current_] != nullptr) return true;
    if (absl::Status s = NewProducerLocked(current_); !s.ok()) {
      spdlog::error("msg=\"cluster producer not ready\" error=\"{}\"", s.ToString());
      return false;
    }
    return true;
  }

  // The producer of the transaction being run.
  rd_kafka_t* producer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    return producers_[current_].get();
  }

  // Each transaction takes the producer that did not run the previous one.
  void NextProducer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    current_ = (current_ + 1) % kProducers;
  }

  void RebuildProducer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    producers_[current_].reset();
    if (absl::Status s = NewProducerLocked(current_); !s.ok()) {
      spdlog::error("msg=\"cluster producer not rebuilt\" error=\"{}\"", s.ToString());
    }
  }

  absl::Status NewProducers() {
    absl::MutexLock lock(&producer_mu_);
    for (int i = 0; i < kProducers; ++i) RETURN_IF_ERROR(NewProducerLocked(i));
    return absl::OkStatus();
  }

  absl::Status Configure(rd_kafka_conf_t* conf,
                         const std::vector<std::pair<std::string, std::string>>& settings) {
    RETURN_IF_ERROR(events::SetConf(conf, "bootstrap.servers", options_.brokers, "kafka.brokers"));
    // Transactions are chains of small requests, each waiting for the one before: none may wait
    // for Nagle's algorithm.
    RETURN_IF_ERROR(events::SetConf(conf, "socket.nagle.disable", "true", "cluster"));
    for (const auto& [key, value] : options_.connection) {
      RETURN_IF_ERROR(events::SetConf(conf, key, value, absl::StrCat("kafka.producer.", key)));
    }
    for (const auto& [key, value] : settings) {
      RETURN_IF_ERROR(events::SetConf(conf, key, value, absl::StrCat("cluster.", key)));
    }
    return absl::OkStatus();
  }

  // Producer `index`: transactional id <group>.<node> for the first (the id of versions with one
  // producer), <group>.<node>.<index> for the others.
  std::string TransactionalId(std::string_view node_id, int index) const {
    return absl::StrCat(options_.group_id, ".", Sv(node_id),
                        index == 0 ? "" : absl::StrCat(".", index));
  }

  absl::Status NewProducerLocked(int index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_) {
    events::ConfPtr conf(rd_kafka_conf_new());
    RETURN_IF_ERROR(Configure(
        conf.get(), {{"transactional.id", TransactionalId(options_.node_id, index)},
                     {"transaction.timeout.ms",
                      absl::StrCat(absl::ToInt64Milliseconds(options_.transaction_timeout))},
                     {"enable.idempotence", "true"},
                     {"acks", "all"},
                     {"linger.ms", "0"},
                     {"partitioner", "murmur2_random"},
                     {"log_level", "4"}}));
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &OnDelivery);
    char errstr[512];
    events::KafkaPtr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
    if (rk == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("cluster producer: ", errstr));
    conf.release();
    // Fences this node's previous incarnation and aborts a transaction it left open.
    ErrorPtr e(rd_kafka_init_transactions(rk.get(), TimeoutMs()));
    if (e != nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cluster producer: init transactions: ", ErrorText(e.get())));
    }
    producers_[index] = std::move(rk);
    return absl::OkStatus();
  }

  absl::Status NewReplicaConsumer() {
    events::ConfPtr conf(rd_kafka_conf_new());
    RETURN_IF_ERROR(Configure(
        conf.get(), {{"group.id", absl::StrCat(options_.group_id, ".replica.", options_.node_id)},
                     {"enable.auto.commit", "false"},
                     {"enable.auto.offset.store", "false"},
                     {"auto.offset.reset", "earliest"},
                     {"isolation.level", "read_committed"},
                     {"enable.partition.eof", "true"},
                     // A broker answers a waiting fetch as soon as a partition's last stable
                     // offset moves (a commit marker replicated), so this only sets how often an
                     // idle replica asks again: at 5 ms, three instances' replicas cost the
                     // brokers about a third of the two cores of the benchmark machine idle.
                     {"fetch.wait.max.ms", "100"},
                     {"log_level", "4"}}));
    char errstr[512];
    replica_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr)));
    if (replica_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("cluster replica: ", errstr));
    }
    conf.release();
    rd_kafka_poll_set_consumer(replica_.get());
    events::PartitionListPtr list(rd_kafka_topic_partition_list_new(options_.partitions));
    {
      absl::MutexLock lock(&mu_);
      for (int32_t p = 0; p < options_.partitions; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = Position(p);
      }
    }
    if (rd_kafka_resp_err_t err = rd_kafka_assign(replica_.get(), list.get()); err) {
      return absl::UnavailableError(absl::StrCat("cluster replica: ", rd_kafka_err2str(err)));
    }
    return absl::OkStatus();
  }

  absl::Status NewGroupConsumer() {
    events::ConfPtr conf(rd_kafka_conf_new());
    RETURN_IF_ERROR(Configure(
        conf.get(),
        {{"group.id", options_.group_id},
         {"client.id", absl::StrCat(kClientIdPrefix, options_.node_id)},
         {"partition.assignment.strategy", "range"},
         {"session.timeout.ms", absl::StrCat(absl::ToInt64Milliseconds(options_.session_timeout))},
         {"heartbeat.interval.ms",
          absl::StrCat(absl::ToInt64Milliseconds(options_.heartbeat_interval))},
         {"enable.auto.commit", "false"},
         {"enable.auto.offset.store", "false"},
         {"isolation.level", "read_committed"},
         {"log_level", "4"}}));
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::OnRebalance);
    char errstr[512];
    group_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr)));
    if (group_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("cluster group: ", errstr));
    }
    conf.release();
    rd_kafka_poll_set_consumer(group_.get());
    return absl::OkStatus();
  }

  absl::Status Subscribe() {
    events::PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(group_.get(), topics.get()); err) {
      return absl::UnavailableError(
          absl::StrCat("cluster group: subscribe: ", rd_kafka_err2str(err)));
    }
    return absl::OkStatus();
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      rd_kafka_assign(rk, partitions);
      // The group consumer only holds the assignment; the replica reads the records.
      rd_kafka_pause_partitions(rk, partitions);
      std::vector<int32_t> assigned;
      for (int i = 0; i < partitions->cnt; ++i) assigned.push_back(partitions->elems[i].partition);
      self->OnAssigned(std::move(assigned));
    } else {
      self->OnRevoked();
      rd_kafka_assign(rk, nullptr);
    }
  }

  void OnRevoked() {
    absl::MutexLock lock(&mu_);
    epoch_++;
    int lost = 0;
    for (int32_t p = 0; p < options_.partitions; ++p) {
      if (active_[p]) ++lost;
      active_[p] = false;
    }
    stats_.ownership_changes += lost;
    assigned_.clear();
    // Placed again after the next assignment: placing now, with nothing assigned, would stop
    // keeping the partitions this instance is about to get back.
    placement_due_ = false;
    pending_claim_.clear();
    awaiting_.clear();
    awaiting_metadata_.reset();
    metadata_.reset();
    if (lost > 0) spdlog::info("msg=\"cluster partitions revoked\" partitions={}", lost);
  }

  void OnAssigned(std::vector<int32_t> partitions) {
    absl::MutexLock lock(&mu_);
    epoch_++;
    awaiting_.clear();
    awaiting_metadata_.reset();
    assigned_ = partitions;
    // An owned partition is kept in full (it becomes active once the replica has replayed it);
    // the standbys are placed again once the group has settled.
    for (int32_t p : partitions) {
      if (p >= 0 && p < options_.partitions) want_full_[p] = true;
    }
    full_changed_ = true;
    placement_due_ = options_.standbys >= 0;
    pending_claim_ = std::move(partitions);
    claim_epoch_ = epoch_;
  }

  void GroupLoop() {
    while (!stopping_.load()) {
      events::MessagePtr m(rd_kafka_consumer_poll(group_.get(), 100));
      std::vector<int32_t> claim;
      uint64_t epoch = 0;
      {
        absl::MutexLock lock(&mu_);
        if (!pending_claim_.empty()) {
          claim.swap(pending_claim_);
          epoch = claim_epoch_;
        }
      }
      if (!claim.empty() && !Claim(claim, epoch)) {
        // Retried while the assignment stands (a broker may be failing over).
        absl::SleepFor(absl::Milliseconds(500));
        absl::MutexLock lock(&mu_);
        if (epoch_ == epoch && pending_claim_.empty()) pending_claim_ = claim;
      }
      PlaceStandbysIfDue();
    }
    {
      absl::MutexLock lock(&mu_);
      epoch_++;
      std::fill(active_.begin(), active_.end(), false);
      metadata_.reset();
    }
    events::CloseConsumer(std::move(group_), absl::Seconds(5));
  }

  // Claims `partitions` (assigned in ownership epoch `epoch`): a claim record in each, in one
  // transaction fenced by the group generation; then waits until the replica has applied the
  // claims (so everything before them) and activates the partitions, unless a rebalance came
  // first.
  bool Claim(const std::vector<int32_t>& partitions, uint64_t epoch) {
    GroupMetadataPtr metadata(rd_kafka_consumer_group_metadata(group_.get()), MetadataDeleter());
    std::map<int32_t, int64_t> claim_offsets;
    const absl::Time started = clock_.Now();
    // Read before the claim: once the replica applies this claim, it names this instance.
    const std::set<std::string> previous_owners = PreviousOwners(partitions);
    {
      absl::MutexLock producer_lock(&producer_mu_);
      NextProducer();
      if (!EnsureProducer()) return false;  // retried by the group loop
      rd_kafka_t* rk = producer();
      if (ErrorPtr e(rd_kafka_begin_transaction(rk)); e != nullptr) {
        (void)Failed("claim: begin transaction", e.get());
        return false;
      }
      std::vector<std::unique_ptr<Delivery>> deliveries;
      std::string buffer;
      for (int32_t p : partitions) {
        ChangelogRecord record;
        storage::v1::PartitionClaim* claim = record.mutable_claim();
        claim->set_node_id(options_.node_id);
        claim->set_address(advertise_address_);
        claim->set_epoch(epoch);
        *claim->mutable_claim_time() = ToProto(clock_.Now());
        claim->set_version(options_.version);
        record.SerializeToString(&buffer);
        if (!ProduceChangelog(rk, p, buffer, deliveries).ok()) return false;
      }
      if (rd_kafka_resp_err_t err = rd_kafka_flush(rk, TimeoutMs()); err) {
        (void)Abort(absl::StrCat("claim flush: ", rd_kafka_err2str(err)));
        return false;
      }
      for (const auto& d : deliveries) {
        if (d->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          (void)Abort(absl::StrCat("claim produce: ", rd_kafka_err2str(d->err)));
          return false;
        }
        claim_offsets[d->partition] = d->offset;
      }
      std::set<int32_t> set(partitions.begin(), partitions.end());
      if (!SendOffsets(rk, set, *metadata).ok()) return false;
      if (!CommitTransaction("claim: commit transaction").ok()) return false;
    }
    EndDepartedOwnersTransactions(previous_owners);
    // Replay: the partitions become active when the replica has applied the claims.
    absl::MutexLock lock(&mu_);
    if (epoch_ != epoch) return true;  // overtaken (a rebalance or a re-claim); the next follows
    for (const auto& [p, offset] : claim_offsets) awaiting_[p] = offset;
    awaiting_metadata_ = std::move(metadata);
    awaiting_since_ = started;
    ActivateReplayed();
    return true;
  }

  // An owner killed (or frozen) inside a transaction leaves it open, and an open transaction
  // holds its partitions' last stable offset: the replica (read_committed) cannot read past it,
  // so the new owner's claim stays unapplied until the coordinator aborts the transaction at
  // transaction.timeout.ms. The previous owners of `partitions` that are no longer in the group
  // have their transactions ended now instead: a producer initialised under each of their
  // transactional ids bumps the id's epoch, which makes the coordinator abort the open
  // transaction and fences the old producer (should the instance only have been frozen). Owners
  // still in the group are left alone: a revoked owner's transaction fails by itself at
  // send_offsets (its group generation is stale), and fencing it would fail the writes of the
  // partitions it still owns. An owner restarting under the same node id between the group's
  // description and the fencing has its first transaction fenced; it rebuilds its producer, as
  // after any fencing, and the writes of that transaction fail UNAVAILABLE (retried by clients).
  //
  // It holds up the group thread (nothing else is claimed meanwhile), so it gives up after
  // cluster.transaction_timeout, when the brokers abort the transaction anyway.
  void EndDepartedOwnersTransactions(const std::set<std::string>& previous) {
    if (previous.empty()) return;
    const absl::Time started = clock_.Now();
    const absl::Time give_up = started + options_.transaction_timeout;
    absl::StatusOr<std::set<std::string>> members = GroupMembers(give_up);
    if (!members.ok()) {
      spdlog::warn(
          "msg=\"cluster group not described; a departed owner's open transaction ends at the "
          "transaction timeout\" error=\"{}\"",
          members.status().ToString());
      return;
    }
    for (const std::string& node : previous) {
      if (members->contains(node) || stopping_.load()) continue;
      absl::Status fenced = FenceTransactionalIds(node, give_up);
      {
        absl::MutexLock lock(&mu_);
        (fenced.ok() ? stats_.departed_owners_fenced : stats_.departed_owner_fence_failures)++;
      }
      if (fenced.ok()) {
        spdlog::info("msg=\"cluster: ended the transactions of a departed owner\" node_id={} ms={}",
                     node, absl::ToInt64Milliseconds(clock_.Now() - started));
      } else {
        spdlog::warn(
            "msg=\"cluster: a departed owner's transactions not ended; its open transaction ends "
            "at the transaction timeout\" node_id={} error=\"{}\"",
            node, fenced.ToString());
      }
    }
  }

  // The other owners than this instance of `partitions` as this replica knows them.
  std::set<std::string> PreviousOwners(const std::vector<int32_t>& partitions) const {
    absl::MutexLock lock(&mu_);
    std::set<std::string> out;
    for (int32_t p : partitions) {
      if (owners_[p].has_value() && owners_[p]->node_id != options_.node_id) {
        out.insert(owners_[p]->node_id);
      }
    }
    return out;
  }

  // Milliseconds from now until `deadline`, at least 1.
  int MillisUntil(absl::Time deadline) const {
    return static_cast<int>(
        std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - clock_.Now())));
  }

  // The group as the coordinator describes it: its members (member id and node id, from the
  // client id less kClientIdPrefix) and the owner of each changelog partition by its
  // assignment. A group that does not exist yet has no members.
  struct GroupDescription {
    std::vector<GroupMember> members;
    std::map<int32_t, std::string> owner_of;
  };
  absl::StatusOr<GroupDescription> DescribeGroup(absl::Time deadline) {
    rd_kafka_t* rk = group_.get();
    char errstr[512];
    std::unique_ptr<rd_kafka_AdminOptions_t, events::KafkaDeleter> admin_options(
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS));
    rd_kafka_AdminOptions_set_request_timeout(admin_options.get(), MillisUntil(deadline), errstr,
                                              sizeof(errstr));
    events::QueuePtr queue(rd_kafka_queue_new(rk));
    const char* groups[] = {options_.group_id.c_str()};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, admin_options.get(), queue.get());
    events::EventPtr event(rd_kafka_queue_poll(queue.get(), MillisUntil(deadline) + 1000));
    if (event == nullptr) return absl::UnavailableError("no answer to DescribeConsumerGroups");
    if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(rd_kafka_event_error_string(event.get()));
    }
    const rd_kafka_DescribeConsumerGroups_result_t* result =
        rd_kafka_event_DescribeConsumerGroups_result(event.get());
    size_t count = 0;
    const rd_kafka_ConsumerGroupDescription_t** described =
        rd_kafka_DescribeConsumerGroups_result_groups(result, &count);
    if (count != 1) return absl::UnavailableError("DescribeConsumerGroups: no group described");
    if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(described[0]);
        e != nullptr) {
      if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) return GroupDescription{};
      return absl::UnavailableError(ErrorText(e));
    }
    GroupDescription out;
    const size_t n = rd_kafka_ConsumerGroupDescription_member_count(described[0]);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_MemberDescription_t* member =
          rd_kafka_ConsumerGroupDescription_member(described[0], i);
      absl::string_view client_id = rd_kafka_MemberDescription_client_id(member);
      if (!absl::ConsumePrefix(&client_id, kClientIdPrefix)) continue;
      out.members.push_back(
          GroupMember{rd_kafka_MemberDescription_consumer_id(member), std::string(client_id)});
      const rd_kafka_topic_partition_list_t* assigned =
          rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(member));
      for (int j = 0; assigned != nullptr && j < assigned->cnt; ++j) {
        if (topic_ == assigned->elems[j].topic) {
          out.owner_of[assigned->elems[j].partition] = std::string(client_id);
        }
      }
    }
    return out;
  }

  // The node ids of the group's members, of a description that lists this instance.
  absl::StatusOr<std::set<std::string>> GroupMembers(absl::Time deadline) {
    ASSIGN_OR_RETURN(GroupDescription group, DescribeGroup(deadline));
    std::set<std::string> members;
    for (const GroupMember& m : group.members) members.insert(m.node_id);
    // This instance got its assignment from the group, so the group knows it: a description
    // without it is not of the current generation.
    if (!members.contains(options_.node_id)) {
      return absl::UnavailableError("DescribeConsumerGroups: this instance is not listed");
    }
    return members;
  }

  // cluster.standbys: once the group has settled after an assignment, which partitions this
  // instance keeps in full: those it owns and those it is a standby of (placement.h), the
  // assignor's likeliest next owners. A description taken mid-rebalance (a partition
  // unassigned, or owners other than the range assignor's for these members) is asked again a
  // second later; until then the partitions kept stay as they were, plus the owned ones.
  void PlaceStandbysIfDue() {
    {
      absl::MutexLock lock(&mu_);
      if (!placement_due_ || clock_.Now() < next_placement_) return;
      next_placement_ = clock_.Now() + absl::Seconds(1);
    }
    // Bounded short: the group thread handles rebalances and claims too.
    absl::StatusOr<GroupDescription> group = DescribeGroup(clock_.Now() + absl::Seconds(2));
    if (!group.ok()) {
      spdlog::debug("msg=\"cluster standbys: group not described\" error=\"{}\"",
                    group.status().ToString());
      return;
    }
    std::vector<PartitionPlacement> placement =
        PlaceStandbys(group->members, options_.partitions, options_.standbys);
    if (placement.empty()) return;
    for (int32_t p = 0; p < options_.partitions; ++p) {
      auto owner = group->owner_of.find(p);
      if (owner == group->owner_of.end() || owner->second != placement[p].owner) return;
    }
    std::vector<int32_t> kept;
    absl::MutexLock lock(&mu_);
    for (int32_t p = 0; p < options_.partitions; ++p) {
      const std::vector<std::string>& standbys = placement[p].standbys;
      want_full_[p] =
          std::find(assigned_.begin(), assigned_.end(), p) != assigned_.end() ||
          std::find(standbys.begin(), standbys.end(), options_.node_id) != standbys.end();
      if (want_full_[p]) kept.push_back(p);
    }
    placement_ = std::move(placement);
    full_changed_ = true;
    placement_due_ = false;
    spdlog::info("msg=\"cluster standbys placed\" members={} kept_in_full=\"{}\"",
                 group->members.size(), absl::StrJoin(kept, ","));
  }

  // cluster.standbys: before a new or restarted instance joins, it replays in full the
  // partitions the range assignor will give it once it joins the group as it stands, so that
  // they are current when they move to it (the eager assignor takes them from their owners at
  // once; a partition it did not foresee is replayed after its claim instead, from wherever this
  // instance last kept it). A group that cannot be described (or none yet) foresees nothing.
  void WarmUpBeforeJoining() {
    if (options_.standbys < 0 || stopping_.load()) return;
    absl::StatusOr<GroupDescription> group = DescribeGroup(clock_.Now() + absl::Seconds(10));
    if (!group.ok()) {
      spdlog::warn(
          "msg=\"cluster: group not described before joining; nothing replayed ahead\" "
          "error=\"{}\"",
          group.status().ToString());
      return;
    }
    // A previous incarnation of this instance still listed is about to be replaced.
    std::erase_if(group->members,
                  [&](const GroupMember& m) { return m.node_id == options_.node_id; });
    if (group->members.empty()) return;
    const std::vector<int32_t> mine = PartitionsAfterJoin(
        group->members, absl::StrCat(kClientIdPrefix, options_.node_id, "-"), options_.partitions);
    if (mine.empty()) return;
    {
      absl::MutexLock lock(&mu_);
      for (int32_t p : mine) want_full_[p] = true;
      full_changed_ = true;
    }
    spdlog::info(
        "msg=\"cluster: replaying the partitions this instance will own before joining\" "
        "partitions=\"{}\"",
        absl::StrJoin(mine, ","));
    const absl::Time started = clock_.Now();
    while (!stopping_.load() && !ServesAll(mine)) absl::SleepFor(absl::Milliseconds(50));
    spdlog::info("msg=\"cluster: partitions replayed before joining\" ms={}",
                 absl::ToInt64Milliseconds(clock_.Now() - started));
  }

  // Initialises a producer under each transactional id `node` uses, and lets it go.
  absl::Status FenceTransactionalIds(const std::string& node, absl::Time deadline) {
    std::array<events::KafkaPtr, kProducers> fencers;
    for (int i = 0; i < kProducers; ++i) {
      events::ConfPtr conf(rd_kafka_conf_new());
      RETURN_IF_ERROR(Configure(
          conf.get(), {{"transactional.id", TransactionalId(node, i)},
                       {"transaction.timeout.ms",
                        absl::StrCat(absl::ToInt64Milliseconds(options_.transaction_timeout))},
                       {"log_level", "4"}}));
      char errstr[512];
      fencers[i].reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
      if (fencers[i] == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("cluster fencing producer: ", errstr));
      }
      conf.release();
    }
    // Created together so that their coordinators are looked up at once.
    for (int i = 0; i < kProducers; ++i) {
      ErrorPtr e(rd_kafka_init_transactions(fencers[i].get(), MillisUntil(deadline)));
      if (e != nullptr) {
        return absl::UnavailableError(absl::StrCat(
            "init transactions of ", TransactionalId(node, i), ": ", ErrorText(e.get())));
      }
    }
    return absl::OkStatus();
  }

  // Activates the claimed partitions whose claim the replica has applied (so everything before
  // it), once all of this epoch's claims are.
  void ActivateReplayed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (awaiting_.empty()) return;
    for (const auto& [p, offset] : awaiting_) {
      if (applied_[p] <= offset) return;
    }
    std::vector<int32_t> owned;
    for (const auto& [p, offset] : awaiting_) {
      active_[p] = true;
      owned.push_back(p);
    }
    awaiting_.clear();
    metadata_ = std::move(awaiting_metadata_);
    stats_.ownership_changes += owned.size();
    spdlog::info("msg=\"cluster partitions owned\" partitions=\"{}\" claim_and_replay_ms={}",
                 absl::StrJoin(owned, ","),
                 absl::ToInt64Milliseconds(clock_.Now() - awaiting_since_));
  }

  void ReplicaLoop() {
    std::vector<events::MessagePtr> batch;
    absl::Time last_ends = absl::InfinitePast();
    while (!stopping_.load()) {
      UpdateFullSet();
      events::MessagePtr m(rd_kafka_consumer_poll(replica_.get(), 100));
      while (m != nullptr) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          // The records before the end are applied first: only then does the end count.
          if (!batch.empty()) {
            Apply(batch);
            batch.clear();
          }
          absl::MutexLock lock(&mu_);
          if (m->partition >= 0 && m->partition < options_.partitions) {
            end_[m->partition] = std::max(end_[m->partition], m->offset);
            if (start_end_[m->partition] < 0) start_end_[m->partition] = m->offset;
            // Records skipped at the end (commit markers) count as applied.
            if (full_[m->partition]) {
              applied_[m->partition] = std::max(applied_[m->partition], m->offset);
            }
            shared_[m->partition] = std::max(shared_[m->partition], m->offset);
            CheckCaughtUp();
          }
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          spdlog::warn("msg=\"cluster replica: consumer error\" error=\"{}\"",
                       rd_kafka_err2str(m->err));
        } else {
          batch.push_back(std::move(m));
        }
        if (batch.size() >= static_cast<size_t>(kReplicaBatch)) break;
        m.reset(rd_kafka_consumer_poll(replica_.get(), 0));
      }
      if (!batch.empty()) {
        Apply(batch);
        batch.clear();
      }
      if (clock_.Now() - last_ends > absl::Seconds(1)) {
        RefreshEnds();
        last_ends = clock_.Now();
      }
    }
    events::CloseConsumer(std::move(replica_), absl::Seconds(2));
  }

  // Takes on the partitions to keep in full that the group thread last chose (replica thread).
  // One newly kept is read again from its applied offset: the records after it were applied in
  // part (their shared writes), and now get the rest; it serves reads once it has caught up with
  // where the changelog ended then.
  void UpdateFullSet() {
    std::vector<int32_t> gained;
    std::vector<int32_t> dropped;
    {
      absl::MutexLock lock(&mu_);
      if (!full_changed_) return;
      full_changed_ = false;
      for (int32_t p = 0; p < options_.partitions; ++p) {
        if (full_[p] == want_full_[p]) continue;
        full_[p] = want_full_[p];
        if (full_[p]) {
          serving_from_[p] = std::max(end_[p], shared_[p]);
          gained.push_back(p);
        } else {
          dropped.push_back(p);
        }
      }
    }
    if (gained.empty() && dropped.empty()) return;
    spdlog::info(
        "msg=\"cluster replica: partitions kept in full changed\" gained=\"{}\" dropped=\"{}\"",
        absl::StrJoin(gained, ","), absl::StrJoin(dropped, ","));
    RestartReplicaAssignment();
  }

  // Where the changelog ends at start: the replay's goal (readiness waits for it; the progress
  // ratio counts toward it).
  absl::Status QueryStartEnds() {
    for (int32_t p = 0; p < options_.partitions; ++p) {
      int64_t low = 0;
      int64_t high = -1;
      rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
      // A topic another instance has just created may not be in every broker's metadata yet.
      const absl::Time give_up = clock_.Now() + options_.commit_timeout;
      do {
        err = rd_kafka_query_watermark_offsets(replica_.get(), topic_.c_str(), p, &low, &high,
                                               TimeoutMs());
        if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
            err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
            err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION) {
          absl::SleepFor(absl::Milliseconds(200));
          continue;
        }
        break;
      } while (clock_.Now() < give_up);
      if (err) {
        return absl::UnavailableError(
            absl::StrCat("cluster: end of changelog partition ", p, ": ", rd_kafka_err2str(err)));
      }
      absl::MutexLock lock(&mu_);
      start_end_[p] = high;
      end_[p] = std::max(end_[p], high);
    }
    absl::MutexLock lock(&mu_);
    CheckCaughtUp();
    return absl::OkStatus();
  }

  // The partitions' end offsets as the replica's fetches last saw them (for lag).
  void RefreshEnds() {
    for (int32_t p = 0; p < options_.partitions; ++p) {
      int64_t low = 0;
      int64_t high = -1;
      if (rd_kafka_get_watermark_offsets(replica_.get(), topic_.c_str(), p, &low, &high) ==
              RD_KAFKA_RESP_ERR_NO_ERROR &&
          high >= 0) {
        absl::MutexLock lock(&mu_);
        end_[p] = std::max(end_[p], high);
      }
    }
  }

  void Apply(const std::vector<events::MessagePtr>& batch) {
    absl::MutexLock apply_lock(&apply_mu_);
    rocksdb::WriteBatch local;
    std::vector<std::pair<int32_t, storage::v1::PartitionClaim>> claims;
    std::set<store::Cf> touched;
    std::vector<int64_t> applied;
    std::vector<int64_t> shared;
    std::vector<bool> full;
    {
      absl::MutexLock lock(&mu_);
      applied = applied_;
      shared = shared_;
      full = full_;
    }
    std::set<int32_t> moved;           // partitions whose offsets this batch advances
    std::vector<std::string> watched;  // keys written to options_.watched_family
    uint64_t records = 0;
    std::optional<std::pair<int32_t, int64_t>> blocked_at;
    for (const events::MessagePtr& m : batch) {
      const int32_t p = m->partition;
      if (p < 0 || p >= options_.partitions) continue;
      if (m->offset < (full[p] ? applied[p] : shared[p])) continue;  // applied already
      // A partition kept in full gets everything, the others only their shared writes and
      // claims; a record whose shared part is applied already (the partition was not kept in
      // full when it was read) gets the rest.
      const bool shared_new = m->offset >= shared[p];
      ChangelogRecord record;
      if (!record.ParseFromArray(m->payload, static_cast<int>(m->len))) {
        spdlog::error(
            "msg=\"cluster replica: changelog record does not parse; skipped\" "
            "partition={} offset={}",
            p, m->offset);
        Advance(p, m->offset, full[p], applied, shared, moved);
        continue;
      }
      if (record.has_claim()) {
        if (shared_new) claims.emplace_back(p, record.claim());
        Advance(p, m->offset, full[p], applied, shared, moved);
        continue;
      }
      // A record this build cannot apply (a column family a newer version added) stops the
      // replica at it, so that an upgraded build applies it: nothing is skipped.
      bool known = true;
      for (const StoreOp& op : record.writes().ops()) known = known && CfByName(op.column_family());
      if (!known) {
        blocked_at = {p, m->offset};
        break;
      }
      ++records;
      for (const StoreOp& op : record.writes().ops()) {
        std::optional<store::Cf> cf = CfByName(op.column_family());
        if (IsShared(*cf, op.key()) ? !shared_new : !full[p]) continue;
        touched.insert(*cf);
        if (cf == options_.watched_family) watched.push_back(op.key());
        switch (op.kind()) {
          case StoreOp::PUT:
            local.Put(store_.Handle(*cf), op.key(), op.value());
            break;
          case StoreOp::DELETE:
            local.Delete(store_.Handle(*cf), op.key());
            break;
          case StoreOp::MERGE:
            local.Merge(store_.Handle(*cf), op.key(), op.value());
            break;
          default:
            break;
        }
      }
      Advance(p, m->offset, full[p], applied, shared, moved);
    }
    for (int32_t p : moved) {
      local.Put(store_.Handle(store::Cf::kMeta), AppliedKey(p), OffsetValue(applied[p]));
      local.Put(store_.Handle(store::Cf::kMeta), SharedKey(p), OffsetValue(shared[p]));
    }
    if (absl::Status s = store_.WriteUnsynced(&local); !s.ok()) {
      // Not applied: the consumer moved on, so start again from the stored offsets.
      spdlog::error("msg=\"cluster replica: apply failed; re-reading\" error=\"{}\"", s.ToString());
      RestartReplicaAssignment();
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      for (int32_t p : moved) {
        applied_[p] = std::max(applied_[p], applied[p]);
        shared_[p] = std::max(shared_[p], shared[p]);
      }
      for (auto& [p, claim] : claims) {
        Owner owner{claim.node_id(), claim.address(), claim.epoch(), FromProto(claim.claim_time()),
                    claim.version()};
        owners_[p] = std::move(owner);
      }
      stats_.replicated_records += records;
      ActivateReplayed();
      CheckCaughtUp();
      if (!caught_up_logged_ && clock_.Now() - last_progress_log_ >= absl::Seconds(5)) {
        last_progress_log_ = clock_.Now();
        spdlog::info("msg=\"cluster replica replaying the changelog\" percent={:.1f}",
                     100 * ReplayProgressLocked());
      }
    }
    if (!touched.empty() && options_.on_replicated) {
      options_.on_replicated(std::vector<store::Cf>(touched.begin(), touched.end()));
    }
    if (!watched.empty() && options_.on_watched_writes) options_.on_watched_writes(watched);
    if (blocked_at.has_value()) {
      spdlog::error(
          "msg=\"cluster replica stopped at a changelog record naming a column family this "
          "version does not know (written by a newer version?); upgrade this instance\" "
          "partition={} offset={}",
          blocked_at->first, blocked_at->second);
      absl::SleepFor(absl::Seconds(5));
      RestartReplicaAssignment();
    }
  }

  // Past the record at `offset` of `p`: everything of it applied when the partition is kept in
  // full, its shared part otherwise.
  static void Advance(int32_t p, int64_t offset, bool full, std::vector<int64_t>& applied,
                      std::vector<int64_t>& shared, std::set<int32_t>& moved) {
    if (full) applied[p] = std::max(applied[p], offset + 1);
    shared[p] = std::max(shared[p], offset + 1);
    moved.insert(p);
  }

  // True for a write every instance applies from every partition, kept in full or not.
  bool IsShared(store::Cf cf, std::string_view key) const {
    return options_.shared_write != nullptr && options_.shared_write(cf, key);
  }

  void RestartReplicaAssignment() {
    events::PartitionListPtr list(rd_kafka_topic_partition_list_new(options_.partitions));
    {
      absl::MutexLock lock(&mu_);
      for (int32_t p = 0; p < options_.partitions; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = Position(p);
      }
    }
    rd_kafka_assign(replica_.get(), list.get());
  }

  const NodeOptions options_;
  store::Store& store_;
  const Clock& clock_;
  const std::string topic_;
  std::string advertise_address_;  // set by Join, before the group thread starts

  mutable absl::Mutex mu_;
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<bool> active_ ABSL_GUARDED_BY(mu_);
  std::vector<std::optional<Owner>> owners_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> applied_ ABSL_GUARDED_BY(mu_);
  // cluster.standbys: the next offset whose shared writes and claims are applied (>= applied_),
  // the partitions kept in full (replica thread's), those to keep (the group thread's choice,
  // taken on by the replica thread when full_changed_), the applied offset from which a
  // partition newly kept in full serves reads, and each partition's placement last computed.
  std::vector<int64_t> shared_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> full_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> want_full_ ABSL_GUARDED_BY(mu_);
  bool full_changed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<int64_t> serving_from_ ABSL_GUARDED_BY(mu_);
  std::vector<PartitionPlacement> placement_ ABSL_GUARDED_BY(mu_);
  bool placement_due_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_placement_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::vector<int64_t> end_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> start_end_ ABSL_GUARDED_BY(mu_);
  // The applied offsets when the node started (the replay's starting point).
  std::vector<int64_t> start_applied_ ABSL_GUARDED_BY(mu_);
  absl::Time last_progress_log_ ABSL_GUARDED_BY(mu_);
  absl::Time started_ ABSL_GUARDED_BY(mu_);
  // The group's current assignment, and what of it is still to be claimed.
  std::vector<int32_t> assigned_ ABSL_GUARDED_BY(mu_);
  std::vector<int32_t> pending_claim_ ABSL_GUARDED_BY(mu_);
  uint64_t claim_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  GroupMetadataPtr metadata_ ABSL_GUARDED_BY(mu_);
  // Claims committed and not yet applied by the replica: partition -> claim offset.
  std::map<int32_t, int64_t> awaiting_ ABSL_GUARDED_BY(mu_);
  GroupMetadataPtr awaiting_metadata_ ABSL_GUARDED_BY(mu_);
  absl::Time awaiting_since_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  bool caught_up_logged_ ABSL_GUARDED_BY(mu_) = false;

  // Serialises transactions (group commits and claims). They alternate between two transactional
  // producers: once a commit returns, the coordinator still writes its markers, and a new
  // transaction of the same transactional id is refused (CONCURRENT_TRANSACTIONS) until it has;
  // librdkafka retries after 20 ms, a third of a transaction's time on local brokers. The other
  // id's previous transaction finished long before.
  static constexpr int kProducers = 2;
  absl::Mutex producer_mu_;
  std::array<events::KafkaPtr, kProducers> producers_ ABSL_GUARDED_BY(producer_mu_);
  int current_ ABSL_GUARDED_BY(producer_mu_) = 0;
  // Serialises applies to the store (the owner's commits and the replica).
  absl::Mutex apply_mu_;

  events::KafkaPtr replica_;
  events::KafkaPtr group_;
  std::atomic<bool> stopping_{false};
  std::thread replica_thread_;
  std::thread group_thread_;
};

absl::StatusOr<std::unique_ptr<Node>> Node::Start(NodeOptions options, store::Store& store,
                                                  const Clock& clock) {
  if (options.node_id.empty()) return absl::InvalidArgumentError("cluster.node_id: required");
  if (options.brokers.empty()) {
    return absl::InvalidArgumentError("kafka.brokers: required in cluster mode");
  }
  if (options.partitions < 1) {
    return absl::InvalidArgumentError("kafka.partitions: must be at least 1");
  }
  if (!options.route_of_write || !options.topic_name) {
    return absl::InvalidArgumentError("cluster: route_of_write and topic_name are required");
  }
  if (options.standbys < -1) {
    return absl::InvalidArgumentError(
        "cluster.standbys: must be -1 (every instance) or at least 0");
  }
  if (options.standbys >= 0 && !options.shared_write) {
    return absl::InvalidArgumentError("cluster: shared_write is required with standbys");
  }
  if (options.group_id.empty()) options.group_id = absl::StrCat(options.topic_prefix, "consentd");
  auto impl = std::make_unique<Impl>(std::move(options), store, clock);
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() { Stop(); }
void Node::Stop() { impl_->Stop(); }
absl::Status Node::Join(std::string advertise_address) {
  return impl_->Join(std::move(advertise_address));
}
int32_t Node::partitions() const { return impl_->partitions(); }
const std::string& Node::node_id() const { return impl_->node_id(); }
int32_t Node::PartitionOf(std::string_view route_key) const {
  return cluster::PartitionOf(route_key, impl_->partitions());
}
bool Node::Owns(int32_t partition) const { return impl_->Owns(partition); }
std::optional<Node::Owner> Node::OwnerOf(int32_t partition) const {
  return impl_->OwnerOf(partition);
}
std::vector<Node::PartitionStatus> Node::Status() const { return impl_->Status(); }
Node::Stats Node::stats() const { return impl_->stats(); }
bool Node::CaughtUp() const { return impl_->CaughtUp(); }
int64_t Node::ReplicaLag() const { return impl_->ReplicaLag(); }
int Node::standbys() const { return impl_->standbys(); }
bool Node::Replicates(int32_t partition) const { return impl_->Replicates(partition); }
double Node::ReplayProgress() const { return impl_->ReplayProgress(); }
absl::StatusOr<uint64_t> Node::Admit(const std::vector<store::StagedOp>& ops) {
  return impl_->Admit(ops);
}
absl::Status Node::Commit(std::vector<store::DurableSink::Write>& writes) {
  return impl_->Commit(writes);
}

}  // namespace assent::cluster
