// The settings of a process's gRPC connection to consentd, shared by the senders and the
// preference center: tls.ca, tls.cert, tls.key, tls.server_name and token_file (flags --tls-ca
// ...), each falling back to the shared ASSENT_TLS_* / ASSENT_TOKEN_FILE variables.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "rpc/tls.h"
#include "sender/settings.h"

namespace assent::sender {

// The setting specs to add to a program's own.
std::vector<SettingSpec> ClientTlsSpecs();

// The TLS options from `settings` (then the environment), checked as a channel would use them:
// INVALID_ARGUMENT naming the setting for unreadable, mismatched or world-readable files.
absl::StatusOr<rpc::TlsOptions> ReadClientTls(const Settings& settings);

}  // namespace assent::sender
