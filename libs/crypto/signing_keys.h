// The receipt keyring: the Ed25519 keys that sign consent receipts, by key id, read from a secret
// file, and the JWKS (RFC 7517, OKP keys of RFC 8037) that publishes their public halves.
//
// File format (YAML; a secret: mode 0600, never logged; so is every key file it names):
//
//   keys:
//     - id: "2026-12"                       # [A-Za-z0-9_-]{1,32}, unique
//       private_key_file: "receipt-2026-12.pem"   # PEM (PKCS #8), relative to the keyring's
//                                                 # directory; `openssl genpkey -algorithm ed25519`
//     - id: "2027-01"
//       private_key_pem: |                  # or the PEM inline
//         -----BEGIN PRIVATE KEY-----
//         ...
//       current: true                       # optional: this key signs (default: the last one)
//
// The current key signs new receipts; every key listed is published in the JWKS so that receipts
// signed by an older key still verify. Rotation: add a key at the end (or mark it current) and
// reload or restart; remove an old key only when its receipts need no longer verify.
//
// Thread safety: immutable after Load/Parse; share it freely.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/jws.h"

namespace assent::crypto {

inline constexpr size_t kMaxSigningKeyIdLength = 32;

class SigningKeyRing {
 public:
  struct Key {
    std::string id;
    Ed25519Key key;
  };

  // Parses the YAML text; `base_dir` resolves relative private_key_file paths. INVALID_ARGUMENT
  // naming the field ("keys[1].private_key_file: ...") for a missing or malformed id, a duplicate
  // id, neither or both of private_key_file and private_key_pem, a key that is not an Ed25519
  // private key, a key file readable by others, more than one key marked current, or no keys.
  // Messages never hold key material.
  static absl::StatusOr<SigningKeyRing> Parse(std::string_view yaml, const std::string& base_dir);
  // Reads the file (refused when others may read it: CheckSecretFileMode) and parses it;
  // NOT_FOUND naming the path when it does not exist.
  static absl::StatusOr<SigningKeyRing> Load(const std::string& path);

  // The key that signs.
  const Key& current() const { return keys_[current_]; }
  // Every key, in file order.
  const std::vector<Key>& keys() const { return keys_; }
  // The JWKS of every key: {"keys":[{"kty":"OKP","crv":"Ed25519","kid":...,"x":...,
  // "use":"sig","alg":"EdDSA"}, ...]}, in file order.
  std::string JwksJson() const;

 private:
  SigningKeyRing(std::vector<Key> keys, size_t current)
      : keys_(std::move(keys)), current_(current) {}
  std::vector<Key> keys_;
  size_t current_ = 0;
};

// Public keys by key id, parsed from a JWKS; what a verifier holds.
class Jwks {
 public:
  // INVALID_ARGUMENT naming the field ("keys[0].x: ...") for anything but a JSON object whose
  // "keys" are Ed25519 OKP keys with a kid and a 32-byte x. Keys of other types are skipped.
  static absl::StatusOr<Jwks> Parse(std::string_view json);
  // The key with id `kid`, or null.
  const Ed25519Key* Find(std::string_view kid) const;
  size_t size() const { return keys_.size(); }

 private:
  std::vector<std::pair<std::string, Ed25519Key>> keys_;
};

}  // namespace assent::crypto
