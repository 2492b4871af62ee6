// Reads big-endian bit fields out of one base64url-encoded segment of a TC or GPP string, the way
// both IAB formats lay them out (6 bits per character, most significant bit first). Reading past
// the end fails instead of padding with zeros, so a truncated string is an error at a known bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace assent::signals {

// INVALID_ARGUMENT "<segment>: bit <offset>: <what>".
absl::Status SegmentError(std::string_view segment, size_t bit, std::string_view what);

class BitReader {
 public:
  BitReader() = default;
  BitReader(const BitReader&) = delete;
  BitReader& operator=(const BitReader&) = delete;

  // Decodes `text` (base64url; trailing '=' padding is accepted and ignored). An empty segment or
  // a character outside the base64url alphabet is an error naming `segment` and the bit offset.
  absl::Status Reset(std::string_view text, std::string_view segment);

  size_t pos() const { return pos_; }
  size_t size() const { return bits_; }
  size_t remaining() const { return bits_ - pos_; }
  std::string_view segment() const { return segment_; }

  // Reads `n` (0..56) bits as an unsigned integer. False (and nothing consumed) past the end.
  bool Read(int n, uint64_t* out) {
    if (n > static_cast<int>(bits_ - pos_)) return false;
    *out = Peek(n);
    pos_ += static_cast<size_t>(n);
    return true;
  }
  bool ReadBit(bool* out) {
    uint64_t v = 0;
    if (!Read(1, &v)) return false;
    *out = v != 0;
    return true;
  }

  // The error for a field of `n` bits that does not fit at the current position.
  absl::Status PastEnd(std::string_view field) const;
  // Any error at the current position.
  absl::Status Error(std::string_view what) const { return SegmentError(segment_, pos_, what); }
  absl::Status ErrorAt(size_t bit, std::string_view what) const {
    return SegmentError(segment_, bit, what);
  }

 private:
  uint64_t Peek(int n) const {
    if (n == 0) return 0;
    const uint8_t* p = data() + (pos_ >> 3);
    uint64_t word = 0;
    for (int i = 0; i < 8; ++i) word = (word << 8) | p[i];
    word <<= (pos_ & 7);
    return word >> (64 - n);
  }
  const uint8_t* data() const { return heap_.empty() ? inline_.data() : heap_.data(); }
  uint8_t* mutable_data() { return heap_.empty() ? inline_.data() : heap_.data(); }

  static constexpr size_t kInlineBytes = 768;
  std::array<uint8_t, kInlineBytes> inline_;  // Most segments fit here: no allocation.
  std::vector<uint8_t> heap_;
  size_t bits_ = 0;
  size_t pos_ = 0;
  std::string_view segment_;
};

}  // namespace assent::signals
