#include "enforce/progress_reporter.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "spdlog/spdlog.h"

namespace assent::enforce {

std::string EnforcementTopic(std::string_view topic_prefix) {
  return events::EnforcementTopicName(topic_prefix);
}

std::string DefaultInstanceId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "localhost", "-", getpid());
}

ProgressReporter::ProgressReporter(ReporterOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      topic_(EnforcementTopic(options_.topic_prefix)) {}

ProgressReporter::~ProgressReporter() { Stop(); }

absl::StatusOr<std::unique_ptr<ProgressReporter>> ProgressReporter::Start(ReporterOptions options,
                                                                          const Clock& clock) {
  if (options.brokers.empty()) return InvalidField("kafka.brokers", "required");
  if (options.sender.empty()) return InvalidField("name", "required");
  if (options.instance_id.empty()) return InvalidField("enforcement.instance_id", "required");
  if (!options.progress) return InvalidField("progress", "required");
  if (options.interval <= absl::ZeroDuration()) {
    return InvalidField("enforcement.report_interval", "must be positive");
  }
  std::unique_ptr<ProgressReporter> r(new ProgressReporter(std::move(options), clock));
  events::KafkaOptions kafka;
  kafka.brokers = r->options_.brokers;
  kafka.producer_overrides = r->options_.producer_overrides;
  ASSIGN_OR_RETURN(events::ConfPtr conf, events::ProducerConfig(kafka));
  // Reports are heartbeats: a late one is worthless, so they are not retried for ever.
  RETURN_IF_ERROR(
      events::SetConf(conf.get(), "message.timeout.ms",
                      absl::StrCat(absl::ToInt64Milliseconds(r->options_.message_timeout)),
                      "kafka.producer.message.timeout.ms"));
  RETURN_IF_ERROR(events::SetConf(conf.get(), "enable.idempotence", "false",
                                  "kafka.producer.enable.idempotence"));
  char errstr[512];
  r->producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
  if (r->producer_ == nullptr) return InvalidField("kafka.producer", errstr);
  (void)conf.release();
  r->thread_ = std::thread([raw = r.get()] { raw->Loop(); });
  return r;
}

void ProgressReporter::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
  if (producer_ != nullptr) {
    rd_kafka_flush(producer_.get(), 500);
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_.get(), 0);
    producer_.reset();
  }
}

void ProgressReporter::Loop() {
  ChangesProgress last;
  absl::Time last_sent = absl::InfinitePast();
  bool warned = false;
  while (!stop_.HasBeenNotified()) {
    ChangesProgress now_progress = options_.progress();
    const absl::Time now = clock_.Now();
    if (now_progress != last || now - last_sent >= options_.interval) {
      Publish(now_progress);
      last = std::move(now_progress);
      last_sent = now;
    }
    rd_kafka_poll(producer_.get(), 0);  // delivery reports (ignored)
    if (rd_kafka_outq_len(producer_.get()) > 1000 && !warned) {
      spdlog::warn("msg=\"enforcement reports are not delivered (Kafka unreachable?)\"");
      warned = true;
    }
    clock_.SleepFor(options_.poll, &stop_);
  }
}

void ProgressReporter::Publish(const ChangesProgress& progress) {
  v1::EnforcementProgress report;
  report.set_sender(options_.sender);
  report.set_instance_id(options_.instance_id);
  *report.mutable_time() = ToProto(clock_.Now());
  for (const auto& [partition, next] : progress) {
    v1::PartitionProgress* p = report.add_partitions();
    p->set_partition(partition);
    p->set_next_offset(next);
  }
  const std::string value = report.SerializeAsString();
  const std::string key = absl::StrCat(options_.sender, "/", options_.instance_id);
  static constexpr std::string_view kContentType = "application/x-protobuf";
  static constexpr std::string_view kMessageType = "assent.v1.EnforcementProgress";
  rd_kafka_headers_t* headers = rd_kafka_headers_new(2);
  rd_kafka_header_add(headers, "content-type", -1, kContentType.data(),
                      static_cast<ssize_t>(kContentType.size()));
  rd_kafka_header_add(headers, "message-type", -1, kMessageType.data(),
                      static_cast<ssize_t>(kMessageType.size()));
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(headers),
      RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(headers);
    spdlog::debug("msg=\"enforcement report not queued\" error=\"{}\"", rd_kafka_err2str(err));
    return;
  }
  reports_.fetch_add(1);
}

}  // namespace assent::enforce
