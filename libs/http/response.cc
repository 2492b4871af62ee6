#include "http/response.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/strings.h"

namespace assent::http {
namespace {

// httplib's set_header adds a second header of the same name rather than replacing the first.
void ReplaceHeader(httplib::Response& res, const std::string& name, const std::string& value) {
  res.headers.erase(name);
  res.set_header(name, value);
}

}  // namespace

void ApplyDefaultHeaders(httplib::Response& res) {
  for (const auto& [name, value] : kDefaultHeaders) {
    const std::string key(name);
    if (!res.has_header(key)) res.set_header(key, std::string(value));
  }
}

void SetSecurityHeaders(httplib::Response& res, std::string_view csp) {
  absl::string_view policy = absl::StripAsciiWhitespace(Sv(csp));
  while (absl::ConsumeSuffix(&policy, ";")) policy = absl::StripTrailingAsciiWhitespace(policy);
  std::string value(policy);
  if (!absl::StrContains(absl::AsciiStrToLower(policy), "frame-ancestors")) {
    value =
        value.empty() ? "frame-ancestors 'none'" : absl::StrCat(value, "; frame-ancestors 'none'");
  }
  ReplaceHeader(res, "Content-Security-Policy", value);
  ReplaceHeader(res, "X-Frame-Options", "DENY");
  ApplyDefaultHeaders(res);
}

}  // namespace assent::http
