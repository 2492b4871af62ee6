#include "events/kafka.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace assent::events {

std::string TopicName(const KafkaOptions& options, storage::v1::Topic topic) {
  switch (topic) {
    case storage::v1::TOPIC_CHANGES:
      return options.topic_prefix + "consent.changes.v1";
    case storage::v1::TOPIC_STATE:
      return options.topic_prefix + "consent.state.v1";
    case storage::v1::TOPIC_LIFECYCLE:
      return options.topic_prefix + "consent.lifecycle.v1";
    default:
      return options.topic_prefix + "consent.unknown.v1";
  }
}

absl::Status SetConf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
                     const std::string& field) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    // librdkafka quotes a value it refuses ("Invalid value \"...\" for configuration property").
    return InvalidField(field, IsSecretSetting(key) && !value.empty()
                                   ? absl::StrReplaceAll(errstr, {{value, "<redacted>"}})
                                   : std::string(errstr));
  }
  return absl::OkStatus();
}

absl::Status ValidateKafkaOptions(const KafkaOptions& options) {
  if (options.partitions < 1 || options.partitions > 10000) {
    return InvalidField("kafka.partitions", "must be in 1..10000");
  }
  if (options.replication_factor < 1 || options.replication_factor > 100) {
    return InvalidField("kafka.replication_factor", "must be in 1..100");
  }
  if (options.changes_retention < absl::Hours(1)) {
    return InvalidField("kafka.changes_retention", "must be at least 1h");
  }
  if (options.lifecycle_retention < absl::Hours(1)) {
    return InvalidField("kafka.lifecycle_retention", "must be at least 1h");
  }
  for (char c : options.topic_prefix) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return InvalidField("kafka.topic_prefix", "may contain only [a-zA-Z0-9._-]");
    }
  }
  if (options.topic_prefix.size() > 200) {
    return InvalidField("kafka.topic_prefix", "must be at most 200 characters");
  }
  // Building the producer configuration checks every override against librdkafka.
  return ProducerConfig(options).status();
}

absl::StatusOr<ConfPtr> ProducerConfig(const KafkaOptions& options) {
  ConfPtr conf(rd_kafka_conf_new());
  const std::pair<const char*, const char*> defaults[] = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "1"},
      {"compression.type", "lz4"},
      {"partitioner", "murmur2_random"},
      // 0 = no limit: while the broker is down the producer keeps retrying instead of failing
      // messages, so events are delayed, never dropped or reordered.
      {"message.timeout.ms", "0"},
      {"max.in.flight.requests.per.connection", "5"},
      {"socket.keepalive.enable", "true"},
      {"reconnect.backoff.max.ms", "1000"},
      {"log_level", "4"},
  };
  for (const auto& [key, value] : defaults) {
    RETURN_IF_ERROR(SetConf(conf.get(), key, value, absl::StrCat("kafka.producer.", key)));
  }
  if (!options.brokers.empty()) {
    RETURN_IF_ERROR(SetConf(conf.get(), "bootstrap.servers", options.brokers, "kafka.brokers"));
  }
  for (const auto& [key, value] : options.producer_overrides) {
    RETURN_IF_ERROR(SetConf(conf.get(), key, value, absl::StrCat("kafka.producer.", key)));
  }
  return conf;
}

void CloseConsumer(KafkaPtr consumer, absl::Duration timeout) {
  if (consumer == nullptr) return;
  rd_kafka_t* rk = consumer.release();
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_error_t* error = rd_kafka_consumer_close_queue(rk, queue.get());
  if (error != nullptr) {
    rd_kafka_error_destroy(error);
  } else {
    const absl::Time deadline = absl::Now() + timeout;
    while (!rd_kafka_consumer_closed(rk) && absl::Now() < deadline) {
      EventPtr event(rd_kafka_queue_poll(queue.get(), 100));
      // A consumer with its own rebalance callback gets the close's revocation here to answer.
      if (event != nullptr && rd_kafka_event_type(event.get()) == RD_KAFKA_EVENT_REBALANCE) {
        rd_kafka_assign(rk, nullptr);
      }
    }
  }
  queue.reset();
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

std::string HeaderValue(const rd_kafka_message_t& message, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return "";
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return "";
  }
  return std::string(static_cast<const char*>(value), size);
}

std::string EnforcementTopicName(std::string_view topic_prefix) {
  return std::string(topic_prefix) + "enforcement.v1";
}

