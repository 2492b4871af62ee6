// What every reference sender shares: its settings (Kafka, the service, the contact-key secret,
// the enforcement bounds, the metrics address), the enforcement library, the sender metrics and
// /metrics, /healthz, /readyz, and the consent decision for one SendRequest.
//
// Thread safety: Start once; the rest from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "assent/sender/v1/sender.pb.h"
#include "common/clock.h"
#include "enforce/enforcer.h"
#include "enforce/progress_reporter.h"
#include "metrics/http_server.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "rpc/tls.h"
#include "sender/settings.h"

namespace assent::sender {

// Settings every sender has (see CommonSpecs for keys and defaults).
struct CommonConfig {
  std::string name;  // "email", "sms", "ads"
  std::string kafka_brokers;
  std::string topic_prefix;
  std::map<std::string, std::string> consumer_overrides;
  std::map<std::string, std::string> producer_overrides;
  std::string group_id;
  std::string instance_id;
  std::string service;
  rpc::TlsOptions service_tls;     // tls.* and token_file, else ASSENT_TLS_*
  std::string contact_key_secret;  // read from contact_key_secret_file
  std::string metrics_listen;
  std::string port_file;
  absl::Duration max_staleness;
  int64_t max_lag_records = 0;
  absl::Duration service_deadline;
  std::string catalog_cache_file;
  std::vector<std::string> tenants;
  // Proof of enforcement: this instance's id in its reports, and their heartbeat period.
  std::string enforcement_instance_id;
  absl::Duration report_interval;
};

// The common keys with their defaults for the sender `name`.
std::vector<SettingSpec> CommonSpecs(const std::string& name);
// Keys under these prefixes are free-form: kafka.consumer.*, kafka.producer.*.
std::vector<std::string> CommonOpenPrefixes();
// Reads and validates the common keys (reads the secret file). INVALID_ARGUMENT naming the key.
absl::StatusOr<CommonConfig> ReadCommon(const std::string& name, const Settings& settings);

// The outcome of the consent decision for one request.
struct SendDecision {
  enforce::Verdict verdict;
  // The normalised plain address to deliver to (E.164 for phones).
  std::string address;
  enforce::Recipient recipient;
};

class SenderRuntime {
 public:
  // Starts the enforcement library and the HTTP endpoints; writes the port file (metrics address)
  // once listening. `on_change` is passed to the view follower. Publishes the enforcement
  // progress (enforce::ProgressReporter): `progress` says what the sender has applied, by default
  // what its view holds (a sender that applies later than its view, like the ads sync's file,
  // passes its own).
  static absl::StatusOr<std::unique_ptr<SenderRuntime>> Start(
      const CommonConfig& config, const Clock& clock,
      std::function<void(std::string_view)> on_change = {},
      std::function<enforce::ChangesProgress()> progress = {});
  ~SenderRuntime();

  // Checks the request's contact point (judged with its linked subject) and, when given, its
  // subject; the first denial decides. INVALID_ARGUMENT naming the request field for bad input,
  // NOT_FOUND for an unknown tenant or purpose.
  absl::StatusOr<SendDecision> Decide(const v1::SendRequest& request, assent::v1::Channel channel,
                                      assent::v1::ContactType expected_type) const;

  // An outcome skeleton for a request and decision.
  v1::SendOutcome Outcome(const v1::SendRequest& request, v1::SendOutcome::Status status,
                          const enforce::Verdict* verdict) const;
  // Counts an outcome in the sender metrics.
  void Count(const v1::SendOutcome& outcome, assent::v1::Channel channel);

  enforce::Enforcer& enforcer() { return *enforcer_; }
  const CommonConfig& config() const { return config_; }
  std::shared_ptr<prometheus::Registry> registry() { return registry_; }
  const Clock& clock() const { return clock_; }

  // Marks the sender ready/not ready for /readyz besides the view being caught up.
  void SetRunning(bool running) { running_.store(running); }

 private:
  SenderRuntime(CommonConfig config, const Clock& clock);

  const CommonConfig config_;
  const Clock& clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<enforce::Enforcer> enforcer_;
  std::unique_ptr<enforce::ProgressReporter> reporter_;
  std::unique_ptr<metrics::HttpServer> http_;
  prometheus::Family<prometheus::Counter>* sends_ = nullptr;
  prometheus::Family<prometheus::Counter>* suppressions_ = nullptr;
  prometheus::Family<prometheus::Counter>* outcomes_ = nullptr;
  std::atomic<bool> running_{false};
};

// Bounds a sender's shutdown: once its work is committed, tearing down the Kafka clients can
// block for a long time when the brokers are gone (librdkafka waits on its coordinators). Starts
// a thread that ends the process with `exit_code` if it is still running after `grace`. Safe
// because nothing is left to flush: outcomes and offsets were committed or aborted in Kafka
// transactions, and transports fsync before they report.
void ExitAfter(absl::Duration grace, int exit_code);

// Reads the whole file (for secrets). INVALID_ARGUMENT naming `key` when it cannot be read.
absl::StatusOr<std::string> ReadSecretFile(const std::string& key, const std::string& path);

}  // namespace assent::sender
