// Form bodies and Accept-Language headers (http/form.h) as browsers, or anyone, send them.
// Properties: re-encoding the parsed pairs (every byte percent-encoded) parses back to the same
// pairs, so nothing is lost or invented; AcceptLanguage always answers one of the supported tags
// (the first when nothing matches) and "" when none is supported.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "fuzz/fuzz_support.h"
#include "http/form.h"

namespace {

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) absl::StrAppendFormat(&out, "%%%02X", c);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const std::multimap<std::string, std::string> form = http::ParseForm(text);
  std::string encoded;
  for (const auto& [name, value] : form) {
    if (!encoded.empty()) encoded += '&';
    encoded += PercentEncode(name) + "=" + PercentEncode(value);
  }
  // A pair with an empty name and value ("=") is kept by the parser; its encoding is "=" again.
  fuzz::Require(http::ParseForm(encoded) == form, "parsed pairs re-encode to the same pairs",
                encoded);

  static const std::vector<std::string> kSupported = {"en", "de", "fr", "es", "pt-BR"};
  const std::string language = http::AcceptLanguage(text, kSupported);
  fuzz::Require(std::find(kSupported.begin(), kSupported.end(), language) != kSupported.end(),
                "the answer is a supported tag", language);
  fuzz::Require(http::AcceptLanguage(text, {}).empty(), "nothing supported answers \"\"");
  return 0;
}
