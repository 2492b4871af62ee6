#include "sms/gsm7.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace assent::sms {
namespace {

// The characters of the basic table that are not printable ASCII, as Unicode code points
// (3GPP TS 23.038 6.2.1), sorted for binary search.
constexpr std::array<char32_t, 41> kBasicNonAscii = {
    0x000A, 0x000D,                                                  // LF, CR
    0x00A1, 0x00A3, 0x00A4, 0x00A5, 0x00A7, 0x00BF,                  // ¡ £ ¤ ¥ § ¿
    0x00C4, 0x00C5, 0x00C6, 0x00C7, 0x00C9, 0x00D1, 0x00D6, 0x00D8,  // Ä Å Æ Ç É Ñ Ö Ø
    0x00DC, 0x00DF, 0x00E0, 0x00E4, 0x00E5, 0x00E6, 0x00E8, 0x00E9,  // Ü ß à ä å æ è é
    0x00EC, 0x00F1, 0x00F2, 0x00F6, 0x00F8, 0x00F9, 0x00FC,          // ì ñ ò ö ø ù ü
    0x0393, 0x0394, 0x0398, 0x039B, 0x039E, 0x03A0, 0x03A3, 0x03A6,  // Γ Δ Θ Λ Ξ Π Σ Φ
    0x03A8, 0x03A9,                                                  // Ψ Ω
};

// Printable ASCII that is not in the basic table: the extension table's ASCII characters, and '`'
// which GSM 7-bit cannot represent at all.
constexpr std::string_view kAsciiExtension = "[\\]^{|}~";

// Septets for one code point: 1 (basic table), 2 (escape + extension table) or 0 (not encodable).
int SeptetsFor(char32_t c) {
  if (c >= 0x20 && c < 0x7F) {
    if (c == '`') return 0;
    return kAsciiExtension.find(static_cast<char>(c)) != std::string_view::npos ? 2 : 1;
  }
  if (c == 0x000C || c == 0x20AC) return 2;  // form feed, euro sign
  if (std::binary_search(kBasicNonAscii.begin(), kBasicNonAscii.end(), c)) return 1;
  return 0;
}

// Decodes one UTF-8 sequence at the front of `s`, removing it. nullopt on malformed input
// (overlong forms, surrogates, values past U+10FFFF, truncated sequences).
std::optional<char32_t> NextCodePoint(std::string_view& s) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  uint8_t b0 = byte(0);
  size_t len;
  char32_t c;
  char32_t min;
  if (b0 < 0x80) {
    s.remove_prefix(1);
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, c = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (s.size() < len) return std::nullopt;
  for (size_t i = 1; i < len; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return std::nullopt;
    c = (c << 6) | (byte(i) & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return std::nullopt;
  s.remove_prefix(len);
  return c;
}

}  // namespace

std::optional<size_t> Gsm7Septets(std::string_view utf8) {
  size_t septets = 0;
  while (!utf8.empty()) {
    std::optional<char32_t> c = NextCodePoint(utf8);
    if (!c.has_value()) return std::nullopt;
    int n = SeptetsFor(*c);
    if (n == 0) return std::nullopt;
    septets += static_cast<size_t>(n);
  }
  return septets;
}

}  // namespace assent::sms
