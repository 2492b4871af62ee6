// Publishes what a sender instance has applied of the changes topic (assent.v1.EnforcementProgress)
// to "<prefix>enforcement.v1", so consentd can prove when each withdrawal was enforced.
//
// A thread reads `progress` every `poll` and publishes when it changed (so an application is
// reported within about `poll`), and at least every `interval` as a heartbeat (consentd counts an
// instance that stopped publishing as dead). Records are keyed "<sender>/<instance id>". A broker
// outage drops reports after message_timeout; nothing waits on them.
//
// Thread safety: Start and Stop from one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "assent/v1/enforcement.pb.h"
#include "common/clock.h"
#include "events/kafka.h"

namespace assent::enforce {

// Per partition of the changes topic: every record below the offset has been applied.
using ChangesProgress = std::vector<std::pair<int32_t, int64_t>>;

struct ReporterOptions {
  // Bootstrap servers. Required.
  std::string brokers;
  std::string topic_prefix = "assent.";
  // librdkafka producer settings that override the defaults (security settings, ...).
  std::map<std::string, std::string> producer_overrides;
  // The sender's name and this instance's id. Required.
  std::string sender;
  std::string instance_id;
  // What has been applied; empty: nothing is claimed yet (a report with no partitions is still a
  // heartbeat). Called on the reporter thread. Required.
  std::function<ChangesProgress()> progress;
  // Heartbeat period. Default 1 s.
  absl::Duration interval = absl::Seconds(1);
  // How often `progress` is read. Default 10 ms.
  absl::Duration poll = absl::Milliseconds(10);
  // A report not delivered within this is dropped. Default 10 s.
  absl::Duration message_timeout = absl::Seconds(10);
};

// "<prefix>enforcement.v1".
std::string EnforcementTopic(std::string_view topic_prefix);
// The default instance id: "<hostname>-<pid>".
std::string DefaultInstanceId();

class ProgressReporter {
 public:
  // INVALID_ARGUMENT naming the option for bad options.
  static absl::StatusOr<std::unique_ptr<ProgressReporter>> Start(ReporterOptions options,
                                                                 const Clock& clock);
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;
  // Stops publishing (a last report is flushed briefly). Idempotent.
  void Stop();
  // Reports handed to the producer.
  uint64_t reports() const { return reports_.load(); }

 private:
  ProgressReporter(ReporterOptions options, const Clock& clock);
  void Loop();
  void Publish(const ChangesProgress& progress);

  const ReporterOptions options_;
  const Clock& clock_;
  const std::string topic_;
  events::KafkaPtr producer_;
  absl::Notification stop_;
  std::thread thread_;
  std::atomic<uint64_t> reports_{0};
};

}  // namespace assent::enforce
