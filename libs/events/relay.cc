#include "events/relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/status_macros.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"
#include "store/outbox.h"

namespace assent::events {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  auto log = spdlog::get("relay");
  return log != nullptr ? log : spdlog::stderr_logger_mt("relay");
}

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

void Drain(int fd) {
  char buffer[64];
  while (read(fd, buffer, sizeof(buffer)) > 0) {
  }
}

}  // namespace

// What the relay thread owns. Delivery reports arrive through librdkafka callbacks on the same
// thread (inside rd_kafka_poll), so no locking is needed here.
struct OutboxRelay::State {
  KafkaPtr producer;
  int kafka_pipe[2] = {-1, -1};  // librdkafka writes to [1] when delivery reports are queued
  uint64_t cursor = 0;           // highest outbox id handed to the producer
  absl::flat_hash_map<uint64_t, absl::Time> in_flight;  // id -> commit time
  std::vector<absl::Duration> latencies;                // of deliveries, for on_published
  const Clock* clock = nullptr;
  uint64_t fatal_errors = 0;
  bool brokers_down = false;
  std::vector<uint64_t> delivered;
  bool keep_changes = false;  // on_delivered_changes is set
  std::string changes_topic;
  std::vector<DeliveredChange> delivered_changes;
  uint64_t errors = 0;
  std::string last_error;  // of the latest refused record, logged once per restart
  bool failed = false;     // a refused record or a fatal error: restart from the outbox

  ~State() {
    producer.reset();
    for (int fd : kafka_pipe) {
      if (fd >= 0) close(fd);
    }
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* state = static_cast<State*>(opaque);
    const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message->_private));
    auto it = state->in_flight.find(id);
    absl::Time committed = absl::InfinitePast();
    if (it != state->in_flight.end()) {
      committed = it->second;
      state->in_flight.erase(it);
    }
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      state->delivered.push_back(id);
      state->brokers_down = false;
      if (state->keep_changes && message->payload != nullptr &&
          rd_kafka_topic_name(message->rkt) == state->changes_topic) {
        state->delivered_changes.push_back(
            {std::string(static_cast<const char*>(message->payload), message->len),
             message->partition, message->offset});
      }
      if (committed != absl::InfinitePast()) {
        state->latencies.push_back(state->clock->Now() - committed);
      }
      return;
    }
    // Purged messages (producer being replaced) are not errors: they are sent again.
    if (message->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
        message->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
      return;
    }
    state->errors++;
    state->failed = true;
    state->last_error = rd_kafka_err2str(message->err);
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* state = static_cast<State*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
      Log()->error("msg=\"fatal producer error; recreating the producer\" error=\"{}\"", fatal);
      state->failed = true;
      state->fatal_errors++;
      state->last_error = fatal;
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) state->brokers_down = true;
    // Broker down, connection refused, and so on: librdkafka keeps retrying by itself.
    Log()->debug("msg=\"kafka error\" error=\"{}\" reason=\"{}\"",
                 rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)), reason);
  }
};

OutboxRelay::OutboxRelay(store::Store& store, const Clock& clock, RelayOptions options)
    : store_(store), clock_(clock), options_(std::move(options)), state_(new State()) {
  state_->clock = &clock_;
  state_->keep_changes = static_cast<bool>(options_.on_delivered_changes);
  state_->changes_topic = TopicName(options_.kafka, storage::v1::TOPIC_CHANGES);
}

