// Settings of a sender process, loaded once at start from (highest first) command-line flags,
// environment variables and a YAML file, as consentd's are: the dotted key "kafka.brokers" is the
// flag --kafka-brokers, the variable <ENV_PREFIX>KAFKA_BROKERS (e.g. ASSENT_EMAIL_KAFKA_BROKERS)
// and in YAML `kafka: {brokers: ...}`. Keys are declared with a default and a help line; keys under
// a declared open prefix ("kafka.consumer.", "templates.") are free-form (YAML or flags only).
//
// Thread safety: immutable after Load.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace assent::sender {

struct SettingSpec {
  std::string key;
  std::string default_value;
  std::string help;
  // Redacted when the settings are logged.
  bool secret = false;
};

class Settings {
 public:
  // `args` without the program name; `env` as "NAME=value". CANCELLED with the usage text for
  // --help; INVALID_ARGUMENT naming the key (and where it came from) for unknown keys and
  // unreadable files.
  static absl::StatusOr<Settings> Load(std::string program, std::string env_prefix,
                                       std::vector<SettingSpec> specs,
                                       std::vector<std::string> open_prefixes,
                                       const std::vector<std::string>& args,
                                       const std::vector<std::string>& env);

  // The settings `yaml` (the text of a configuration file) gives, without flags, environment or a
  // file: for tests and the fuzz harness. Errors as Load's for the file's contents.
  static absl::StatusOr<Settings> FromYaml(std::string program, std::string env_prefix,
                                           std::vector<SettingSpec> specs,
                                           std::vector<std::string> open_prefixes,
                                           std::string_view yaml);

  // Typed values; INVALID_ARGUMENT "<key>: ..." when a value does not parse or is out of range.
  std::string String(const std::string& key) const;
  absl::StatusOr<int64_t> Int(const std::string& key, int64_t min, int64_t max) const;
  absl::StatusOr<bool> Bool(const std::string& key) const;
  absl::StatusOr<absl::Duration> Duration(const std::string& key, absl::Duration min) const;
  // Every key under `prefix` with the prefix removed ("kafka.consumer." -> {"fetch.wait.max.ms":
  // "5"}).
  std::map<std::string, std::string> WithPrefix(const std::string& prefix) const;
  // "key=value ..." with secrets redacted, for the start-up log line.
  std::string Describe() const;
  std::string Usage() const;

 private:
  // A declared key, or one under an open prefix.
  bool Known(const std::string& key) const;
  // Applies a configuration file's text; `origin` names it in errors.
  absl::Status ApplyYaml(std::string_view yaml, std::string_view origin);

  std::string program_;
  std::string env_prefix_;
  std::vector<SettingSpec> specs_;
  std::vector<std::string> open_prefixes_;
  std::map<std::string, std::string> values_;
};

}  // namespace assent::sender
