// Opening values sealed for the email sender (lifecycle.proto SealedValue): AES-256-GCM under the
// key `key_id` of the confirmation keyring, a 12-byte nonce, ciphertext = encrypted bytes followed
// by the 16-byte tag, additional data = the notice's event id.
//
// This is the reading side only, written against that format so that the sender does not wait for
// the shared seal/open library; when that lands, OpenSealed and ConfirmationKeyRing are replaced by
// it (same signature) and this file goes away.
//
// Confirmation keyring file (YAML, a secret: mode 0600, never logged):
//
//   keys:
//     - id: "2026-12"                        # [A-Za-z0-9_-]{1,32}, unique
//       secret: "<base64 of exactly 32 random bytes>"   # `openssl rand -base64 32`
//
// Thread safety: immutable after Parse/Load; OpenSealed is pure.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "assent/v1/lifecycle.pb.h"

namespace assent::mail {

inline constexpr size_t kSealKeyBytes = 32;
inline constexpr size_t kSealNonceBytes = 12;
inline constexpr size_t kSealTagBytes = 16;

class ConfirmationKeyRing {
 public:
  ConfirmationKeyRing() = default;
  explicit ConfirmationKeyRing(std::map<std::string, std::string, std::less<>> keys)
      : keys_(std::move(keys)) {}

  // INVALID_ARGUMENT naming the field ("keys[0].secret: ...") for malformed YAML, a missing or bad
  // id, a duplicate id, a secret that is not base64 of exactly 32 bytes, or no keys. The message
  // never holds a secret.
  static absl::StatusOr<ConfirmationKeyRing> Parse(std::string_view yaml);
  // Reads and parses the file; NOT_FOUND / UNAVAILABLE naming the path when it cannot be read.
  static absl::StatusOr<ConfirmationKeyRing> Load(const std::string& path);

  // The 32-byte key `id`, or nullptr.
  const std::string* Find(std::string_view id) const;
  size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> keys_;
};

// The plaintext of `sealed`. Errors: INVALID_ARGUMENT "sealed.<field>: ..." for a wrong nonce
// length or a ciphertext shorter than the tag; NOT_FOUND "sealed.key_id: ..." for a key the
// keyring does not hold; PERMISSION_DENIED "sealed: ..." when authentication fails (tampered, a
// different key or additional data).
absl::StatusOr<std::string> OpenSealed(const ConfirmationKeyRing& keyring,
                                       const v1::SealedValue& sealed, std::string_view aad);

}  // namespace assent::mail
