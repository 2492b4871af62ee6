#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace assent {

// Lower-case hex of arbitrary bytes.
std::string ToHex(std::string_view bytes);
// The bytes of a hex string (either case); nullopt when it has an odd length or a non-hex
// character.
std::optional<std::string> FromHex(std::string_view hex);

}  // namespace assent
