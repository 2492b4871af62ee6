// The GSM 03.38 7-bit default alphabet (3GPP TS 23.038), the encoding an SMS uses unless it falls
// back to UCS-2, which cuts a single segment from 160 characters to 70.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace assent::sms {

// Septets in one single-part SMS in the GSM 7-bit alphabet.
inline constexpr size_t kSmsSegmentSeptets = 160;

// The number of septets `utf8` takes in the GSM 7-bit default alphabet: one per character of the
// basic table, two per character of the extension table (^ { } \ [ ] ~ | and the euro sign, and
// form feed). nullopt when `utf8` is not valid UTF-8 or holds a character outside both tables
// (for example '`', curly quotes, or any emoji), i.e. when a sender would have to use UCS-2.
// National language shift tables are not considered. Pure; thread-safe.
std::optional<size_t> Gsm7Septets(std::string_view utf8);

}  // namespace assent::sms
