// Debian 12's abseil is built with its own absl::string_view (not an alias of std::string_view).
// Our interfaces take std::string_view; Sv() crosses into abseil without a copy.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace assent {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view StdSv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace assent
