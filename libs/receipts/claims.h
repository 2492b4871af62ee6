// A history record's receipt claims (docs/RECEIPTS.md documents every field): what changed, for
// whom, when, by whom, and the record's place in the hash chain. Identifying evidence (IP address,
// user agent, free text, Evidence.sealed) is never copied; a contact point appears only as its
// keyed hash, as it is stored.
#pragma once

#include <string>

#include "assent/v1/types.pb.h"

namespace assent::receipts {

// Version of the claims layout ("v").
inline constexpr int kClaimsVersion = 1;

// The claims as compact JSON with keys in a fixed (sorted) order: the same record always gives the
// same bytes. Pure and thread-safe.
std::string ReceiptClaims(const v1::HistoryRecord& record);

}  // namespace assent::receipts
