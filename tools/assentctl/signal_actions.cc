// assentctl decode-signal: decodes an IAB TCF v2.2 TC string or GPP string offline (libs/signals)
// and prints it as JSON with the IAB libraries' field names. No call to the server.
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "assentctl/actions.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"
#include "signals/signals_json.h"

namespace assent::ctl {

absl::StatusOr<int> DecodeSignal(Session& session, const Args& args) {
  if (args.positional.empty()) return absl::InvalidArgumentError("missing the signal string");
  std::optional<signals::SignalType> type;
  if (std::optional<std::string> t = args.Get("type"); t.has_value()) {
    if (*t == "tcf") {
      type = signals::SignalType::kTcf;
    } else if (*t == "gpp") {
      type = signals::SignalType::kGpp;
    } else {
      return absl::InvalidArgumentError(Sv(absl::StrCat("--type: '", *t, "' is not tcf or gpp")));
    }
  }
  absl::StatusOr<signals::Json> decoded = signals::DecodeSignalToJson(args.positional[0], type);
  if (!decoded.ok()) {
    // A malformed signal is not a usage error: exit 2 with the decoder's message (segment, bit).
    session.Warn(absl::StrCat("INVALID_ARGUMENT: ", decoded.status().message()));
    return kExitFailure;
  }
  session.Print(absl::StrCat(args.Switch("json") ? decoded->dump() : decoded->dump(2), "\n"));
  return kExitOk;
}

}  // namespace assent::ctl
