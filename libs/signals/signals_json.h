// JSON renderings of decoded TCF and GPP signals, with the field names (and field order) of the IAB
// reference libraries: @iabtechlabtcf/core's Fields (camelCase: purposeConsents, vendorConsents,
// ...) for TC strings, @iabgpp/cmpapi's field names (PascalCase: SaleOptOut, Gpc, ...) for GPP
// sections, keyed by section name (usnat, uspv1, tcfeuv2, ...). Id sets render as ascending arrays
// of ids; dates as ISO 8601 UTC with milliseconds, as JSON.stringify renders the library's Date.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "signals/gpp.h"
#include "signals/tcf.h"

namespace assent::signals {

// Keys keep the libraries' field order.
using Json = nlohmann::ordered_json;

Json TcStringToJson(const TcString& tc);
Json GppStringToJson(const GppString& gpp);

enum class SignalType { kTcf, kGpp };

// GPP strings start with the header's "DB" (type 3, version 1) or contain '~'; anything else is
// taken for a TC string (which starts with "C", version 2).
SignalType DetectSignalType(std::string_view text);

// Decodes `text` as `type` (detected if absent) and renders it:
// {"type": "tcf"|"gpp", "decoded": {...}}.
absl::StatusOr<Json> DecodeSignalToJson(std::string_view text, std::optional<SignalType> type);

}  // namespace assent::signals
