#include "sender/settings.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "yaml-cpp/yaml.h"

namespace assent::sender {
namespace {

std::string FlagName(const std::string& key) {
  return absl::StrReplaceAll(key, {{".", "-"}, {"_", "-"}});
}

// Keys nest three levels at most (tenants.<id>.<field>, kafka.consumer.<key>). A deeper file is
// refused, which also stops a YAML alias that contains itself (`a: &x {b: *x}`: endless nesting,
// which overflowed the stack).
constexpr int kMaxYamlDepth = 8;
// Aliases can also multiply a small file into a huge tree ("billion laughs"); no settings file has
// anywhere near this many entries.
constexpr int kMaxYamlEntries = 10000;

// Flattens a YAML mapping into dotted keys. `entries` counts down the entries left to visit.
absl::Status Flatten(const YAML::Node& node, const std::string& prefix,
                     std::map<std::string, std::string>& out, int depth, int& entries) {
  if (!node.IsMap()) return InvalidField(prefix.empty() ? "config" : prefix, "must be a mapping");
  if (depth > kMaxYamlDepth) {
    return InvalidField(prefix, absl::StrCat("nests more than ", kMaxYamlDepth, " levels deep"));
  }
  for (const auto& entry : node) {
    if (--entries < 0) {
      return InvalidField("config", absl::StrCat("has more than ", kMaxYamlEntries, " entries"));
    }
    const std::string name = entry.first.as<std::string>();
    // An error names the key; an empty one would name nothing.
    if (name.empty()) return InvalidField(prefix.empty() ? "config" : prefix, "has an empty key");
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    if (entry.second.IsMap()) {
      RETURN_IF_ERROR(Flatten(entry.second, key, out, depth + 1, entries));
    } else if (entry.second.IsScalar()) {
      out[key] = entry.second.as<std::string>();
    } else if (entry.second.IsNull()) {
      out[key] = "";
    } else {
      return InvalidField(key, "must be a scalar or a mapping");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Settings> Settings::Load(std::string program, std::string env_prefix,
                                        std::vector<SettingSpec> specs,
                                        std::vector<std::string> open_prefixes,
                                        const std::vector<std::string>& args,
                                        const std::vector<std::string>& env) {
  Settings s;
  s.program_ = std::move(program);
  s.env_prefix_ = std::move(env_prefix);
  s.specs_ = std::move(specs);
  s.specs_.push_back({"config", "", "YAML configuration file"});
  s.open_prefixes_ = std::move(open_prefixes);
  auto known = [&](const std::string& key) { return s.Known(key); };
  std::map<std::string, std::string> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(s.Usage());
    if (!arg.starts_with("--")) {
      return InvalidField(arg, "unexpected argument (options are --name value)");
    }
    arg = arg.substr(2);
    std::string value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return InvalidField("--" + arg, "needs a value");
    }
    std::string key;
    for (const SettingSpec& spec : s.specs_) {
      if (FlagName(spec.key) == arg) key = spec.key;
    }
    if (key.empty() && known(arg)) key = arg;  // open keys are given with their dotted name
    if (key.empty()) return InvalidField("--" + arg, "unknown flag; see --help");
    flags[key] = value;
  }
  std::map<std::string, std::string> environment;
  for (const std::string& entry : env) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = entry.substr(0, eq);
    for (const SettingSpec& spec : s.specs_) {
      if (s.env_prefix_ + absl::AsciiStrToUpper(absl::StrReplaceAll(spec.key, {{".", "_"}})) ==
          name) {
        environment[spec.key] = entry.substr(eq + 1);
      }
    }
  }
  for (const SettingSpec& spec : s.specs_) s.values_[spec.key] = spec.default_value;
  const std::string file = flags.count("config")         ? flags["config"]
                           : environment.count("config") ? environment["config"]
                                                         : "";
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return InvalidField("config", absl::StrCat("cannot read ", file, ": ", std::strerror(errno)));
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    RETURN_IF_ERROR(s.ApplyYaml(text, file));
  }
  for (const auto& [k, v] : environment) s.values_[k] = v;
  for (const auto& [k, v] : flags) s.values_[k] = v;
  return s;
}

absl::StatusOr<Settings> Settings::FromYaml(std::string program, std::string env_prefix,
                                            std::vector<SettingSpec> specs,
                                            std::vector<std::string> open_prefixes,
                                            std::string_view yaml) {
  ASSIGN_OR_RETURN(Settings s, Load(std::move(program), std::move(env_prefix), std::move(specs),
                                    std::move(open_prefixes), {}, {}));
  RETURN_IF_ERROR(s.ApplyYaml(yaml, "config"));
  return s;
}

bool Settings::Known(const std::string& key) const {
  for (const SettingSpec& spec : specs_) {
    if (spec.key == key) return true;
  }
  return std::any_of(open_prefixes_.begin(), open_prefixes_.end(), [&](const std::string& p) {
    return key.size() > p.size() && key.starts_with(p);
  });
}

absl::Status Settings::ApplyYaml(std::string_view yaml, std::string_view origin) {
  std::map<std::string, std::string> from_yaml;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    int entries = kMaxYamlEntries;
    if (!root.IsNull()) RETURN_IF_ERROR(Flatten(root, "", from_yaml, 1, entries));
  } catch (const YAML::Exception& e) {
    return InvalidField("config", absl::StrCat("cannot read ", Sv(origin), ": ", e.what()));
  }
  for (const auto& [k, v] : from_yaml) {
    if (!Known(k)) return InvalidField(k, absl::StrCat("unknown option (from ", Sv(origin), ")"));
    values_[k] = v;
  }
  return absl::OkStatus();
}

