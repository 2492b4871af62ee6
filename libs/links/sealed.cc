#include "links/sealed.h"

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/aead.h"

namespace assent::links {
namespace {

constexpr std::string_view kSealLabel = "assent/seal/v1";

std::string SealKey(const KeyRing::Key& key) { return HmacSha256(key.secret, kSealLabel); }

}  // namespace

absl::StatusOr<v1::SealedValue> Seal(const KeyRing& keyring, std::string_view plaintext,
                                     std::string_view aad) {
  if (keyring.keys().empty()) return FailedPrecondition("seal: the keyring holds no key");
  const KeyRing::Key& key = keyring.Current();
  v1::SealedValue out;
  out.set_key_id(key.id);
  out.set_nonce(RandomBytes(kSealNonceBytes));
  ASSIGN_OR_RETURN(*out.mutable_ciphertext(),
                   crypto::AeadEncrypt(SealKey(key), out.nonce(), plaintext, aad));
  return out;
}

absl::StatusOr<std::string> Open(const KeyRing& keyring, const v1::SealedValue& sealed,
                                 std::string_view aad) {
  const KeyRing::Key* key = nullptr;
  for (const KeyRing::Key& k : keyring.keys()) {
    if (k.id == sealed.key_id()) key = &k;
  }
  if (key == nullptr) {
    return absl::NotFoundError("sealed.key_id: the keyring holds no key with this id");
  }
  if (sealed.nonce().size() != kSealNonceBytes) {
    return InvalidField("sealed.nonce", absl::StrCat("must be ", kSealNonceBytes, " bytes"));
  }
  if (sealed.ciphertext().size() < kSealTagBytes) {
    return InvalidField("sealed.ciphertext", "is shorter than the authentication tag");
  }
  absl::StatusOr<std::string> plain =
      crypto::AeadDecrypt(SealKey(*key), sealed.nonce(), sealed.ciphertext(), aad);
  if (absl::IsPermissionDenied(plain.status())) {
    return absl::PermissionDeniedError(
        "sealed: does not verify (tampered, another key or another context)");
  }
  return plain;
}

}  // namespace assent::links
