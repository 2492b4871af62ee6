// Creates the sender's own topics when they are missing, so that a fresh broker works without a
// separate provisioning step.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "events/kafka.h"

namespace assent::sms_sender {

// Creates each of `topics` (delete policy, `partitions` partitions, replication factor 1) unless
// it exists, connecting as `client` says; existing topics are left as they are. UNAVAILABLE when
// the brokers do not answer within `timeout` or refuse a creation; INVALID_ARGUMENT for bad
// arguments or client settings.
absl::Status EnsureTopics(const events::ClientOptions& client,
                          const std::vector<std::string>& topics, int partitions,
                          absl::Duration timeout);

}  // namespace assent::sms_sender
