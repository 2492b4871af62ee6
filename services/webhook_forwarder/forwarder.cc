#include "webhook_forwarder/forwarder.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "assent/v1/events.pb.h"
#include "common/status_macros.h"
#include "events/kafka.h"
#include "httpclient/client.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "spdlog/spdlog.h"
#include "webhook_forwarder/payload.h"
#include "webhook_forwarder/retry.h"
#include "webhook_forwarder/signer.h"

namespace assent::webhooks {
namespace {

constexpr char kConsentChanged[] = "assent.v1.ConsentChanged";
constexpr absl::Duration kCommitInterval = absl::Milliseconds(200);

// Where each assigned partition may be committed: up to the first event an endpoint still has to
// deliver, or past everything read when nothing is pending.
class OffsetTracker {
 public:
  void Assign(int32_t partition) {
    std::lock_guard lock(mu_);
    parts_[partition] = Fresh();
  }
  void Revoke(int32_t partition) {
    std::lock_guard lock(mu_);
    parts_.erase(partition);
  }
  // Records an event read with `pending` deliveries to finish; returns its generation for Done.
  int64_t Add(int32_t partition, int64_t offset, int pending) {
    std::lock_guard lock(mu_);
    auto it = parts_.find(partition);
    if (it == parts_.end()) it = parts_.emplace(partition, Fresh()).first;
    Partition& p = it->second;
    p.next = std::max(p.next, offset + 1);
    if (pending > 0) p.pending[offset] += pending;
    return p.generation;
  }
  void Done(int32_t partition, int64_t generation, int64_t offset) {
    std::lock_guard lock(mu_);
    auto it = parts_.find(partition);
    // A revoked (or revoked and re-assigned) partition: its new owner reads the event again.
    if (it == parts_.end() || it->second.generation != generation) return;
    auto pending = it->second.pending.find(offset);
    if (pending != it->second.pending.end() && --pending->second == 0) {
      it->second.pending.erase(pending);
    }
  }
  // The positions that moved since the last call.
  std::vector<std::pair<int32_t, int64_t>> Moved() {
    std::lock_guard lock(mu_);
    std::vector<std::pair<int32_t, int64_t>> out;
    for (auto& [partition, p] : parts_) {
      const int64_t position = p.pending.empty() ? p.next : p.pending.begin()->first;
      if (position >= 0 && position != p.committed) {
        out.emplace_back(partition, position);
        p.committed = position;
      }
    }
    return out;
  }
  // Forgets the committed positions (after a failed commit) so the next Moved() repeats them.
  void Uncommitted(const std::vector<std::pair<int32_t, int64_t>>& positions) {
    std::lock_guard lock(mu_);
    for (const auto& [partition, position] : positions) {
      auto it = parts_.find(partition);
      if (it != parts_.end() && it->second.committed == position) it->second.committed = -1;
    }
  }

 private:
  struct Partition {
    int64_t generation = 0;
    int64_t next = -1;
    int64_t committed = -1;
    std::map<int64_t, int> pending;  // offset -> endpoints still delivering
  };
  Partition Fresh() {
    Partition p;
    p.generation = ++generation_;
    return p;
  }
  std::mutex mu_;
  int64_t generation_ = 0;
  std::map<int32_t, Partition> parts_;
};

struct Delivery {
  int32_t partition = 0;
  int64_t generation = 0;
  int64_t offset = 0;
  std::string key;
  std::string id;
  std::shared_ptr<const std::string> body;
  std::shared_ptr<const std::string> value;  // the Kafka record, for the dead-letter topic
  absl::Time recorded;
};

// Writes dead letters and waits for the broker's acknowledgement of each.
class DeadLetters {
 public:
  static absl::StatusOr<std::unique_ptr<DeadLetters>> Create(const WebhookConfig& config) {
    events::KafkaOptions options;
    options.brokers = config.kafka_brokers;
    options.producer_overrides = config.producer_overrides;
    ASSIGN_OR_RETURN(events::ConfPtr conf, events::ProducerConfig(options));
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &DeadLetters::OnDelivery);
    char errstr[512];
    events::KafkaPtr producer(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
    if (producer == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kafka.producer: ", errstr));
    }
    conf.release();
    auto out = std::unique_ptr<DeadLetters>(new DeadLetters(config.deadletter_topic));
    out->producer_ = std::move(producer);
    out->poller_ = std::thread([raw = out.get()] {
      while (!raw->stop_.load()) rd_kafka_poll(raw->producer_.get(), 100);
    });
    return out;
  }
  ~DeadLetters() {
    stop_.store(true);
    poller_.join();
    rd_kafka_flush(producer_.get(), 2000);
  }

