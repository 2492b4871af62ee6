// Secret files (keys, link keyrings, the contact-hash secret) must be readable by their owner
// only: a key that any local user can read is not a secret.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace assent {

// OK when `path` exists and is not readable by others (no o+r bit). INVALID_ARGUMENT naming
// `field` when it is ("chmod 600 <path>"), NOT_FOUND when it does not exist.
absl::Status CheckSecretFileMode(std::string_view field, const std::string& path);

}  // namespace assent
