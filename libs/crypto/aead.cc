#include "crypto/aead.h"

#include <openssl/evp.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/digest.h"

namespace assent::crypto {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::Status CheckSizes(std::string_view key, std::string_view nonce) {
  if (key.size() != kAeadKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("aead key: must be ", kAeadKeyBytes, " bytes"));
  }
  if (nonce.size() != kAeadNonceBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("aead nonce: must be ", kAeadNonceBytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> AeadEncrypt(std::string_view key, std::string_view nonce,
                                        std::string_view plaintext, std::string_view aad) {
  if (absl::Status s = CheckSizes(key, nonce); !s.ok()) return s;
  Ctx ctx(EVP_CIPHER_CTX_new());
  std::string cipher(plaintext.size() + kAeadTagBytes, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(cipher.data());
  int len = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAeadNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), buf, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  int total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), buf + total, &len) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  total += len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagBytes, buf + total) != 1) {
    return absl::InternalError("AES-256-GCM tag failed");
  }
  cipher.resize(total + kAeadTagBytes);
  return cipher;
}

absl::StatusOr<std::string> AeadDecrypt(std::string_view key, std::string_view nonce,
                                        std::string_view ciphertext, std::string_view aad) {
  if (absl::Status s = CheckSizes(key, nonce); !s.ok()) return s;
  if (ciphertext.size() < kAeadTagBytes) {
    return absl::InvalidArgumentError("ciphertext: is shorter than the authentication tag");
  }
  const size_t body = ciphertext.size() - kAeadTagBytes;
  std::string plain(body, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(plain.data());
  std::string tag(ciphertext.substr(body));
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAeadNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), buf, &len, Bytes(ciphertext), static_cast<int>(body)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagBytes, tag.data()) != 1) {
    return absl::InternalError("AES-256-GCM decryption failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), buf + len, &final_len) != 1) {
    return absl::PermissionDeniedError(
        "ciphertext: does not verify (tampered, another key or another context)");
  }
  plain.resize(len + final_len);
  return plain;
}

absl::StatusOr<std::string> AeadSeal(std::string_view key, std::string_view plaintext,
                                     std::string_view aad) {
  std::string out = RandomBytes(kAeadNonceBytes);
  absl::StatusOr<std::string> cipher = AeadEncrypt(key, out, plaintext, aad);
  if (!cipher.ok()) return cipher.status();
  out.append(*cipher);
  return out;
}

absl::StatusOr<std::string> AeadOpen(std::string_view key, std::string_view sealed,
                                     std::string_view aad) {
  if (sealed.size() < kAeadNonceBytes) {
    return absl::InvalidArgumentError("ciphertext: is shorter than the nonce");
  }
  return AeadDecrypt(key, sealed.substr(0, kAeadNonceBytes), sealed.substr(kAeadNonceBytes), aad);
}

}  // namespace assent::crypto
