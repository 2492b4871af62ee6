// Version 1 one-click unsubscribe tokens (RFC 8058), the format email senders minted before link
// keyrings (links/token.h, version 2). New links are never v1; the preference center keeps
// verifying v1 tokens with their derived key until the last of them expires (the email sender's
// default lifetime was 60 days), given the deployment's contact-key secret, from which their key
// is derived.
//
// Token format, version 1 (all of it URL-safe: [A-Za-z0-9_.-]):
//
//   token   = "v1." payload-b64 "." mac-b64
//   payload-b64 = base64url without padding (RFC 4648 section 5) of the payload bytes
//   mac-b64     = base64url without padding of HMAC-SHA256(key, "v1." payload-b64), 43 characters
//
// The MAC covers the encoded text exactly as it appears in the token, so any change to any
// character of the payload or the MAC fails verification. Both base64url parts must be canonical
// (no padding, no other characters, unused trailing bits zero).
//
// The payload is UTF-8 text (in practice ASCII), fields separated by a single '\n' (0x0A), no
// trailing newline. Subject target (6 fields):
//
//   <tenant> \n s \n <subject_id> \n <purpose_id> \n <channel> \n <expire_unix_seconds>
//
// Contact target (7 fields):
//
//   <tenant> \n c \n <contact type> \n <hash> \n <purpose_id> \n <channel> \n <expire_unix_seconds>
//
//   tenant, subject_id, purpose_id: as in types.proto (tenant [a-z0-9][a-z0-9-]{0,62}, subject id
//       1..128 printable ASCII without '/', purpose id [a-z0-9][a-z0-9._-]{0,127}); none can hold
//       '\n', which is what makes the encoding unambiguous.
//   contact type: "email", "phone", "device" or "postal" (contact::ContactTypeName).
//   hash: the 64 lower-case hex characters of TargetRef.contact.hash (the tenant's keyed hash of
//       the normalised address). The plain address never appears in a token.
//   channel: the decimal number of the v1::Channel; 0 (CHANNEL_UNSPECIFIED) means every channel.
//   expire_unix_seconds: decimal seconds since 1970-01-01T00:00:00Z, no sign, no leading zeros.
//       The token is valid while now < expire time.
//
// The key is per tenant: DeriveUnsubscribeKey(master secret, tenant). The tenant is readable
// without the key, so a verifier does:
//
//   ASSIGN_OR_RETURN(UnsubscribeClaims unverified, ParseUnsubscribeToken(token));
//   std::string key = DeriveUnsubscribeKey(master_secret, unverified.tenant);
//   ASSIGN_OR_RETURN(UnsubscribeClaims claims, VerifyUnsubscribeToken(key, token, clock.Now()));
//
// A token signed for another tenant fails the second step: its MAC was made with that tenant's key.
//
// Length: a subject token with a 20-character subject id, a 4-character tenant and a 10-character
// purpose is about 125 characters; a contact token with the same tenant and purpose about 175. The
// longest possible (maximal ids) is under 500 characters.
//
// Everything here is pure and thread-safe. SignUnsubscribeToken stays for tests and for
// verifying old links; nothing in Assent mints v1 tokens any more.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/types.pb.h"

namespace assent::links {

// What a token says: unsubscribe `target` of `tenant` from `purpose_id` on `channel`.
struct UnsubscribeClaims {
  std::string tenant;
  // Either subject_id or contact {type, hash}.
  v1::TargetRef target;
  std::string purpose_id;
  // CHANNEL_UNSPECIFIED: every channel of the purpose.
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  // Whole seconds (signing rounds down); the token is accepted while now < expire_time.
  absl::Time expire_time;
};

// The per-tenant token key: HMAC-SHA256(master_secret, "assent/unsubscribe-key/v1/" + tenant),
// 32 raw bytes. A different label from contact::DeriveTenantKey, so the contact-hash key (which
// senders hold) cannot sign tokens.
std::string DeriveUnsubscribeKey(std::string_view master_secret, std::string_view tenant);

// The token for `claims`, signed with `key` (normally DeriveUnsubscribeKey(secret, claims.tenant)).
// Errors: INVALID_ARGUMENT "claims.<field>: <why>" when a field breaks the limits above (so control
// characters in any id are refused), the target is not set, the contact type is unspecified, the
// hash is not 64 lower-case hex characters, or expire_time is before 1970 or not finite;
// INVALID_ARGUMENT "key: must not be empty".
absl::StatusOr<std::string> SignUnsubscribeToken(std::string_view key,
                                                 const UnsubscribeClaims& claims);

// Reads the claims WITHOUT checking the MAC or the expiry: only to find the tenant (and so the key)
// before VerifyUnsubscribeToken. Never act on its result otherwise.
// Errors: INVALID_ARGUMENT "token: unknown version ..." for a prefix other than "v1.";
// INVALID_ARGUMENT "token: <why>" for anything else malformed (empty, missing parts, bad base64,
// wrong field count, a field outside its limits).
absl::StatusOr<UnsubscribeClaims> ParseUnsubscribeToken(std::string_view token);

// Checks the token's MAC with `key` (constant-time compare), then its expiry against `now`, and
// returns its claims.
// Errors: those of ParseUnsubscribeToken; PERMISSION_DENIED "token: signature does not match"
// (tampered, or signed with another key or for another tenant); FAILED_PRECONDITION
// "token: expired at <RFC 3339 time>" when now >= expire_time. The MAC is checked before the
// expiry, so an expiry error is only reported for a genuine token.
absl::StatusOr<UnsubscribeClaims> VerifyUnsubscribeToken(std::string_view key,
                                                         std::string_view token, absl::Time now);

}  // namespace assent::links