  // Writes `d` with headers naming the endpoint, the last status and the attempts; tries again
  // until the broker acknowledges or `stop` is notified (false).
  bool Write(const Delivery& d, const std::string& endpoint, const std::string& last_status,
             int attempts, const absl::Notification& stop) {
    while (!stop.HasBeenNotified()) {
      Ack ack;
      const std::string attempts_text = absl::StrCat(attempts);
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
          RD_KAFKA_V_KEY(d.key.data(), d.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(d.value->data()), d.value->size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_HEADER("message-type", kConsentChanged, -1),
          RD_KAFKA_V_HEADER("content-type", "application/x-protobuf", -1),
          RD_KAFKA_V_HEADER("webhook-id", d.id.data(), static_cast<ssize_t>(d.id.size())),
          RD_KAFKA_V_HEADER("webhook-endpoint", endpoint.data(),
                            static_cast<ssize_t>(endpoint.size())),
          RD_KAFKA_V_HEADER("webhook-last-status", last_status.data(),
                            static_cast<ssize_t>(last_status.size())),
          RD_KAFKA_V_HEADER("webhook-attempts", attempts_text.data(),
                            static_cast<ssize_t>(attempts_text.size())),
          RD_KAFKA_V_OPAQUE(&ack), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::unique_lock lock(ack.mu);
        // The producer retries on its own (no delivery timeout short of a broker outage); wait.
        ack.cv.wait(lock, [&] { return ack.done; });
        if (ack.err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
        err = ack.err;
      }
      spdlog::warn("msg=\"cannot write a dead letter\" endpoint={} error=\"{}\"", endpoint,
                   rd_kafka_err2str(err));
      if (stop.WaitForNotificationWithTimeout(absl::Seconds(1))) break;
    }
    return false;
  }

 private:
  struct Ack {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  };
  explicit DeadLetters(std::string topic) : topic_(std::move(topic)) {}
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* ack = static_cast<Ack*>(m->_private);
    if (ack == nullptr) return;
    std::lock_guard lock(ack->mu);
    ack->err = m->err;
    ack->done = true;
    ack->cv.notify_all();
  }

  const std::string topic_;
  events::KafkaPtr producer_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

struct EndpointMetrics {
  prometheus::Histogram* latency = nullptr;
  prometheus::Counter* attempts = nullptr;
  prometheus::Counter* delivered = nullptr;
  prometheus::Counter* dead_lettered = nullptr;
  prometheus::Counter* filtered = nullptr;
  prometheus::Counter* old_imports = nullptr;
  prometheus::Gauge* backlog = nullptr;
  std::map<Outcome, prometheus::Counter*> failures;
};

// One endpoint: its queues per key and its delivery threads.
class Endpoint {
 public:
  Endpoint(EndpointConfig config, EndpointMetrics metrics, OffsetTracker& tracker,
           DeadLetters& dead_letters)
      : config_(std::move(config)),
        metrics_(std::move(metrics)),
        tracker_(tracker),
        dead_letters_(dead_letters) {}
  ~Endpoint() { Stop(); }

  const EndpointConfig& config() const { return config_; }
  EndpointMetrics& metrics() { return metrics_; }

