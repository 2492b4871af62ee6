// Customer link tokens: VerifyLink (links/token.h) on v2 and v1 tokens, the v1 parser
// (links/v1_token.h) and the strict base64url of links/encoding.h. Input: a mode byte, then
//   't' <token>        a token as a customer's browser sends it;
//   '2' <key byte> <payload>  a v2 payload, signed here with keyring key #<key byte % 2>, so that
//                      everything after the signature check is reached too;
//   '1' <payload>      a v1 payload, signed here with the legacy secret's key;
//   anything else      base64url text.
// Properties: errors are INVALID_ARGUMENT, PERMISSION_DENIED or FAILED_PRECONDITION about
// "token: "; a correctly signed payload is never PERMISSION_DENIED unless its key does not serve
// its tenant; a token that verifies is the one MintLink (or SignUnsubscribeToken) makes from its
// claims, byte for byte (exactly one spelling verifies), and UnverifiedTenant names its tenant;
// base64url decoding is canonical (decode then encode gives the text back).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/digest.h"
#include "fuzz/fuzz_support.h"
#include "links/encoding.h"
#include "links/keyring.h"
#include "links/token.h"
#include "links/v1_token.h"

namespace assent::fuzz {
namespace {

constexpr std::string_view kLegacySecret = "0123456789abcdef0123456789abcdef";
const absl::Time kNow = absl::FromUnixSeconds(1796083200);  // 2026-12-01T00:00:00Z

const std::vector<links::KeyRing::Key>& Keys() {
  static const auto* keys = new std::vector<links::KeyRing::Key>{
      {"2026-12", std::string(32, 'k'), ""},
      {"acme-only", std::string(32, 'a'), "acme"},
  };
  return *keys;
}

const links::KeyRing& Ring() {
  static const auto* ring = new links::KeyRing(Keys());
  return *ring;
}

void RequireTokenError(const absl::Status& status) {
  const absl::StatusCode code = status.code();
  Require(code == absl::StatusCode::kInvalidArgument ||
              code == absl::StatusCode::kPermissionDenied ||
              code == absl::StatusCode::kFailedPrecondition,
          "a token error is INVALID_ARGUMENT, PERMISSION_DENIED or FAILED_PRECONDITION",
          status.ToString());
  Require(StdSv(status.message()).starts_with("token: "), "a token error is about \"token: \"",
          status.ToString());
}

// A verified token is the one its claims mint to with the key that signed it.
void RequireRemints(const links::LinkClaims& claims, std::string_view token) {
  absl::StatusOr<std::string> tenant = links::UnverifiedTenant(token);
  Require(tenant.ok() && *tenant == claims.tenant, "UnverifiedTenant names the verified tenant");
  if (claims.key_id == "v1") {
    links::UnsubscribeClaims v1{claims.tenant, claims.target, claims.purpose_id, claims.channel,
                                claims.expire_time};
    absl::StatusOr<std::string> again =
        links::SignUnsubscribeToken(links::DeriveUnsubscribeKey(kLegacySecret, claims.tenant), v1);
    Require(again.ok() && *again == token, "a verified v1 token re-signs to itself",
            again.ok() ? *again : again.status().ToString());
    return;
  }
  for (const links::KeyRing::Key& key : Keys()) {
    if (key.id != claims.key_id) continue;
    absl::StatusOr<std::string> again = links::MintLink(links::KeyRing({key}), claims);
    Require(again.ok() && *again == token, "a verified v2 token re-mints to itself",
            again.ok() ? *again : again.status().ToString());
    return;
  }
  Require(false, "a verified token names a key of the keyring", claims.key_id);
}

void VerifyToken(std::string_view token) {
  absl::StatusOr<links::LinkClaims> claims = links::VerifyLink(Ring(), kLegacySecret, token, kNow);
  absl::StatusOr<std::string> tenant = links::UnverifiedTenant(token);
  if (!tenant.ok()) RequireTokenError(tenant.status());
  if (token.starts_with("v1.")) {
    absl::StatusOr<links::UnsubscribeClaims> parsed = links::ParseUnsubscribeToken(token);
    if (!parsed.ok()) RequireTokenError(parsed.status());
  }
  if (!claims.ok()) {
    RequireTokenError(claims.status());
    return;
  }
  Require(claims->expire_time > kNow, "a verified token has not expired");
  RequireRemints(*claims, token);
}

std::string Tenant(std::string_view payload) {
  return std::string(payload.substr(0, payload.find('\n')));
}

}  // namespace
}  // namespace assent::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  fuzz::Input input(data, size);
  switch (input.Byte()) {
    case 't':
      fuzz::VerifyToken(input.Rest());
      break;
    case '2': {
      const links::KeyRing::Key& key = fuzz::Keys()[input.Byte() % 2];
      const std::string_view payload = input.Rest();
      const std::string signed_text = absl::StrCat("v2.", key.id, ".", links::Base64Url(payload));
      const std::string token =
          absl::StrCat(signed_text, ".",
                       links::Base64Url(HmacSha256(
                           links::DeriveLinkKey(key.secret, fuzz::Tenant(payload)), signed_text)));
      absl::StatusOr<links::LinkClaims> claims =
          links::VerifyLink(fuzz::Ring(), fuzz::kLegacySecret, token, fuzz::kNow);
      if (!claims.ok() && claims.status().code() == absl::StatusCode::kPermissionDenied) {
        fuzz::Require(!fuzz::Ring().VerifyingKey(key.id, fuzz::Tenant(payload)).has_value(),
                      "a correctly signed token is refused only by a key that does not serve it",
                      claims.status().ToString());
      }
      fuzz::VerifyToken(token);
      break;
    }
    case '1': {
      const std::string_view payload = input.Rest();
      const std::string signed_text = absl::StrCat("v1.", links::Base64Url(payload));
      const std::string token =
          absl::StrCat(signed_text, ".",
                       links::Base64Url(HmacSha256(
                           links::DeriveUnsubscribeKey(fuzz::kLegacySecret, fuzz::Tenant(payload)),
                           signed_text)));
      absl::StatusOr<links::LinkClaims> claims =
          links::VerifyLink(fuzz::Ring(), fuzz::kLegacySecret, token, fuzz::kNow);
      fuzz::Require(claims.ok() || claims.status().code() != absl::StatusCode::kPermissionDenied,
                    "a correctly signed v1 token is never PERMISSION_DENIED",
                    claims.status().ToString());
      fuzz::VerifyToken(token);
      break;
    }
    default: {
      const std::string_view text = input.Rest();
      std::string bytes;
      if (links::DecodeBase64Url(text, &bytes)) {
        fuzz::Require(links::Base64Url(bytes) == text, "base64url decoding is canonical");
      }
      std::string back;
      fuzz::Require(links::DecodeBase64Url(links::Base64Url(text), &back) && back == text,
                    "base64url encoding decodes back");
      if (links::IsCanonicalDecimal(text)) {
        fuzz::Require(text.size() <= 19 && (text == "0" || text[0] != '0'),
                      "canonical decimals have no leading zero");
      }
      break;
    }
  }
  return 0;
}
