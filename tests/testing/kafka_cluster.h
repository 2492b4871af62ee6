// A real N-node Kafka cluster for integration tests and benchmarks of cluster mode: each node one
// JVM that is broker and KRaft controller, started with tools/kafka/kafka.sh cluster-start on free
// ports in its own directory. Topics default to replication 3 and min.insync.replicas 2, internal
// topics likewise, and the brokers accept consumer session timeouts down to 1 s (README of
// tools/kafka, "Cluster mode"). Everything stops when the object goes away, or when the test
// process dies (the script watches the owner's pid).
//
// Not thread-safe: one thread drives a cluster. Nodes are numbered 1..nodes(), as Kafka's node.id.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace assent::testing {

class KafkaCluster {
 public:
  // `dir` holds every node's data and logs. Nothing starts until Start().
  explicit KafkaCluster(std::string dir, int nodes = 3);
  ~KafkaCluster();
  KafkaCluster(const KafkaCluster&) = delete;
  KafkaCluster& operator=(const KafkaCluster&) = delete;

  // Starts every node that is not running and waits until each answers metadata (registered and
  // unfenced). False on failure, with the script's output in error().
  bool Start();
  // Stops every node (SIGTERM in parallel, SIGKILL after 30 s). Data stays for a later Start().
  // The destructor calls it.
  void Stop();
  // SIGKILL to every node: faster than Stop() (no controlled shutdown, about 5 s saved) for a
  // cluster whose data is thrown away next, e.g. at the end of a test suite.
  void Kill();

  // SIGKILL to node `node` (no controlled shutdown, so its leaderships move only once the
  // controller fences it, within broker.session.timeout.ms = 4 s). Returns once the process is
  // gone. False if `node` is out of range or the script failed (error()).
  bool KillNode(int node);
  // SIGTERM to node `node` (a controlled shutdown: leaderships move first), waits until it exits.
  bool StopNode(int node);
  // Starts node `node` again with its data and waits until it answers metadata. After a KillNode
  // this can take up to broker.session.timeout.ms longer: the controller accepts the new
  // registration once the old one has expired.
  bool StartNode(int node);

  // Every node's listener, "127.0.0.1:<p1>,127.0.0.1:<p2>,...", for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  // Node `node`'s listener alone, "127.0.0.1:<port>".
  std::string node_bootstrap(int node) const;
  int nodes() const { return nodes_; }
  // The output of the last script run that failed.
  const std::string& error() const { return error_; }

 private:
  bool Run(const std::string& command, const std::string& options);

  std::string dir_;
  int nodes_;
  int base_port_ = 0;
  std::string bootstrap_;
  std::string error_;
  bool started_ = false;
};

// `count` consecutive free TCP ports on 127.0.0.1 below the kernel's ephemeral range (so an
// outgoing connection cannot take one meanwhile); returns the first. 0 if none were found.
int FreePortRange(int count);

// One partition of a topic as the cluster's metadata describes it.
struct PartitionState {
  int partition = 0;
  // Node id of the leader; -1 while there is none.
  int leader = -1;
  std::vector<int> replicas;
  std::vector<int> isr;
};

// The partitions of `topic` from a metadata request to `bootstrap`, in partition order. Works for
// internal topics too ("__transaction_state", "__consumer_offsets"). NOT_FOUND if the topic does
// not exist, UNAVAILABLE if no broker answered within `timeout`.
absl::StatusOr<std::vector<PartitionState>> DescribeTopic(const std::string& bootstrap,
                                                          const std::string& topic,
                                                          absl::Duration timeout);

// The key of every record of `topic` that a read_committed consumer sees from the beginning, with
// how often it was seen: reads until `expected` distinct keys have arrived and every partition is
// at its end (the last stable offset) with nothing after, or until `timeout`. What a test of
// exactly-once delivery compares with the keys it committed: a key seen twice is a duplicate, a
// key of an aborted transaction a leak. Empty if the topic cannot be described.
std::map<std::string, int> ReadCommittedKeys(const std::string& bootstrap, const std::string& topic,
                                             size_t expected, absl::Duration timeout);

}  // namespace assent::testing