  void Start() {
    for (int i = 0; i < config_.max_in_flight; ++i) workers_.emplace_back([this] { Work(); });
  }
  // Abandons what is waiting or being retried (left uncommitted).
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (!stop_.HasBeenNotified()) stop_.Notify();
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }
  void Enqueue(Delivery d) {
    std::lock_guard lock(mu_);
    std::deque<Delivery>& queue = by_key_[d.key];
    const std::string key = d.key;
    queue.push_back(std::move(d));
    ++backlog_;
    metrics_.backlog->Increment();
    // The front of a queue is in flight or ready; a key with more is ready once it is done.
    if (queue.size() == 1) {
      ready_.push_back(key);
      cv_.notify_one();
    }
  }
  int backlog() {
    std::lock_guard lock(mu_);
    return backlog_;
  }

 private:
  void Work() {
    httpclient::ClientOptions options;
    options.ca_file = config_.ca_file;
    options.allow_insecure_http = config_.allow_insecure_http;
    options.timeout = config_.timeout;
    options.connect_timeout = std::min(config_.timeout, absl::Seconds(5));
    httpclient::HttpClient client(options);
    std::mt19937_64 random(std::random_device{}());
    while (true) {
      std::string key;
      Delivery d;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_.HasBeenNotified() || !ready_.empty(); });
        if (stop_.HasBeenNotified()) return;
        key = ready_.front();
        ready_.pop_front();
        d = by_key_[key].front();
      }
      if (!Deliver(d, client, random)) return;  // stopping
      tracker_.Done(d.partition, d.generation, d.offset);
      {
        std::lock_guard lock(mu_);
        auto it = by_key_.find(key);
        it->second.pop_front();
        --backlog_;
        metrics_.backlog->Decrement();
        if (it->second.empty()) {
          by_key_.erase(it);
        } else {
          ready_.push_back(key);
          cv_.notify_one();
        }
      }
    }
  }

  // Delivers `d` or dead-letters it; false when stopped first.
  bool Deliver(const Delivery& d, httpclient::HttpClient& client, std::mt19937_64& random) {
    const absl::Time first = absl::Now();
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int attempts = 1;; ++attempts) {
      if (stop_.HasBeenNotified()) return false;
      metrics_.attempts->Increment();
      const int64_t timestamp = absl::ToUnixSeconds(absl::Now());
      const std::vector<std::pair<std::string, std::string>> headers = {
          {"Content-Type", "application/json"},
          {"User-Agent", "assent-webhook-forwarder"},
          {"webhook-id", d.id},
          {"webhook-timestamp", absl::StrCat(timestamp)},
          {"webhook-signature", SignatureHeader(config_.secrets, d.id, timestamp, *d.body)},
      };
      auto response = client.Post(config_.url, headers, *d.body);
      Outcome outcome;
      std::string status;
      if (response.ok()) {
        outcome = ClassifyStatus(response->status);
        status = absl::StrCat(response->status);
      } else {
        outcome = response.status().code() == absl::StatusCode::kDeadlineExceeded
                      ? Outcome::kTimeout
                      : Outcome::kNetwork;
        status = OutcomeName(outcome);
      }
      if (outcome == Outcome::kDelivered) {
        metrics_.delivered->Increment();
        metrics_.latency->Observe(absl::ToDoubleSeconds(absl::Now() - d.recorded));
        return true;
      }
      metrics_.failures.at(outcome)->Increment();
      const absl::Duration delay =
          BackoffDelay(attempts, config_.retry_initial, config_.retry_max_delay, unit(random));
      if (!Retryable(outcome) || absl::Now() + delay - first > config_.retry_max_age) {
        spdlog::warn("msg=\"dead-lettering\" endpoint={} last_status={} attempts={}", config_.name,
                     status, attempts);
        if (!dead_letters_.Write(d, config_.name, status, attempts, stop_)) return false;
        metrics_.dead_lettered->Increment();
        return true;
      }
      spdlog::debug("msg=\"retrying\" endpoint={} event={} status={} attempt={} delay={}",
                    config_.name, d.id, status, attempts, absl::FormatDuration(delay));
      if (stop_.WaitForNotificationWithTimeout(delay)) return false;
    }
  }

  const EndpointConfig config_;
  EndpointMetrics metrics_;
  OffsetTracker& tracker_;
  DeadLetters& dead_letters_;
  absl::Notification stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::deque<Delivery>> by_key_;
  std::deque<std::string> ready_;
  int backlog_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace

