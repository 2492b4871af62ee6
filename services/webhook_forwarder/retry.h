// When a failed delivery is tried again: exponential backoff with full jitter (the delay before
// attempt n+1 is uniform in [0, min(max_delay, initial * 2^(n-1))]), until the retry age is
// reached; and which outcomes are worth retrying.
//
// Thread-safe and pure (the random draw is passed in).
#pragma once

#include "absl/time/time.h"

namespace assent::webhooks {

// The ceiling of the delay after `attempts` failed attempts (1, 2, ...): initial * 2^(attempts-1),
// capped at max_delay.
absl::Duration BackoffCeiling(int attempts, absl::Duration initial, absl::Duration max_delay);
// The delay: `unit` (uniform in [0, 1)) times the ceiling.
absl::Duration BackoffDelay(int attempts, absl::Duration initial, absl::Duration max_delay,
                            double unit);

// How an attempt ended, as counted in assent_webhook_failures_total{class}.
enum class Outcome { kDelivered, kNetwork, kTimeout, kThrottled, kServerError, kClientError };
// The outcome of an HTTP status: 2xx delivered, 429 throttled, 408 timeout, 5xx server error,
// anything else a client error (not retried).
Outcome ClassifyStatus(int status);
bool Retryable(Outcome outcome);
const char* OutcomeName(Outcome outcome);

}  // namespace assent::webhooks
