#include "signals/tcf.h"

#include <bit>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "signals/bit_reader.h"

namespace assent::signals {

using ::assent::Sv;

void IdSet::Set(uint32_t id) {
  if ((id >> 6) >= words_.size()) words_.resize((id >> 6) + 1, 0);
  words_[id >> 6] |= uint64_t{1} << (id & 63);
}

void IdSet::Reserve(uint32_t max_id) {
  if ((max_id >> 6) >= words_.size()) words_.resize((max_id >> 6) + 1, 0);
}

void IdSet::OrBits(uint32_t first, uint32_t bits) {
  const uint64_t wide = bits;
  const uint32_t shift = first & 63;
  words_[first >> 6] |= wide << shift;
  if (shift > 32 && (wide >> (64 - shift)) != 0) words_[(first >> 6) + 1] |= wide >> (64 - shift);
}

void IdSet::SetRange(uint32_t first, uint32_t last) {
  if (last < first) return;
  if ((last >> 6) >= words_.size()) words_.resize((last >> 6) + 1, 0);
  for (uint32_t w = first >> 6; w <= (last >> 6); ++w) {
    const uint32_t lo = w == (first >> 6) ? (first & 63) : 0;
    const uint32_t hi = w == (last >> 6) ? (last & 63) : 63;
    const uint64_t mask =
        (hi == 63 ? ~uint64_t{0} : ((uint64_t{1} << (hi + 1)) - 1)) & ~((uint64_t{1} << lo) - 1);
    words_[w] |= mask;
  }
}

size_t IdSet::Count() const {
  size_t n = 0;
  for (uint64_t w : words_) n += static_cast<size_t>(std::popcount(w));
  return n;
}

std::vector<uint32_t> IdSet::Ids() const {
  std::vector<uint32_t> ids;
  ids.reserve(Count());
  for (size_t w = 0; w < words_.size(); ++w) {
    uint64_t bits = words_[w];
    while (bits != 0) {
      ids.push_back(static_cast<uint32_t>(w * 64 + static_cast<size_t>(std::countr_zero(bits))));
      bits &= bits - 1;
    }
  }
  return ids;
}

bool IdSet::operator==(const IdSet& other) const {
  const size_t n = std::max(words_.size(), other.words_.size());
  for (size_t i = 0; i < n; ++i) {
    const uint64_t a = i < words_.size() ? words_[i] : 0;
    const uint64_t b = i < other.words_.size() ? other.words_[i] : 0;
    if (a != b) return false;
  }
  return true;
}

std::vector<uint32_t> IdBits::Ids() const {
  std::vector<uint32_t> ids;
  for (uint32_t id = 1; id <= length; ++id) {
    if (Has(id)) ids.push_back(id);
  }
  return ids;
}

namespace {

// Reads `n` bits for `field` or returns the past-the-end error.
#define SIGNALS_READ(reader, n, field, out)                           \
  do {                                                                \
    if (!(reader).Read((n), (out))) return (reader).PastEnd((field)); \
  } while (false)

absl::Status ReadInt(BitReader& r, int n, std::string_view field, uint32_t* out) {
  uint64_t v = 0;
  SIGNALS_READ(r, n, field, &v);
  *out = static_cast<uint32_t>(v);
  return absl::OkStatus();
}

absl::Status ReadBool(BitReader& r, std::string_view field, bool* out) {
  uint64_t v = 0;
  SIGNALS_READ(r, 1, field, &v);
  *out = v != 0;
  return absl::OkStatus();
}

absl::Status ReadBits(BitReader& r, int n, std::string_view field, IdBits* out) {
  uint64_t v = 0;
  SIGNALS_READ(r, n, field, &v);
  out->raw = v;
  out->length = static_cast<uint8_t>(n);
  return absl::OkStatus();
}

absl::Status ReadLetters(BitReader& r, std::string_view field, char out[2]) {
  const size_t at = r.pos();
  uint64_t v = 0;
  SIGNALS_READ(r, 12, field, &v);
  const uint32_t a = static_cast<uint32_t>(v >> 6), b = static_cast<uint32_t>(v & 63);
  if (a > 25 || b > 25) return r.ErrorAt(at, absl::StrCat(Sv(field), " is not two letters A-Z"));
  out[0] = static_cast<char>('A' + a);
  out[1] = static_cast<char>('A' + b);
  return absl::OkStatus();
}

#define SIGNALS_RETURN_IF_ERROR(expr) \
  do {                                \
    absl::Status _st = (expr);        \
    if (!_st.ok()) return _st;        \
  } while (false)

// A bitfield of `count` ids starting at id 1, into `ids`.
absl::Status ReadBitfield(BitReader& r, uint32_t count, std::string_view field, IdSet* ids) {
  if (count > r.remaining()) {
    return r.Error(absl::StrCat(Sv(field), " bitfield of ", count, " vendors runs past the end"));
  }
  ids->Reserve(count);
  uint32_t id = 1;
  while (count > 0) {
    const int n = count >= 32 ? 32 : static_cast<int>(count);
    uint64_t v = 0;
    r.Read(n, &v);
    // The first bit read is `id`: reverse the chunk so that bit k is id + k, then OR it in.
    uint32_t x = static_cast<uint32_t>(v << (32 - n));
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
    x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
    x = (x >> 16) | (x << 16);
    if (x != 0) ids->OrBits(id, x);
    id += static_cast<uint32_t>(n);
    count -= static_cast<uint32_t>(n);
  }
  return absl::OkStatus();
}

// Range entries: NumEntries(12), then per entry IsARange(1), StartOrOnlyVendorId(16),
// [EndVendorId(16)].
absl::Status ReadRanges(BitReader& r, std::string_view field, bool check_order, IdSet* ids) {
  uint64_t entries_bits = 0;
  if (!r.Read(12, &entries_bits)) return r.PastEnd(absl::StrCat(Sv(field), " NumEntries"));
  const uint32_t entries = static_cast<uint32_t>(entries_bits);
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t at = r.pos();
    uint64_t is_range = 0, first = 0, last = 0;
    if (!r.Read(1, &is_range) || !r.Read(16, &first) || (is_range && !r.Read(16, &last))) {
      return r.ErrorAt(
          at, absl::StrCat(Sv(field), " range entry ", i, " of ", entries, " runs past the end"));
    }
    if (!is_range) {
      ids->Set(static_cast<uint32_t>(first));
      continue;
    }
    if (check_order && last < first) {
      return r.ErrorAt(at, absl::StrCat(Sv(field), " range entry ", i, ": end vendor ", last,
                                        " is less than start ", first));
    }
    ids->SetRange(static_cast<uint32_t>(first), static_cast<uint32_t>(last));
  }
  return absl::OkStatus();
}

absl::Status ReadVendorVector(BitReader& r, std::string_view field, VendorVector* out) {
  uint64_t v = 0;
  if (!r.Read(16, &v)) return r.PastEnd(absl::StrCat(Sv(field), " MaxVendorId"));
  out->max_id = static_cast<uint32_t>(v);
  if (!r.Read(1, &v)) return r.PastEnd(absl::StrCat(Sv(field), " IsRangeEncoding"));
  out->range_encoding = v != 0;
  if (out->range_encoding) return ReadRanges(r, field, /*check_order=*/false, &out->ids);
  return ReadBitfield(r, out->max_id, field, &out->ids);
}

absl::Status ReadPublisherRestrictions(BitReader& r, std::vector<PublisherRestriction>* out) {
  uint32_t n = 0;
  SIGNALS_RETURN_IF_ERROR(ReadInt(r, 12, "publisherRestrictions NumPubRestrictions", &n));
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t purpose = 0, type = 0;
    SIGNALS_RETURN_IF_ERROR(ReadInt(r, 6, "publisherRestrictions PurposeId", &purpose));
    SIGNALS_RETURN_IF_ERROR(ReadInt(r, 2, "publisherRestrictions RestrictionType", &type));
    // The library keys restrictions by (purpose, type): a repeated pair adds to the same one.
    PublisherRestriction* pr = nullptr;
    for (auto& existing : *out) {
      if (existing.purpose_id == purpose && existing.restriction_type == type) pr = &existing;
    }
    if (pr == nullptr) {
      out->push_back(PublisherRestriction{purpose, type, {}});
      pr = &out->back();
    }
    SIGNALS_RETURN_IF_ERROR(ReadRanges(r, "publisherRestrictions vendor", true, &pr->vendors));
  }
  return absl::OkStatus();
}

