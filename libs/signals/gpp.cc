#include "signals/gpp.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "signals/bit_reader.h"

namespace assent::signals {
namespace {

using ::assent::Sv;

#define SIGNALS_RETURN_IF_ERROR(expr) \
  do {                                \
    absl::Status _st = (expr);        \
    if (!_st.ok()) return _st;        \
  } while (false)

// One Fibonacci-coded integer (Zeckendorf bits, least significant first, ended by "11").
absl::Status ReadFibonacci(BitReader& r, uint32_t* out) {
  const size_t at = r.pos();
  // fib(i) for bit i: 1, 2, 3, 5, ... A valid value never needs more than 32 bits for ids < 2^20.
  uint64_t a = 1, b = 2;
  uint64_t value = 0;
  bool prev = false;
  for (int i = 0; i < 40; ++i) {
    bool bit = false;
    if (!r.ReadBit(&bit)) return r.ErrorAt(at, "fibonacci integer runs past the end");
    if (bit && prev) {
      *out = static_cast<uint32_t>(value);
      return absl::OkStatus();
    }
    if (bit) value += a;
    prev = bit;
    const uint64_t next = a + b;
    a = b;
    b = next;
  }
  return r.ErrorAt(at, "fibonacci integer longer than 40 bits");
}

absl::Status DecodeHeader(std::string_view text, GppString* out) {
  BitReader r;
  SIGNALS_RETURN_IF_ERROR(r.Reset(text, "gpp header"));
  uint64_t v = 0;
  if (!r.Read(6, &v)) return r.PastEnd("Type");
  if (v != 3) return r.ErrorAt(0, absl::StrCat("header type is ", v, ", not 3"));
  if (!r.Read(6, &v)) return r.PastEnd("Version");
  out->version = static_cast<uint32_t>(v);
  if (!r.Read(12, &v)) return r.PastEnd("SectionIds count");
  const uint64_t groups = v;
  uint32_t offset = 0;
  for (uint64_t g = 0; g < groups; ++g) {
    bool is_range = false;
    if (!r.ReadBit(&is_range)) return r.PastEnd("SectionIds group");
    uint32_t first = 0;
    SIGNALS_RETURN_IF_ERROR(ReadFibonacci(r, &first));
    first += offset;
    offset = first;
    uint32_t last = first;
    if (is_range) {
      SIGNALS_RETURN_IF_ERROR(ReadFibonacci(r, &last));
      last += offset;
      offset = last;
    }
    if (last - first > 64 || out->section_ids.size() > 64) {
      return r.Error("more than 64 section ids");
    }
    for (uint32_t id = first; id <= last; ++id) out->section_ids.push_back(id);
  }
  return absl::OkStatus();
}

// Reads `fields` into `values` (flattened). A field that does not fit is an error, as in the
// library (every field is hardFailIfMissing); bits after the last field are padding.
absl::Status ReadFields(BitReader& r, std::span<const FieldDef> fields, uint8_t* values,
                        size_t capacity) {
  size_t slot = 0;
  for (const FieldDef& f : fields) {
    for (int i = 0; i < f.count; ++i) {
      uint64_t v = 0;
      if (slot >= capacity) return r.Error("too many fields");
      if (!r.Read(f.bits, &v)) return r.PastEnd(f.name);
      values[slot++] = static_cast<uint8_t>(v);
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeUsSection(std::string_view text, const SectionDef& def, UsSection* out) {
  out->def = &def;
  // An absent GPC segment reads as the library's defaults: GpcSegmentType 1, Gpc false.
  if (def.second == SecondSegment::kGpc) out->second_values[0] = 1;
  const size_t dot = text.find('.');
  const std::string_view core = text.substr(0, dot);
  BitReader r;
  SIGNALS_RETURN_IF_ERROR(r.Reset(core, def.core_segment));
  if (def.id == 7 && (r.size() == 60 || r.size() == 66)) {
    // usnat written before SensitiveDataProcessing grew from 12 to 16 entries and
    // KnownChildSensitiveDataConsents from 2 to 3 (UsNatCoreSegment.decodeSegment): the missing
    // entries read as 0, so bits 48..51 are the two child consents and the rest shifts.
    uint64_t v = 0;
    size_t slot = 0;
    for (int i = 0; i < 10; ++i) {  // Version .. TargetedAdvertisingOptOut
      r.Read(i == 0 ? 6 : 2, &v);
      out->values[slot++] = static_cast<uint8_t>(v);
    }
    for (int i = 0; i < 16; ++i) {
      if (i < 12) r.Read(2, &v);
      out->values[slot++] = static_cast<uint8_t>(i < 12 ? v : 0);
    }
    for (int i = 0; i < 3; ++i) {
      if (i < 2) r.Read(2, &v);
      out->values[slot++] = static_cast<uint8_t>(i < 2 ? v : 0);
    }
    for (int i = 0; i < 4; ++i) {
      if (!r.Read(2, &v)) return r.PastEnd("MspaServiceProviderMode");
      out->values[slot++] = static_cast<uint8_t>(v);
    }
  } else {
    SIGNALS_RETURN_IF_ERROR(ReadFields(r, def.core, out->values, UsSection::kMaxValues));
  }
  if (dot == std::string_view::npos || def.second == SecondSegment::kNone) return absl::OkStatus();
  std::string_view second = text.substr(dot + 1);
  second = second.substr(0, second.find('.'));
  const bool gpc = def.second == SecondSegment::kGpc;
  const std::string second_name =
      absl::StrCat("gpp ", Sv(def.name), gpc ? " gpc segment" : " sensitive data consent segment");
  SIGNALS_RETURN_IF_ERROR(r.Reset(second, second_name));
  out->second_included = true;
  return ReadFields(r, gpc ? GpcSegmentFields() : SensitiveDataConsentSegmentFields(),
                    out->second_values, sizeof(out->second_values));
}

absl::Status DecodeUspV1(std::string_view text, UspV1* out) {
  if (text.size() != 4) {
    return SegmentError("gpp uspv1 section", 0,
                        absl::StrCat("length is ", text.size(), " characters, not 4"));
  }
  if (text[0] < '0' || text[0] > '9') return SegmentError("gpp uspv1 section", 0, "bad Version");
  out->version = static_cast<uint32_t>(text[0] - '0');
  static constexpr std::string_view kNames[] = {"Notice", "OptOutSale", "LspaCovered"};
  for (size_t i = 1; i < 4; ++i) {
    if (text[i] != 'Y' && text[i] != 'N' && text[i] != '-') {
      return SegmentError("gpp uspv1 section", i * 8,
                          absl::StrCat(Sv(kNames[i - 1]), " is not Y, N or -"));
    }
  }
  out->notice = text[1];
  out->opt_out_sale = text[2];
  out->lspa_covered = text[3];
  return absl::OkStatus();
}

// Where `field` sits in the flattened values of `fields`; false if absent.
bool Locate(std::span<const FieldDef> fields, std::string_view field, size_t* slot,
            const FieldDef** def) {
  size_t s = 0;
  for (const FieldDef& f : fields) {
    if (f.name == field) {
      *slot = s;
      *def = &f;
      return true;
    }
    s += f.count;
  }
  return false;
}

}  // namespace

int UsSection::Get(std::string_view field) const {
  size_t slot = 0;
  const FieldDef* f = nullptr;
  if (Locate(def->core, field, &slot, &f)) return values[slot];
  const auto second =
      def->second == SecondSegment::kGpc ? GpcSegmentFields() : SensitiveDataConsentSegmentFields();
  if (def->second != SecondSegment::kNone && Locate(second, field, &slot, &f)) {
    return second_values[slot];
  }
  return -1;
}

std::vector<int> UsSection::GetList(std::string_view field) const {
  size_t slot = 0;
  const FieldDef* f = nullptr;
  const uint8_t* base = values;
  if (!Locate(def->core, field, &slot, &f)) {
    if (def->second != SecondSegment::kSensitiveDataConsent ||
        !Locate(SensitiveDataConsentSegmentFields(), field, &slot, &f)) {
      return {};
    }
    base = second_values;
  }
  size_t n = f->count;
  if (def->id == 7 && values[0] == 1) {  // usnat version 1 (UsNatCoreSegment.getFieldValue)
    if (field == "SensitiveDataProcessing") n = 12;
    if (field == "KnownChildSensitiveDataConsents") n = 2;
  }
  return std::vector<int>(base + slot, base + slot + n);
}

bool GppString::OptedOutOfSaleSharingOrTargeting() const {
  if (uspv1 && uspv1->opt_out_sale == 'Y') return true;
  for (const UsSection& s : us_sections) {
    if (s.Get("SaleOptOut") == 1 || s.Get("SharingOptOut") == 1 ||
        s.Get("TargetedAdvertisingOptOut") == 1) {
      return true;
    }
  }
  return false;
}

std::string_view GppSectionName(uint32_t id) {
  switch (id) {
    case 2:
      return "tcfeuv2";
    case 5:
      return "tcfcav1";
    case 6:
      return "uspv1";
    default:
      break;
  }
  const SectionDef* def = FindUsSection(id);
  return def == nullptr ? std::string_view() : def->name;
}

absl::StatusOr<GppString> DecodeGppString(std::string_view text) {
  GppString out;
  size_t tilde = text.find('~');
  SIGNALS_RETURN_IF_ERROR(DecodeHeader(text.substr(0, tilde), &out));
  size_t count = 0;
  for (size_t t = tilde; t != std::string_view::npos; t = text.find('~', t + 1)) ++count;
  if (count != out.section_ids.size()) {
    return SegmentError("gpp header", 0,
                        absl::StrCat("header lists ", out.section_ids.size(),
                                     " sections but the string has ", count));
  }
  out.us_sections.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const uint32_t id = out.section_ids[i];
    const size_t next = text.find('~', tilde + 1);
    const std::string_view s = text.substr(
        tilde + 1, next == std::string_view::npos ? std::string_view::npos : next - tilde - 1);
    tilde = next;
    if (id == 2) {
      TcString tc;
      SIGNALS_RETURN_IF_ERROR(DecodeTcStringInto(s, "gpp tcfeuv2", &tc));
      out.tcfeuv2 = std::move(tc);
    } else if (id == 6) {
      UspV1 usp;
      SIGNALS_RETURN_IF_ERROR(DecodeUspV1(s, &usp));
      out.uspv1 = usp;
    } else if (const SectionDef* def = FindUsSection(id); def != nullptr) {
      UsSection us;
      SIGNALS_RETURN_IF_ERROR(DecodeUsSection(s, *def, &us));
      out.us_sections.push_back(us);
    } else {
      // Kept verbatim, but only as base64url segments: the library would refuse anything else.
      for (size_t c = 0; c < s.size(); ++c) {
        const char ch = s[c];
        const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
                        ch == '=';
        if (!ok) {
          const std::string_view name = GppSectionName(id);
          return SegmentError(
              absl::StrCat("gpp ", name.empty() ? absl::StrCat("section ", id) : std::string(name),
                           " section"),
              c * 6, absl::StrCat("invalid base64url character at index ", c));
        }
      }
      out.undecoded.emplace_back(id, std::string(s));
    }
  }
  return out;
}

}  // namespace assent::signals
