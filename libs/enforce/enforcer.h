// The enforcement library a channel sender links: "may I send this, to this recipient, now?"
// answered locally, in about a microsecond, with the same decision rule as the service.
//
//   EnforcerOptions options;  // brokers, service address, contact-key secret, bounds
//   ASSIGN_OR_RETURN(auto enforcer, Enforcer::Start(options, SystemClock::Get()));
//   ASSIGN_OR_RETURN(Recipient r, enforcer->Resolve("acme", target));  // hash once per address
//   ASSIGN_OR_RETURN(Verdict v, enforcer->Check({.tenant = "acme", .purpose_id = "newsletter",
//                                                .channel = v1::EMAIL}, r));
//
// Where a verdict comes from (Verdict::source):
//   LOCAL_VIEW   the view is caught up, confirmed current within max_staleness, and at most
//                max_lag_records behind: the rule runs on the local state and catalog;
//   SERVICE      otherwise the service's gRPC Check answers (within service_deadline);
//   FAIL_CLOSED  neither could answer: DENY ENFORCEMENT_UNAVAILABLE, except TRANSACTIONAL
//                purposes (not consent-governed) which are allowed when the catalog says so.
// A purpose or tenant the local catalog does not know is asked of the service (it may be new);
// the catalog is refreshed every catalog_refresh and on such a miss.
//
// Contact points are found in the view by their keyed hash (HMAC-SHA256 with the tenant key
// derived from the deployment's contact-key secret, as consentd computes it), so the sender needs
// that secret; plain addresses never leave the process.
//
// Thread safety: Check/Resolve/status from any thread. Start/Stop from one thread.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "assent/sender/v1/sender.pb.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "common/clock.h"
#include "enforce/catalog.h"
#include "enforce/follower.h"
#include "enforce/view.h"
#include "prometheus/registry.h"
#include "rpc/tls.h"

namespace assent::enforce {

struct EnforcerOptions {
  // Kafka side: brokers, topic prefix, consumer overrides, on_change.
  FollowerOptions follower;
  // consentd's gRPC address ("host:port") for the fallback Check and the catalog. Empty: no
  // fallback (verdicts are local or fail closed) and the catalog comes from catalog_cache_file.
  std::string service_address;
  // Transport security of that connection (rpc/tls.h). Default: plaintext.
  rpc::TlsOptions service_tls;
  // The deployment's contact-key secret (the bytes of consentd's contact_key_secret_file).
  // Required to check contact points locally.
  std::string contact_key_secret;
  // Tenants whose catalog to load; empty: every tenant.
  std::vector<std::string> tenants;
  // Local verdicts only while the view was confirmed current this recently. Default 2 s.
  absl::Duration max_staleness = absl::Seconds(2);
  // ... and is at most this many change records behind. Default 10000.
  int64_t max_lag_records = 10000;
  // Deadline of one fallback Check and of each catalog RPC. Default 500 ms.
  absl::Duration service_deadline = absl::Milliseconds(500);
  // How often the catalog is re-read from the service. Default 30 s.
  absl::Duration catalog_refresh = absl::Seconds(30);
  // Where the catalog is kept between runs. Empty: not kept.
  std::string catalog_cache_file;
  // The `sender` label of the metrics. Default "sender".
  std::string name = "sender";
  // Registry for the sender metrics (assent_sender_*). Optional.
  std::shared_ptr<prometheus::Registry> registry;
};

// A recipient resolved once: the target as given (for the service fallback), its stored form
// (subject id or keyed hash) and its key in the view.
struct Recipient {
  std::string tenant;
  v1::Target target;
  v1::TargetRef ref;
  std::string key;
};

struct CheckParams {
  std::string_view tenant;
  std::string_view purpose_id;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  std::string_view topic;
  std::string_view jurisdiction;
  // Evaluate at this time; default now.
  std::optional<absl::Time> time;
};

struct Verdict {
  v1::CheckResponse response;
  sender::v1::VerdictSource source = sender::v1::VERDICT_SOURCE_UNSPECIFIED;
};

struct EnforcerStatus {
  FollowerStatus follower;
  bool fresh = false;
  absl::Duration staleness = absl::InfiniteDuration();
  size_t view_targets = 0;
  absl::Time catalog_fetch_time = absl::InfinitePast();
};

class Enforcer {
 public:
  // Loads the catalog (service, else the cache file; neither is an error: checks then go to the
  // service or fail closed), starts following Kafka. INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Enforcer>> Start(EnforcerOptions options,
                                                         const Clock& clock);
  ~Enforcer();
  Enforcer(const Enforcer&) = delete;
  Enforcer& operator=(const Enforcer&) = delete;

