#include "enforce/follower.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "assent/storage/v1/storage.pb.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace assent::enforce {
namespace {

// The record's "message-type" header; nullopt when it has none (records from before the header
// was written are of the topic's own type).
std::optional<std::string_view> MessageType(const rd_kafka_message_t& message) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, "message-type", &value, &size) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(value), size);
}

}  // namespace

namespace {

constexpr size_t kMaxObservations = 256;

absl::StatusOr<events::ConfPtr> ConsumerConfig(const FollowerOptions& options) {
  events::ConfPtr conf(rd_kafka_conf_new());
  auto set = [&](const std::string& key, const std::string& value,
                 const std::string& field) -> absl::Status {
    return events::SetConf(conf.get(), key, value, field);
  };
  if (options.brokers.empty()) return absl::InvalidArgumentError("kafka.brokers: required");
  for (auto [key, value] : std::initializer_list<std::pair<const char*, const char*>>{
           // The view is built with assign(), not a consumer group: every sender instance reads
           // every partition, and nothing is committed.
           {"enable.auto.commit", "false"},
           {"enable.auto.offset.store", "false"},
           {"enable.partition.eof", "true"},
           {"auto.offset.reset", "earliest"},
           // Low latency from the broker: answer a fetch as soon as one byte is there.
           {"fetch.wait.max.ms", "10"},
           {"fetch.min.bytes", "1"},
           {"socket.nagle.disable", "true"},
           // librdkafka's default prefetch (64 MiB per partition) would dwarf the view itself.
           {"queued.max.messages.kbytes", "4096"},
           {"client.id", "assent-enforcement"},
           // librdkafka wants a group id even for assign(); no group is joined and nothing is
           // committed under it.
           {"group.id", "assent-enforcement-view"}}) {
    absl::Status s = set(key, value, absl::StrCat("kafka.consumer.", key));
    if (!s.ok()) return s;
  }
  absl::Status s = set("bootstrap.servers", options.brokers, "kafka.brokers");
  if (!s.ok()) return s;
  for (const auto& [key, value] : options.consumer_overrides) {
    s = set(key, value, absl::StrCat("kafka.consumer.", key));
    if (!s.ok()) return s;
  }
  return conf;
}

}  // namespace

ViewFollower::ViewFollower(FollowerOptions options, ConsentView& view, const Clock& clock)
    : options_(std::move(options)), view_(view), clock_(clock) {
  state_.topic = absl::StrCat(options_.topic_prefix, "consent.state.v1");
  changes_.topic = absl::StrCat(options_.topic_prefix, "consent.changes.v1");
}

ViewFollower::~ViewFollower() { Stop(); }

absl::Status ViewFollower::Start() {
  auto conf = ConsumerConfig(options_);
  if (!conf.ok()) return conf.status();
  char errstr[512];
  consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), errstr, sizeof(errstr)));
  if (consumer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("kafka.consumer: ", errstr));
  }
  start_time_ = clock_.Now();
  consume_thread_ = std::thread([this] { ConsumeLoop(); });
  watermark_thread_ = std::thread([this] { WatermarkLoop(); });
  return absl::OkStatus();
}

void ViewFollower::Stop() {
  if (stopping_.exchange(true)) return;
  if (consume_thread_.joinable()) consume_thread_.join();
  if (watermark_thread_.joinable()) watermark_thread_.join();
  if (consumer_ != nullptr) {
    // The view is in no group and commits nothing: nothing to wait for.
    events::CloseConsumer(std::move(consumer_), absl::ZeroDuration());
  }
}

