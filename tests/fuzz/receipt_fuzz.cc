// What `assentctl receipt verify` reads from outside: a receipt file (receipts/verify.h) and a
// JWKS (crypto/signing_keys.h). The first byte picks which; the rest is the text.
// Properties: a bad receipt file is INVALID_ARGUMENT naming "receipt"; verification fails only
// with INVALID_ARGUMENT naming a field or PERMISSION_DENIED; a receipt that verifies stops
// verifying when one byte of its claims changes; a bad JWKS is INVALID_ARGUMENT naming "jwks" or
// "keys", and a JWKS that parses finds exactly the kids it holds.
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crypto/jws.h"
#include "crypto/signing_keys.h"
#include "fuzz/fuzz_support.h"
#include "receipts/verify.h"

namespace {

// The public key of the seed corpus's receipts (Ed25519 seed 32 x 0x2a), kid "fuzz".
const assent::crypto::Jwks& SeedJwks() {
  static const assent::crypto::Jwks* jwks = [] {
    auto key = assent::crypto::Ed25519Key::FromPrivateSeed(std::string(32, '\x2a'));
    auto parsed = assent::crypto::Jwks::Parse(
        std::string(R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"fuzz","x":")") +
        assent::crypto::Base64UrlEncode(key->PublicBytes()) + "\"}]}");
    return new assent::crypto::Jwks(*std::move(parsed));
  }();
  return *jwks;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  fuzz::Input input(data, size);
  const uint8_t mode = input.Byte();
  const std::string_view text = input.Rest();
  if (mode % 2 == 1) {
    absl::StatusOr<crypto::Jwks> jwks = crypto::Jwks::Parse(text);
    if (!jwks.ok()) {
      fuzz::RequireInvalidField(jwks.status(), "");
      fuzz::Require(StdSv(jwks.status().message()).starts_with("jwks") ||
                        StdSv(jwks.status().message()).starts_with("keys"),
                    "a JWKS error names jwks or keys[i]", jwks.status().ToString());
    }
    return 0;
  }
  absl::StatusOr<v1::Receipt> receipt = receipts::ReceiptFromJson(text);
  if (!receipt.ok()) {
    fuzz::RequireInvalidField(receipt.status(), "receipt");
    return 0;
  }
  absl::StatusOr<receipts::VerifiedReceipt> verified =
      receipts::VerifyReceipt(*receipt, SeedJwks());
  if (!verified.ok()) {
    if (verified.status().code() != absl::StatusCode::kPermissionDenied) {
      fuzz::RequireInvalidField(verified.status(), "");
    }
    return 0;
  }
  fuzz::Require(verified->kid == "fuzz", "a verified receipt names the key that verified it");
  v1::Receipt changed = *receipt;
  std::string claims = changed.claims();
  claims.push_back(' ');
  changed.set_claims(claims);
  fuzz::Require(!receipts::VerifyReceipt(changed, SeedJwks()).ok(), "changed claims never verify");
  return 0;
}
