// Signed customer links: preference-center links and RFC 8058 one-click unsubscribe links. A link
// is a bearer secret: whoever holds it may see and change the choices it names until it expires,
// so it is never logged, and it names a contact point only by the tenant's keyed hash.
//
// Token format, version 2 (URL-safe: [A-Za-z0-9_.-]):
//
//   token        = "v2." key-id "." payload-b64 "." mac-b64
//   key-id       = [A-Za-z0-9_-]{1,32}, the keyring key that signed it (links/keyring.h)
//   payload-b64  = base64url without padding of the payload bytes
//   mac-b64      = base64url without padding of HMAC-SHA256(tenant key, "v2." key-id "."
//                  payload-b64), 43 characters; tenant key = DeriveLinkKey(key secret, tenant)
//
// The payload is six fields separated by '\n' (no field can hold one):
//
//   <tenant> \n <kind> \n <target> \n <purpose_id> \n <channel> \n <expire_unix_seconds>
//
//   kind:    "p" preference center, "u" one-click unsubscribe, "c" double opt-in confirmation,
//            "x" download of the subject's data (export)
//   target:  "s:" subject_id, or "c:" contact-type ":" hash (contact::ContactTypeName, and the 64
//            lower-case hex characters of the tenant's keyed hash)
//   purpose_id: empty for "p"; required for "u"; for "c" the confirm sequence (canonical
//            decimal >= 1: the target's sequence whose PENDING decisions the link confirms); for
//            "x" (target "s:" only) the address the link was mailed to: contact-type ":" hash
//   channel: decimal v1::Channel; 0 for "p" and "c"; for "u" 0 means every channel of the purpose
//   expire_unix_seconds: canonical decimal; valid while now < expiry
//
// Version 1 tokens (links/v1_token.h: one-click only, keyed from the contact-hash secret) still
// verify through VerifyLink while a legacy secret is given, until they expire.
//
// Everything here is pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/consent.pb.h"
#include "assent/v1/types.pb.h"
#include "links/keyring.h"

namespace assent::links {

// What a link says.
struct LinkClaims {
  std::string tenant;
  // PREFERENCE_CENTER, ONE_CLICK_UNSUBSCRIBE or CONFIRMATION.
  v1::LinkKind kind = v1::LINK_KIND_UNSPECIFIED;
  // subject_id, or contact {type, hash}.
  v1::TargetRef target;
  // ONE_CLICK_UNSUBSCRIBE only.
  std::string purpose_id;
  // ONE_CLICK_UNSUBSCRIBE only; CHANNEL_UNSPECIFIED: every channel of the purpose.
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  // CONFIRMATION only (>= 1): the target's sequence whose PENDING decisions it confirms.
  uint64_t confirm_sequence = 0;
  // EXPORT only: the keyed hash of the address the link was mailed to.
  v1::ContactRef address;
  // Whole seconds (minting rounds down); valid while now < expire_time.
  absl::Time expire_time;
  // Set by VerifyLink: the key that signed it ("v1" for a legacy token).
  std::string key_id;
};

// Signs `claims` with the tenant's signing key of `keyring`.
// Errors: INVALID_ARGUMENT "claims.<field>: <why>" for a field outside its limits (see above), a
// purpose or channel on a preference-center link, a one-click link without a purpose;
// FAILED_PRECONDITION when no key serves the tenant.
absl::StatusOr<std::string> MintLink(const KeyRing& keyring, const LinkClaims& claims);

// Verifies a token and returns its claims. `legacy_v1_secret`: the contact-key secret from which
// v1 tokens' keys derive; empty refuses v1 tokens.
// Errors, checked in this order (a token is judged only by what its signer vouched for):
//   INVALID_ARGUMENT "token: <why>"  malformed: empty, too long, unknown version, bad base64,
//                                    wrong field count, a field outside its limits;
//   PERMISSION_DENIED "token: ..."   unknown key id, key not serving the tenant, or the signature
//                                    does not match (tampered, or another tenant's key);
//   FAILED_PRECONDITION "token: expired at <RFC 3339>"  a genuine token past its expiry.
// The MAC is compared in constant time.
absl::StatusOr<LinkClaims> VerifyLink(const KeyRing& keyring, std::string_view legacy_v1_secret,
                                      std::string_view token, absl::Time now);

// The tenant a token names, read WITHOUT verifying anything (for choosing a page's language or
// rate-limit bucket before verification). Never act on it otherwise.
absl::StatusOr<std::string> UnverifiedTenant(std::string_view token);

// The URL for a token: every "{token}" in `base_url` replaced by it when there is one
// ("https://u.example.com/u/{token}"); otherwise "t=<token>" appended as a query parameter. Tokens
// are URL-safe, so no escaping.
std::string FillUrl(std::string_view base_url, std::string_view token);

// The customer-facing URL of a link on a preference center at `base_url` ("https://host[:port]
// [/prefix]"): base + "/p/" + token for PREFERENCE_CENTER, base + "/u/" + token for
// ONE_CLICK_UNSUBSCRIBE, base + "/c/" + token for CONFIRMATION, base + "/x/" + token for EXPORT.
std::string LinkUrl(std::string_view base_url, v1::LinkKind kind, std::string_view token);

}  // namespace assent::links
