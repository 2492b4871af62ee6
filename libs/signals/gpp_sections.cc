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
// usfl, usnh (identical field lists).
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
// ustx, usne, ustn, usmn (identical field lists).
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
// usin, usky, usri (identical field lists).
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
constexpr SectionDef kUsSectionDefs[] = {
    {7, "usnat", kUsNatCore, SecondSegment::kGpc, "gpp usnat core segment",
     "gpp usnat gpc segment"},
    {8, "usca", kUsCaCore, SecondSegment::kGpc, "gpp usca core segment", "gpp usca gpc segment"},
    {9, "usva", kUsVaCore, SecondSegment::kNone, "gpp usva core segment", ""},
    {10, "usco", kUsCoCore, SecondSegment::kGpc, "gpp usco core segment", "gpp usco gpc segment"},
    {11, "usut", kUsUtCore, SecondSegment::kNone, "gpp usut core segment", ""},
    {12, "usct", kUsCtCore, SecondSegment::kGpc, "gpp usct core segment", "gpp usct gpc segment"},
    {13, "usfl", kUsFlCore, SecondSegment::kNone, "gpp usfl core segment", ""},
    {14, "usmt", kUsMtCore, SecondSegment::kGpc, "gpp usmt core segment", "gpp usmt gpc segment"},
    {15, "usor", kUsOrCore, SecondSegment::kGpc, "gpp usor core segment", "gpp usor gpc segment"},
    {16, "ustx", kUsTxCore, SecondSegment::kGpc, "gpp ustx core segment", "gpp ustx gpc segment"},
    {17, "usde", kUsDeCore, SecondSegment::kGpc, "gpp usde core segment", "gpp usde gpc segment"},
    {18, "usia", kUsIaCore, SecondSegment::kGpc, "gpp usia core segment", "gpp usia gpc segment"},
    {19, "usne", kUsTxCore, SecondSegment::kGpc, "gpp usne core segment", "gpp usne gpc segment"},
    {20, "usnh", kUsFlCore, SecondSegment::kGpc, "gpp usnh core segment", "gpp usnh gpc segment"},
    {21, "usnj", kUsNjCore, SecondSegment::kGpc, "gpp usnj core segment", "gpp usnj gpc segment"},
    {22, "ustn", kUsTxCore, SecondSegment::kGpc, "gpp ustn core segment", "gpp ustn gpc segment"},
    {23, "usmn", kUsTxCore, SecondSegment::kGpc, "gpp usmn core segment", "gpp usmn gpc segment"},
    {24, "usmd", kUsMdCore, SecondSegment::kGpc, "gpp usmd core segment", "gpp usmd gpc segment"},
    {25, "usin", kUsInCore, SecondSegment::kSensitiveDataConsent, "gpp usin core segment",
     "gpp usin sensitive data consent segment"},
    {26, "usky", kUsInCore, SecondSegment::kSensitiveDataConsent, "gpp usky core segment",
     "gpp usky sensitive data consent segment"},
    {27, "usri", kUsInCore, SecondSegment::kSensitiveDataConsent, "gpp usri core segment",
     "gpp usri sensitive data consent segment"},
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
