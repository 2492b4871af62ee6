#include "mail/sealed.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "yaml-cpp/yaml.h"

namespace assent::mail {
namespace {

constexpr size_t kMaxKeyIdLength = 32;

bool IsKeyIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

absl::StatusOr<std::string> Scalar(const YAML::Node& node, const std::string& field) {
  if (!node) return InvalidField(field, "is required");
  if (!node.IsScalar()) return InvalidField(field, "must be a string");
  return node.as<std::string>();
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

}  // namespace

absl::StatusOr<ConfirmationKeyRing> ConfirmationKeyRing::Parse(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // The parser's message may quote the offending line, which could hold a secret.
    return InvalidField("keyring", absl::StrCat("is not valid YAML (line ", e.mark.line + 1, ")"));
  }
  if (!root.IsMap() || !root["keys"] || !root["keys"].IsSequence()) {
    return InvalidField("keys", "must be a list of {id, secret}");
  }
  std::map<std::string, std::string, std::less<>> keys;
  size_t i = 0;
  for (const YAML::Node& node : root["keys"]) {
    const std::string field = absl::StrCat("keys[", i++, "]");
    if (!node.IsMap()) return InvalidField(field, "must be a map with id and secret");
    ASSIGN_OR_RETURN(std::string id, Scalar(node["id"], field + ".id"));
    if (id.empty() || id.size() > kMaxKeyIdLength) {
      return InvalidField(field + ".id",
                          absl::StrCat("must be 1..", kMaxKeyIdLength, " characters"));
    }
    for (char c : id) {
      if (!IsKeyIdChar(c)) return InvalidField(field + ".id", "may hold only A-Z a-z 0-9 _ -");
    }
    ASSIGN_OR_RETURN(std::string secret_b64, Scalar(node["secret"], field + ".secret"));
    std::string secret;
    if (!absl::Base64Unescape(Sv(secret_b64), &secret) &&
        !absl::WebSafeBase64Unescape(Sv(secret_b64), &secret)) {
      return InvalidField(field + ".secret", "is not base64");
    }
    if (secret.size() != kSealKeyBytes) {
      return InvalidField(field + ".secret",
                          absl::StrCat("must decode to exactly ", kSealKeyBytes, " bytes"));
    }
    if (!keys.emplace(id, std::move(secret)).second) {
      return InvalidField(field + ".id", absl::StrCat("duplicate key id \"", id, "\""));
    }
  }
  if (keys.empty()) return InvalidField("keys", "must hold at least one key");
  return ConfirmationKeyRing(std::move(keys));
}

absl::StatusOr<ConfirmationKeyRing> ConfirmationKeyRing::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("confirmation keyring ", path, ": cannot be read"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::UnavailableError(absl::StrCat("confirmation keyring ", path, ": read failed"));
  }
  return Parse(buffer.str());
}

const std::string* ConfirmationKeyRing::Find(std::string_view id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::string> OpenSealed(const ConfirmationKeyRing& keyring,
                                       const v1::SealedValue& sealed, std::string_view aad) {
  const std::string* key = keyring.Find(sealed.key_id());
  if (key == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("sealed.key_id: no key \"", sealed.key_id(), "\" in the keyring"));
  }
  if (sealed.nonce().size() != kSealNonceBytes) {
    return InvalidField("sealed.nonce", absl::StrCat("must be ", kSealNonceBytes, " bytes"));
  }
  if (sealed.ciphertext().size() < kSealTagBytes) {
    return InvalidField("sealed.ciphertext",
                        absl::StrCat("must hold at least the ", kSealTagBytes, "-byte tag"));
  }
  const size_t text_len = sealed.ciphertext().size() - kSealTagBytes;
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.ciphertext().data());
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return absl::InternalError("sealed: cannot allocate a cipher context");
  std::string out(text_len, '\0');
  int len = 0;
  int total = 0;
  // The tag is set before the final step, which verifies it.
  std::string tag = sealed.ciphertext().substr(text_len);
  const bool ok =
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kSealNonceBytes),
                          nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr,
                         reinterpret_cast<const unsigned char*>(key->data()),
                         reinterpret_cast<const unsigned char*>(sealed.nonce().data())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, in,
                        static_cast<int>(text_len)) == 1 &&
      (total = len, true) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kSealTagBytes),
                          tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &len) ==
          1;
  if (!ok) {
    return absl::PermissionDeniedError(
        "sealed: authentication failed (tampered, or another key or event id)");
  }
  out.resize(total + len);
  return out;
}

}  // namespace assent::mail
