// The link keyring file (links/keyring.h), a secret file an operator writes by hand.
// Properties: an error is INVALID_ARGUMENT naming "keyring" or "keys[...]"; a keyring that parses
// holds at least one key, and every key that serves a tenant gives a 32-byte signing key that also
// verifies.
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fuzz/fuzz_support.h"
#include "links/keyring.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<links::KeyRing> ring = links::KeyRing::Parse(yaml);
  if (!ring.ok()) {
    fuzz::RequireInvalidField(ring.status(), "");
    fuzz::Require(StdSv(ring.status().message()).starts_with("keyring") ||
                      StdSv(ring.status().message()).starts_with("keys"),
                  "a keyring error names keyring or keys[i]", ring.status().ToString());
    return 0;
  }
  fuzz::Require(ring->size() > 0, "a keyring that parses has a key");
  for (std::string_view tenant : {"acme", "other"}) {
    absl::StatusOr<links::KeyRing::TenantKey> key = ring->SigningKey(tenant);
    if (!key.ok()) {
      fuzz::Require(key.status().code() == absl::StatusCode::kFailedPrecondition,
                    "no signing key is FAILED_PRECONDITION", key.status().ToString());
      continue;
    }
    fuzz::Require(key->hmac_key.size() == 32, "a tenant key is 32 bytes");
    std::optional<std::string> verifying = ring->VerifyingKey(key->id, tenant);
    fuzz::Require(verifying.has_value() && *verifying == key->hmac_key,
                  "the signing key verifies what it signs");
  }
  return 0;
}
