// Named constructors for the domain errors Assent returns. Every message names the offending field
// (in the API's snake_case path, e.g. "decisions[2].purpose_id") and says why.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace assent {

// INVALID_ARGUMENT "<field>: <why>".
absl::Status InvalidField(std::string_view field, std::string_view why);
// NOT_FOUND "<what> not found: <name>".
absl::Status NotFound(std::string_view what, std::string_view name);
// ALREADY_EXISTS "<what> already exists: <name>".
absl::Status AlreadyExists(std::string_view what, std::string_view name);
// FAILED_PRECONDITION with the message as given.
absl::Status FailedPrecondition(std::string_view message);
// RESOURCE_EXHAUSTED with the message as given.
absl::Status Exhausted(std::string_view message);
// UNAVAILABLE "storage: <detail>".
absl::Status StorageUnavailable(std::string_view detail);
// DATA_LOSS: stored bytes that do not parse. Cannot happen unless the store is damaged.
absl::Status Corrupt(std::string_view what);

// Prefixes a status message with a field path: "decisions[1]" + "purpose_id: empty" ->
// "decisions[1].purpose_id: empty". Only INVALID_ARGUMENT messages are rewritten.
absl::Status WithFieldPrefix(const absl::Status& status, std::string_view prefix);

}  // namespace assent
