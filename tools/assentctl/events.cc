#include "assentctl/events.h"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "assent/v1/events.pb.h"
#include "assentctl/flags.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "events/kafka.h"
#include "events/kafka_settings.h"
#include "nlohmann/json.hpp"

namespace assent::ctl {
namespace {

struct Deleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

constexpr char kDefaultBrokers[] = "127.0.0.1:9092";

}  // namespace

absl::StatusOr<std::map<std::string, TailSetting>> TailKafkaSettings(const Args& args,
                                                                     const GlobalOptions& options) {
  std::map<std::string, TailSetting> settings;
  const std::string file = args.GetOr("kafka-config", options.kafka_config);
  if (!file.empty()) {
    const char* flag = args.Has("kafka-config") ? "--kafka-config" : "$ASSENT_KAFKA_CONFIG";
    absl::StatusOr<events::KafkaSettings> read = events::ReadKafkaProperties(file);
    if (!read.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", read.status().message()));
    }
    const std::string origin = absl::StrCat(flag, " ", file);
    for (auto& [key, value] : *read) settings[key] = {std::move(value), origin};
  }
  for (const std::string& x : args.GetAll("X")) {
    const size_t eq = x.find('=');
    if (eq == std::string::npos || eq == 0) {
      // Not quoted: the word may be a secret given without its key.
      return absl::InvalidArgumentError("-X: expected KEY=VALUE (a librdkafka property)");
    }
    settings[x.substr(0, eq)] = {x.substr(eq + 1), "-X"};
  }
  if (auto brokers = args.Get("brokers"); brokers.has_value()) {
    settings["bootstrap.servers"] = {*brokers, "--brokers"};
  } else if (!settings.contains("bootstrap.servers")) {
    settings["bootstrap.servers"] = {kDefaultBrokers, "--brokers"};
  }
  return settings;
}

absl::StatusOr<std::string> EventLine(std::string_view topic, int partition, int64_t offset,
                                      std::string_view key, std::string_view value, bool tombstone,
                                      bool state_topic) {
  nlohmann::json line;
  line["topic"] = std::string(topic);
  line["partition"] = partition;
  line["offset"] = offset;
  line["key"] = std::string(key);
  if (tombstone) {
    line["event"] = nullptr;
  } else {
    std::string json;
    if (state_topic) {
      v1::TargetStateSnapshot snapshot;
      if (!snapshot.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        return absl::InvalidArgumentError("a state record does not decode");
      }
      json = ToJson(snapshot);
    } else {
      v1::ConsentChanged event;
      if (!event.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        return absl::InvalidArgumentError("a change event does not decode");
      }
      json = ToJson(event);
    }
    line["event"] = nlohmann::json::parse(json);
  }
  return line.dump();
}

absl::StatusOr<int> EventsTail(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(const auto settings, TailKafkaSettings(args, session.options()));
  const bool state = args.Switch("state-topic");
  const std::string topic =
      args.GetOr("topic-prefix", "assent.") + (state ? "consent.state.v1" : "consent.changes.v1");
  int64_t count = -1;
  if (auto c = args.Get("count"); c.has_value() && (!absl::SimpleAtoi(*c, &count) || count < 1)) {
    return absl::InvalidArgumentError("--count: must be a positive integer");
  }
  absl::Duration idle_exit = absl::InfiniteDuration();
  if (auto d = args.Get("idle-exit"); d.has_value()) {
    ASSIGN_OR_RETURN(idle_exit, ParseDurationValue("idle-exit", *d));
  }

  events::ConfPtr conf(rd_kafka_conf_new());
  const std::pair<const char*, std::string> defaults[] = {
      {"group.id", absl::StrCat("assentctl-tail-", getpid())},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "false"},
      {"log_level", "3"},
  };
  for (const auto& [key, value] : defaults) {
    RETURN_IF_ERROR(events::SetConf(conf.get(), key, value, key));
  }
  events::KafkaSettings values;  // for redacting librdkafka's messages
  for (const auto& [key, setting] : settings) {
    RETURN_IF_ERROR(events::SetConf(conf.get(), key, setting.value,
                                    absl::StrCat(key, " (from ", setting.origin, ")")));
    values[key] = setting.value;
  }
  events::ClientErrors errors;
  errors.Attach(conf.get());
  char err[512];
  // rd_kafka_new takes the configuration only when it succeeds; on failure it stays ours.
  std::unique_ptr<rd_kafka_t, Deleter> consumer(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof(err)));
  if (consumer != nullptr) (void)conf.release();
  if (consumer == nullptr) {
    // Only settings make this fail, and librdkafka names the one ("ssl.key.location failed: ...").
    return absl::FailedPreconditionError(
        absl::StrCat("kafka settings: ", events::RedactSecrets(err, values)));
  }

  // Assign every partition directly (no consumer group rebalance, so tailing starts at once).
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer.get(), topic.c_str(), nullptr);
  rd_kafka_resp_err_t merr =
      rd_kafka_metadata(consumer.get(), 0, handle, &metadata,
                        static_cast<int>(absl::ToInt64Milliseconds(session.options().timeout)));
  rd_kafka_topic_destroy(handle);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_poll(consumer.get(), 0);  // serves the error callback: why no broker answered
    return absl::UnavailableError(events::RedactSecrets(
        absl::StrCat("kafka: metadata: ", rd_kafka_err2str(merr), errors.Suffix()), values));
  }
  std::unique_ptr<rd_kafka_topic_partition_list_t, Deleter> partitions(
      rd_kafka_topic_partition_list_new(4));
  for (int t = 0; t < metadata->topic_cnt; ++t) {
    const auto& md = metadata->topics[t];
    if (md.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(metadata);
      return absl::NotFoundError(
          absl::StrCat("kafka: topic ", topic, ": ", rd_kafka_err2str(md.err)));
    }
    for (int p = 0; p < md.partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(partitions.get(), topic.c_str(), md.partitions[p].id)
          ->offset =
          args.Switch("from-beginning") ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_assign(consumer.get(), partitions.get());

  int64_t printed = 0;
  absl::Time last = absl::Now();
  while (count < 0 || printed < count) {
    std::unique_ptr<rd_kafka_message_t, Deleter> message(
        rd_kafka_consumer_poll(consumer.get(), 200));
    if (message == nullptr) {
      if (absl::Now() - last > idle_exit) break;
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(events::RedactSecrets(
          absl::StrCat("kafka: ", rd_kafka_message_errstr(message.get())), values));
    }
    last = absl::Now();
    ASSIGN_OR_RETURN(
        std::string line,
        EventLine(rd_kafka_topic_name(message->rkt), message->partition, message->offset,
                  std::string_view(static_cast<const char*>(message->key), message->key_len),
                  std::string_view(static_cast<const char*>(message->payload), message->len),
                  message->payload == nullptr, state));
    session.Print(line + "\n");
    ++printed;
  }
  return 0;
}

}  // namespace assent::ctl
