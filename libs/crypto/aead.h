// Authenticated encryption: AES-256-GCM through OpenSSL's EVP interface, with a 12-byte random
// nonce and the 16-byte tag. The additional authenticated data binds a ciphertext to its context
// (a notice's event id, a subject's key id), so a ciphertext copied elsewhere does not open.
//
// Thread-safe; pure apart from the random nonce.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace assent::crypto {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;

// Encrypts `plaintext` under `key` (kAeadKeyBytes) with `nonce` (kAeadNonceBytes; never reuse one
// with the same key) bound to `aad`: the ciphertext followed by the tag.
// Errors: INVALID_ARGUMENT for a key or nonce of the wrong size; INTERNAL when OpenSSL fails.
absl::StatusOr<std::string> AeadEncrypt(std::string_view key, std::string_view nonce,
                                        std::string_view plaintext, std::string_view aad);

// Decrypts what AeadEncrypt returned. Errors: INVALID_ARGUMENT for a key or nonce of the wrong
// size or a ciphertext shorter than the tag; PERMISSION_DENIED when the tag does not verify
// (tampered, another key or another aad). Never returns partial plaintext.
absl::StatusOr<std::string> AeadDecrypt(std::string_view key, std::string_view nonce,
                                        std::string_view ciphertext, std::string_view aad);

// AeadEncrypt with a fresh random nonce, returned in front: nonce || ciphertext || tag.
absl::StatusOr<std::string> AeadSeal(std::string_view key, std::string_view plaintext,
                                     std::string_view aad);
// Opens what AeadSeal returned.
absl::StatusOr<std::string> AeadOpen(std::string_view key, std::string_view sealed,
                                     std::string_view aad);

}  // namespace assent::crypto
