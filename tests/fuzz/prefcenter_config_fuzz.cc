// The preference center's YAML configuration (prefcenter/config.h: its keys through
// sender::Settings, then ReadConfig with brands, colours, URLs, limits and the keyring).
// @KEYRING@ and @SECRET@ in the input name files that exist (fuzz_support.h).
// Properties: an error is INVALID_ARGUMENT naming the key, as config.h promises (never an
// escaped exception, nor a status from a file loader that names no key); a configuration that
// loads has a keyring, brand colours that pass their own check, and a brand for every tenant.
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fuzz/fuzz_support.h"
#include "prefcenter/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (fuzz::NamesSpecialFiles(input)) return 0;
  absl::StatusOr<sender::Settings> settings =
      sender::Settings::FromYaml("prefcenter", "ASSENT_PREFCENTER_", prefcenter::Specs(),
                                 prefcenter::OpenPrefixes(), fuzz::WithFiles(input));
  if (!settings.ok()) {
    fuzz::RequireInvalidField(settings.status(), "");
    return 0;
  }
  absl::StatusOr<prefcenter::Config> config = prefcenter::ReadConfig(*settings);
  if (!config.ok()) {
    fuzz::RequireInvalidField(config.status(), "");
    return 0;
  }
  fuzz::Require(config->keyring != nullptr && config->keyring->size() > 0, "a keyring is loaded");
  for (const auto& [tenant, brand] : config->brands) {
    const prefcenter::Brand b = prefcenter::BrandFor(*config, tenant, "Display");
    fuzz::Require(b.primary_color.size() == 7 && b.primary_color[0] == '#',
                  "a brand's primary colour is #rrggbb", b.primary_color);
    fuzz::Require(!b.name.empty(), "a brand has a name");
  }
  return 0;
}
