// The guard at consentd's door, run by every RPC before the ledger sees the request: who is
// calling (authentication), may they do this on this tenant (authorization), and have they or the
// tenant used up their rate (token buckets). consentd's Write/Read helpers call Admit().
//
// Identity, in order:
//   1. a bearer token in the `authorization` metadata ("Bearer <token>"), accepted only when the
//      server speaks TLS, looked up by its SHA-256 in the policy;
//   2. the verified client certificate: its SPIFFE ID (URI SAN), else its first DNS SAN, else its
//      subject CN.
// With a policy configured, a call without identity is UNAUTHENTICATED and every principal is
// denied what the policy does not grant (PERMISSION_DENIED naming permission and tenant). Without
// a policy, identified callers may do everything and unidentified ones (plaintext, --insecure) are
// served as before, the request's own actor standing in the history.
//
// Thread safety: Admit() from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "authz/policy.h"
#include "common/clock.h"
#include "common/rate_limiter.h"
#include "consentd/permissions.h"
#include "consentd/service_metrics.h"
#include "grpcpp/server_context.h"
#include "ledger/ledger.h"

namespace assent::consentd {

// The metadata a peer instance (cluster mode) puts on a call it forwards to the partition's
// owner: the principal it admitted the call for ("" for an unauthenticated caller where no
// policy is configured). Accepted only from peers holding cluster.forward.
inline constexpr char kForwardedPrincipalHeader[] = "assent-forwarded-principal";
// The forwarded principal of a call, nullopt when the call was not forwarded.
std::optional<std::string> ForwardedPrincipal(const grpc::ServerContextBase* ctx);

class ClusterRouter;

struct RateLimit {
  // Requests per second refilled; 0 turns the limit off. Default 0.
  double rate = 0;
  // Bucket size: requests allowed at once after a quiet period. Default 0: twice the rate (and at
  // least 1).
  double burst = 0;
};

struct CallGuardOptions {
  // The authorization policy; null: no authorization.
  const authz::PolicyFile* policy = nullptr;
  // True when the server speaks TLS (bearer tokens are accepted only then).
  bool tls = false;
  // Token buckets per tenant and per principal.
  RateLimit per_tenant;
  RateLimit per_principal;
};

class CallGuard {
 public:
  // INVALID_ARGUMENT when a rate limit is out of range. `clock` and `metrics` (nullable) must
  // outlive the guard.
  static absl::StatusOr<std::unique_ptr<CallGuard>> Create(const CallGuardOptions& options,
                                                           const Clock& clock,
                                                           ServiceMetrics* metrics);

  // Admits a call of `rule` on `tenant` (empty: a call about every tenant), needing `extra` too
  // when set. The caller (principal empty when unauthenticated and allowed), or UNAUTHENTICATED,
  // PERMISSION_DENIED, or RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms` (and `retry-after`, in
  // seconds) added to the call's trailers.
  absl::StatusOr<ledger::Caller> Admit(grpc::CallbackServerContext* ctx, const RpcRule& rule,
                                       std::string_view tenant,
                                       std::optional<authz::Permission> extra = std::nullopt);

  // Cluster mode: the router that forwards writes to their partition's owner (services.cc's
  // Write helper reaches it here). Null in single-node mode. Set before serving; not owned.
  void SetRouter(ClusterRouter* router) { router_.store(router); }
  ClusterRouter* router() const { return router_.load(); }

  // True when `caller` may use `permission` on `tenant` (for filtering lists).
  bool Allows(const ledger::Caller& caller, std::string_view tenant,
              authz::Permission permission) const;

 private:
  CallGuard(const CallGuardOptions& options, ServiceMetrics* metrics)
      : options_(options), metrics_(metrics) {}
  // The authenticated principal, empty when the call carries no identity.
  absl::StatusOr<std::string> Identify(grpc::CallbackServerContext* ctx) const;
  absl::Status Authorize(const std::string& principal, const RpcRule& rule, std::string_view tenant,
                         std::optional<authz::Permission> extra) const;
  absl::Status Limit(grpc::CallbackServerContext* ctx, const std::string& principal,
                     const RpcRule& rule, std::string_view tenant);
  void Denied(const std::string& principal, const RpcRule& rule, std::string_view reason) const;

  const CallGuardOptions options_;
  ServiceMetrics* metrics_;
  std::unique_ptr<RateLimiter> tenant_limiter_;     // null when off
  std::unique_ptr<RateLimiter> principal_limiter_;  // null when off
  std::atomic<ClusterRouter*> router_{nullptr};
};

}  // namespace assent::consentd
