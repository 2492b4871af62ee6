// A spool directory of outgoing messages, written atomically so that a reader (an MTA pickup
// process, a relay) only ever sees complete files.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace assent::mail {

// Writes each file as: a temporary file in the same directory whose name starts with '.'
// (readers skip dot files), all bytes written, fsync, rename over the final name, fsync of the
// directory. After Write returns OK the file and its name survive a crash; before, the name holds
// either nothing or the previous complete contents. Files are created with mode 0600 (messages
// hold plain addresses).
//
// A crash during Write can leave a ".<name>.tmp-*" file behind; readers ignore it.
// Thread-safe: concurrent Writes use distinct temporary files; for the same name the last rename
// wins, and every version seen is complete. Several processes may share a directory.
class SpoolDirectory {
 public:
  // `dir` is created by Init. Nothing is touched until then.
  explicit SpoolDirectory(std::string dir);

  // Creates the directory (and missing parents, mode 0700) if it does not exist.
  // Errors: UNAVAILABLE "spool: <path>: <strerror>" (including when the path is not a directory).
  absl::Status Init();

  // Writes `contents` to <dir>/<name> atomically, replacing a file of that name (so redelivering
  // the same message under the same name is idempotent). Returns the final path.
  // Errors: INVALID_ARGUMENT "name: ..." unless name is 1..200 characters of [A-Za-z0-9._-] not
  // starting with '.'; UNAVAILABLE "spool: <path>: <strerror>" for any I/O failure (the temporary
  // file is removed).
  absl::StatusOr<std::string> Write(std::string_view name, std::string_view contents);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace assent::mail
