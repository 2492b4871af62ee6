// What the fuzz harnesses share: a property check that aborts with a message (libFuzzer then saves
// the input as a crash), the error shape every parser promises, and a reader that splits one input
// into the parts a harness needs.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/strings.h"

namespace assent::fuzz {

// Aborts, naming the property that failed, when `ok` is false. Harnesses assert properties this
// way rather than with assert(), which release builds compile out.
inline void Require(bool ok, std::string_view property, std::string_view detail = "") {
  if (ok) return;
  std::fprintf(stderr, "fuzz property failed: %.*s\n  %.*s\n", static_cast<int>(property.size()),
               property.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// The error every parser of outside input promises: INVALID_ARGUMENT whose message starts with the
// field it names ("<field>: <why>"), the field starting with `field_prefix`.
inline void RequireInvalidField(const absl::Status& status, std::string_view field_prefix) {
  const std::string text = status.ToString();
  Require(status.code() == absl::StatusCode::kInvalidArgument, "error is INVALID_ARGUMENT", text);
  const std::string_view message = StdSv(status.message());
  // A field is never empty, though it may itself hold ": " (a YAML key is any text), so the
  // separator is looked for after the first character.
  Require(message.size() > 2 && message.find(": ", 1) != std::string_view::npos,
          "error names a field (\"<field>: ...\")", text);
  Require(message.starts_with(field_prefix), "error names the expected field", text);
}

// The directory of this process's files: /dev/shm/assent-fuzz-<pid> (memory) where there is a
// /dev/shm, else under $TMPDIR or /tmp. Removed at exit; directories that processes which died
// (a crash) left behind are removed when the next harness starts.
inline const std::filesystem::path& ProcessDir() {
  static const std::filesystem::path* dir = [] {
    const char* tmpdir = std::getenv("TMPDIR");
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm"
                                       : tmpdir != nullptr                       ? tmpdir
                                                                                 : "/tmp";
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(base, ignored)) {
      const std::string name = entry.path().filename().string();
      int pid = 0;
      if (name.starts_with("assent-fuzz-") && absl::SimpleAtoi(name.substr(12), &pid) &&
          kill(pid, 0) != 0 && errno == ESRCH) {
        std::filesystem::remove_all(entry.path(), ignored);
      }
    }
    auto* path = new std::filesystem::path(base / absl::StrCat("assent-fuzz-", getpid()));
    std::filesystem::create_directories(*path);
    std::atexit([] {
      std::error_code ignored_at_exit;
      std::filesystem::remove_all(ProcessDir(), ignored_at_exit);
    });
    return path;
  }();
  return *dir;
}

// A file of this process's own (in ProcessDir()), written once, for loaders that take a path.
inline std::string TempFile(std::string_view name, std::string_view contents) {
  const std::filesystem::path path = ProcessDir() / std::string(name);
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << contents;
  return path.string();
}

// Config text with the placeholders @KEYRING@ (a valid link keyring file) and @SECRET@ (a 32-byte
// secret file) replaced by files of this process, so that seeds can name files that exist.
inline std::string WithFiles(std::string_view text) {
  static const std::string* keyring =
      new std::string(TempFile("keyring.yaml",
                               "keys:\n  - id: \"2026-12\"\n    secret: "
                               "\"a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=\"\n"));
  static const std::string* secret =
      new std::string(TempFile("secret", "0123456789abcdef0123456789abcdef\n"));
  return absl::StrReplaceAll(absl::string_view(text.data(), text.size()),
                             {{"@KEYRING@", *keyring}, {"@SECRET@", *secret}});
}

// Whether config text names a device or kernel file: a loader would read it (/dev/zero never
// ends), so harnesses skip such inputs.
inline bool NamesSpecialFiles(std::string_view text) {
  return text.find("/dev/") != std::string_view::npos ||
         text.find("/proc/") != std::string_view::npos ||
         text.find("/sys/") != std::string_view::npos;
}

// Reads one fuzz input as a sequence of parts, so that a harness can draw a selector byte and
// then strings from it. Seeds stay readable: a part is the text up to the next '\n' (the
// separator is not part of it), and Rest() is everything after the parts taken.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : text_(reinterpret_cast<const char*>(data), size) {}

  // The next byte (0 at the end).
  uint8_t Byte() {
    if (text_.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(text_[0]);
    text_.remove_prefix(1);
    return b;
  }
  // The text up to the next '\n' (all of it when there is none).
  std::string_view Line() {
    const size_t nl = text_.find('\n');
    const std::string_view line = text_.substr(0, nl);
    text_.remove_prefix(nl == std::string_view::npos ? text_.size() : nl + 1);
    return line;
  }
  // The next `n` bytes (fewer at the end).
  std::string_view Take(size_t n) {
    const std::string_view part = text_.substr(0, n);
    text_.remove_prefix(part.size());
    return part;
  }
  bool empty() const { return text_.empty(); }
  std::string_view Rest() {
    const std::string_view rest = text_;
    text_ = {};
    return rest;
  }

 private:
  std::string_view text_;
};

}  // namespace assent::fuzz
