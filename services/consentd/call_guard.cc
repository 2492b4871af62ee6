#include "consentd/call_guard.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "grpc/grpc_security_constants.h"

namespace assent::consentd {
namespace {

// What a forwarding peer needs.
constexpr RpcRule kForwardRule{"cluster", "forward", authz::Permission::kClusterForward};

// Longest principal accepted from a certificate or policy (SPIFFE IDs are at most 2048 bytes; a
// longer name than this is not one anybody writes into a policy).
constexpr size_t kMaxPrincipalLength = 512;

absl::StatusOr<std::unique_ptr<RateLimiter>> MakeLimiter(const RateLimit& limit,
                                                         std::string_view field,
                                                         const Clock& clock) {
  if (limit.rate == 0) return nullptr;
  RateLimiterOptions options;
  options.rate_per_second = limit.rate;
  options.burst = limit.burst > 0 ? limit.burst : std::max(1.0, 2 * limit.rate);
  auto limiter = RateLimiter::Create(options, clock);
  if (!limiter.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(field), ".", limiter.status().message()));
  }
  return limiter;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CallGuard>> CallGuard::Create(const CallGuardOptions& options,
                                                             const Clock& clock,
                                                             ServiceMetrics* metrics) {
  std::unique_ptr<CallGuard> guard(new CallGuard(options, metrics));
  ASSIGN_OR_RETURN(guard->tenant_limiter_,
                   MakeLimiter(options.per_tenant, "rate_limits.tenant", clock));
  ASSIGN_OR_RETURN(guard->principal_limiter_,
                   MakeLimiter(options.per_principal, "rate_limits.principal", clock));
  return guard;
}

absl::StatusOr<std::string> CallGuard::Identify(grpc::CallbackServerContext* ctx) const {
  const auto& metadata = ctx->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    std::string_view value(it->second.data(), it->second.size());
    constexpr std::string_view kBearer = "bearer ";
    if (value.size() <= kBearer.size() ||
        !absl::EqualsIgnoreCase(Sv(value.substr(0, kBearer.size())), Sv(kBearer))) {
      return absl::UnauthenticatedError("authorization: only \"Bearer <token>\" is accepted");
    }
    if (!options_.tls) {
      return absl::UnauthenticatedError(
          "authorization: bearer tokens are accepted only over TLS (this server is plaintext)");
    }
    const std::string* principal =
        options_.policy == nullptr
            ? nullptr
            : options_.policy->current().TokenPrincipal(Sha256(value.substr(kBearer.size())));
    if (principal == nullptr) {
      return absl::UnauthenticatedError("authorization: the bearer token is not recognised");
    }
    return *principal;
  }
  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return std::string();
  // One pass over the peer's properties (every call pays it): the SPIFFE ID wins, then the first
  // DNS SAN, then the CN.
  grpc::string_ref spiffe, dns, cn;
  for (const grpc::AuthProperty& property : *auth) {
    if (property.first == GRPC_PEER_SPIFFE_ID_PROPERTY_NAME) {
      spiffe = property.second;
      break;
    }
    if (dns.empty() && property.first == GRPC_PEER_DNS_PROPERTY_NAME) dns = property.second;
    if (cn.empty() && property.first == GRPC_X509_CN_PROPERTY_NAME) cn = property.second;
  }
  const grpc::string_ref& chosen = !spiffe.empty() ? spiffe : !dns.empty() ? dns : cn;
  std::string principal(chosen.data(), chosen.size());
  if (principal.size() > kMaxPrincipalLength) {
    return absl::UnauthenticatedError(absl::StrCat("the client certificate's name is longer than ",
                                                   kMaxPrincipalLength, " characters"));
  }
  return principal;
}