std::string Settings::String(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? "" : it->second;
}

absl::StatusOr<int64_t> Settings::Int(const std::string& key, int64_t min, int64_t max) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(String(key), &v)) return InvalidField(key, "must be an integer");
  if (v < min || v > max) {
    return InvalidField(key, absl::StrCat("must be between ", min, " and ", max));
  }
  return v;
}

absl::StatusOr<bool> Settings::Bool(const std::string& key) const {
  const std::string v = absl::AsciiStrToLower(String(key));
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return InvalidField(key, "must be true or false");
}

absl::StatusOr<absl::Duration> Settings::Duration(const std::string& key,
                                                  absl::Duration min) const {
  absl::Duration d;
  if (!absl::ParseDuration(String(key), &d)) {
    return InvalidField(key, "must be a duration such as 500ms, 30s or 2h");
  }
  if (d < min)
    return InvalidField(key, absl::StrCat("must be at least ", absl::FormatDuration(min)));
  return d;
}

std::map<std::string, std::string> Settings::WithPrefix(const std::string& prefix) const {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : values_) {
    if (k.size() > prefix.size() && k.starts_with(prefix)) out[k.substr(prefix.size())] = v;
  }
  return out;
}

std::string Settings::Describe() const {
  std::string out;
  for (const auto& [k, v] : values_) {
    bool secret = k.find("password") != std::string::npos || k.find("secret") != std::string::npos;
    for (const SettingSpec& spec : specs_) {
      if (spec.key == k && spec.secret) secret = true;
    }
    absl::StrAppend(&out, out.empty() ? "" : " ", k, "=", secret && !v.empty() ? "<redacted>" : v);
  }
  return out;
}

std::string Settings::Usage() const {
  std::string out = absl::StrCat("usage: ", program_, " [--option value ...]\n\noptions:\n");
  for (const SettingSpec& spec : specs_) {
    absl::StrAppend(&out, "  --", FlagName(spec.key), " / ", env_prefix_,
                    absl::AsciiStrToUpper(absl::StrReplaceAll(spec.key, {{".", "_"}})), "\n      ",
                    spec.help, " (default: \"", spec.default_value, "\")\n");
  }
  return out;
}

}  // namespace assent::sender
