// The US sections of @iabgpp/cmpapi 3.2.0 (github IABTechLab/iabgpp-es, tag 3.2.0,
// modules/cmpapi/src/encoder/segment/Us*CoreSegment.ts and field/Us*Field.ts): field order, width
// and element count, transcribed from the library's sources. The GPC segment (GpcSegmentType(2),
// Gpc(1)) follows the core segment of the sections that have one; usin, usky and usri have a
// sensitive-data-consent segment (SensitiveDataProcessing, 8 x 2 bits) instead.
#include "signals/gpp.h"

namespace assent::signals {
namespace {

// Every field of the US core segments, once: name, kind, bits per element, elements.
constexpr FieldDef kVersion{"Version", FieldKind::kInt, 6, 1};
constexpr FieldDef kSharingNotice{"SharingNotice", FieldKind::kInt, 2, 1};
constexpr FieldDef kSaleOptOutNotice{"SaleOptOutNotice", FieldKind::kInt, 2, 1};
constexpr FieldDef kSharingOptOutNotice{"SharingOptOutNotice", FieldKind::kInt, 2, 1};
constexpr FieldDef kTargetedAdvertisingOptOutNotice{"TargetedAdvertisingOptOutNotice",
                                                    FieldKind::kInt, 2, 1};
constexpr FieldDef kSensitiveDataProcessingOptOutNotice{"SensitiveDataProcessingOptOutNotice",
                                                        FieldKind::kInt, 2, 1};
constexpr FieldDef kSensitiveDataLimitUseNotice{"SensitiveDataLimitUseNotice", FieldKind::kInt, 2,
                                                1};
constexpr FieldDef kSaleOptOut{"SaleOptOut", FieldKind::kInt, 2, 1};
constexpr FieldDef kSharingOptOut{"SharingOptOut", FieldKind::kInt, 2, 1};
constexpr FieldDef kTargetedAdvertisingOptOut{"TargetedAdvertisingOptOut", FieldKind::kInt, 2, 1};
constexpr FieldDef kSensitiveDataProcessingx16{"SensitiveDataProcessing", FieldKind::kIntList, 2,
                                               16};
constexpr FieldDef kKnownChildSensitiveDataConsentsx3{"KnownChildSensitiveDataConsents",
                                                      FieldKind::kIntList, 2, 3};
constexpr FieldDef kPersonalDataConsents{"PersonalDataConsents", FieldKind::kInt, 2, 1};
constexpr FieldDef kMspaCoveredTransaction{"MspaCoveredTransaction", FieldKind::kInt, 2, 1};
constexpr FieldDef kMspaOptOutOptionMode{"MspaOptOutOptionMode", FieldKind::kInt, 2, 1};
constexpr FieldDef kMspaServiceProviderMode{"MspaServiceProviderMode", FieldKind::kInt, 2, 1};
constexpr FieldDef kSensitiveDataProcessingx9{"SensitiveDataProcessing", FieldKind::kIntList, 2, 9};
constexpr FieldDef kKnownChildSensitiveDataConsentsx2{"KnownChildSensitiveDataConsents",
                                                      FieldKind::kIntList, 2, 2};
constexpr FieldDef kSensitiveDataProcessingx8{"SensitiveDataProcessing", FieldKind::kIntList, 2, 8};
constexpr FieldDef kKnownChildSensitiveDataConsents{"KnownChildSensitiveDataConsents",
                                                    FieldKind::kInt, 2, 1};
constexpr FieldDef kSensitiveDataProcessingx7{"SensitiveDataProcessing", FieldKind::kIntList, 2, 7};
constexpr FieldDef kProcessingNotice{"ProcessingNotice", FieldKind::kInt, 2, 1};
constexpr FieldDef kAdditionalDataProcessingConsent{"AdditionalDataProcessingConsent",
                                                    FieldKind::kInt, 2, 1};
constexpr FieldDef kSensitiveDataProcessingx11{"SensitiveDataProcessing", FieldKind::kIntList, 2,
                                               11};
constexpr FieldDef kKnownChildSensitiveDataConsentsx5{"KnownChildSensitiveDataConsents",
                                                      FieldKind::kIntList, 2, 5};
constexpr FieldDef kSensitiveDataOptOutNotice{"SensitiveDataOptOutNotice", FieldKind::kInt, 2, 1};
constexpr FieldDef kSensitiveDataProcessingx10{"SensitiveDataProcessing", FieldKind::kIntList, 2,
                                               10};
constexpr FieldDef kMspaVersion{"MspaVersion", FieldKind::kInt, 6, 1};
constexpr FieldDef kMspaMode{"MspaMode", FieldKind::kInt, 2, 1};

// Each section's core segment, in the library's field order.
// clang-format off
constexpr FieldDef kUsNatCore[] = {
    kVersion, kSharingNotice, kSaleOptOutNotice, kSharingOptOutNotice,
    kTargetedAdvertisingOptOutNotice, kSensitiveDataProcessingOptOutNotice,
    kSensitiveDataLimitUseNotice, kSaleOptOut, kSharingOptOut, kTargetedAdvertisingOptOut,
    kSensitiveDataProcessingx16, kKnownChildSensitiveDataConsentsx3, kPersonalDataConsents,
    kMspaCoveredTransaction, kMspaOptOutOptionMode, kMspaServiceProviderMode};
constexpr FieldDef kUsCaCore[] = {
    kVersion, kSaleOptOutNotice, kSharingOptOutNotice, kSensitiveDataLimitUseNotice, kSaleOptOut,
    kSharingOptOut, kSensitiveDataProcessingx9, kKnownChildSensitiveDataConsentsx2,
    kPersonalDataConsents, kMspaCoveredTransaction, kMspaOptOutOptionMode,
    kMspaServiceProviderMode};
constexpr FieldDef kUsVaCore[] = {
    kVersion, kSharingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx8, kKnownChildSensitiveDataConsents,
    kMspaCoveredTransaction, kMspaOptOutOptionMode, kMspaServiceProviderMode};
constexpr FieldDef kUsCoCore[] = {
    kVersion, kSharingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx7, kKnownChildSensitiveDataConsents,
    kMspaCoveredTransaction, kMspaOptOutOptionMode, kMspaServiceProviderMode};
constexpr FieldDef kUsUtCore[] = {
    kVersion, kSharingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice,
    kSensitiveDataProcessingOptOutNotice, kSaleOptOut, kTargetedAdvertisingOptOut,
    kSensitiveDataProcessingx8, kKnownChildSensitiveDataConsents, kMspaCoveredTransaction,
    kMspaOptOutOptionMode, kMspaServiceProviderMode};
constexpr FieldDef kUsCtCore[] = {
    kVersion, kSharingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx8, kKnownChildSensitiveDataConsentsx3,
    kMspaCoveredTransaction, kMspaOptOutOptionMode, kMspaServiceProviderMode};
// usfl, usnh (identical field lists).
constexpr FieldDef kUsFlCore[] = {
    kVersion, kProcessingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx8, kKnownChildSensitiveDataConsentsx3,
    kAdditionalDataProcessingConsent, kMspaCoveredTransaction, kMspaOptOutOptionMode,
    kMspaServiceProviderMode};
constexpr FieldDef kUsMtCore[] = {
    kVersion, kSharingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx8, kKnownChildSensitiveDataConsentsx3,
    kAdditionalDataProcessingConsent, kMspaCoveredTransaction, kMspaOptOutOptionMode,
    kMspaServiceProviderMode};
constexpr FieldDef kUsOrCore[] = {
    kVersion, kProcessingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx11, kKnownChildSensitiveDataConsentsx3,
    kAdditionalDataProcessingConsent, kMspaCoveredTransaction, kMspaOptOutOptionMode,
    kMspaServiceProviderMode};
// ustx, usne, ustn, usmn (identical field lists).
constexpr FieldDef kUsTxCore[] = {
    kVersion, kProcessingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx8, kKnownChildSensitiveDataConsents,
    kAdditionalDataProcessingConsent, kMspaCoveredTransaction, kMspaOptOutOptionMode,
    kMspaServiceProviderMode};
constexpr FieldDef kUsDeCore[] = {
    kVersion, kProcessingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx9, kKnownChildSensitiveDataConsentsx5,
    kAdditionalDataProcessingConsent, kMspaCoveredTransaction, kMspaOptOutOptionMode,
    kMspaServiceProviderMode};
constexpr FieldDef kUsIaCore[] = {
    kVersion, kProcessingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice,
    kSensitiveDataOptOutNotice, kSaleOptOut, kTargetedAdvertisingOptOut, kSensitiveDataProcessingx8,
    kKnownChildSensitiveDataConsents, kMspaCoveredTransaction, kMspaOptOutOptionMode,
    kMspaServiceProviderMode};
constexpr FieldDef kUsNjCore[] = {
    kVersion, kProcessingNotice, kSaleOptOutNotice, kTargetedAdvertisingOptOutNotice, kSaleOptOut,
    kTargetedAdvertisingOptOut, kSensitiveDataProcessingx10, kKnownChildSensitiveDataConsentsx5,
    kAdditionalDataProcessingConsent, kMspaCoveredTransaction, kMspaOptOutOptionMode,
    kMspaServiceProviderMode};
constexpr FieldDef kUsMdCore[] = {
    kMspaVersion, kMspaCoveredTransaction, kMspaMode, kProcessingNotice, kSaleOptOutNotice,
    kTargetedAdvertisingOptOutNotice, kSaleOptOut, kTargetedAdvertisingOptOut,
    kAdditionalDataProcessingConsent};
// usin, usky, usri (identical field lists).
constexpr FieldDef kUsInCore[] = {
    kMspaVersion, kMspaCoveredTransaction, kMspaMode, kProcessingNotice, kSaleOptOutNotice,
    kTargetedAdvertisingOptOutNotice, kSaleOptOut, kTargetedAdvertisingOptOut,
    kKnownChildSensitiveDataConsents, kAdditionalDataProcessingConsent};
// clang-format on

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
