// Cluster mode: several consentd instances share the partitions of the keyspace through Kafka, the
// way Kafka Streams does, with nothing home-made.
//
// - Ownership: every instance joins one consumer group subscribed to the changelog topic
//   ("<prefix>consentd.changelog.v1"); the partitions the group assigns it (eager "range"
//   assignor: librdkafka 2.0.2's cooperative-sticky bugs are avoided, at the price of every
//   partition pausing during a rebalance) are the ones it owns. A target's partition is the
//   murmur2 partition of its route key (ledger/route.h), the same as its events'.
// - Claim and replay: on assignment the instance appends a PartitionClaim to each assigned
//   partition in a Kafka transaction that also sends the partitions' offsets to the group (fenced
//   by the group generation). It accepts writes for a partition only once its own replica has
//   applied its claim: everything written before the claim, by any earlier owner, is then applied
//   (a read_committed consumer cannot pass a transaction still open before it).
// - Writes: the committer's durable step (store::DurableSink). One transaction per group commit:
//   each mutation's writes as a ChangelogWrites record in its target's partition, its outbox
//   records as the events themselves (changes, state, lifecycle topics), the touched partitions'
//   offsets sent to the group (a former owner that lost its partitions holds a stale generation,
//   so its transaction is refused and aborted: nothing it wrote becomes visible), committed with
//   acks=all on topics with replication 3 and min.insync.replicas 2. Only then is the group
//   applied to the local RocksDB (unsynced: Kafka holds it durably) and acknowledged.
// - Replicas: every instance reads every changelog partition read_committed and applies what it
//   has not applied yet (its owned partitions' records it wrote itself are skipped by offset);
//   the applied offset of each partition is stored in the same batch, so a restart resumes and a
//   wiped instance rebuilds from the beginning (the changelog keeps everything: retention -1).
//   The latest claim per partition is its owner, with the address requests are forwarded to.
//
// Thread safety: every public method from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/storage/v1/storage.pb.h"
#include "common/clock.h"
#include "events/kafka_settings.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::cluster {

struct NodeOptions {
  // This instance's name, unique in the cluster and stable across restarts (a StatefulSet pod
  // name). Its transactional id is "<group_id>.<node_id>": a restarted instance fences its
  // previous incarnation. Required.
  std::string node_id;
  // This build's version, recorded in claims.
  std::string version;
  // Bootstrap servers. Required.
  std::string brokers;
  // Connection settings (security.protocol, ssl.*, sasl.*) for every client.
  events::KafkaSettings connection;
  // Prefix of the topic names ("assent.").
  std::string topic_prefix = "assent.";
  // Partitions of the changelog topic; must equal the events topics' partitions. Default 6.
  int partitions = 6;
  // Replication factor and min.insync.replicas of the changelog topic when created. Default 3, 2.
  int replication_factor = 3;
  int min_insync_replicas = 2;
  bool create_topics = true;
  // The consumer group the instances share. Default "<topic_prefix>consentd".
  std::string group_id;
  // Failure detection: the group evicts an instance silent for the session timeout. The brokers'
  // group.min.session.timeout.ms must allow it. Defaults 10 s, heartbeat 3 s.
  absl::Duration session_timeout = absl::Seconds(10);
  absl::Duration heartbeat_interval = absl::Seconds(3);
  // A transaction left open by a frozen instance is aborted by the brokers after this; it bounds
  // how long a new owner may wait for it. Default 10 s.
  absl::Duration transaction_timeout = absl::Seconds(10);
  // How long one group commit may take before it fails (UNAVAILABLE). Default 10 s.
  absl::Duration commit_timeout = absl::Seconds(10);
  // The route key of a staged write (ledger::RouteOfWrite). Required.
  std::function<std::optional<std::string>(store::Cf, std::string_view)> route_of_write;
  // The events topic of an outbox record ("<prefix>consent.changes.v1", ...). Required.
  std::function<std::string(storage::v1::Topic)> topic_name;
  // How many instances besides its owner keep each partition in full (its standbys), chosen as
  // the instances the range assignor would give it to next (placement.h). -1 (the default):
  // every instance keeps every partition. With a count, every instance still applies the
  // `shared_write`s of every partition (what Check, the catalog and reports read), and the
  // history and the rest only of the partitions it keeps in full; reads of the others' history
  // are forwarded (Replicates). An owner that was not a standby replays the partition from where
  // it last kept it before it takes writes.
  int standbys = -1;
  // True for a staged write every instance applies (cluster.standbys): ledger::IsSharedWrite.
  // Required when standbys >= 0.
  std::function<bool(store::Cf, std::string_view key)> shared_write;
  // Called on the replica thread after writes of other instances to `watched_family` were
  // applied, with their keys (consentd drops the evidence data keys it cached).
  std::optional<store::Cf> watched_family;
  std::function<void(const std::vector<std::string>& keys)> on_watched_writes;
  // Called on the replica thread after writes of other instances were applied, with the column
  // families they touched (the ledger reloads its catalog cache).
  std::function<void(const std::vector<store::Cf>&)> on_replicated;
};

