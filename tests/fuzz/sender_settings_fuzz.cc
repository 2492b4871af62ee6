// The reference senders' YAML settings file (sender/settings.h, with the email sender's keys), then
// the common keys every sender reads (sender/runtime.h ReadCommon) and the email sender's own
// (email_sender.h ReadEmailConfig). @SECRET@ and @KEYRING@ in the input name files that exist
// (fuzz_support.h).
// Properties: an error is INVALID_ARGUMENT naming the key (never an escaped yaml-cpp exception);
// settings that load, given back as flags, load to the same values (flags and YAML agree, and the
// free-form keys under open prefixes round-trip too, those with '=' in their name aside: a flag
// cannot spell them); every typed read is a value or INVALID_ARGUMENT naming its key, and so are
// ReadCommon's and ReadEmailConfig's errors.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_replace.h"
#include "email_sender/email_sender.h"
#include "fuzz/fuzz_support.h"
#include "sender/runtime.h"
#include "sender/settings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (fuzz::NamesSpecialFiles(input)) return 0;
  static const auto* specs_and_prefixes = [] {
    auto* out = new std::pair(sender::CommonSpecs("email"), sender::CommonOpenPrefixes());
    for (auto& spec : email::EmailSpecs()) out->first.push_back(std::move(spec));
    for (auto& prefix : email::EmailOpenPrefixes()) out->second.push_back(std::move(prefix));
    return out;
  }();
  const std::vector<sender::SettingSpec>& specs = specs_and_prefixes->first;
  const std::vector<std::string>& prefixes = specs_and_prefixes->second;
  absl::StatusOr<sender::Settings> settings = sender::Settings::FromYaml(
      "email_sender", "ASSENT_EMAIL_", specs, prefixes, fuzz::WithFiles(input));
  if (!settings.ok()) {
    fuzz::RequireInvalidField(settings.status(), "");
    return 0;
  }

  std::vector<std::string> args;
  std::map<std::string, std::string> expected;
  for (const auto& [key, value] : settings->WithPrefix("")) {
    if (key == "config" || key.find('=') != std::string::npos) continue;
    bool declared = false;
    for (const sender::SettingSpec& spec : specs) declared = declared || spec.key == key;
    // Declared keys by their flag name, free-form keys by their dotted name.
    args.push_back("--" + (declared ? absl::StrReplaceAll(key, {{".", "-"}, {"_", "-"}}) : key) +
                   "=" + value);
    expected[key] = value;
  }
  absl::StatusOr<sender::Settings> again =
      sender::Settings::Load("email_sender", "ASSENT_EMAIL_", specs, prefixes, args, {});
  fuzz::Require(again.ok(), "the values load as flags", again.status().ToString());
  std::map<std::string, std::string> got = again->WithPrefix("");
  std::erase_if(got, [&](const auto& kv) { return !expected.contains(kv.first); });
  fuzz::Require(got == expected, "flags give the values the YAML gave");

  for (const sender::SettingSpec& spec : specs) {
    for (const absl::Status& s :
         {settings->Int(spec.key, 0, 1000).status(), settings->Bool(spec.key).status(),
          settings->Duration(spec.key, absl::ZeroDuration()).status()}) {
      if (!s.ok()) fuzz::RequireInvalidField(s, spec.key);
    }
  }
  absl::StatusOr<sender::CommonConfig> common = sender::ReadCommon("email", *settings);
  if (!common.ok()) fuzz::RequireInvalidField(common.status(), "");
  absl::StatusOr<email::EmailConfig> email = email::ReadEmailConfig(*settings);
  if (!email.ok()) fuzz::RequireInvalidField(email.status(), "");
  return 0;
}
