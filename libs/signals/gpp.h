// IAB GPP strings, decoded as the IAB's reference library @iabgpp/cmpapi 3.2 reads them: the
// header (Type 3, Version, SectionIds as a Fibonacci-coded range), then one '~'-separated section
// per id. Decoded sections: tcfeuv2 (2, read by the TCF decoder), uspv1 (6) and every US section
// the library implements (usnat 7 through usri 27) with their second segment (GPC, or the
// sensitive-data-consent segment of usin/usky/usri). Other ids (tcfcav1 5, unknown ids) are kept
// verbatim, not decoded. Field names are the library's (UsNatField.ts etc.).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "signals/tcf.h"

namespace assent::signals {

enum class FieldKind : uint8_t { kInt, kIntList, kBool };

struct FieldDef {
  std::string_view name;
  FieldKind kind;
  uint8_t bits;   // per element
  uint8_t count;  // elements (1 unless kIntList)
};

enum class SecondSegment : uint8_t { kNone, kGpc, kSensitiveDataConsent };

struct SectionDef {
  uint32_t id;
  std::string_view name;
  std::span<const FieldDef> core;
  SecondSegment second;
  std::string_view core_segment;    // names for errors: "gpp usnat core segment"
  std::string_view second_segment;  // "gpp usnat gpc segment"
};

// The US sections of @iabgpp/cmpapi 3.2, by id; nullptr if `id` is not one.
const SectionDef* FindUsSection(uint32_t id);
std::span<const SectionDef> UsSections();
// The fields of the GPC segment and of the sensitive-data-consent segment.
std::span<const FieldDef> GpcSegmentFields();
std::span<const FieldDef> SensitiveDataConsentSegmentFields();

// A decoded US section: values flattened in field order (a list field takes `count` slots).
struct UsSection {
  static constexpr size_t kMaxValues = 48;
  const SectionDef* def = nullptr;
  uint8_t values[kMaxValues] = {};
  bool second_included = false;  // GpcSegmentIncluded / SensitiveDataConsentSegmentIncluded
  uint8_t second_values[16] = {};

  // The value of a scalar field (or the first element of a list); -1 if there is no such field.
  // Fields of an absent second segment read as the library's defaults (Gpc false, type 1).
  int Get(std::string_view field) const;
  // A list field's elements, as the library returns them (usnat version 1 lists are cut to their
  // version-1 lengths, 12 and 2).
  std::vector<int> GetList(std::string_view field) const;
};

struct UspV1 {
  uint32_t version = 1;
  char notice = '-';
  char opt_out_sale = '-';
  char lspa_covered = '-';
};

struct GppString {
  uint32_t version = 0;
  std::vector<uint32_t> section_ids;
  std::optional<TcString> tcfeuv2;
  std::optional<UspV1> uspv1;
  std::vector<UsSection> us_sections;
  std::vector<std::pair<uint32_t, std::string>> undecoded;  // id, the section's text verbatim

  // Whether any section says the user opted out of sale (uspv1 OptOutSale 'Y', or a US section's
  // SaleOptOut == 1), sharing (SharingOptOut == 1) or targeted advertising
  // (TargetedAdvertisingOptOut == 1). 1 means "opted out" in every MSPA section.
  bool OptedOutOfSaleSharingOrTargeting() const;
};

// Decodes a GPP string. Errors are INVALID_ARGUMENT "gpp <segment>: bit <n>: <why>".
absl::StatusOr<GppString> DecodeGppString(std::string_view text);

// The GPP section name for an id ("usnat"), or "" if unknown.
std::string_view GppSectionName(uint32_t id);

}  // namespace assent::signals
