// The audience list an ads sync manages: a text file with one contact point per line.
//
//   # comments and blank lines are ignored
//   email:ann@example.com
//   phone:+14155550123
//
// Surrounding whitespace is trimmed. Only whole-line comments exist ('#' is a valid character in
// an email address). Phone numbers must be in international form (E.164 with '+'): the file
// carries no region to read national numbers against.
//
// Thread-safe (pure functions, and a file read).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/types.pb.h"

namespace assent::ads {

// One audience line, normalised (contact::Normalize).
struct AudienceEntry {
  int line = 0;
  v1::ContactType type = v1::CONTACT_TYPE_UNSPECIFIED;
  std::string normalized;
};

// Parses the file's contents. INVALID_ARGUMENT "<name>: line <n>: ..." for the first bad line
// (unknown type, or an address that does not normalise); the message never contains the address.
absl::StatusOr<std::vector<AudienceEntry>> ParseAudience(std::string_view name,
                                                         std::string_view text);

// Reads and parses the file at `path`. Errors as ParseAudience (with `path` as the name), and
// UNAVAILABLE "audience file: <path>: <why>" when it cannot be read.
absl::StatusOr<std::vector<AudienceEntry>> ReadAudienceFile(const std::string& path);

// The file's modification time; UNAVAILABLE when it cannot be stat'ed.
absl::StatusOr<absl::Time> ModificationTime(const std::string& path);

}  // namespace assent::ads
