// consentd's process: opens the store, starts the committer and the gRPC server (Assent's
// services, grpc.health.v1, reflection), and shuts all of it down in order.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "authz/policy.h"
#include "cluster/node.h"
#include "common/clock.h"
#include "consentd/call_guard.h"
#include "consentd/cluster_router.h"
#include "consentd/config.h"
#include "consentd/erasure_log.h"
#include "consentd/export_service.h"
#include "consentd/import_service.h"
#include "consentd/lifecycle_runner.h"
#include "consentd/link_coordinator.h"
#include "consentd/proof.h"
#include "consentd/report_metrics.h"
#include "consentd/rights_runner.h"
#include "consentd/service_metrics.h"
#include "consentd/services.h"
#include "events/relay.h"
#include "grpcpp/server.h"
#include "ledger/ledger.h"
#include "ledger/report.h"
#include "metrics/http_server.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::consentd {

class Server {
 public:
  // Opens everything and starts serving. UNAVAILABLE when the store cannot be opened or the
  // address cannot be bound (in use by another process); INVALID_ARGUMENT for a bad contact key
  // file, TLS file or policy file; FAILED_PRECONDITION without TLS unless config.insecure.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const Config& config, const Clock& clock);
  ~Server();

  // The bound address ("127.0.0.1:PORT").
  const std::string& address() const { return address_; }
  // The bound metrics address, empty when metrics are off.
  std::string metrics_address() const { return http_ ? http_->address() : ""; }
  // Blocks until Shutdown() has completed.
  void Wait();
  // Reports NOT_SERVING (and /readyz 503) for `delay`, then stops accepting calls, gives in-flight
  // calls the grace period, completes queued writes and closes the store. Idempotent; safe from
  // any thread but a gRPC callback.
  void Shutdown(absl::Duration delay, absl::Duration grace);
  // Re-reads the authorization policy file (SIGHUP). On error the previous policy stays and the
  // error is returned (and logged). OK when no policy is configured.
  absl::Status ReloadPolicy();
  // Re-reads the receipt keyring (SIGHUP; key rotation). On error the keys in use stay and the
  // error is returned (and logged). OK when receipts are off.
  absl::Status ReloadReceiptKeys();
  // Ready: serving, store open, and Kafka reachable when configured.
  metrics::Readiness Ready() const;

 private:
  Server() = default;
  // Reloads the policy whenever its file changes, until shutdown.
  void WatchPolicy(absl::Duration interval);
  void LogReload(const absl::Status& reloaded) const;
  void StopPolicyWatcher();

  enum class Phase { kStarting, kServing, kStopping };
  std::atomic<Phase> phase_{Phase::kStarting};
  // The ledger once created, for the cluster replica's catalog reloads.
  std::atomic<ledger::Ledger*> ledger_ptr_{nullptr};
  std::unique_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<metrics::HttpServer> http_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<cluster::Node> cluster_;  // null in single-node mode; outlives the committer
  std::unique_ptr<store::Committer> committer_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<ReceiptIssuer> receipts_;     // null without receipts.keyring_file
  std::unique_ptr<events::OutboxRelay> relay_;  // null when no Kafka brokers are configured
  std::unique_ptr<LifecycleRunner> lifecycle_;
  std::unique_ptr<ErasureLog> erasure_log_;  // null without erasure.log_file
  std::unique_ptr<RightsRunner> rights_;
  std::unique_ptr<EnforcementProof> proof_;    // null without enforcement.senders
  std::unique_ptr<authz::PolicyFile> policy_;  // null without a policy
  std::unique_ptr<CallGuard> guard_;
  std::unique_ptr<ClusterRouter> router_;   // null in single-node mode
  std::unique_ptr<LinkCoordinator> links_;  // null in single-node mode
  std::thread policy_watcher_;
  std::unique_ptr<CatalogService> catalog_service_;
  std::unique_ptr<ConsentService> consent_service_;
  std::unique_ptr<SubjectRightsService> rights_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<ExportService> export_service_;
  std::unique_ptr<ImportService> import_service_;
  std::unique_ptr<ReceiptService> receipt_service_;
  std::unique_ptr<ReportService> report_service_;
  std::unique_ptr<ReportMetrics> report_metrics_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  const Clock* clock_ = nullptr;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

// Reads the contact-hash master secret from `path`, or, when the file does not exist and
// `create` is true, writes a new random 32-byte secret (hex, mode 0600) there and returns it.
absl::StatusOr<std::string> LoadOrCreateSecret(const std::string& path, bool create);

}  // namespace assent::consentd
