#include "signals/bit_reader.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace assent::signals {
namespace {

constexpr std::array<int8_t, 256> MakeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  constexpr char kDict[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kDict[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeTable();

}  // namespace

absl::Status SegmentError(std::string_view segment, size_t bit, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(absl::string_view(segment.data(), segment.size()),
                                                 ": bit ", bit, ": ",
                                                 absl::string_view(what.data(), what.size())));
}

absl::Status BitReader::PastEnd(std::string_view field) const {
  return Error(absl::StrCat(absl::string_view(field.data(), field.size()),
                            " runs past the end of the segment (", bits_, " bits)"));
}

absl::Status BitReader::Reset(std::string_view text, std::string_view segment) {
  segment_ = segment;
  pos_ = 0;
  bits_ = 0;
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.empty()) return SegmentError(segment, 0, "empty segment");
  const size_t bytes = (text.size() * 6 + 7) / 8 + 8;  // +8: Peek loads a whole word.
  if (bytes > kInlineBytes) {
    heap_.assign(bytes, 0);
  } else {
    heap_.clear();
  }
  uint8_t* out = mutable_data();
  std::memset(out, 0, bytes);
  // Four characters (24 bits) at a time; a bad character makes the OR of their values negative.
  size_t i = 0;
  size_t o = 0;
  for (; i + 4 <= text.size(); i += 4) {
    const int32_t a = kDecode[static_cast<uint8_t>(text[i])];
    const int32_t b = kDecode[static_cast<uint8_t>(text[i + 1])];
    const int32_t c = kDecode[static_cast<uint8_t>(text[i + 2])];
    const int32_t d = kDecode[static_cast<uint8_t>(text[i + 3])];
    if ((a | b | c | d) < 0) break;
    const uint32_t v = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                       (static_cast<uint32_t>(c) << 6) | static_cast<uint32_t>(d);
    out[o] = static_cast<uint8_t>(v >> 16);
    out[o + 1] = static_cast<uint8_t>(v >> 8);
    out[o + 2] = static_cast<uint8_t>(v);
    o += 3;
  }
  uint32_t acc = 0;
  int acc_bits = 0;
  for (; i < text.size(); ++i) {
    const int8_t v = kDecode[static_cast<uint8_t>(text[i])];
    if (v < 0) {
      return SegmentError(segment, i * 6, absl::StrCat("invalid base64url character at index ", i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    acc_bits += 6;
    if (acc_bits >= 8) {
      acc_bits -= 8;
      out[o++] = static_cast<uint8_t>(acc >> acc_bits);
      acc &= (1u << acc_bits) - 1;
    }
  }
  if (acc_bits > 0) out[o] = static_cast<uint8_t>(acc << (8 - acc_bits));
  bits_ = text.size() * 6;
  return absl::OkStatus();
}

}  // namespace assent::signals
