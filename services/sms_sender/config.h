// The SMS sender's settings: the common sender keys (sender::CommonSpecs("sms")) plus its topics,
// spool directory and reply texts. Flags, ASSENT_SMS_* variables or YAML, as for every sender.
//
// Thread safety: immutable after ReadSmsConfig.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sender/settings.h"

namespace assent::sms_sender {

inline constexpr char kEnvPrefix[] = "ASSENT_SMS_";

struct SmsConfig {
  // SendRequest topic. Default "assent.sms.requests.v1".
  std::string requests_topic;
  // SendRequests deferred by quiet hours. Default "assent.sms.retry.v1".
  std::string retry_topic;
  // InboundSms from the SMS gateway. Default "assent.sms.inbound.v1".
  std::string inbound_topic;
  // SendOutcome topic. Default "assent.sms.outcomes.v1".
  std::string outcomes_topic;
  // Partitions of the topics the sender creates when missing. Default 3.
  int topic_partitions = 3;
  // The transport's spool directory (one JSON file per message). Required.
  std::string spool_dir;
  // Program name in the replies to STOP, START and HELP. Default "Assent".
  std::string brand;
  // Where HELP points customers. Default "support@example.com".
  std::string help_contact;
  // The actor of the opt-outs the sender records. Default "sms-sender".
  std::string actor;
  // Deadline of each gRPC call to the service for an inbound keyword. Default 5s.
  absl::Duration write_deadline = absl::Seconds(5);
};

// sender::CommonSpecs("sms") followed by the SMS keys.
std::vector<sender::SettingSpec> SmsSpecs();
// Reads and validates the SMS keys. INVALID_ARGUMENT naming the key.
absl::StatusOr<SmsConfig> ReadSmsConfig(const sender::Settings& settings);

}  // namespace assent::sms_sender
