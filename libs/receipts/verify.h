// Verifying a consent receipt offline, exactly: the leaf is recomputed from the claims, the proof
// walked to the root, the root compared with the one the batch JWS signs, and the JWS checked with
// the key its kid names in the JWKS. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "assent/v1/receipts.pb.h"
#include "crypto/signing_keys.h"

namespace assent::receipts {

struct VerifiedReceipt {
  std::string kid;
  int64_t signed_at = 0;  // the batch's iat (unix seconds)
  uint64_t batch_leaves = 0;
  // From the claims.
  std::string tenant;
  std::string target;  // "subject:<id>" or "contact:<type>:<hash>"
  uint64_t sequence = 0;
  std::string kind;
  std::string hash;  // the history record's hash (hex)
};

// OK with what was verified, or: INVALID_ARGUMENT naming the field for a malformed receipt;
// PERMISSION_DENIED when it does not verify (unknown kid, bad signature, claims or proof that do
// not lead to the signed root).
absl::StatusOr<VerifiedReceipt> VerifyReceipt(const v1::Receipt& receipt, const crypto::Jwks& jwks);

// A receipt as a file: its proto3 JSON mapping, and back (INVALID_ARGUMENT when it is not one).
std::string ReceiptToJson(const v1::Receipt& receipt);
absl::StatusOr<v1::Receipt> ReceiptFromJson(std::string_view json);

}  // namespace assent::receipts
