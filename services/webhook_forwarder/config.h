// The webhook forwarder's settings: Kafka (kafka.brokers, kafka.group_id, kafka.consumer.*,
// kafka.producer.*), the metrics address, and one `endpoints.<name>.*` block per endpoint. Flags,
// ASSENT_WEBHOOKS_* variables or YAML, as for every sender (sender/settings.h). Lists (tenants,
// purposes, kinds) are comma-separated.
//
// Thread safety: immutable after ReadWebhookConfig.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/types.pb.h"
#include "sender/settings.h"

namespace assent::webhooks {

inline constexpr char kEnvPrefix[] = "ASSENT_WEBHOOKS_";

// Which events an endpoint receives. Empty sets match everything.
struct EndpointFilter {
  std::set<std::string> tenants;
  // An event matches when one of its decisions (before or after) is for one of these purposes;
  // events without decisions (links, suppressions, erasures) are not about a purpose and match.
  std::set<std::string> purposes;
  std::set<assent::v1::ChangeKind> kinds;
  // Events whose decisions are all imported (ConsentRecord.imported) and whose effective time is
  // older than this when read are not sent. Zero sends every import.
  absl::Duration imported_max_age = absl::ZeroDuration();
};

struct EndpointConfig {
  // The name in metrics and logs (the URL never appears: it may carry a token).
  std::string name;
  std::string url;
  // Raw HMAC keys, newest first (several during a rotation); from secret_file's whsec_ lines.
  std::vector<std::string> secrets;
  EndpointFilter filter;
  // Deliveries in flight at once (different subjects); each subject's events go one at a time.
  int max_in_flight = 4;
  // Retries stop this long after the first attempt; the event then goes to the dead-letter topic.
  absl::Duration retry_max_age = absl::Hours(24);
  absl::Duration retry_initial = absl::Seconds(1);
  absl::Duration retry_max_delay = absl::Minutes(10);
  absl::Duration timeout = absl::Seconds(10);
  std::string ca_file;
  bool allow_insecure_http = false;
};

struct WebhookConfig {
  std::string kafka_brokers;
  std::string topic_prefix;
  std::string group_id;
  std::map<std::string, std::string> consumer_overrides;
  std::map<std::string, std::string> producer_overrides;
  // "<prefix>consent.changes.v1" and "<prefix>webhooks.deadletter.v1".
  std::string changes_topic;
  std::string deadletter_topic;
  int deadletter_partitions = 3;
  std::string metrics_listen;
  std::string port_file;
  std::string log_level;
  // Consumption pauses while an endpoint has this many events waiting.
  int max_backlog = 10000;
  // --replay-from: seek the group to this time at start.
  std::optional<absl::Time> replay_from;
  std::vector<EndpointConfig> endpoints;
};

std::vector<sender::SettingSpec> WebhookSpecs();
// endpoints.* and kafka.consumer.* / kafka.producer.* are free-form prefixes.
std::vector<std::string> WebhookOpenPrefixes();
// Reads and validates everything (reads and checks the secret files). INVALID_ARGUMENT naming the
// key ("endpoints.crm.url: ...").
absl::StatusOr<WebhookConfig> ReadWebhookConfig(const sender::Settings& settings);

// The keys of a whsec_ secret file: one "whsec_<base64>" per line (blank lines and # comments
// skipped), newest first. INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::vector<std::string>> ParseSecrets(const std::string& field,
                                                      const std::string& text);

}  // namespace assent::webhooks
