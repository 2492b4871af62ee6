// Resource names (Google API design guide): "tenants/{tenant}",
// "tenants/{tenant}/purposes/{purpose}", "tenants/{tenant}/policy", and opaque page tokens.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace assent::ledger {

std::string TenantName(std::string_view tenant);
std::string PurposeName(std::string_view tenant, std::string_view purpose_id);
std::string PolicyName(std::string_view tenant);

// Parse a name; INVALID_ARGUMENT "<field>: ..." when malformed (ids are validated too).
absl::StatusOr<std::string> ParseTenantName(std::string_view field, std::string_view name);
struct PurposeNameParts {
  std::string tenant;
  std::string purpose_id;
};
absl::StatusOr<PurposeNameParts> ParsePurposeName(std::string_view field, std::string_view name);
absl::StatusOr<std::string> ParsePolicyName(std::string_view field, std::string_view name);

// Page tokens wrap a position in an opaque, versioned, web-safe string.
std::string MakePageToken(std::string_view kind, std::string_view position);
// INVALID_ARGUMENT "page_token: ..." when not a token of `kind` made by MakePageToken.
absl::StatusOr<std::string> ParsePageToken(std::string_view kind, std::string_view token);
// page_size 0 -> default_size; negative or over max -> INVALID_ARGUMENT "page_size".
absl::StatusOr<int> PageSize(int requested, int default_size, int max_size);

}  // namespace assent::ledger
