// SHA-256 and HMAC-SHA256 (OpenSSL), the one place Assent calls them for ids, keyed hashes and
// tokens. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace assent {

// The 32-byte SHA-256 digest of `data`.
std::string Sha256(std::string_view data);
// Lower-case hex of Sha256(data), 64 characters.
std::string Sha256Hex(std::string_view data);
// The 32-byte HMAC-SHA256 of `data` under `key` (an empty key is allowed).
std::string HmacSha256(std::string_view key, std::string_view data);
// `n` bytes from OpenSSL's CSPRNG (nonces, form tokens, secrets). Aborts if it fails, which
// OpenSSL documents only for an unseeded generator.
std::string RandomBytes(size_t n);

}  // namespace assent
