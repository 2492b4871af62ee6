// librdkafka handles owned by unique_ptrs, and the Kafka settings Assent uses for its topics and
// producer. Validation happens here so that a bad setting fails consentd at start-up, naming the
// option.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/storage/v1/storage.pb.h"
#include "events/kafka_settings.h"

namespace assent::events {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, KafkaDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;

struct KafkaOptions {
  // Bootstrap servers, "host:port,host:port". Empty: events stay in the outbox.
  std::string brokers;
  // Prefix of Assent's topic names. Default "assent.".
  std::string topic_prefix = "assent.";
  // Partitions of each topic when Assent creates it. Default 6.
  int partitions = 6;
  // Replication factor of each topic when Assent creates it. Default 1 (single broker).
  int replication_factor = 1;
  // Retention of the changes topic. Default 7 days. (The state topic is compacted, kept forever.)
  absl::Duration changes_retention = absl::Hours(24 * 7);
  // Retention of the lifecycle topic (notices: expiring, re-permission, confirmation requested).
  // A confirmation request carries a sealed address, so this should not exceed the longest
  // pending_ttl of the purposes that require confirmation. Default 7 days (the default TTL).
  absl::Duration lifecycle_retention = absl::Hours(24 * 7);
  // min.insync.replicas of the topics Assent creates (cluster mode: 2 with replication 3, so an
  // acknowledged write survives the loss of a broker). 0 (default): the brokers' default.
  int min_insync_replicas = 0;
  // Create missing topics at start-up with the Admin API. Default true; turn off where topics are
  // managed elsewhere (the relay then waits until they exist).
  bool create_topics = true;
  // librdkafka producer settings that override Assent's defaults ("linger.ms" -> "1"). Their
  // connection settings (security.protocol, ssl.*, sasl.*: ConnectionSettings) also apply to the
  // topic admin.
  std::map<std::string, std::string> producer_overrides;
};

// "<prefix>consent.changes.v1", "<prefix>consent.state.v1" or "<prefix>consent.lifecycle.v1".
std::string TopicName(const KafkaOptions& options, storage::v1::Topic topic);
// "<prefix>enforcement.v1": the senders' enforcement progress reports (proof of enforcement).
std::string EnforcementTopicName(std::string_view topic_prefix);
// Its retention: reports are heartbeats, only the latest ones matter.
inline constexpr absl::Duration kEnforcementRetention = absl::Hours(24);

// The relay's producer configuration: idempotent, acks=all, low linger, Java-compatible murmur2
// partitioning (so other clients agree on a key's partition), retries without a time limit (a
// broker outage delays events, it never drops them), then the overrides. INVALID_ARGUMENT
// "kafka.producer.<key>: ..." for an override librdkafka rejects.
absl::StatusOr<ConfPtr> ProducerConfig(const KafkaOptions& options);

// Sets one librdkafka property; INVALID_ARGUMENT "<field>: <librdkafka's reason>", with the value
// replaced by "<redacted>" when the key IsSecretSetting.
absl::Status SetConf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
                     const std::string& field);

// Checks the options (not the broker): INVALID_ARGUMENT naming "kafka.<option>".
absl::Status ValidateKafkaOptions(const KafkaOptions& options);

// Creates the changes topic (delete policy, configured retention) and the compacted state topic
// when they do not exist, connecting with the producer's connection settings. UNAVAILABLE when the
// brokers cannot be reached within `timeout`; topics that already exist are left as they are.
absl::Status EnsureTopics(const KafkaOptions& options, absl::Duration timeout);

// Closes a consumer without hanging when the brokers are gone: leaves its group (if any) within
// `timeout`, then destroys the handle without the blocking close rd_kafka_destroy would do.
// Offsets are not committed here (Assent's consumers commit in transactions or not at all). A
// consumer with its own rebalance callback has the close's revocation answered (unassigned).
void CloseConsumer(KafkaPtr consumer, absl::Duration timeout);

// The last value of header `name` of a consumed record ("" when absent).
std::string HeaderValue(const rd_kafka_message_t& message, const char* name);

// A topic to create: name, partitions, replication factor, topic configs.
struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  std::vector<std::pair<std::string, std::string>> configs;
};

// How a short-lived client (the topic admin) reaches the brokers.
struct ClientOptions {
  // Bootstrap servers, "host:port,host:port". Required.
  std::string brokers;
  // librdkafka settings applied after bootstrap.servers: security.protocol, ssl.*, sasl.*, ...
  // Default none (plaintext).
  KafkaSettings settings;
  // Where `settings` came from, naming a refused one in errors: "<settings_field><key>: ...".
  // Default "kafka.".
  std::string settings_field = "kafka.";
};

// Creates the topics that do not exist yet (existing ones are left as they are). INVALID_ARGUMENT
// naming the setting for settings librdkafka refuses (secret values never appear); UNAVAILABLE
// when the brokers cannot be reached within `timeout` (with the last connection error, such as a
// failed TLS handshake) or refuse a topic.
absl::Status CreateTopics(const ClientOptions& client, const std::vector<TopicSpec>& specs,
                          absl::Duration timeout);

}  // namespace assent::events
