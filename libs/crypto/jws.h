// Ed25519 signatures (RFC 8032) through OpenSSL's EVP interface and compact JWS (RFC 7515) with
// alg "EdDSA" (RFC 8037), for consent receipts. base64url is without padding throughout.
//
// Thread safety: an Ed25519Key is immutable after it is made; Sign and Verify may be called from
// any number of threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace assent::crypto {

inline constexpr size_t kEd25519KeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;

// base64url without padding (RFC 4648 section 5).
std::string Base64UrlEncode(std::string_view bytes);
// Strict base64url without padding: only the alphabet, and canonical (re-encoding gives the same
// text). False otherwise.
bool Base64UrlDecode(std::string_view text, std::string* out);

class Ed25519Key {
 public:
  // A private key from PEM ("BEGIN PRIVATE KEY", PKCS #8, as `openssl genpkey -algorithm ed25519`
  // writes). INVALID_ARGUMENT naming `field` when it is not an Ed25519 private key; the message
  // never holds the key.
  static absl::StatusOr<Ed25519Key> FromPrivatePem(std::string_view field, std::string_view pem);
  // A private key from its 32-byte seed (RFC 8032's private key); INVALID_ARGUMENT otherwise.
  static absl::StatusOr<Ed25519Key> FromPrivateSeed(std::string_view seed);
  // A public key from its 32 bytes; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<Ed25519Key> FromPublicBytes(std::string_view public_key);

  // The 32 bytes of the public key.
  std::string PublicBytes() const;
  bool has_private() const { return has_private_; }
  // The 64-byte signature of `message`. FAILED_PRECONDITION for a public key; INTERNAL when
  // OpenSSL fails.
  absl::StatusOr<std::string> Sign(std::string_view message) const;
  // True when `signature` is a valid signature of `message` under this key.
  bool Verify(std::string_view message, std::string_view signature) const;

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const;
  };
  Ed25519Key(EVP_PKEY* key, bool has_private) : key_(key, Free()), has_private_(has_private) {}
  std::shared_ptr<EVP_PKEY> key_;
  bool has_private_ = false;
};

// A compact JWS: BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature), where
// `protected_header` is the header's JSON text exactly as given (it must say "alg":"EdDSA").
absl::StatusOr<std::string> SignCompactJws(const Ed25519Key& key, std::string_view protected_header,
                                           std::string_view payload);

// A compact JWS taken apart, before its signature is checked.
struct ParsedJws {
  std::string header_json;    // the decoded protected header
  std::string alg;            // header "alg"
  std::string kid;            // header "kid" (empty when absent)
  std::string typ;            // header "typ" (empty when absent)
  std::string payload;        // the decoded payload
  std::string signing_input;  // the first two parts and the dot between them, as signed
  std::string signature;      // the decoded signature
};
// Splits and decodes. INVALID_ARGUMENT naming `field` for anything but three strict base64url
// parts whose header is a JSON object with a string "alg".
absl::StatusOr<ParsedJws> ParseCompactJws(std::string_view field, std::string_view jws);
// Checks a parsed JWS against `key`: PERMISSION_DENIED unless alg is EdDSA and the signature
// verifies.
absl::Status VerifyParsedJws(const ParsedJws& jws, const Ed25519Key& key);

}  // namespace assent::crypto
