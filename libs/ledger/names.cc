#include "ledger/names.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "core/validate.h"

namespace assent::ledger {
namespace {
constexpr std::string_view kTenants = "tenants/";
}  // namespace

std::string TenantName(std::string_view tenant) { return absl::StrCat("tenants/", Sv(tenant)); }
std::string PurposeName(std::string_view tenant, std::string_view purpose_id) {
  return absl::StrCat("tenants/", Sv(tenant), "/purposes/", Sv(purpose_id));
}
std::string PolicyName(std::string_view tenant) {
  return absl::StrCat("tenants/", Sv(tenant), "/policy");
}

absl::StatusOr<std::string> ParseTenantName(std::string_view field, std::string_view name) {
  if (!name.starts_with(kTenants)) return InvalidField(field, "must look like tenants/{tenant}");
  std::string_view id = name.substr(kTenants.size());
  RETURN_IF_ERROR(core::ValidateTenantId(field, id));
  return std::string(id);
}

absl::StatusOr<PurposeNameParts> ParsePurposeName(std::string_view field, std::string_view name) {
  constexpr std::string_view kPurposes = "/purposes/";
  const size_t at = name.find(kPurposes);
  if (!name.starts_with(kTenants) || at == std::string_view::npos) {
    return InvalidField(field, "must look like tenants/{tenant}/purposes/{purpose}");
  }
  PurposeNameParts parts{std::string(name.substr(kTenants.size(), at - kTenants.size())),
                         std::string(name.substr(at + kPurposes.size()))};
  RETURN_IF_ERROR(core::ValidateTenantId(field, parts.tenant));
  RETURN_IF_ERROR(core::ValidatePurposeId(field, parts.purpose_id));
  return parts;
}

absl::StatusOr<std::string> ParsePolicyName(std::string_view field, std::string_view name) {
  constexpr std::string_view kPolicy = "/policy";
  if (!name.starts_with(kTenants) || !name.ends_with(kPolicy)) {
    return InvalidField(field, "must look like tenants/{tenant}/policy");
  }
  std::string_view id =
      name.substr(kTenants.size(), name.size() - kTenants.size() - kPolicy.size());
  RETURN_IF_ERROR(core::ValidateTenantId(field, id));
  return std::string(id);
}

std::string MakePageToken(std::string_view kind, std::string_view position) {
  return absl::WebSafeBase64Escape(absl::StrCat("v1|", Sv(kind), "|", Sv(position)));
}

absl::StatusOr<std::string> ParsePageToken(std::string_view kind, std::string_view token) {
  std::string raw;
  const std::string prefix = absl::StrCat("v1|", Sv(kind), "|");
  if (!absl::WebSafeBase64Unescape(Sv(token), &raw) || !std::string_view(raw).starts_with(prefix)) {
    return InvalidField("page_token", "is not a token returned by this method");
  }
  return raw.substr(prefix.size());
}

absl::StatusOr<int> PageSize(int requested, int default_size, int max_size) {
  if (requested < 0) return InvalidField("page_size", "must not be negative");
  if (requested > max_size) {
    return InvalidField("page_size", absl::StrCat("must be at most ", max_size));
  }
  return requested == 0 ? default_size : requested;
}

}  // namespace assent::ledger
