#include "assentctl/flags.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "google/protobuf/descriptor.h"

namespace assent::ctl {
namespace {

// "--name", or "-X" for a one-letter flag (as it is typed).
std::string Spelled(std::string_view flag) {
  return absl::StrCat(flag.size() == 1 ? "-" : "--", Sv(flag));
}

absl::Status Bad(std::string_view flag, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Spelled(flag), ": ", Sv(why)));
}

const FlagSpec* FindSpec(std::span<const FlagSpec> specs, std::string_view name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace

bool Args::Has(std::string_view name) const { return flags.find(name) != flags.end(); }

std::optional<std::string> Args::Get(std::string_view name) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::GetOr(std::string_view name, std::string_view fallback) const {
  std::optional<std::string> value = Get(name);
  return value.has_value() ? *value : std::string(fallback);
}

const std::vector<std::string>& Args::GetAll(std::string_view name) const {
  static const std::vector<std::string> kNone;
  auto it = flags.find(name);
  return it == flags.end() ? kNone : it->second;
}

bool Args::Switch(std::string_view name) const { return Get(name) == "true"; }

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv,
                               std::span<const FlagSpec> specs) {
  Args args;
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (flags_done || word.size() < 2 || word[0] != '-' || word == "-") {
      args.positional.push_back(word);
      continue;
    }
    if (word == "--") {
      flags_done = true;
      continue;
    }
    // "-h" is the only short flag.
    std::string name = word == "-h" ? "help" : word.substr(word[1] == '-' ? 2 : 1);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", Spelled(name)));
    }
    std::vector<std::string>& values = args.flags[name];
    if (spec->kind == FlagKind::kSwitch) {
      if (inline_value.has_value() && *inline_value != "true" && *inline_value != "false") {
        return Bad(name, "takes no value (or =true / =false)");
      }
      values.push_back(inline_value.value_or("true"));
      continue;
    }
    if (!inline_value.has_value()) {
      if (i + 1 >= argv.size()) return Bad(name, "needs a value");
      inline_value = argv[++i];
    }
    if (spec->kind == FlagKind::kValue && !values.empty()) return Bad(name, "given more than once");
    values.push_back(*std::move(inline_value));
  }
  return args;
}

absl::Status RequireOnly(const Args& args, std::span<const FlagSpec> allowed,
                         std::string_view command) {
  for (const auto& [name, values] : args.flags) {
    if (FindSpec(allowed, name) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(Spelled(name), " does not apply to '", Sv(command), "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Required(const Args& args, std::string_view flag) {
  std::optional<std::string> value = args.Get(flag);
  if (!value.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("--", Sv(flag), " is required"));
  }
  return *value;
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(Sv(text), ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

absl::StatusOr<uint32_t> ParseUint32(std::string_view flag, std::string_view text) {
  uint32_t value = 0;
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) ||
      !absl::SimpleAtoi(Sv(text), &value)) {
    return Bad(flag, absl::StrCat("'", Sv(text), "' is not a non-negative 32-bit number"));
  }
  return value;
}

absl::StatusOr<uint64_t> ParseUint64(std::string_view flag, std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) ||
      !absl::SimpleAtoi(Sv(text), &value)) {
    return Bad(flag, absl::StrCat("'", Sv(text), "' is not a non-negative 64-bit number"));
  }
  return value;
}

absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(std::string_view flag,
                                                                  std::string_view text,
                                                                  std::string_view shape) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Bad(flag, absl::StrCat("'", Sv(text), "' is not ", Sv(shape)));
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

absl::StatusOr<absl::Time> ParseTimeValue(std::string_view flag, std::string_view text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, Sv(text), &t, &error)) {
    return Bad(flag,
               absl::StrCat("'", Sv(text), "' is not an RFC 3339 time like 2026-05-01T12:00:00Z (",
                            error, ")"));
  }
  return t;
}

absl::StatusOr<absl::Duration> ParseDurationValue(std::string_view flag, std::string_view text) {
  absl::Duration d;
  int64_t days = 0;
  if (text.size() > 1 && text.back() == 'd' &&
      absl::SimpleAtoi(Sv(text.substr(0, text.size() - 1)), &days) &&
      std::isdigit(static_cast<unsigned char>(text[0]))) {
    d = absl::Hours(24) * days;
  } else if (!absl::ParseDuration(Sv(text), &d)) {
    return Bad(flag, absl::StrCat("'", Sv(text), "' is not a duration like 730d, 36h or 90s"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return Bad(flag, "must be a positive, finite duration");
  }
  return d;
}

std::string FormatDurationValue(absl::Duration d) {
  absl::Duration rest = d;
  const int64_t days = absl::IDivDuration(d, absl::Hours(24), &rest);
  if (days > 0 && rest == absl::ZeroDuration()) return absl::StrCat(days, "d");
  return absl::FormatDuration(d);
}

absl::StatusOr<int> ParseEnumByName(std::string_view flag, std::string_view text,
                                    const google::protobuf::EnumDescriptor& descriptor) {
  std::string name = absl::AsciiStrToUpper(Sv(text));
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  const google::protobuf::EnumValueDescriptor* value = descriptor.FindValueByName(name);
  if (value != nullptr && value->number() != 0) return value->number();
  std::vector<std::string> names;
  for (int i = 0; i < descriptor.value_count(); ++i) {
    if (descriptor.value(i)->number() != 0) names.push_back(descriptor.value(i)->name());
  }
  return Bad(flag, absl::StrCat("unknown value '", Sv(text), "' (one of ",
                                absl::StrJoin(names, ", "), ")"));
}

}  // namespace assent::ctl