// Segment names, for "tcf" and for GPP's "gpp tcfeuv2": core, disclosed, allowed, publisher TC.
struct SegmentNames {
  std::string_view core, disclosed, allowed, publisher_tc;
};
constexpr SegmentNames kTcfNames = {"tcf core segment", "tcf disclosed vendors segment",
                                    "tcf allowed vendors segment", "tcf publisher tc segment"};
constexpr SegmentNames kGppNames = {
    "gpp tcfeuv2 core segment", "gpp tcfeuv2 disclosed vendors segment",
    "gpp tcfeuv2 allowed vendors segment", "gpp tcfeuv2 publisher tc segment"};

absl::Status DecodeCore(std::string_view text, std::string_view segment, TcString* tc) {
  BitReader r;
  SIGNALS_RETURN_IF_ERROR(r.Reset(text, segment));
  uint64_t v = 0;
  SIGNALS_RETURN_IF_ERROR(ReadInt(r, 6, "version", &tc->version));
  if (tc->version != 2) {
    return r.ErrorAt(0, absl::StrCat("version ", tc->version, " is not supported (TCF v2 only)"));
  }
  SIGNALS_READ(r, 36, "created", &v);
  tc->created_deciseconds = static_cast<int64_t>(v);
  SIGNALS_READ(r, 36, "lastUpdated", &v);
  tc->last_updated_deciseconds = static_cast<int64_t>(v);
  SIGNALS_RETURN_IF_ERROR(ReadInt(r, 12, "cmpId", &tc->cmp_id));
  SIGNALS_RETURN_IF_ERROR(ReadInt(r, 12, "cmpVersion", &tc->cmp_version));
  SIGNALS_RETURN_IF_ERROR(ReadInt(r, 6, "consentScreen", &tc->consent_screen));
  SIGNALS_RETURN_IF_ERROR(ReadLetters(r, "consentLanguage", tc->consent_language));
  SIGNALS_RETURN_IF_ERROR(ReadInt(r, 12, "vendorListVersion", &tc->vendor_list_version));
  SIGNALS_RETURN_IF_ERROR(ReadInt(r, 6, "policyVersion", &tc->policy_version));
  SIGNALS_RETURN_IF_ERROR(ReadBool(r, "isServiceSpecific", &tc->is_service_specific));
  SIGNALS_RETURN_IF_ERROR(ReadBool(r, "useNonStandardTexts", &tc->use_non_standard_texts));
  SIGNALS_RETURN_IF_ERROR(ReadBits(r, 12, "specialFeatureOptins", &tc->special_feature_optins));
  SIGNALS_RETURN_IF_ERROR(ReadBits(r, 24, "purposeConsents", &tc->purpose_consents));
  SIGNALS_RETURN_IF_ERROR(
      ReadBits(r, 24, "purposeLegitimateInterests", &tc->purpose_legitimate_interests));
  SIGNALS_RETURN_IF_ERROR(ReadBool(r, "purposeOneTreatment", &tc->purpose_one_treatment));
  SIGNALS_RETURN_IF_ERROR(ReadLetters(r, "publisherCountryCode", tc->publisher_country_code));
  SIGNALS_RETURN_IF_ERROR(ReadVendorVector(r, "vendorConsents", &tc->vendor_consents));
  SIGNALS_RETURN_IF_ERROR(
      ReadVendorVector(r, "vendorLegitimateInterests", &tc->vendor_legitimate_interests));
  return ReadPublisherRestrictions(r, &tc->publisher_restrictions);
}

