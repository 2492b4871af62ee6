// Keeps a ConsentView current from Kafka: bootstraps from the compacted state topic, then follows
// the changes topic.
//
// Start-up: the changes topic's high watermarks are read first, then the state topic's; the state
// topic is read from the beginning and the changes topic from those first watermarks, both at
// once. The view is *caught up* when every state partition reached the watermark seen at start.
// Reading the changes from before the state topic's watermarks closes the gap a change could
// otherwise fall into (its changes record written before start, its state record after); the
// state topic keeps being read afterwards too, so nothing in flight at start is missed. Every
// record carries the target's full state and sequence, so applying in any order converges, and
// re-sent records change nothing (see ConsentView).
//
// Freshness: a second thread asks the brokers for the changes topic's high watermarks every
// `watermark_interval`. When the applied offsets reach a set of watermarks read at time T, the
// view held everything Kafka had at T: `current_as_of` = T. A sender compares now - current_as_of
// with its staleness bound; when the brokers cannot be reached, current_as_of stops moving.
//
// Thread safety: Start/Stop from one thread; status() and the view from any thread. on_change runs
// on the consumer thread and must not block for long.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "enforce/view.h"
#include "events/kafka.h"

namespace assent::enforce {

struct FollowerOptions {
  // Bootstrap servers "host:port,...". Required.
  std::string brokers;
  // Prefix of Assent's topic names, as configured in consentd. Default "assent.".
  std::string topic_prefix = "assent.";
  // librdkafka consumer settings that override the defaults.
  std::map<std::string, std::string> consumer_overrides;
  // How often the changes topic's high watermarks are read. Default 100 ms.
  absl::Duration watermark_interval = absl::Milliseconds(100);
  // Timeout of one watermark request. Default 1 s.
  absl::Duration watermark_timeout = absl::Seconds(1);
  // Back-off while the topics do not exist yet or the brokers cannot be reached. Default 250 ms.
  absl::Duration retry_backoff = absl::Milliseconds(250);
  // Called after a record changed the view (applied or erased), with the target's key.
  std::function<void(std::string_view key)> on_change;
};

struct TopicLag {
  // High watermark seen last, minus the next offset to apply, summed over partitions.
  int64_t records = 0;
};

struct FollowerStatus {
  // Every state partition reached the watermark seen at start.
  bool caught_up = false;
  // When the view last held everything the changes topic had (InfinitePast: never).
  absl::Time current_as_of = absl::InfinitePast();
  // The last watermark request succeeded.
  bool brokers_reachable = false;
  TopicLag state_lag;
  TopicLag changes_lag;
  uint64_t applied = 0;      // records that changed the view
  uint64_t stale = 0;        // records at or below the held sequence (dropped)
  uint64_t erased = 0;       // tombstones applied
  uint64_t bad_records = 0;  // records that do not parse (skipped, logged)
  // Records whose "message-type" header names a type this build does not read (skipped): a
  // newer Assent may publish new types, and readers dispatch on the header.
  uint64_t unknown_types = 0;
  uint64_t consumer_errors = 0;
  absl::Duration bootstrap_time = absl::ZeroDuration();  // start -> caught up
};

class ViewFollower {
 public:
  ViewFollower(FollowerOptions options, ConsentView& view, const Clock& clock);
  ~ViewFollower();
  ViewFollower(const ViewFollower&) = delete;
  ViewFollower& operator=(const ViewFollower&) = delete;

  // Creates the consumer (INVALID_ARGUMENT naming "kafka.consumer.<key>" for a bad override) and
  // starts the threads; bootstrapping continues in the background.
  absl::Status Start();
  // Stops the threads. Idempotent.
  void Stop();

  FollowerStatus status() const;
  // The three facts a freshness decision needs, without a lock (for every check).
  struct Freshness {
    bool caught_up = false;
    absl::Time current_as_of = absl::InfinitePast();
    int64_t changes_lag_records = 0;
  };
  Freshness freshness() const;
  // Per partition of the changes topic, the offset below which every record has been applied;
  // empty until caught up (before, the view does not hold every change below those offsets).
  std::vector<std::pair<int32_t, int64_t>> ChangesProgress() const;
  // Blocks until caught up or `timeout` passes; returns whether caught up.
  bool WaitCaughtUp(absl::Duration timeout) const;

 private:
  struct Partitions {
    std::string topic;
    std::vector<int64_t> start_hw;                    // watermarks at start
    std::unique_ptr<std::atomic<int64_t>[]> next;     // next offset to apply
    std::unique_ptr<std::atomic<int64_t>[]> last_hw;  // latest watermarks read
    int count = 0;
  };
  struct Observation {
    absl::Time time;
    std::vector<int64_t> hw;
  };

  void ConsumeLoop();
  void WatermarkLoop();
  absl::Status Setup();
  void Handle(const rd_kafka_message_t& message);
  void Reconcile();
  bool Stopping() const { return stopping_.load(std::memory_order_acquire); }

  const FollowerOptions options_;
  ConsentView& view_;
  const Clock& clock_;
  events::KafkaPtr consumer_;
  Partitions state_;
  Partitions changes_;
  std::atomic<bool> assigned_{false};
  std::atomic<bool> stopping_{false};
  absl::Time start_time_;
  std::thread consume_thread_;
  std::thread watermark_thread_;

  std::atomic<bool> caught_up_{false};
  std::atomic<int64_t> current_as_of_ns_{INT64_MIN};
  std::atomic<int64_t> changes_lag_{0};

  mutable absl::Mutex mu_;
  std::deque<Observation> observations_ ABSL_GUARDED_BY(mu_);
  FollowerStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace assent::enforce
