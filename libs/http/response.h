// Response headers every Assent HTTP response carries, and the stricter set for HTML pages.
#pragma once

#include <string_view>
#include <utility>

#include "httplib.h"

namespace assent::http {

// Set on every response Server sends unless its handler set the header itself (a stylesheet may
// say "Cache-Control: public, max-age=86400"): no MIME sniffing, no Referer leaving our pages
// (their URLs carry bearer tokens), nothing stored by caches (pages show personal data).
inline constexpr std::pair<std::string_view, std::string_view> kDefaultHeaders[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"Cache-Control", "no-store"},
};

// Adds each of kDefaultHeaders that `res` does not have. Server calls it for every response.
void ApplyDefaultHeaders(httplib::Response& res);

// For HTML pages: sets Content-Security-Policy to `csp` plus "frame-ancestors 'none'" (unless
// `csp` has a frame-ancestors directive of its own) and "X-Frame-Options: DENY", replacing any
// values set before, and adds kDefaultHeaders where missing. `csp` is written as given: it must
// not contain CR or LF. Example: SetSecurityHeaders(res, "default-src 'none'; style-src 'self'").
void SetSecurityHeaders(httplib::Response& res, std::string_view csp);

}  // namespace assent::http