absl::Status DecodePublisherTc(BitReader& r, TcString* tc) {
  tc->has_publisher_tc = true;
  SIGNALS_RETURN_IF_ERROR(ReadBits(r, 24, "publisherConsents", &tc->publisher_consents));
  SIGNALS_RETURN_IF_ERROR(
      ReadBits(r, 24, "publisherLegitimateInterests", &tc->publisher_legitimate_interests));
  SIGNALS_RETURN_IF_ERROR(ReadInt(r, 6, "numCustomPurposes", &tc->num_custom_purposes));
  const int n = static_cast<int>(tc->num_custom_purposes);
  SIGNALS_RETURN_IF_ERROR(
      ReadBits(r, n, "publisherCustomConsents", &tc->publisher_custom_consents));
  return ReadBits(r, n, "publisherCustomLegitimateInterests",
                  &tc->publisher_custom_legitimate_interests);
}

}  // namespace

absl::Status DecodeTcStringInto(std::string_view text, std::string_view prefix, TcString* out) {
  *out = TcString{};
  const SegmentNames& names = prefix == "gpp tcfeuv2" ? kGppNames : kTcfNames;
  const std::string_view p = prefix == "gpp tcfeuv2" ? "gpp tcfeuv2" : "tcf";
  size_t start = 0;
  size_t index = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const std::string_view seg =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (index == 0) {
      SIGNALS_RETURN_IF_ERROR(DecodeCore(seg, names.core, out));
    } else {
      // The segment type is the first 3 bits, i.e. the top half of the first character.
      constexpr std::string_view kDict =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      const size_t c = seg.empty() ? std::string_view::npos : kDict.find(seg[0]);
      const size_t type = c == std::string_view::npos ? 0 : (c >> 3);
      BitReader r;
      if (type < 1 || type > 3) {
        // Let the reader report an empty segment or a bad character first.
        const std::string unknown = absl::StrCat(Sv(p), " segment ", index + 1);
        SIGNALS_RETURN_IF_ERROR(r.Reset(seg, unknown));
        return r.ErrorAt(0, absl::StrCat("unknown segment type ", type));
      }
      const std::string_view name =
          type == 1 ? names.disclosed : (type == 2 ? names.allowed : names.publisher_tc);
      SIGNALS_RETURN_IF_ERROR(r.Reset(seg, name));
      uint64_t ignored = 0;
      r.Read(3, &ignored);
      if (type == 1) {
        out->has_vendors_disclosed = true;
        out->vendors_disclosed = VendorVector{};
        SIGNALS_RETURN_IF_ERROR(ReadVendorVector(r, "vendorsDisclosed", &out->vendors_disclosed));
      } else if (type == 2) {
        out->has_vendors_allowed = true;
        out->vendors_allowed = VendorVector{};
        SIGNALS_RETURN_IF_ERROR(ReadVendorVector(r, "vendorsAllowed", &out->vendors_allowed));
      } else {
        SIGNALS_RETURN_IF_ERROR(DecodePublisherTc(r, out));
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
    ++index;
  }
  return absl::OkStatus();
}

absl::StatusOr<TcString> DecodeTcString(std::string_view text) {
  TcString tc;
  absl::Status st = DecodeTcStringInto(text, "tcf", &tc);
  if (!st.ok()) return st;
  return tc;
}

}  // namespace assent::signals
