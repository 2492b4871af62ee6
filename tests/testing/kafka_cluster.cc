#include "testing/kafka_cluster.h"

#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "testing/kafka_broker.h"

namespace assent::testing {
namespace {

// Binds 127.0.0.1:port; the socket is returned open (the caller closes it), -1 if taken.
int BindPort(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The first port of the kernel's ephemeral range (32768 unless configured otherwise).
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (!(in >> low) || low <= 0) low = 32768;
  return low;
}

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};

}  // namespace

int FreePortRange(int count) {
  constexpr int kLowest = 10000;
  const int high = EphemeralLow() - count;
  if (count <= 0 || high <= kLowest) return 0;
  std::mt19937 random(static_cast<uint32_t>(getpid()) ^ std::random_device()());
  std::uniform_int_distribution<int> pick(kLowest, high);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = pick(random);
    std::vector<int> fds;
    for (int port = base; port < base + count; ++port) {
      const int fd = BindPort(port);
      if (fd < 0) break;
      fds.push_back(fd);
    }
    const bool all = static_cast<int>(fds.size()) == count;
    for (int fd : fds) close(fd);
    if (all) return base;
  }
  return 0;
}

KafkaCluster::KafkaCluster(std::string dir, int nodes) : dir_(std::move(dir)), nodes_(nodes) {}

KafkaCluster::~KafkaCluster() { Stop(); }

bool KafkaCluster::Run(const std::string& command, const std::string& options) {
  int status = 0;
  const std::string output =
      RunCommand(absl::StrCat(ASSENT_SOURCE_DIR, "/tools/kafka/kafka.sh ", command, " --dir '",
                              dir_, "'", options, " 2>&1"),
                 &status);
  if (status == 0) return true;
  error_ = absl::StrCat("kafka.sh ", command, options, ": ", output);
  return false;
}

bool KafkaCluster::Start() {
  if (base_port_ == 0) {
    base_port_ = FreePortRange(2 * nodes_);
    if (base_port_ == 0) {
      error_ = absl::StrCat("no ", 2 * nodes_, " consecutive free ports");
      return false;
    }
    bootstrap_.clear();
    for (int node = 1; node <= nodes_; ++node) {
      absl::StrAppend(&bootstrap_, node == 1 ? "" : ",", node_bootstrap(node));
    }
  }
  // Set before the run: a start that failed half-way may leave nodes for Stop() to end.
  started_ = true;
  return Run("cluster-start", absl::StrCat(" --nodes ", nodes_, " --base-port ", base_port_,
                                           " --owner-pid ", getpid()));
}

void KafkaCluster::Stop() {
  if (!started_) return;
  Run("cluster-stop", "");
  started_ = false;
}

void KafkaCluster::Kill() {
  if (!started_) return;
  Run("cluster-stop", " --kill");
  started_ = false;
}

std::string KafkaCluster::node_bootstrap(int node) const {
  return absl::StrCat("127.0.0.1:", base_port_ + node - 1);
}

bool KafkaCluster::KillNode(int node) {
  return started_ && Run("node-kill", absl::StrCat(" --node ", node));
}

bool KafkaCluster::StopNode(int node) {
  return started_ && Run("node-stop", absl::StrCat(" --node ", node));
}

bool KafkaCluster::StartNode(int node) {
  return started_ && Run("node-start", absl::StrCat(" --node ", node));
}

absl::StatusOr<std::vector<PartitionState>> DescribeTopic(const std::string& bootstrap,
                                                          const std::string& topic,
                                                          absl::Duration timeout) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  // Asked for by name, brokers describe internal topics as well.
  std::unique_ptr<rd_kafka_t, RdKafkaDeleter> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)));
  if (rk == nullptr) return absl::InternalError(err);
  rd_kafka_topic_t* handle = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t e = rd_kafka_metadata(
      rk.get(), 0, handle, &metadata, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  rd_kafka_topic_destroy(handle);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(e)));
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(
      metadata, rd_kafka_metadata_destroy);
  if (metadata->topic_cnt != 1 || metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::NotFoundError(absl::StrCat(
        "topic ", topic, ": ",
        metadata->topic_cnt == 1 ? rd_kafka_err2str(metadata->topics[0].err) : "not listed"));
  }
  std::vector<PartitionState> partitions;
  const rd_kafka_metadata_topic_t& t = metadata->topics[0];
  for (int i = 0; i < t.partition_cnt; ++i) {
    const rd_kafka_metadata_partition_t& p = t.partitions[i];
    PartitionState state;
    state.partition = p.id;
    state.leader = p.leader;
    state.replicas.assign(p.replicas, p.replicas + p.replica_cnt);
    state.isr.assign(p.isrs, p.isrs + p.isr_cnt);
    partitions.push_back(std::move(state));
  }
  std::sort(
      partitions.begin(), partitions.end(),
      [](const PartitionState& a, const PartitionState& b) { return a.partition < b.partition; });
  return partitions;
}

std::map<std::string, int> ReadCommittedKeys(const std::string& bootstrap, const std::string& topic,
                                             size_t expected, absl::Duration timeout) {
  std::map<std::string, int> seen;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", absl::StrCat("verify-", topic, "-", getpid()).c_str(), err,
                    sizeof(err));
  rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  std::unique_ptr<rd_kafka_t, RdKafkaDeleter> consumer(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)));
  if (consumer == nullptr) return seen;
  rd_kafka_poll_set_consumer(consumer.get());
  absl::StatusOr<std::vector<PartitionState>> partitions =
      DescribeTopic(bootstrap, topic, absl::Seconds(10));
  if (!partitions.ok()) return seen;
  rd_kafka_topic_partition_list_t* assignment =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions->size()));
  for (const PartitionState& p : *partitions) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p.partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer.get(), assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  std::set<int> at_end;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline &&
         !(seen.size() >= expected && at_end.size() == partitions->size())) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      at_end.erase(m->partition);
      ++seen[std::string(static_cast<const char*>(m->key), m->key_len)];
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  return seen;
}

}  // namespace assent::testing