class Forwarder::Impl {
 public:
  Impl(const WebhookConfig& config, std::shared_ptr<prometheus::Registry> registry)
      : config_(config), registry_(std::move(registry)) {}

  absl::Status Init() {
    ASSIGN_OR_RETURN(dead_letters_, DeadLetters::Create(config_));
    auto& latency = prometheus::BuildHistogram()
                        .Name("assent_webhook_delivery_latency_seconds")
                        .Help("Time from an event's recorded_time to its 2xx answer")
                        .Register(*registry_);
    auto& attempts = prometheus::BuildCounter()
                         .Name("assent_webhook_attempts_total")
                         .Help("POST attempts")
                         .Register(*registry_);
    auto& delivered = prometheus::BuildCounter()
                          .Name("assent_webhook_delivered_total")
                          .Help("Events delivered (2xx)")
                          .Register(*registry_);
    auto& failures = prometheus::BuildCounter()
                         .Name("assent_webhook_failures_total")
                         .Help("Failed attempts by class")
                         .Register(*registry_);
    auto& dead = prometheus::BuildCounter()
                     .Name("assent_webhook_dead_lettered_total")
                     .Help("Events written to the dead-letter topic")
                     .Register(*registry_);
    auto& skipped = prometheus::BuildCounter()
                        .Name("assent_webhook_skipped_total")
                        .Help("Events not sent to an endpoint: filtered, or an old import")
                        .Register(*registry_);
    auto& backlog = prometheus::BuildGauge()
                        .Name("assent_webhook_backlog")
                        .Help("Events read and waiting for delivery")
                        .Register(*registry_);
    auto& unknown = prometheus::BuildCounter()
                        .Name("assent_webhook_unknown_records_total")
                        .Help("Records of the changes topic skipped: unknown type or undecodable")
                        .Register(*registry_);
    unknown_type_ = &unknown.Add({{"reason", "unknown_type"}});
    undecodable_ = &unknown.Add({{"reason", "undecodable"}});
    const prometheus::Histogram::BucketBoundaries buckets = {
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400};
    for (const EndpointConfig& e : config_.endpoints) {
      const prometheus::Labels l = {{"endpoint", e.name}};
      EndpointMetrics m;
      m.latency = &latency.Add(l, buckets);
      m.attempts = &attempts.Add(l);
      m.delivered = &delivered.Add(l);
      m.dead_lettered = &dead.Add(l);
      m.filtered = &skipped.Add({{"endpoint", e.name}, {"reason", "filtered"}});
      m.old_imports = &skipped.Add({{"endpoint", e.name}, {"reason", "old_import"}});
      m.backlog = &backlog.Add(l);
      for (Outcome o : {Outcome::kNetwork, Outcome::kTimeout, Outcome::kThrottled,
                        Outcome::kServerError, Outcome::kClientError}) {
        m.failures[o] = &failures.Add({{"endpoint", e.name}, {"class", OutcomeName(o)}});
      }
      endpoints_.push_back(std::make_unique<Endpoint>(e, m, tracker_, *dead_letters_));
    }

    events::ConfPtr conf(rd_kafka_conf_new());
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"bootstrap.servers", config_.kafka_brokers},
        {"group.id", config_.group_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"isolation.level", "read_committed"},
    };
    for (const auto& [key, value] : defaults) {
      RETURN_IF_ERROR(events::SetConf(conf.get(), key, value, absl::StrCat("kafka.", key)));
    }
    for (const auto& [key, value] : config_.consumer_overrides) {
      RETURN_IF_ERROR(
          events::SetConf(conf.get(), key, value, absl::StrCat("kafka.consumer.", key)));
    }
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::OnRebalance);
    char errstr[512];
    consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr)));
    if (consumer_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kafka.consumer: ", errstr));
    }
    conf.release();
    rd_kafka_poll_set_consumer(consumer_.get());
    return absl::OkStatus();
  }

  absl::Status Run() {
    events::PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), config_.changes_topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get()); err) {
      return absl::UnavailableError(absl::StrCat("kafka: subscribe: ", rd_kafka_err2str(err)));
    }
    for (auto& e : endpoints_) e->Start();
    absl::Time last_commit = absl::Now();
    bool paused = false;
    while (!stop_.load()) {
      events::MessagePtr m(rd_kafka_consumer_poll(consumer_.get(), 100));
      if (m != nullptr) Handle(*m);
      bool full = false;
      bool low = true;
      for (auto& e : endpoints_) {
        const int backlog = e->backlog();
        full = full || backlog >= config_.max_backlog;
        low = low && backlog < config_.max_backlog / 2 + 1;
      }
      if (reassigned_.exchange(false)) paused = false;
      if (full && !paused) paused = SetPaused(true);
      if (paused && low) paused = !SetPaused(false);
      if (absl::Now() - last_commit >= kCommitInterval) {
        Commit();
        last_commit = absl::Now();
      }
    }
    for (auto& e : endpoints_) e->Stop();
    Commit();
    events::CloseConsumer(std::move(consumer_), absl::Seconds(5));
    return absl::OkStatus();
  }

  void Stop() { stop_.store(true); }
  bool assigned() const { return assigned_.load(); }

 private:
  bool SetPaused(bool pause) {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(consumer_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    events::PartitionListPtr list(raw);
    if (pause) {
      spdlog::info("msg=\"pausing: an endpoint's backlog is full\"");
      return rd_kafka_pause_partitions(consumer_.get(), list.get()) == RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    spdlog::info("msg=\"resuming\"");
    return rd_kafka_resume_partitions(consumer_.get(), list.get()) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }

  void Handle(const rd_kafka_message_t& m) {
    if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          m.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        spdlog::debug("msg=\"changes topic not there yet\"");
      } else {
        spdlog::warn("msg=\"consumer error\" error=\"{}\"", rd_kafka_err2str(m.err));
      }
      return;
    }
    if (events::HeaderValue(m, "message-type") != kConsentChanged) {
      unknown_type_->Increment();
      tracker_.Add(m.partition, m.offset, 0);
      return;
    }
    assent::v1::ConsentChanged event;
    if (!event.ParseFromArray(m.payload, static_cast<int>(m.len))) {
      undecodable_->Increment();
      spdlog::warn("msg=\"undecodable ConsentChanged skipped\" partition={} offset={}", m.partition,
                   m.offset);
      tracker_.Add(m.partition, m.offset, 0);
      return;
    }
    const absl::Time now = absl::Now();
    std::vector<Endpoint*> targets;
    for (auto& e : endpoints_) {
      switch (Filter(e->config().filter, event, now)) {
        case Verdict::kSend:
          targets.push_back(e.get());
          break;
        case Verdict::kFiltered:
          e->metrics().filtered->Increment();
          break;
        case Verdict::kOldImport:
          e->metrics().old_imports->Increment();
          break;
      }
    }
    if (targets.empty()) {
      tracker_.Add(m.partition, m.offset, 0);
      return;
    }
    auto body = Body(event);
    if (!body.ok()) {
      undecodable_->Increment();
      tracker_.Add(m.partition, m.offset, 0);
      return;
    }
    Delivery d;
    d.partition = m.partition;
    d.offset = m.offset;
    d.key = std::string(static_cast<const char*>(m.key), m.key_len);
    d.id = event.event_id();
    d.body = std::make_shared<const std::string>(*std::move(body));
    d.value = std::make_shared<const std::string>(static_cast<const char*>(m.payload), m.len);
    d.recorded = absl::FromUnixSeconds(event.recorded_time().seconds()) +
                 absl::Nanoseconds(event.recorded_time().nanos());
    d.generation = tracker_.Add(m.partition, m.offset, static_cast<int>(targets.size()));
    for (Endpoint* e : targets) e->Enqueue(d);
  }

  void Commit() {
    const auto moved = tracker_.Moved();
    if (moved.empty()) return;
    events::PartitionListPtr list(
        rd_kafka_topic_partition_list_new(static_cast<int>(moved.size())));
    for (const auto& [partition, position] : moved) {
      rd_kafka_topic_partition_list_add(list.get(), config_.changes_topic.c_str(), partition)
          ->offset = position;
    }
    if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), 0); err) {
      spdlog::warn("msg=\"commit failed\" error=\"{}\"", rd_kafka_err2str(err));
      tracker_.Uncommitted(moved);
    }
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (self->config_.replay_from.has_value() && !self->replayed_) {
        self->Seek(partitions);
        self->replayed_ = true;
      }
      for (int i = 0; i < partitions->cnt; ++i) {
        self->tracker_.Assign(partitions->elems[i].partition);
      }
      rd_kafka_assign(rk, partitions);
      self->reassigned_.store(true);
      self->assigned_.store(true);
    } else {
      self->Commit();
      for (int i = 0; i < partitions->cnt; ++i) {
        self->tracker_.Revoke(partitions->elems[i].partition);
      }
      rd_kafka_assign(rk, nullptr);
    }
  }

  // Points each partition at the first record at or after replay_from (or the end).
  void Seek(rd_kafka_topic_partition_list_t* partitions) {
    const int64_t ms = absl::ToUnixMillis(*config_.replay_from);
    for (int i = 0; i < partitions->cnt; ++i) partitions->elems[i].offset = ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(consumer_.get(), partitions, 10000);
    for (int i = 0; i < partitions->cnt; ++i) {
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR || partitions->elems[i].err ||
          partitions->elems[i].offset < 0) {
        partitions->elems[i].offset = RD_KAFKA_OFFSET_END;
      }
    }
    spdlog::info("msg=\"replaying\" from={} partitions={}",
                 absl::FormatTime(absl::RFC3339_full, *config_.replay_from, absl::UTCTimeZone()),
                 partitions->cnt);
  }

  const WebhookConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  OffsetTracker tracker_;
  std::unique_ptr<DeadLetters> dead_letters_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  events::KafkaPtr consumer_;
  prometheus::Counter* unknown_type_ = nullptr;
  prometheus::Counter* undecodable_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<bool> assigned_{false};
  std::atomic<bool> reassigned_{false};
  bool replayed_ = false;
};

absl::StatusOr<std::unique_ptr<Forwarder>> Forwarder::Create(
    const WebhookConfig& config, std::shared_ptr<prometheus::Registry> registry) {
  auto impl = std::make_unique<Impl>(config, std::move(registry));
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Forwarder>(new Forwarder(std::move(impl)));
}

Forwarder::Forwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Forwarder::~Forwarder() = default;
absl::Status Forwarder::Run() { return impl_->Run(); }
void Forwarder::Stop() { impl_->Stop(); }
bool Forwarder::assigned() const { return impl_->assigned(); }

absl::Status EnsureDeadLetterTopic(const WebhookConfig& config, absl::Duration timeout) {
  events::ClientOptions client;
  client.brokers = config.kafka_brokers;
  client.settings = events::ConnectionSettings(config.consumer_overrides);
  client.settings_field = "kafka.consumer.";
  return events::CreateTopics(
      client,
      {{config.deadletter_topic, config.deadletter_partitions, 1, {{"cleanup.policy", "delete"}}}},
      timeout);
}

}  // namespace assent::webhooks
