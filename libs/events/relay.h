// The outbox relay: publishes the store's outbox records to Kafka, oldest first, and deletes each
// only after Kafka acknowledged it.
//
// Guarantees: every record that reached the outbox (every acknowledged write) is published at
// least once, in outbox order per key (one idempotent producer, acks=all, unbounded retries, so a
// key's records keep their order within its partition). After a crash, a broker outage, or a
// fatal producer error the relay starts over from the oldest record still in the outbox, so a
// record may be published twice; events carry the target's sequence, and consumers drop what they
// have already applied. Kafka being down never blocks or fails a write: the outbox grows and
// drains when the broker returns. Memory is bounded: the relay reads the outbox in windows.
//
// Thread safety: Start/Stop from one thread; Notify and stats from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "events/kafka.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::events {

// A changes-topic record as Kafka acknowledged it.
struct DeliveredChange {
  std::string value;  // the ConsentChanged
  int32_t partition = 0;
  int64_t offset = 0;
  // The record's timestamp on the topic (unix ms); -1 when unknown (then: when it was handled).
  int64_t timestamp_ms = -1;
};

struct RelayOptions {
  KafkaOptions kafka;
  // Most records read from the outbox and in flight at once. Default 2000.
  size_t window = 2000;
  // How often the outbox is looked at when nothing announced new records. Default 500 ms.
  absl::Duration idle_poll = absl::Milliseconds(500);
  // Back-off between attempts to create topics or to restart a failed producer (doubles up to
  // max_backoff). Defaults 250 ms and 10 s.
  absl::Duration min_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(10);
  // How long Stop() waits for in-flight records to be acknowledged. Default 3 s.
  absl::Duration stop_flush = absl::Seconds(3);
  // How often the broker is asked for metadata when nothing was delivered lately, to know whether
  // Kafka is reachable. Default 5 s.
  absl::Duration probe_interval = absl::Seconds(5);
  // Called on the relay thread for every record Kafka acknowledged, with the time from its
  // commit to the acknowledgement (for a latency histogram). Optional; must not block.
  std::function<void(absl::Duration)> on_published;
  // Called on the relay thread with the changes-topic records Kafka acknowledged (value and place),
  // before their outbox records are deleted: whatever it writes durably before returning is
  // there for every acknowledged change, even after a crash (a crash before it returns re-sends
  // the record, which is then reported again at its new offset). Optional; should be quick.
  std::function<void(const std::vector<DeliveredChange>&)> on_delivered_changes;
};

struct RelayStats {
  uint64_t published = 0;        // records acknowledged by Kafka and deleted from the outbox
  uint64_t delivery_errors = 0;  // records Kafka refused (they are retried after a restart)
  uint64_t fatal_errors = 0;     // fatal producer errors (the producer was recreated)
  uint64_t produce_errors = 0;   // records the producer would not take
  uint64_t producer_restarts = 0;
  uint64_t in_flight = 0;
  // The oldest outbox id not yet acknowledged by Kafka, as far as the relay has read; 0 before the
  // first read. Records from here to the committer's newest id are the backlog.
  uint64_t oldest_unpublished_id = 0;
  bool topics_ready = false;
  // Kafka answered lately (a delivery or a metadata request within about probe_interval).
  bool kafka_up = false;
};

class OutboxRelay final : public store::CommitObserver {
 public:
  // `store` and `clock` must outlive the relay.
  OutboxRelay(store::Store& store, const Clock& clock, RelayOptions options);
  ~OutboxRelay() override;

  // Validates the options and starts the relay thread. INVALID_ARGUMENT naming the option.
  absl::Status Start();
  // Stops the thread after giving in-flight records `stop_flush` to be acknowledged. Records not
  // acknowledged stay in the outbox for the next start. Idempotent.
  void Stop();
  // New records were committed: look at the outbox now.
  void Notify();
  void OnGroupCommitted(size_t, size_t, absl::Duration) override { Notify(); }

  RelayStats stats() const;

 private:
  struct State;
  void Loop();

  store::Store& store_;
  const Clock& clock_;
  const RelayOptions options_;
  std::unique_ptr<State> state_;
  std::thread thread_;
  int wake_fd_ = -1;  // eventfd: Notify() and Stop() write, the loop polls
  std::atomic<bool> stopping_{false};
  mutable absl::Mutex mu_;
  RelayStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace assent::events
