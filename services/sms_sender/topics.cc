#include "sms_sender/topics.h"

namespace assent::sms_sender {

absl::Status EnsureTopics(const events::ClientOptions& client,
                          const std::vector<std::string>& topics, int partitions,
                          absl::Duration timeout) {
  std::vector<events::TopicSpec> specs;
  for (const std::string& name : topics) {
    specs.push_back({name, partitions, 1, {{"cleanup.policy", "delete"}}});
  }
  if (specs.empty()) return absl::OkStatus();
  return events::CreateTopics(client, specs, timeout);
}

}  // namespace assent::sms_sender
