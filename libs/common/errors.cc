#include "common/errors.h"

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace assent {

absl::Status InvalidField(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Sv(field), ": ", Sv(why)));
}
absl::Status NotFound(std::string_view what, std::string_view name) {
  return absl::NotFoundError(absl::StrCat(Sv(what), " not found: ", Sv(name)));
}
absl::Status AlreadyExists(std::string_view what, std::string_view name) {
  return absl::AlreadyExistsError(absl::StrCat(Sv(what), " already exists: ", Sv(name)));
}
absl::Status FailedPrecondition(std::string_view message) {
  return absl::FailedPreconditionError(Sv(message));
}
absl::Status Exhausted(std::string_view message) {
  return absl::ResourceExhaustedError(Sv(message));
}
absl::Status StorageUnavailable(std::string_view detail) {
  return absl::UnavailableError(absl::StrCat("storage: ", Sv(detail)));
}
absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(absl::StrCat("stored record does not parse: ", Sv(what)));
}

absl::Status WithFieldPrefix(const absl::Status& status, std::string_view prefix) {
  if (status.code() != absl::StatusCode::kInvalidArgument || prefix.empty()) return status;
  return absl::InvalidArgumentError(absl::StrCat(Sv(prefix), ".", status.message()));
}

}  // namespace assent