absl::Status ViewFollower::Setup() {
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.watermark_timeout));
  // Partition counts from the brokers' metadata.
  for (Partitions* p : {&changes_, &state_}) {
    rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer_.get(), p->topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_.get(), 0, topic, &metadata, timeout_ms);
    rd_kafka_topic_destroy(topic);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(err)));
    }
    int count = 0;
    rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (metadata->topic_cnt == 1) {
      count = metadata->topics[0].partition_cnt;
      topic_err = metadata->topics[0].err;
    }
    rd_kafka_metadata_destroy(metadata);
    if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR || count == 0) {
      return absl::UnavailableError(
          absl::StrCat("topic ", p->topic, ": ", rd_kafka_err2str(topic_err)));
    }
    p->count = count;
  }
  // Watermarks: the changes topic's first (see the header comment), then the state topic's.
  for (Partitions* p : {&changes_, &state_}) {
    p->start_hw.assign(p->count, 0);
    for (int i = 0; i < p->count; ++i) {
      int64_t low = 0;
      int64_t high = 0;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(consumer_.get(), p->topic.c_str(),
                                                                 i, &low, &high, timeout_ms);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return absl::UnavailableError(
            absl::StrCat("watermarks of ", p->topic, "[", i, "]: ", rd_kafka_err2str(err)));
      }
      p->start_hw[i] = high;
    }
    p->next = std::make_unique<std::atomic<int64_t>[]>(p->count);
    p->last_hw = std::make_unique<std::atomic<int64_t>[]>(p->count);
    for (int i = 0; i < p->count; ++i) {
      p->next[i].store(p == &state_ ? 0 : p->start_hw[i]);
      p->last_hw[i].store(p->start_hw[i]);
    }
  }
  events::PartitionListPtr list(rd_kafka_topic_partition_list_new(state_.count + changes_.count));
  for (int i = 0; i < state_.count; ++i) {
    rd_kafka_topic_partition_list_add(list.get(), state_.topic.c_str(), i)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  for (int i = 0; i < changes_.count; ++i) {
    rd_kafka_topic_partition_list_add(list.get(), changes_.topic.c_str(), i)->offset =
        changes_.start_hw[i];
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("assign: ", rd_kafka_err2str(err)));
  }
  assigned_.store(true, std::memory_order_release);
  spdlog::info(
      "msg=\"following\" state_topic={} state_partitions={} changes_topic={} changes_partitions={}",
      state_.topic, state_.count, changes_.topic, changes_.count);
  Reconcile();
  return absl::OkStatus();
}

std::vector<std::pair<int32_t, int64_t>> ViewFollower::ChangesProgress() const {
  std::vector<std::pair<int32_t, int64_t>> progress;
  if (!caught_up_.load(std::memory_order_acquire)) return progress;
  progress.reserve(changes_.count);
  for (int i = 0; i < changes_.count; ++i) {
    progress.emplace_back(i, changes_.next[i].load(std::memory_order_acquire));
  }
  return progress;
}

void ViewFollower::ConsumeLoop() {
  while (!Stopping() && !assigned_.load(std::memory_order_acquire)) {
    absl::Status s = Setup();
    if (s.ok()) break;
    spdlog::warn("msg=\"waiting for Kafka\" error=\"{}\"", s.ToString());
    absl::SleepFor(options_.retry_backoff);
  }
  while (!Stopping()) {
    events::MessagePtr message(rd_kafka_consumer_poll(consumer_.get(), 100));
    if (message == nullptr) continue;
    Handle(*message);
    // Drain what is already buffered before reconciling (one lock per batch, not per record).
    for (int i = 0; i < 1000; ++i) {
      events::MessagePtr more(rd_kafka_consumer_poll(consumer_.get(), 0));
      if (more == nullptr) break;
      Handle(*more);
    }
    Reconcile();
  }
}

void ViewFollower::Handle(const rd_kafka_message_t& message) {
  const char* topic = rd_kafka_topic_name(message.rkt);
  Partitions* p = state_.topic == topic ? &state_ : changes_.topic == topic ? &changes_ : nullptr;
  if (message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (p != nullptr && message.partition < p->count) {
      int64_t current = p->next[message.partition].load();
      if (message.offset > current) p->next[message.partition].store(message.offset);
    }
    return;
  }
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("msg=\"consumer error\" error=\"{}\"", rd_kafka_message_errstr(&message));
    absl::MutexLock lock(&mu_);
    ++status_.consumer_errors;
    return;
  }
  if (p == nullptr || message.partition >= p->count) return;
  const std::string_view expected =
      p == &state_ ? "assent.v1.TargetStateSnapshot" : "assent.v1.ConsentChanged";
  if (std::optional<std::string_view> type = MessageType(message);
      type.has_value() && *type != expected) {
    p->next[message.partition].store(message.offset + 1, std::memory_order_release);
    absl::MutexLock lock(&mu_);
    if (status_.unknown_types++ == 0) {
      spdlog::info("msg=\"skipping records of a type this sender does not read\" topic={} type={}",
                   topic, *type);
    }
    return;
  }
  const std::string_view key(static_cast<const char*>(message.key), message.key_len);
  const ApplyResult result =
      ApplyRecord(view_, p == &state_ ? RecordTopic::kState : RecordTopic::kChanges, key,
                  message.payload, message.len);
  p->next[message.partition].store(message.offset + 1, std::memory_order_release);
  if ((result == ApplyResult::kApplied || result == ApplyResult::kErased) && options_.on_change) {
    options_.on_change(key);
  }
  absl::MutexLock lock(&mu_);
  switch (result) {
    case ApplyResult::kApplied:
      ++status_.applied;
      break;
    case ApplyResult::kStale:
      ++status_.stale;
      break;
    case ApplyResult::kErased:
      ++status_.erased;
      break;
    case ApplyResult::kInvalid:
      ++status_.bad_records;
      spdlog::warn("msg=\"skipped a record that does not parse\" topic={} partition={} offset={}",
                   topic, message.partition, message.offset);
      break;
  }
}

