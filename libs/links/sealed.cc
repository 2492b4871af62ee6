#include "links/sealed.h"

#include <openssl/evp.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"

namespace assent::links {
namespace {

constexpr std::string_view kSealLabel = "assent/seal/v1";

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

std::string SealKey(const KeyRing::Key& key) { return HmacSha256(key.secret, kSealLabel); }

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

absl::StatusOr<v1::SealedValue> Seal(const KeyRing& keyring, std::string_view plaintext,
                                     std::string_view aad) {
  if (keyring.keys().empty()) return FailedPrecondition("seal: the keyring holds no key");
  const KeyRing::Key& key = keyring.keys().back();
  const std::string aes_key = SealKey(key);
  v1::SealedValue out;
  out.set_key_id(key.id);
  out.set_nonce(RandomBytes(kSealNonceBytes));
  Ctx ctx(EVP_CIPHER_CTX_new());
  std::string cipher(plaintext.size() + kSealTagBytes, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(cipher.data());
  int len = 0;
  int total = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kSealNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(aes_key), Bytes(out.nonce())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), buf, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("seal: AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), buf + total, &len) != 1) {
    return absl::InternalError("seal: AES-256-GCM encryption failed");
  }
  total += len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kSealTagBytes, buf + total) != 1) {
    return absl::InternalError("seal: AES-256-GCM tag failed");
  }
  cipher.resize(total + kSealTagBytes);
  out.set_ciphertext(std::move(cipher));
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
  const std::string aes_key = SealKey(*key);
  const size_t body = sealed.ciphertext().size() - kSealTagBytes;
  std::string plain(body, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(plain.data());
  std::string tag = sealed.ciphertext().substr(body);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kSealNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(aes_key), Bytes(sealed.nonce())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), buf, &len, Bytes(sealed.ciphertext()), static_cast<int>(body)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kSealTagBytes, tag.data()) != 1) {
    return absl::InternalError("open: AES-256-GCM decryption failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), buf + len, &final_len) != 1) {
    return absl::PermissionDeniedError(
        "sealed: does not verify (tampered, another key or another context)");
  }
  plain.resize(len + final_len);
  return plain;
}

}  // namespace assent::links