OutboxRelay::~OutboxRelay() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status OutboxRelay::Start() {
  RETURN_IF_ERROR(ValidateKafkaOptions(options_.kafka));
  if (options_.kafka.brokers.empty()) {
    return absl::FailedPreconditionError(
        "kafka.brokers: not configured; events stay in the outbox");
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (pipe2(state_->kafka_pipe, O_NONBLOCK | O_CLOEXEC) != 0 || wake_fd_ < 0) {
    return absl::InternalError("relay: cannot create wake-up descriptors");
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void OutboxRelay::Notify() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void OutboxRelay::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  Notify();
  thread_.join();
}

RelayStats OutboxRelay::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void OutboxRelay::Loop() {
  auto log = Log();
  State& s = *state_;
  absl::Duration backoff = options_.min_backoff;
  bool topics_ready = false;
  bool warned = false;
  absl::Time last_contact = absl::InfinitePast();  // of the latest delivery or metadata answer

  // Sleeps until Notify()/Stop(), a delivery report, or the timeout.
  auto wait = [&](absl::Duration timeout) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {s.kafka_pipe[0], POLLIN, 0}};
    poll(fds, 2, Millis(timeout));
    Drain(wake_fd_);
    Drain(s.kafka_pipe[0]);
  };
  auto back_off = [&] {
    wait(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  };
  auto drop_producer = [&] {
    if (s.producer == nullptr) return;
    rd_kafka_purge(s.producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(s.producer.get(), 0);
    s.producer.reset();
    s.in_flight.clear();
    s.delivered.clear();
    s.delivered_changes.clear();
    s.cursor = 0;  // start over from the oldest record still in the outbox
  };

  while (!stopping_) {
    if (!topics_ready) {
      absl::Status created = options_.kafka.create_topics
                                 ? EnsureTopics(options_.kafka, absl::Seconds(5))
                                 : absl::OkStatus();
      if (!created.ok()) {
        if (!warned)
          log->warn("msg=\"kafka not reachable; events wait in the outbox\" error=\"{}\"",
                    created.ToString());
        warned = true;
        back_off();
        continue;
      }
      topics_ready = true;
      warned = false;
      last_contact = clock_.Now();
      backoff = options_.min_backoff;
      log->info("msg=\"kafka topics ready\" prefix={}", options_.kafka.topic_prefix);
      absl::MutexLock lock(&mu_);
      stats_.topics_ready = true;
    }

    if (s.producer == nullptr) {
      auto conf = ProducerConfig(options_.kafka);
      if (!conf.ok()) {  // cannot happen: validated in Start()
        log->error("msg=\"bad producer configuration\" error=\"{}\"", conf.status().ToString());
        back_off();
        continue;
      }
      rd_kafka_conf_set_opaque(conf->get(), &s);
      rd_kafka_conf_set_dr_msg_cb(conf->get(), &State::OnDelivery);
      rd_kafka_conf_set_error_cb(conf->get(), &State::OnError);
      char errstr[512];
      s.producer.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), errstr, sizeof(errstr)));
      if (s.producer == nullptr) {
        log->error("msg=\"cannot create producer\" error=\"{}\"", errstr);
        back_off();
        continue;
      }
      QueuePtr main_queue(rd_kafka_queue_get_main(s.producer.get()));
      rd_kafka_queue_io_event_enable(main_queue.get(), s.kafka_pipe[1], "1", 1);
      s.failed = false;
    }

    // Hand the next window of outbox records to the producer.
    size_t read = 0;
    if (s.in_flight.size() < options_.window) {
      auto entries = store::ReadOutbox(store_, s.cursor, options_.window - s.in_flight.size());
      if (!entries.ok()) {
        log->error("msg=\"cannot read the outbox\" error=\"{}\"", entries.status().ToString());
        back_off();
        continue;
      }
      read = entries->size();
      for (const store::OutboxEntry& entry : *entries) {
        const std::string topic = TopicName(options_.kafka, entry.record.topic());
        rd_kafka_headers_t* headers = rd_kafka_headers_new(entry.record.headers_size());
        for (const auto& h : entry.record.headers()) {
          rd_kafka_header_add(headers, h.key().data(), static_cast<ssize_t>(h.key().size()),
                              h.value().data(), static_cast<ssize_t>(h.value().size()));
        }
        const bool tombstone = entry.record.tombstone();
        rd_kafka_resp_err_t err;
        while (true) {
          err = rd_kafka_producev(
              s.producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_KEY(entry.record.key().data(), entry.record.key().size()),
              RD_KAFKA_V_VALUE(tombstone ? nullptr : const_cast<char*>(entry.record.value().data()),
                               tombstone ? 0 : entry.record.value().size()),
              RD_KAFKA_V_HEADERS(headers),
              RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(entry.id))),
              RD_KAFKA_V_END);
          if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || stopping_) break;
          rd_kafka_poll(s.producer.get(), 10);  // make room
        }
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_headers_destroy(headers);  // not taken over on failure
          log->error("msg=\"cannot produce\" outbox_id={} error=\"{}\"", entry.id,
                     rd_kafka_err2str(err));
          s.failed = true;
          absl::MutexLock lock(&mu_);
          stats_.produce_errors++;
          break;
        }
        s.in_flight.emplace(entry.id, absl::FromUnixSeconds(entry.record.create_time().seconds()) +
                                          absl::Nanoseconds(entry.record.create_time().nanos()));
        s.cursor = entry.id;
      }
    }

    rd_kafka_poll(s.producer.get(), 0);  // delivery reports
    if (options_.on_published) {
      for (absl::Duration d : s.latencies) options_.on_published(d);
    }
    s.latencies.clear();
    const absl::Time now = clock_.Now();
    if (!s.delivered.empty()) {
      last_contact = now;
    } else if (now - last_contact > options_.probe_interval) {
      // Nothing delivered lately: ask the broker whether it is there at all.
      const rd_kafka_metadata_t* metadata = nullptr;
      if (rd_kafka_metadata(s.producer.get(), 0, nullptr, &metadata, 1000) ==
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(metadata);
        s.brokers_down = false;
        last_contact = now;
      } else {
        s.brokers_down = true;
        last_contact = now - options_.probe_interval / 2;  // probe again soon
      }
    }
    if (!s.delivered_changes.empty()) {
      options_.on_delivered_changes(s.delivered_changes);
      s.delivered_changes.clear();
    }
    if (!s.delivered.empty()) {
      absl::Status deleted = store::DeleteOutbox(store_, s.delivered);
      if (!deleted.ok()) {
        log->error("msg=\"cannot delete published records\" error=\"{}\"", deleted.ToString());
      }
      absl::MutexLock lock(&mu_);
      stats_.published += s.delivered.size();
      s.delivered.clear();
      backoff = options_.min_backoff;
    }
    {
      uint64_t oldest = s.cursor + 1;
      for (const auto& [id, committed] : s.in_flight) oldest = std::min(oldest, id);
      absl::MutexLock lock(&mu_);
      stats_.in_flight = s.in_flight.size();
      stats_.delivery_errors = s.errors;
      stats_.fatal_errors = s.fatal_errors;
      stats_.oldest_unpublished_id = oldest;
      stats_.kafka_up = !s.brokers_down && last_contact != absl::InfinitePast();
    }
    if (s.failed) {
      log->error(
          "msg=\"kafka refused events; restarting the producer from the oldest unpublished "
          "record\" error=\"{}\" backoff={}",
          s.last_error, absl::FormatDuration(backoff));
      drop_producer();
      {
        absl::MutexLock lock(&mu_);
        stats_.producer_restarts++;
      }
      back_off();
      continue;
    }
    // A full window means more may be waiting: go round at once unless the producer is saturated.
    if (read > 0 && s.in_flight.size() < options_.window) continue;
    wait(options_.idle_poll);
  }

  // Give what is in flight a moment to be acknowledged; the rest stays in the outbox.
  if (s.producer != nullptr) {
    rd_kafka_flush(s.producer.get(), Millis(options_.stop_flush));
    rd_kafka_poll(s.producer.get(), 0);
    if (!s.delivered_changes.empty()) options_.on_delivered_changes(s.delivered_changes);
    s.delivered_changes.clear();
    if (!s.delivered.empty()) store::DeleteOutbox(store_, s.delivered).IgnoreError();
    drop_producer();
  }
}

}  // namespace assent::events
