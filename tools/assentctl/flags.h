// assentctl's command line: "--flag value", "--flag=value", switches, "--", positional words, and
// parsers for the value syntaxes the commands share (lists, enums, times, durations, numbers).
//
// Every error these functions return is INVALID_ARGUMENT with a message that names the flag, and
// means a usage error (exit status 64).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/generated_enum_reflection.h"

namespace assent::ctl {

enum class FlagKind {
  kValue,     // --name VALUE, at most once
  kRepeated,  // --name VALUE, any number of times, kept in order
  kSwitch,    // --name (or --name=true / --name=false)
};

struct FlagSpec {
  std::string_view name;  // without the leading "--"
  FlagKind kind;
};

// A tokenized command line.
struct Args {
  // The words that are not flags or flag values, in order ("tenant", "create", "acme").
  std::vector<std::string> positional;
  // Flag name (without "--") -> its values in command-line order. A switch holds "true" or "false".
  std::map<std::string, std::vector<std::string>, std::less<>> flags;

  bool Has(std::string_view name) const;
  // The last value of a flag; nullopt when it was not given.
  std::optional<std::string> Get(std::string_view name) const;
  std::string GetOr(std::string_view name, std::string_view fallback) const;
  // Every value of a flag (empty when not given).
  const std::vector<std::string>& GetAll(std::string_view name) const;
  // A switch: true when given (and not as --name=false).
  bool Switch(std::string_view name) const;
};

// Splits `argv` (without the program name) into flags and positional words. Flags may appear
// anywhere; "--" ends the flags. INVALID_ARGUMENT for a flag not in `specs`, a missing value, a
// value given to a switch other than true/false, or a kValue flag given twice.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv,
                               std::span<const FlagSpec> specs);

// INVALID_ARGUMENT "--<flag> does not apply to '<command>'" for the first flag in `args` that is
// not in `allowed`.
absl::Status RequireOnly(const Args& args, std::span<const FlagSpec> allowed,
                         std::string_view command);

// INVALID_ARGUMENT "--<flag> is required" when absent, else its value.
absl::StatusOr<std::string> Required(const Args& args, std::string_view flag);

// "a,b, c" -> {"a", "b", "c"}; empty items are dropped, so "" is the empty list.
std::vector<std::string> SplitList(std::string_view text);

// Unsigned decimal that fits in 32 bits.
absl::StatusOr<uint32_t> ParseUint32(std::string_view flag, std::string_view text);
// Unsigned decimal that fits in 64 bits.
absl::StatusOr<uint64_t> ParseUint64(std::string_view flag, std::string_view text);

// "de=Wöchentlicher Newsletter" -> {"de", "Wöchentlicher Newsletter"}: split at the first '='. The
// key must not be empty; the value may be. `shape` names the syntax for the error ("LANG=TEXT").
absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(std::string_view flag,
                                                                  std::string_view text,
                                                                  std::string_view shape);

// RFC 3339 with an offset or "Z", fractional seconds optional: "2026-05-01T12:00:00Z".
absl::StatusOr<absl::Time> ParseTimeValue(std::string_view flag, std::string_view text);

// "730d" (whole days) or anything absl::ParseDuration accepts ("36h", "90m", "1h30m", "10s").
// Must be positive.
absl::StatusOr<absl::Duration> ParseDurationValue(std::string_view flag, std::string_view text);

// The inverse for display: whole days as "730d", anything else as absl::FormatDuration.
std::string FormatDurationValue(absl::Duration d);

// An enum value by name, case-insensitive, '-' standing for '_' ("hard-bounce" -> HARD_BOUNCE).
// The zero value (..._UNSPECIFIED) is refused; the error lists the accepted names.
absl::StatusOr<int> ParseEnumByName(std::string_view flag, std::string_view text,
                                    const google::protobuf::EnumDescriptor& descriptor);

template <typename E>
absl::StatusOr<E> ParseEnum(std::string_view flag, std::string_view text) {
  absl::StatusOr<int> value =
      ParseEnumByName(flag, text, *google::protobuf::GetEnumDescriptor<E>());
  if (!value.ok()) return value.status();
  return static_cast<E>(*value);
}

// A comma-separated list of enum values, no duplicates.
template <typename E>
absl::StatusOr<std::vector<E>> ParseEnumList(std::string_view flag, std::string_view text) {
  std::vector<E> out;
  for (const std::string& item : SplitList(text)) {
    absl::StatusOr<E> value = ParseEnum<E>(flag, item);
    if (!value.ok()) return value.status();
    for (E seen : out) {
      if (seen == *value) {
        return absl::InvalidArgumentError("--" + std::string(flag) + ": " + item +
                                          " is listed twice");
      }
    }
    out.push_back(*value);
  }
  return out;
}

}  // namespace assent::ctl
