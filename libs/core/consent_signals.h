// What a decision's web consent signals (Evidence.tcf_string, Evidence.gpp_string, decoded by
// libs/signals) add to the decisions it records. Pure: the ledger's write path
// (Ledger::PrepareDecisions) calls it with the tenant's catalog.
//
// - A GPP string whose sections say the customer opted out of sale, sharing or targeted
//   advertising (uspv1 OptOutSale 'Y'; a US section's SaleOptOut, SharingOptOut or
//   TargetedAdvertisingOptOut == 1) adds WITHDRAWN on channel TARGETED_ADS for every purpose of
//   kind SALE_OR_SHARE that covers TARGETED_ADS. Why: the ads sync (services/ads_sync) enforces
//   TARGETED_ADS decisions, so recording the opt-out as one is what stops the customer's data
//   reaching ad platforms. Always WITHDRAWN (never DENIED): under US opt-out laws sale and sharing
//   are allowed until the customer objects, so the signal ends a permission the customer had
//   by default; Check treats both alike.
// - A TC string adds, for every purpose with tcf_purpose_ids, GRANTED when the string's
//   purposeConsents include all of them and DENIED otherwise, on every channel of the purpose
//   (channel unspecified).
// The request's own decisions win: no signal decision is added for a purpose the request already
// decides (for GPP: on TARGETED_ADS or on every channel). When both signals touch one purpose the
// GPP opt-out wins over the TC string's decision for it.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "assent/v1/types.pb.h"
#include "signals/gpp.h"
#include "signals/tcf.h"

namespace assent::core {

struct EvidenceSignals {
  std::optional<signals::TcString> tcf;
  std::optional<signals::GppString> gpp;
};

// Decodes the evidence's non-empty tcf_string and gpp_string. A string that does not decode is
// INVALID_ARGUMENT "<field>.tcf_string: <the decoder's message>" (or gpp_string).
absl::StatusOr<EvidenceSignals> DecodeEvidenceSignals(std::string_view field,
                                                      const v1::Evidence& evidence);

// A decision the signals imply, and which signal it comes from ("tcf_string" / "gpp_string").
struct SignalDecision {
  v1::DecisionInput input;
  std::string_view from;
};

// The decisions `signals` imply for `purposes` (the tenant's current purposes), less those that
// `explicit_decisions` (the request's own) already make; see the top of this file.
std::vector<SignalDecision> SignalDecisions(
    const EvidenceSignals& signals, std::span<const v1::Purpose* const> purposes,
    const google::protobuf::RepeatedPtrField<v1::DecisionInput>& explicit_decisions);

}  // namespace assent::core
