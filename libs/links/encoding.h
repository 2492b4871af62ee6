// What the link token formats share: strict base64url, canonical decimals, contact type names,
// keyed-hash syntax and a constant-time comparison. Pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "assent/v1/types.pb.h"

namespace assent::links {

// Bytes of an HMAC-SHA256 tag.
inline constexpr size_t kMacLength = 32;
// Characters of a keyed contact hash (lower-case hex SHA-256).
inline constexpr size_t kHashHexLength = 64;
// More than any valid token of any version; stops a huge input before it is decoded.
inline constexpr size_t kMaxTokenLength = 2048;

// base64url without padding (RFC 4648 section 5).
std::string Base64Url(std::string_view bytes);
// Strict base64url without padding: only the alphabet, and canonical (re-encoding gives the same
// text), so exactly one spelling decodes to given bytes. False otherwise.
bool DecodeBase64Url(std::string_view text, std::string* out);
// 1..19 digits without a leading zero (or "0").
bool IsCanonicalDecimal(std::string_view s);
// "email", "phone", "device", "postal" (contact::ContactTypeName) -> the type; INVALID_ARGUMENT
// otherwise.
absl::StatusOr<v1::ContactType> ContactTypeFromName(std::string_view name);
// INVALID_ARGUMENT "<field>: must be 64 lower-case hex characters" unless it is.
absl::Status CheckHash(std::string_view field, std::string_view hash);
// Equal sizes and equal bytes, in time independent of where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace assent::links
