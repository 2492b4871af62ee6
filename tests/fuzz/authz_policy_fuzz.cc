// The authorization policy file (authz/policy.h), written by operators and reloaded while consentd
// serves. Properties: an error is INVALID_ARGUMENT naming "policy", "roles" or "principals[...]";
// a policy that parses grants each listed principal exactly what it lists (every listed tenant and
// permission allowed, Check agreeing with Allows, a tenant it does not list allowed only with
// "*"), and nobody else anything.
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "authz/permission.h"
#include "authz/policy.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<authz::Policy> policy = authz::Policy::Parse(yaml);
  if (!policy.ok()) {
    fuzz::RequireInvalidField(policy.status(), "");
    const std::string_view message = StdSv(policy.status().message());
    fuzz::Require(message.starts_with("policy") || message.starts_with("roles") ||
                      message.starts_with("principals"),
                  "a policy error names policy, roles or principals[i]",
                  policy.status().ToString());
    return 0;
  }
  // A name no valid tenant can have (tenant ids are [a-z0-9-]), and one no principal has.
  constexpr std::string_view kUnlisted = "Unlisted_Tenant";
  fuzz::Require(!policy->grants().contains(""), "no principal is the empty name");
  for (int i = 0; i < authz::kPermissionCount; ++i) {
    const auto permission = static_cast<authz::Permission>(i);
    fuzz::Require(!policy->Allows("", "acme", permission), "an anonymous caller gets nothing");
  }
  for (const auto& [principal, grant] : policy->grants()) {
    fuzz::Require(!grant.permissions.empty(), "a listed principal holds a permission", principal);
    fuzz::Require(grant.all_tenants || !grant.tenants.empty(), "a listed principal has a tenant",
                  principal);
    for (int i = 0; i < authz::kPermissionCount; ++i) {
      const auto permission = static_cast<authz::Permission>(i);
      const bool held = grant.permissions.Has(permission);
      for (const std::string& tenant : grant.tenants) {
        fuzz::Require(policy->Allows(principal, tenant, permission) == held,
                      "a listed tenant is allowed exactly the granted permissions", principal);
        fuzz::Require(policy->Check(principal, tenant, permission).ok() == held,
                      "Check agrees with Allows", principal);
      }
      fuzz::Require(policy->Allows(principal, kUnlisted, permission) == (held && grant.all_tenants),
                    "an unlisted tenant is allowed only with *", principal);
      fuzz::Require(policy->Allows(principal, authz::Policy::kAnyTenant, permission) == held,
                    "any tenant is asked of the permission alone", principal);
    }
  }
  return 0;
}
