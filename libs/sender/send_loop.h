// The consume -> decide -> produce loop of a sender, exactly once per request as far as Kafka is
// concerned: each batch of input records is handled inside a Kafka transaction that carries the
// records the handler produced (outcomes, requeued requests) and the consumer group's offsets, so
// a crash either publishes both or neither. The handler's own side effects (a spool file, an SMS
// gateway call) happen before the commit and are repeated when a batch is retried, so they must
// be idempotent per input record (the reference transports name their output after the request).
//
// A handler may say "not yet" for a record that must wait (an SMS deferred by quiet hours): its
// partition is rewound to that record and paused until the given time, and the records before it
// are committed. It may say "retry" when a dependency is down (the service, for an SMS STOP):
// the batch is aborted and retried after a back-off, so nothing is lost or skipped.
//
// Thread safety: Run() on one thread; Stop() and stats() from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "events/kafka.h"

namespace assent::sender {

struct OutRecord {
  std::string topic;
  std::string key;
  std::string value;
};

struct HandleResult {
  enum Kind {
    kDone,    // handled; `records` are produced in the batch's transaction
    kNotYet,  // wait until `not_before`; nothing of this record is produced
    kRetry,   // a dependency is down: abort the batch, retry after the back-off
  };
  Kind kind = kDone;
  std::vector<OutRecord> records;
  absl::Time not_before;
  std::string why;  // for kRetry, logged
};

using Handler = std::function<HandleResult(const rd_kafka_message_t& message)>;

struct SendLoopOptions {
  std::string brokers;
  std::string group_id;
  // Unique per running instance of a sender (Kafka fences an older instance with the same id).
  std::string transactional_id;
  std::vector<std::string> topics;
  std::map<std::string, std::string> consumer_overrides;
  std::map<std::string, std::string> producer_overrides;
  // Most records per transaction, and how long a batch waits to fill. Defaults 200 and 5 ms.
  int max_batch = 200;
  absl::Duration batch_wait = absl::Milliseconds(5);
  // Back-off after an aborted batch. Default 1 s.
  absl::Duration retry_backoff = absl::Seconds(1);
};

struct SendLoopStats {
  uint64_t records = 0;  // input records handled and committed
  uint64_t commits = 0;
  uint64_t aborts = 0;
  uint64_t deferred = 0;  // "not yet" pauses
  // Per input topic: high watermark minus committed position, summed over assigned partitions.
  std::map<std::string, int64_t> lag;
  bool running = false;
};

class SendLoop {
 public:
  SendLoop(SendLoopOptions options, Handler handler, const Clock& clock);
  ~SendLoop();
  SendLoop(const SendLoop&) = delete;
  SendLoop& operator=(const SendLoop&) = delete;

  // Creates the consumer and the transactional producer and initialises transactions (waits
  // up to `timeout` for the brokers). INVALID_ARGUMENT naming the setting for a bad override,
  // UNAVAILABLE when the brokers do not answer.
  absl::Status Start(absl::Duration timeout);
  // Handles records until Stop(). Returns an error only for a fatal Kafka error (the producer was
  // fenced by another instance with the same transactional id, or similar): exit and restart.
  absl::Status Run();
  void Stop() { stopping_.store(true); }

  SendLoopStats stats() const;

 private:
  absl::Status RunBatch();
  absl::Status Abort(const std::vector<rd_kafka_topic_partition_t>& touched);
  void ResumeDue();
  void UpdateLag();

  const SendLoopOptions options_;
  const Handler handler_;
  const Clock& clock_;
  events::KafkaPtr consumer_;
  events::KafkaPtr producer_;
  std::atomic<bool> stopping_{false};
  // Paused partitions and when to resume them.
  std::map<std::pair<std::string, int32_t>, absl::Time> paused_;
  absl::Time next_lag_update_ = absl::InfinitePast();

  mutable absl::Mutex mu_;
  SendLoopStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace assent::sender
