// The US sections of @iabgpp/cmpapi 3.2.0 (github IABTechLab/iabgpp-es, tag 3.2.0,
// modules/cmpapi/src/encoder/segment/Us*CoreSegment.ts and field/Us*Field.ts): field order, width
// and element count, transcribed from the library's sources. The GPC segment (GpcSegmentType(2),
// Gpc(1)) follows the core segment of the sections that have one; usin, usky and usri have a
// sensitive-data-consent segment (SensitiveDataProcessing, 8 x 2 bits) instead.
#include "signals/gpp.h"

namespace assent::signals {
namespace {

constexpr FieldDef kUsNatCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"SharingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"SharingOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SensitiveDataLimitUseNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"SharingOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 16},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 3},
    {"PersonalDataConsents", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsCaCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"SharingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SensitiveDataLimitUseNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"SharingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 9},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 2},
    {"PersonalDataConsents", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsVaCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"SharingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsCoCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"SharingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 7},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsUtCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"SharingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsCtCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"SharingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 3},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsFlCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 3},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsMtCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"SharingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 3},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsOrCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 11},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 3},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsTxCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsDeCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 9},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 5},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsIaCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SensitiveDataOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsNeCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsNhCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 3},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsNjCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 10},
    {"KnownChildSensitiveDataConsents", FieldKind::kIntList, 2, 5},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsTnCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsMnCore[] = {
    {"Version", FieldKind::kInt, 6, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaOptOutOptionMode", FieldKind::kInt, 2, 1},
    {"MspaServiceProviderMode", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsMdCore[] = {
    {"MspaVersion", FieldKind::kInt, 6, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaMode", FieldKind::kInt, 2, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsInCore[] = {
    {"MspaVersion", FieldKind::kInt, 6, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaMode", FieldKind::kInt, 2, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsKyCore[] = {
    {"MspaVersion", FieldKind::kInt, 6, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaMode", FieldKind::kInt, 2, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
};
constexpr FieldDef kUsRiCore[] = {
    {"MspaVersion", FieldKind::kInt, 6, 1},
    {"MspaCoveredTransaction", FieldKind::kInt, 2, 1},
    {"MspaMode", FieldKind::kInt, 2, 1},
    {"ProcessingNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOutNotice", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOutNotice", FieldKind::kInt, 2, 1},
    {"SaleOptOut", FieldKind::kInt, 2, 1},
    {"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1},
    {"KnownChildSensitiveDataConsents", FieldKind::kInt, 2, 1},
    {"AdditionalDataProcessingConsent", FieldKind::kInt, 2, 1},
};
constexpr SectionDef kUsSectionDefs[] = {
    {7, "usnat", kUsNatCore, SecondSegment::kGpc},
    {8, "usca", kUsCaCore, SecondSegment::kGpc},
    {9, "usva", kUsVaCore, SecondSegment::kNone},
    {10, "usco", kUsCoCore, SecondSegment::kGpc},
    {11, "usut", kUsUtCore, SecondSegment::kNone},
    {12, "usct", kUsCtCore, SecondSegment::kGpc},
    {13, "usfl", kUsFlCore, SecondSegment::kNone},
    {14, "usmt", kUsMtCore, SecondSegment::kGpc},
    {15, "usor", kUsOrCore, SecondSegment::kGpc},
    {16, "ustx", kUsTxCore, SecondSegment::kGpc},
    {17, "usde", kUsDeCore, SecondSegment::kGpc},
    {18, "usia", kUsIaCore, SecondSegment::kGpc},
    {19, "usne", kUsNeCore, SecondSegment::kGpc},
    {20, "usnh", kUsNhCore, SecondSegment::kGpc},
    {21, "usnj", kUsNjCore, SecondSegment::kGpc},
    {22, "ustn", kUsTnCore, SecondSegment::kGpc},
    {23, "usmn", kUsMnCore, SecondSegment::kGpc},
    {24, "usmd", kUsMdCore, SecondSegment::kGpc},
    {25, "usin", kUsInCore, SecondSegment::kSensitiveDataConsent},
    {26, "usky", kUsKyCore, SecondSegment::kSensitiveDataConsent},
    {27, "usri", kUsRiCore, SecondSegment::kSensitiveDataConsent},
};

constexpr FieldDef kGpcFields[] = {
    {"GpcSegmentType", FieldKind::kInt, 2, 1},
    {"Gpc", FieldKind::kBool, 1, 1},
};
constexpr FieldDef kSensitiveDataConsentFields[] = {
    {"SensitiveDataProcessing", FieldKind::kIntList, 2, 8},
};

}  // namespace

const SectionDef* FindUsSection(uint32_t id) {
  for (const SectionDef& def : kUsSectionDefs) {
    if (def.id == id) return &def;
  }
  return nullptr;
}

std::span<const SectionDef> UsSections() { return kUsSectionDefs; }
std::span<const FieldDef> GpcSegmentFields() { return kGpcFields; }
std::span<const FieldDef> SensitiveDataConsentSegmentFields() {
  return kSensitiveDataConsentFields;
}

}  // namespace assent::signals
