// consentd's YAML configuration file (consentd/config.h ApplyYaml, then ValidateConfig), as an
// operator or a config-management tool writes it.
// Properties: an error is INVALID_ARGUMENT naming the option (never an escaped yaml-cpp
// exception); a configuration that loads, given back as flags ("--<flag>=<value>" for every
// option), loads to the same configuration: the YAML file, the flags and the effective-config log
// line agree on every value.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_replace.h"
#include "consentd/config.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  if (fuzz::NamesSpecialFiles(yaml)) return 0;
  consentd::Config config;
  absl::Status status = consentd::ApplyYaml(yaml, "fuzz.yaml", config);
  if (status.ok()) status = consentd::ValidateConfig(config);
  if (!status.ok()) {
    fuzz::RequireInvalidField(status, "");
    return 0;
  }
  std::vector<std::string> args;
  for (const auto& [key, value] : consentd::ConfigValues(config)) {
    if (key == "config") continue;  // --config would read a file
    args.push_back("--" + absl::StrReplaceAll(key, {{".", "-"}, {"_", "-"}}) + "=" + value);
  }
  absl::StatusOr<consentd::Config> again = consentd::LoadConfig(args, {});
  fuzz::Require(again.ok(), "the effective values load as flags", again.status().ToString());
  again->config_file = config.config_file;
  again->kafka_producer = config.kafka_producer;  // YAML only
  fuzz::Require(consentd::DescribeConfig(*again) == consentd::DescribeConfig(config),
                "flags give the configuration the YAML gave", consentd::DescribeConfig(config));
  return 0;
}
