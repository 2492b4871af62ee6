#include "webhook_forwarder/retry.h"

#include <algorithm>

namespace assent::webhooks {

absl::Duration BackoffCeiling(int attempts, absl::Duration initial, absl::Duration max_delay) {
  absl::Duration ceiling = initial;
  for (int i = 1; i < attempts && ceiling < max_delay; ++i) ceiling *= 2;
  return std::min(ceiling, max_delay);
}

absl::Duration BackoffDelay(int attempts, absl::Duration initial, absl::Duration max_delay,
                            double unit) {
  unit = std::clamp(unit, 0.0, 1.0);
  return BackoffCeiling(attempts, initial, max_delay) * unit;
}

Outcome ClassifyStatus(int status) {
  if (status >= 200 && status < 300) return Outcome::kDelivered;
  if (status == 429) return Outcome::kThrottled;
  if (status == 408) return Outcome::kTimeout;
  if (status >= 500 && status < 600) return Outcome::kServerError;
  return Outcome::kClientError;
}

bool Retryable(Outcome outcome) {
  return outcome != Outcome::kDelivered && outcome != Outcome::kClientError;
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDelivered:
      return "delivered";
    case Outcome::kNetwork:
      return "network";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kThrottled:
      return "throttled";
    case Outcome::kServerError:
      return "server_error";
    case Outcome::kClientError:
      return "client_error";
  }
  return "unknown";
}

}  // namespace assent::webhooks