std::optional<std::string> ForwardedPrincipal(const grpc::ServerContextBase* ctx) {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find(kForwardedPrincipalHeader);
  if (it == metadata.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

absl::Status CallGuard::Authorize(const std::string& principal, const RpcRule& rule,
                                  std::string_view tenant,
                                  std::optional<authz::Permission> extra) const {
  if (options_.policy == nullptr) return absl::OkStatus();
  if (principal.empty()) {
    return absl::UnauthenticatedError(
        "no identity: present a client certificate, or a bearer token over TLS");
  }
  const authz::Policy& policy = options_.policy->current();
  RETURN_IF_ERROR(policy.Check(principal, tenant, rule.permission));
  if (extra.has_value()) RETURN_IF_ERROR(policy.Check(principal, tenant, *extra));
  return absl::OkStatus();
}

absl::Status CallGuard::Limit(grpc::CallbackServerContext* ctx, const std::string& principal,
                              const RpcRule& rule, std::string_view tenant) {
  auto refuse = [&](std::string_view scope, absl::Duration retry_after) {
    const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(retry_after));
    ctx->AddTrailingMetadata("grpc-retry-pushback-ms", absl::StrCat(ms));
    ctx->AddTrailingMetadata("retry-after", absl::StrCat((ms + 999) / 1000));
    if (metrics_ != nullptr) metrics_->OnRateLimited(scope, rule.service, rule.method);
    return absl::ResourceExhaustedError(
        absl::StrCat("rate limit of the ", Sv(scope), " reached; retry after ", ms, " ms"));
  };
  if (tenant_limiter_ != nullptr && !tenant.empty() && tenant != authz::Policy::kAnyTenant) {
    RateLimiter::Result r = tenant_limiter_->Take(tenant);
    if (!r.allowed) return refuse("tenant", r.retry_after);
  }
  if (principal_limiter_ != nullptr && !principal.empty()) {
    RateLimiter::Result r = principal_limiter_->Take(principal);
    if (!r.allowed) return refuse("principal", r.retry_after);
  }
  return absl::OkStatus();
}

void CallGuard::Denied(const std::string& principal, const RpcRule& rule,
                       std::string_view reason) const {
  if (metrics_ == nullptr) return;
  // Principals named by the policy are a bounded set; anything else is one label value.
  std::string_view label = "unknown";
  if (principal.empty()) {
    label = "anonymous";
  } else if (options_.policy != nullptr && options_.policy->current().Find(principal) != nullptr) {
    label = principal;
  }
  metrics_->OnDenied(label, rule.service, rule.method, reason);
}

absl::StatusOr<ledger::Caller> CallGuard::Admit(grpc::CallbackServerContext* ctx,
                                                const RpcRule& rule, std::string_view tenant,
                                                std::optional<authz::Permission> extra) {
  absl::StatusOr<std::string> principal = Identify(ctx);
  if (!principal.ok()) {
    Denied("", rule, "unauthenticated");
    return principal.status();
  }
  if (std::optional<std::string> forwarded = ForwardedPrincipal(ctx); forwarded.has_value()) {
    // A peer forwards a call it admitted (authenticated, authorized, rate-limited) for its
    // caller: the peer must hold cluster.forward; the caller stays the history's actor.
    if (absl::Status allowed = Authorize(*principal, kForwardRule, tenant, std::nullopt);
        !allowed.ok()) {
      Denied(*principal, rule,
             allowed.code() == absl::StatusCode::kUnauthenticated ? "unauthenticated"
                                                                  : "permission_denied");
      return allowed;
    }
    return ledger::Caller{*std::move(forwarded)};
  }
  if (absl::Status allowed = Authorize(*principal, rule, tenant, extra); !allowed.ok()) {
    Denied(*principal, rule,
           allowed.code() == absl::StatusCode::kUnauthenticated ? "unauthenticated"
                                                                : "permission_denied");
    return allowed;
  }
  RETURN_IF_ERROR(Limit(ctx, *principal, rule, tenant));
  return ledger::Caller{*std::move(principal)};
}

bool CallGuard::Allows(const ledger::Caller& caller, std::string_view tenant,
                       authz::Permission permission) const {
  if (options_.policy == nullptr) return true;
  return options_.policy->current().Allows(caller.principal, tenant, permission);
}

}  // namespace assent::consentd