  // Normalises and hashes a target. INVALID_ARGUMENT "<field>...: why" for a bad address or
  // subject id; FAILED_PRECONDITION for a contact point when no contact-key secret is configured.
  absl::StatusOr<Recipient> Resolve(std::string_view tenant, const v1::Target& target,
                                    std::string_view field = "target") const;

  // The verdict for a resolved recipient. Errors (never a verdict): INVALID_ARGUMENT naming the
  // field, NOT_FOUND for an unknown tenant or purpose (as the service says, or as the local
  // catalog says when the service cannot be asked).
  absl::StatusOr<Verdict> Check(const CheckParams& params, const Recipient& recipient) const;
  // Resolve + Check for a service-style request.
  absl::StatusOr<Verdict> Check(const v1::CheckRequest& request) const;
  // Many recipients of one tenant for one purpose, channel and topic: one freshness decision and
  // catalog snapshot for the batch; when the view is not fresh, the service's BatchCheck (10,000
  // recipients per call); failing closed as Check does. One verdict per recipient, in order.
  // Errors as Check's; INVALID_ARGUMENT "recipients[i]..." for a recipient of another tenant.
  absl::StatusOr<std::vector<Verdict>> BatchCheck(const CheckParams& params,
                                                  const std::vector<Recipient>& recipients) const;

  // Whether local verdicts are given now.
  bool Fresh() const;
  EnforcerStatus status() const;
  const ConsentView& view() const { return view_; }
  // As ViewFollower::ChangesProgress: what the view has applied of the changes topic.
  std::vector<std::pair<int32_t, int64_t>> ChangesProgress() const;
  // The catalog in use (never null).
  std::shared_ptr<const Catalog> catalog() const { return catalog_.Snapshot(); }
  // Re-reads the catalog from the service now (the refresh thread does this periodically).
  absl::Status RefreshCatalog();

  // Stops following Kafka and the refresh thread. Idempotent.
  void Stop();

 private:
  struct Metrics;
  Enforcer(EnforcerOptions options, const Clock& clock);
  absl::StatusOr<Verdict> CheckLocal(const Catalog& catalog, const CheckParams& params,
                                     const Recipient& recipient, absl::Time now) const;
  absl::StatusOr<Verdict> CheckService(const CheckParams& params, const Recipient& recipient,
                                       absl::Time now) const;
  Verdict FailClosed(const Catalog& catalog, const CheckParams& params) const;
  absl::Status ValidateParams(const CheckParams& params) const;
  void WarnFailClosed(const absl::Status& why) const;
  bool FreshAt(absl::Time now) const;
  std::string TenantKey(std::string_view tenant) const;
  void MaintenanceLoop();

  const EnforcerOptions options_;
  const Clock& clock_;
  ConsentView view_;
  std::unique_ptr<ViewFollower> follower_;
  CatalogSource catalog_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ConsentService::Stub> consent_stub_;
  std::unique_ptr<v1::CatalogService::Stub> catalog_stub_;
  std::unique_ptr<Metrics> metrics_;

  mutable absl::Mutex keys_mu_;
  mutable absl::flat_hash_map<std::string, std::string> tenant_keys_ ABSL_GUARDED_BY(keys_mu_);

  mutable std::atomic<uint64_t> checks_local_{0};
  mutable std::atomic<uint64_t> checks_service_{0};
  mutable std::atomic<uint64_t> checks_fail_closed_{0};
  mutable std::atomic<bool> refresh_wanted_{false};
  mutable std::atomic<int64_t> last_fail_closed_log_ns_{0};

  absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread maintenance_thread_;
};

// The local verdict: the decision rule over the view's state of `recipient` (and the subject it is
// linked to) with the catalog's purpose and policy. NOT_FOUND for a tenant or purpose the catalog
// does not know; INVALID_ARGUMENT from the rule (channel not covered). This is all a fresh
// Enforcer::Check does besides reading the clock and the freshness atomics.
absl::StatusOr<v1::CheckResponse> CheckInView(const ConsentView& view, const Catalog& catalog,
                                              const CheckParams& params, const Recipient& recipient,
                                              absl::Time now);

// The view key of a target, as the events' Kafka key: "tenant/<subject id>" or
// "tenant/c:<type>:<hash>".
std::string ViewKey(std::string_view tenant, const v1::TargetRef& target);

}  // namespace assent::enforce
