// HMAC-SHA256 through OpenSSL (webhook signatures).
//
// Thread-safe and pure.
#pragma once

#include <string>
#include <string_view>

namespace assent::crypto {

inline constexpr size_t kHmacSha256Bytes = 32;

// The raw 32-byte HMAC-SHA256 of `message` under `key` (any length).
std::string HmacSha256(std::string_view key, std::string_view message);

// Compares two byte strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace assent::crypto
