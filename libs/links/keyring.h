// The link keyring: the keys that sign and verify customer links (links/token.h), by key id, read
// from a secret file. It is separate from the contact-hash secret, which keys the store and can
// never rotate; link keys rotate freely: add a key at the end (new links are signed with it), keep
// the old one until the last link it signed has expired, then remove it.
//
// File format (YAML; the file is a secret: mode 0600, never logged):
//
//   keys:
//     - id: "2026-12"                 # [A-Za-z0-9_-]{1,32}, unique
//       secret: "<base64 of >= 32 random bytes>"   # e.g. `openssl rand -base64 32`
//     - id: "acme-2027-01"
//       secret: "..."
//       tenant: "acme"                # optional: this key serves only tenant acme
//     - id: "2027-02"
//       secret: "..."
//       staged: true                  # optional: verifies and opens, signs and seals nothing yet
//
// A tenant's signing key is the last listed key that serves it (its own, or one without a
// tenant) and is not staged. A staged key is how a new key reaches every process that reads
// what it will sign before any process signs with it (several prefcenter or consentd instances,
// a cluster): list it staged everywhere, then drop `staged` everywhere. Keys are per tenant either
// way: the HMAC key for tenant T under key K is HMAC-SHA256(K.secret, "assent/link-key/v2/" + T),
// so a link made for one tenant never verifies for another, and a key restricted to one tenant
// never verifies another tenant's links.
//
// Thread safety: immutable after Load/Parse; share it freely.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace assent::links {

inline constexpr size_t kMinKeySecretBytes = 32;
inline constexpr size_t kMaxKeyIdLength = 32;

class KeyRing {
 public:
  struct Key {
    std::string id;
    std::string secret;   // raw bytes
    std::string tenant;   // empty: every tenant
    bool staged = false;  // verifies and opens only
  };

  KeyRing() = default;
  explicit KeyRing(std::vector<Key> keys) : keys_(std::move(keys)) {}

  // Parses the YAML text. INVALID_ARGUMENT naming the field ("keys[1].secret: ...") for a missing
  // or malformed id, a secret that is not base64 of at least 32 bytes, a bad tenant id, a
  // `staged` that is not true or false, a duplicate id, or no key that is not staged. The message
  // never contains a secret.
  static absl::StatusOr<KeyRing> Parse(std::string_view yaml);
  // Reads and parses the file; NOT_FOUND / UNAVAILABLE naming the path when it cannot be read.
  static absl::StatusOr<KeyRing> Load(const std::string& path);

  // The id and per-tenant HMAC key that sign `tenant`'s new links; FAILED_PRECONDITION when no
  // key serves the tenant.
  struct TenantKey {
    std::string id;
    std::string hmac_key;
  };
  absl::StatusOr<TenantKey> SigningKey(std::string_view tenant) const;
  // The per-tenant HMAC key of key `id`, or nullopt when there is no such key or it does not
  // serve `tenant`.
  std::optional<std::string> VerifyingKey(std::string_view id, std::string_view tenant) const;
  // The per-tenant HMAC keys of every key that serves `tenant`, staged ones included, newest
  // first (for values that carry no key id: any of them may have made it).
  std::vector<std::string> VerifyingKeys(std::string_view tenant) const;

  size_t size() const { return keys_.size(); }
  // The newest key that is not staged: what seals and wraps new values (links/sealed.h, evidence
  // data keys). Parse guarantees there is one; a keyring built from a list must hold one too.
  const Key& Current() const;
  // Every key, in file order (the last is the newest).
  const std::vector<Key>& keys() const { return keys_; }

 private:
  // Key `key` serves `tenant`: it is for every tenant or for that one.
  static bool Serves(const Key& key, std::string_view tenant) {
    return key.tenant.empty() || key.tenant == tenant;
  }

  std::vector<Key> keys_;
};

// The per-tenant HMAC key derived from a keyring key's secret.
std::string DeriveLinkKey(std::string_view secret, std::string_view tenant);

}  // namespace assent::links
