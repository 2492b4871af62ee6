// Sealed values (assent.v1.SealedValue): a secret sealed by consentd for one reader that holds
// the same keyring (the confirmation keyring, shared with the email sender). AES-256-GCM with a
// 12-byte random nonce and the 16-byte tag after the ciphertext; the additional authenticated
// data binds the value to its context (the notice's event id), so a sealed value copied into
// another notice does not open.
//
// Keyring: the links/keyring.h file format (id + base64 secret of >= 32 bytes per key). The
// AES key of a keyring key is HMAC-SHA256(secret, "assent/seal/v1"), so the same file can never
// yield a link-signing key and a sealing key that are equal. Seal uses the newest key (the last
// listed); Open finds the key by id, so old keys keep opening values sealed before a rotation.
//
// Thread-safe; pure apart from the random nonce.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "assent/v1/lifecycle.pb.h"
#include "links/keyring.h"

namespace assent::links {

inline constexpr size_t kSealNonceBytes = 12;
inline constexpr size_t kSealTagBytes = 16;

// Seals `plaintext` under the newest key of `keyring`, bound to `aad`.
// Errors: FAILED_PRECONDITION when the keyring is empty; INTERNAL when OpenSSL fails.
absl::StatusOr<v1::SealedValue> Seal(const KeyRing& keyring, std::string_view plaintext,
                                     std::string_view aad);

// Opens a sealed value. Errors: NOT_FOUND "sealed.key_id: ..." when the keyring has no such key;
// INVALID_ARGUMENT for a nonce or ciphertext of the wrong size; PERMISSION_DENIED when the
// tag does not verify (tampered, wrong key or wrong aad). Never returns partial plaintext.
absl::StatusOr<std::string> Open(const KeyRing& keyring, const v1::SealedValue& sealed,
                                 std::string_view aad);

}  // namespace assent::links
