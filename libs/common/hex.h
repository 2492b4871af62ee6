#pragma once

#include <string>
#include <string_view>

namespace assent {

// Lower-case hex of arbitrary bytes.
std::string ToHex(std::string_view bytes);

}  // namespace assent