// "<prefix>consentd.changelog.v1".
std::string ChangelogTopic(std::string_view topic_prefix);

class Node final : public store::DurableSink {
 public:
  struct Owner {
    std::string node_id;
    std::string address;
    uint64_t epoch = 0;  // the claiming instance's ownership epoch
    absl::Time since;
    std::string version;
  };
  struct PartitionStatus {
    int32_t partition = 0;
    std::optional<Owner> owner;  // the latest claim applied here
    bool owned_here = false;     // claimed and replayed: writes accepted here
    int64_t applied = 0;         // next changelog offset this replica applies
    int64_t end = -1;            // the partition's end offset last seen (-1: not yet)
    // Kept in full here and replayed: its history is read here (Replicates).
    bool replicated_here = false;
    // Its standbys as last placed (empty when every instance keeps every partition).
    std::vector<std::string> standbys;
  };
  struct Stats {
    uint64_t ownership_changes = 0;  // partitions this instance gained or lost
    uint64_t transactions = 0;       // group commits
    uint64_t transaction_failures = 0;
    uint64_t replicated_records = 0;  // changelog records of others applied here
    // Departed previous owners whose open transactions a claim here ended at once, and those it
    // could not (they end at the transaction timeout).
    uint64_t departed_owners_fenced = 0;
    uint64_t departed_owner_fence_failures = 0;
  };

  // Creates the changelog topic when missing, opens the clients and starts the replica (from the
  // offsets stored in `store`). `store` and `clock` must outlive the node.
  static absl::StatusOr<std::unique_ptr<Node>> Start(NodeOptions options, store::Store& store,
                                                     const Clock& clock);
  // Joins the group, so that partitions are assigned to this instance, advertising
  // `advertise_address` (host:port other instances forward its partitions' writes to). Once.
  absl::Status Join(std::string advertise_address);
  ~Node() override;
  // Leaves the group (its partitions move at once) and stops the threads. Idempotent.
  void Stop();

  int32_t partitions() const;
  const std::string& node_id() const;
  // NodeOptions::standbys (-1: every instance keeps every partition).
  int standbys() const;
  // The partition of a route key.
  int32_t PartitionOf(std::string_view route_key) const;
  // True when this instance has claimed `partition` and replayed it: it accepts its writes.
  bool Owns(int32_t partition) const;
  // The latest owner of `partition` known here (nullopt before any claim was read).
  std::optional<Owner> OwnerOf(int32_t partition) const;
  // True when this instance keeps `partition` in full and has replayed it (always with
  // standbys -1, once caught up at start): reads of its targets' history are answered here;
  // otherwise they go to its owner. The shared writes (states) of every partition are here
  // either way.
  bool Replicates(int32_t partition) const;
  std::vector<PartitionStatus> Status() const;
  Stats stats() const;
  // True once the replica has read every partition to the end it had when the node started.
  bool CaughtUp() const;
  // The replica's total lag in records (end - applied, summed; 0 before ends are known).
  int64_t ReplicaLag() const;
  // The share of the changelog as it stood when the node started that the replica has applied
  // (0..1; a rebuild's progress).
  double ReplayProgress() const;

  // store::DurableSink.
  absl::StatusOr<uint64_t> Admit(const std::vector<store::StagedOp>& ops) override;
  absl::Status Commit(std::vector<store::DurableSink::Write>& writes) override;

 private:
  class Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace assent::cluster
