// A real single-node Kafka broker for integration tests, started with tools/kafka/kafka.sh on free
// ports with its own data directory, stopped when the object goes away (or when the test process
// dies: the script watches the owner's pid).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace assent::testing {

// An additional TLS listener (kafka.sh start --ssl-port), from PEM files.
struct KafkaSslListener {
  // The broker's unencrypted PKCS#8 private key followed by its certificate chain.
  std::string keystore;
  // The CA certificates that client certificates must chain to.
  std::string truststore;
  // "required" (default), "requested" (optional) or "none".
  std::string client_auth = "required";
};

class KafkaBroker {
 public:
  // `dir` holds the broker's data and logs; with `ssl`, the broker also listens for TLS on
  // ssl_bootstrap(). Nothing starts until Start().
  explicit KafkaBroker(std::string dir, std::optional<KafkaSslListener> ssl = std::nullopt);
  ~KafkaBroker();
  KafkaBroker(const KafkaBroker&) = delete;
  KafkaBroker& operator=(const KafkaBroker&) = delete;

  // Starts (or restarts, keeping its data) and waits until it answers metadata. False on failure,
  // with the script's output in `error()`.
  bool Start();
  // Stops the broker (SIGTERM, then SIGKILL). Its data stays for a later Start().
  void Stop();

  // The plaintext listener, "127.0.0.1:<port>".
  const std::string& bootstrap() const { return bootstrap_; }
  // The TLS listener, "127.0.0.1:<port>"; empty without a KafkaSslListener.
  const std::string& ssl_bootstrap() const { return ssl_bootstrap_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::optional<KafkaSslListener> ssl_;
  int port_ = 0;
  int controller_port_ = 0;
  int ssl_port_ = 0;
  std::string bootstrap_;
  std::string ssl_bootstrap_;
  std::string error_;
  bool running_ = false;
};

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests on one machine).
int FreePort();

// One record read back from a topic.
struct KafkaRecord {
  std::string key;
  std::string value;
  bool tombstone = false;
  int partition = 0;
  int64_t offset = 0;
};

// Reads every record of `topic` from the beginning until `done(records)` returns true or
// `timeout` passes; returns what was read.
std::vector<KafkaRecord> ConsumeAll(
    const std::string& bootstrap, const std::string& topic, absl::Duration timeout,
    const std::function<bool(const std::vector<KafkaRecord>&)>& done);

// Produces records (key, value) to `topic` with acks=all and waits until all are acknowledged;
// false (with the reason in `error`) when any is not within `timeout`. Creates nothing: the topic
// must exist or the broker must auto-create it. A non-empty `message_type` goes into each record's
// "message-type" header, as Assent's own producers write it.
bool Produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::pair<std::string, std::string>>& records,
             absl::Duration timeout, std::string* error = nullptr,
             const std::string& message_type = "");

// Creates `topic` with `partitions` partitions (replication 1) unless it exists.
bool CreateTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                 std::string* error = nullptr);

// How CreateTopic makes a topic on a cluster.
struct TopicOptions {
  int partitions = 1;
  // -1: the brokers' default.replication.factor (3 on a KafkaCluster).
  int replication_factor = 1;
  // Topic configs, e.g. {"min.insync.replicas", "2"}, {"cleanup.policy", "compact"}.
  std::map<std::string, std::string> configs;
};

// Creates `topic` as `options` say unless it exists (an existing topic is left as it is). False,
// with the broker's reason in `error`, when the request fails, e.g. a replication factor larger
// than the number of live brokers or an unknown config.
bool CreateTopic(const std::string& bootstrap, const std::string& topic,
                 const TopicOptions& options, std::string* error = nullptr);

// Runs a shell command and returns its standard output (and exit status in `status`).
std::string RunCommand(const std::string& command, int* status);

}  // namespace assent::testing
