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

absl::Status Set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("--brokers: ", err));
  }
  return absl::OkStatus();
}

}  // namespace

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
  const std::string brokers = args.GetOr("brokers", "127.0.0.1:9092");
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

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  RETURN_IF_ERROR(Set(conf, "bootstrap.servers", brokers));
  RETURN_IF_ERROR(Set(conf, "group.id", absl::StrCat("assentctl-tail-", getpid())));
  RETURN_IF_ERROR(Set(conf, "enable.auto.commit", "false"));
  RETURN_IF_ERROR(Set(conf, "enable.partition.eof", "false"));
  RETURN_IF_ERROR(Set(conf, "log_level", "3"));
  char err[512];
  std::unique_ptr<rd_kafka_t, Deleter> consumer(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)));
  if (consumer == nullptr) return absl::UnavailableError(absl::StrCat("kafka: ", err));

  // Assign every partition directly (no consumer group rebalance, so tailing starts at once).
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer.get(), topic.c_str(), nullptr);
  rd_kafka_resp_err_t merr = rd_kafka_metadata(consumer.get(), 0, handle, &metadata, 10000);
  rd_kafka_topic_destroy(handle);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("kafka: metadata: ", rd_kafka_err2str(merr)));
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
      return absl::UnavailableError(
          absl::StrCat("kafka: ", rd_kafka_message_errstr(message.get())));
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
