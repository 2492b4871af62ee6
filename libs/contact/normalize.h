// Contact points: validation, normalisation and the keyed hash that stands for them everywhere.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "assent/v1/types.pb.h"

namespace assent::contact {

// Normalises a contact point's value:
//   email:  trimmed; local part kept as given (case is significant to RFC 5321); domain
//           lower-cased and converted to IDNA A-labels (libidn2, IDNA 2008 with UTS#46
//           transitional-free mapping); the whole address <= 254 octets, local part <= 64,
//           a domain with at least two labels, each 1..63 of [a-z0-9-] not starting or ending
//           with '-'; local part of RFC 5322 dot-atom characters (no quoted strings).
//   phone:  parsed with libphonenumber (default_region, an ISO 3166-1 alpha-2 code, for national
//           numbers), must be a valid number, formatted E.164 ("+4915112345678").
//   device: trimmed; 1..512 printable ASCII characters, kept as given.
//   postal: whitespace runs collapsed to one space, trimmed, upper-cased (ASCII); 1..512 bytes.
// Errors: INVALID_ARGUMENT "<field>.value: <why>" (or "<field>.type", "<field>.default_region").
// Thread-safe.
absl::StatusOr<std::string> Normalize(std::string_view field, const v1::ContactPoint& point);

// The keyed hash of a normalised value: lower-case hex HMAC-SHA256(tenant_key, "<type>:" + value),
// where <type> is "email", "phone", "device" or "postal".
std::string KeyedHash(std::string_view tenant_key, v1::ContactType type,
                      std::string_view normalized_value);

// The per-tenant HMAC key derived from the deployment's master secret:
// HMAC-SHA256(master_secret, "assent/contact-key/v1/" + tenant). Senders that are given this key
// compute the same hashes.
std::string DeriveTenantKey(std::string_view master_secret, std::string_view tenant);

// "email", "phone", "device", "postal" (or "unspecified").
std::string_view ContactTypeName(v1::ContactType type);

// Convenience: Normalize then KeyedHash into a ContactRef.
absl::StatusOr<v1::ContactRef> ToRef(std::string_view field, std::string_view tenant_key,
                                     const v1::ContactPoint& point);

// INVALID_ARGUMENT "<field>.type" / "<field>.hash" unless `ref` names a contact type and a keyed
// hash of 64 lower-case hex characters (what KeyedHash returns): for callers that address a
// contact point by its hash alone.
absl::Status ValidateRef(std::string_view field, const v1::ContactRef& ref);

}  // namespace assent::contact
