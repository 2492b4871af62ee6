// The webhook forwarder: consumes the changes topic and POSTs each ConsentChanged, signed, to every
// endpoint whose filter passes it.
//
// Ordering and delivery: per endpoint, the events of one Kafka key (one subject or contact point)
// go one at a time in offset order, a later one only after the earlier one was delivered or
// dead-lettered; different keys go in parallel, at most max_in_flight at once. The group's offset
// of a partition is committed only up to the first event some endpoint still has to deliver, so a
// restart (or crash) sends again whatever was not finished, with the same webhook-id
// (at-least-once). Failed attempts are retried with exponential backoff and full jitter until the
// endpoint's retry_max_age; then, or at once for a 4xx other than 408 and 429, the event goes to
// the dead-letter topic with headers naming the endpoint, the last status and the attempts.
//
// Thread safety: Run on one thread; Stop from any thread.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prometheus/registry.h"
#include "webhook_forwarder/config.h"

namespace assent::webhooks {

class Forwarder {
 public:
  // Creates the Kafka clients (the dead-letter topic must exist: see EnsureDeadLetterTopic) and the
  // metrics in `registry`. INVALID_ARGUMENT naming a Kafka setting librdkafka refuses.
  static absl::StatusOr<std::unique_ptr<Forwarder>> Create(
      const WebhookConfig& config, std::shared_ptr<prometheus::Registry> registry);
  ~Forwarder();

  // Consumes and delivers until Stop. Deliveries unfinished at Stop are left uncommitted.
  absl::Status Run();
  void Stop();
  // True once the consumer has its first assignment.
  bool assigned() const;

 private:
  class Impl;
  explicit Forwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Creates "<prefix>webhooks.deadletter.v1" when missing. UNAVAILABLE when the brokers do not answer
// within `timeout`.
absl::Status EnsureDeadLetterTopic(const WebhookConfig& config, absl::Duration timeout);

}  // namespace assent::webhooks