void ViewFollower::WatermarkLoop() {
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.watermark_timeout));
  while (!Stopping()) {
    absl::SleepFor(options_.watermark_interval);
    if (!assigned_.load(std::memory_order_acquire)) continue;
    const absl::Time asked = clock_.Now();
    Observation observation{asked, std::vector<int64_t>(changes_.count)};
    bool ok = true;
    for (int i = 0; i < changes_.count && ok && !Stopping(); ++i) {
      int64_t low = 0;
      ok = rd_kafka_query_watermark_offsets(consumer_.get(), changes_.topic.c_str(), i, &low,
                                            &observation.hw[i],
                                            timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (ok) {
      for (int i = 0; i < changes_.count; ++i) changes_.last_hw[i].store(observation.hw[i]);
    }
    // The state topic's watermarks only matter for the bootstrap lag, and they move with the
    // changes topic's; reading them once a second is enough.
    {
      absl::MutexLock lock(&mu_);
      status_.brokers_reachable = ok;
      if (ok) {
        observations_.push_back(std::move(observation));
        if (observations_.size() > kMaxObservations) observations_.pop_front();
      }
    }
    Reconcile();
  }
}

void ViewFollower::Reconcile() {
  if (!assigned_.load(std::memory_order_acquire)) return;
  absl::MutexLock lock(&mu_);
  // Caught up: every state partition reached its start watermark.
  if (!status_.caught_up) {
    bool done = true;
    int64_t lag = 0;
    for (int i = 0; i < state_.count; ++i) {
      int64_t behind = state_.start_hw[i] - state_.next[i].load();
      if (behind > 0) {
        done = false;
        lag += behind;
      }
    }
    status_.state_lag.records = lag;
    if (done) {
      status_.caught_up = true;
      status_.bootstrap_time = clock_.Now() - start_time_;
      // Everything Kafka had when the changes watermarks were read at start is in the view.
      status_.current_as_of = std::max(status_.current_as_of, start_time_);
      spdlog::info("msg=\"caught up\" targets={} took={}", view_.size(),
                   absl::FormatDuration(status_.bootstrap_time));
    }
  }
  int64_t changes_lag = 0;
  for (int i = 0; i < changes_.count; ++i) {
    changes_lag += std::max<int64_t>(0, changes_.last_hw[i].load() - changes_.next[i].load());
  }
  status_.changes_lag.records = changes_lag;
  changes_lag_.store(changes_lag, std::memory_order_relaxed);
  if (!status_.caught_up) return;
  while (!observations_.empty()) {
    const Observation& o = observations_.front();
    bool reached = true;
    for (int i = 0; i < changes_.count && reached; ++i)
      reached = changes_.next[i].load() >= o.hw[i];
    if (!reached) break;
    status_.current_as_of = std::max(status_.current_as_of, o.time);
    observations_.pop_front();
  }
  changes_lag_.store(changes_lag, std::memory_order_relaxed);
  current_as_of_ns_.store(absl::ToUnixNanos(status_.current_as_of), std::memory_order_relaxed);
  caught_up_.store(true, std::memory_order_release);
}

ViewFollower::Freshness ViewFollower::freshness() const {
  Freshness f;
  f.caught_up = caught_up_.load(std::memory_order_acquire);
  const int64_t ns = current_as_of_ns_.load(std::memory_order_relaxed);
  f.current_as_of = ns == INT64_MIN ? absl::InfinitePast() : absl::FromUnixNanos(ns);
  f.changes_lag_records = changes_lag_.load(std::memory_order_relaxed);
  return f;
}

FollowerStatus ViewFollower::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

bool ViewFollower::WaitCaughtUp(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(
          +[](FollowerStatus* s) { return s->caught_up; }, const_cast<FollowerStatus*>(&status_)),
      timeout);
}

}  // namespace assent::enforce