absl::Status EnsureTopics(const KafkaOptions& options, absl::Duration timeout) {
  const std::vector<TopicSpec> specs = {
      {TopicName(options, storage::v1::TOPIC_CHANGES),
       options.partitions,
       options.replication_factor,
       {{"cleanup.policy", "delete"},
        {"retention.ms", absl::StrCat(absl::ToInt64Milliseconds(options.changes_retention))}}},
      {TopicName(options, storage::v1::TOPIC_STATE),
       options.partitions,
       options.replication_factor,
       {{"cleanup.policy", "compact"}, {"min.compaction.lag.ms", "0"}}},
      {TopicName(options, storage::v1::TOPIC_LIFECYCLE),
       options.partitions,
       options.replication_factor,
       {{"cleanup.policy", "delete"},
        {"retention.ms", absl::StrCat(absl::ToInt64Milliseconds(options.lifecycle_retention))}}},
      {EnforcementTopicName(options.topic_prefix),
       options.partitions,
       options.replication_factor,
       {{"cleanup.policy", "delete"},
        {"retention.ms", absl::StrCat(absl::ToInt64Milliseconds(kEnforcementRetention))}}},
  };
  std::vector<TopicSpec> with_isr = specs;
  if (options.min_insync_replicas > 0) {
    for (TopicSpec& spec : with_isr) {
      spec.configs.emplace_back("min.insync.replicas", absl::StrCat(options.min_insync_replicas));
    }
  }
  return CreateTopics(
      {options.brokers, ConnectionSettings(options.producer_overrides), "kafka.producer."},
      with_isr, timeout);
}

absl::Status CreateTopics(const ClientOptions& client, const std::vector<TopicSpec>& specs,
                          absl::Duration timeout) {
  ConfPtr conf(rd_kafka_conf_new());
  RETURN_IF_ERROR(SetConf(conf.get(), "log_level", "3", "kafka.admin.log_level"));
  RETURN_IF_ERROR(SetConf(conf.get(), "bootstrap.servers", client.brokers, "kafka.brokers"));
  for (const auto& [key, value] : client.settings) {
    RETURN_IF_ERROR(SetConf(conf.get(), key, value, absl::StrCat(client.settings_field, key)));
  }
  ClientErrors errors;
  errors.Attach(conf.get());
  char errstr[512];
  // rd_kafka_new takes the configuration only when it succeeds; on failure it stays ours.
  KafkaPtr admin(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
  if (admin != nullptr) (void)conf.release();
  if (admin == nullptr) {
    // Only settings make rd_kafka_new fail ("ssl.ca.location failed: ..."), and its message names
    // the property: "kafka.consumer: ssl.ca.location failed: ...".
    std::string_view field = client.settings_field;
    if (field.ends_with('.')) field.remove_suffix(1);
    return InvalidField(field, RedactSecrets(errstr, client.settings));
  }
  std::vector<std::unique_ptr<rd_kafka_NewTopic_t, KafkaDeleter>> topics;
  std::vector<rd_kafka_NewTopic_t*> raw;
  for (const TopicSpec& spec : specs) {
    topics.emplace_back(rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions,
                                              spec.replication_factor, errstr, sizeof(errstr)));
    if (topics.back() == nullptr) return InvalidField("kafka", errstr);
    for (const auto& [k, v] : spec.configs) {
      rd_kafka_NewTopic_set_config(topics.back().get(), k.c_str(), v.c_str());
    }
    raw.push_back(topics.back().get());
  }
  std::unique_ptr<rd_kafka_AdminOptions_t, KafkaDeleter> admin_options(
      rd_kafka_AdminOptions_new(admin.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_request_timeout(admin_options.get(),
                                            static_cast<int>(absl::ToInt64Milliseconds(timeout)),
                                            errstr, sizeof(errstr));
  QueuePtr queue(rd_kafka_queue_new(admin.get()));
  rd_kafka_CreateTopics(admin.get(), raw.data(), raw.size(), admin_options.get(), queue.get());
  // Serve the client's callbacks while waiting, so that a connection failure is recorded.
  EventPtr event;
  const absl::Time deadline = absl::Now() + timeout + absl::Seconds(1);
  while (event == nullptr && absl::Now() < deadline) {
    event.reset(rd_kafka_queue_poll(queue.get(), 100));
    rd_kafka_poll(admin.get(), 0);
  }
  if (event == nullptr) {
    return absl::UnavailableError(RedactSecrets(
        absl::StrCat("kafka: no answer to CreateTopics", errors.Suffix()), client.settings));
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(RedactSecrets(
        absl::StrCat("kafka: CreateTopics: ", rd_kafka_event_error_string(event.get()),
                     errors.Suffix()),
        client.settings));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      return absl::UnavailableError(absl::StrCat("kafka: create topic ",
                                                 rd_kafka_topic_result_name(results[i]), ": ",
                                                 rd_kafka_topic_result_error_string(results[i])));
    }
  }
  return absl::OkStatus();
}

}  // namespace assent::events
