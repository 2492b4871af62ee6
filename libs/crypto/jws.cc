#include "crypto/jws.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace assent::crypto {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

void Ed25519Key::Free::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

std::string Base64UrlEncode(std::string_view bytes) {
  // abseil's web-safe alphabet without padding is exactly RFC 4648 section 5 unpadded.
  return absl::WebSafeBase64Escape(Sv(bytes));
}

bool Base64UrlDecode(std::string_view text, std::string* out) {
  for (char c : text) {
    if (!IsBase64UrlChar(c)) return false;
  }
  if (!absl::WebSafeBase64Unescape(Sv(text), out)) return false;
  return Base64UrlEncode(*out) == text;
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromPrivatePem(std::string_view field,
                                                      std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::InternalError("crypto: BIO_new_mem_buf failed");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return InvalidField(field, "is not a PEM private key");
  if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return InvalidField(field, "is not an Ed25519 key (openssl genpkey -algorithm ed25519)");
  }
  return Ed25519Key(key, true);
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromPrivateSeed(std::string_view seed) {
  if (seed.size() != kEd25519KeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 private key has ", kEd25519KeyBytes, " bytes"));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (key == nullptr) return absl::InvalidArgumentError("not an Ed25519 private key");
  return Ed25519Key(key, true);
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromPublicBytes(std::string_view public_key) {
  if (public_key.size() != kEd25519KeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 public key has ", kEd25519KeyBytes, " bytes"));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size());
  if (key == nullptr) return absl::InvalidArgumentError("not an Ed25519 public key");
  return Ed25519Key(key, false);
}

std::string Ed25519Key::PublicBytes() const {
  std::string out(kEd25519KeyBytes, '\0');
  size_t size = out.size();
  if (EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(out.data()),
                                  &size) != 1 ||
      size != kEd25519KeyBytes) {
    return std::string();
  }
  return out;
}

absl::StatusOr<std::string> Ed25519Key::Sign(std::string_view message) const {
  if (!has_private_) return FailedPrecondition("crypto: a public key cannot sign");
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return absl::InternalError("crypto: EVP_MD_CTX_new failed");
  // Ed25519 is one-shot: no digest is named, and the whole message goes to EVP_DigestSign.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return absl::InternalError("crypto: EVP_DigestSignInit failed");
  }
  std::string signature(kEd25519SignatureBytes, '\0');
  size_t size = signature.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      size != kEd25519SignatureBytes) {
    return absl::InternalError("crypto: EVP_DigestSign failed");
  }
  return signature;
}

bool Ed25519Key::Verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != kEd25519SignatureBytes) return false;
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

absl::StatusOr<std::string> SignCompactJws(const Ed25519Key& key, std::string_view protected_header,
                                           std::string_view payload) {
  std::string out = absl::StrCat(Base64UrlEncode(protected_header), ".", Base64UrlEncode(payload));
  absl::StatusOr<std::string> signature = key.Sign(out);
  if (!signature.ok()) return signature.status();
  absl::StrAppend(&out, ".", Base64UrlEncode(*signature));
  return out;
}

absl::StatusOr<ParsedJws> ParseCompactJws(std::string_view field, std::string_view jws) {
  const size_t first = jws.find('.');
  const size_t second = first == std::string_view::npos ? first : jws.find('.', first + 1);
  if (second == std::string_view::npos || jws.find('.', second + 1) != std::string_view::npos) {
    return InvalidField(field, "is not a compact JWS (three base64url parts)");
  }
  ParsedJws parsed;
  if (!Base64UrlDecode(jws.substr(0, first), &parsed.header_json)) {
    return InvalidField(field, "header is not base64url");
  }
  if (!Base64UrlDecode(jws.substr(first + 1, second - first - 1), &parsed.payload)) {
    return InvalidField(field, "payload is not base64url");
  }
  if (!Base64UrlDecode(jws.substr(second + 1), &parsed.signature)) {
    return InvalidField(field, "signature is not base64url");
  }
  parsed.signing_input = std::string(jws.substr(0, second));
  nlohmann::json header = nlohmann::json::parse(parsed.header_json, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return InvalidField(field, "header is not a JSON object");
  }
  auto text = [&](const char* name, std::string* out) -> bool {
    auto it = header.find(name);
    if (it == header.end()) return true;
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  if (!text("alg", &parsed.alg) || parsed.alg.empty()) {
    return InvalidField(field, "header has no string \"alg\"");
  }
  if (!text("kid", &parsed.kid)) return InvalidField(field, "header \"kid\" is not a string");
  if (!text("typ", &parsed.typ)) return InvalidField(field, "header \"typ\" is not a string");
  return parsed;
}

absl::Status VerifyParsedJws(const ParsedJws& jws, const Ed25519Key& key) {
  if (jws.alg != "EdDSA") {
    return absl::PermissionDeniedError(absl::StrCat("jws: alg \"", jws.alg, "\" is not EdDSA"));
  }
  if (!key.Verify(jws.signing_input, jws.signature)) {
    return absl::PermissionDeniedError("jws: the signature does not verify");
  }
  return absl::OkStatus();
}

}  // namespace assent::crypto
