// Parsing what browsers send: form bodies and Accept-Language. Pure functions, thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace assent::http {

// Parses an application/x-www-form-urlencoded body the way browsers produce it (the WHATWG URL
// standard's urlencoded parser): pairs split on '&', name and value split at the first '=' (a
// pair without one has an empty value), '+' is a space, "%XX" is a byte, and a '%' not followed
// by two hex digits stays as it is. Empty pairs are skipped; repeated names are all kept, in
// order. Values are bytes as sent: validate UTF-8 where text is expected. Never fails.
//
// Prefer this over httplib's req.params for form bodies: that merges the query string in, drops
// repeated identical pairs, cuts a value at a second '=' (base64 padding), and decodes "%uXXXX".
[[nodiscard]] std::multimap<std::string, std::string> ParseForm(std::string_view body);

// The best of `supported` (language tags such as "en", "de", "pt-BR"; the first one is the
// default) for an Accept-Language header (RFC 9110 12.5.4): ranges are tried by descending
// q-value, ties in header order; a range matches a supported tag equal to it, then one equal to a
// shorter prefix of it ("de-CH" -> "de"), then one that extends it ("de" -> "de-AT"), ignoring
// case; "*" matches the first supported tag not refused with q=0. Malformed ranges are skipped.
// Returns supported[0] when nothing matches (or the header is empty), "" when `supported` is empty.
// Example: "de-CH;q=0.9, en;q=0.8" with {"en", "de", "fr", "es"} -> "de".
[[nodiscard]] std::string AcceptLanguage(std::string_view header,
                                         const std::vector<std::string>& supported);

}  // namespace assent::http
