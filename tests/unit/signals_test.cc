// Tests of libs/signals against the IAB reference libraries' own test strings.
//
// Test strings come from the reference libraries' test suites:
//   iabgpp-es (github IABTechLab/iabgpp-es, tag 3.2.0): modules/cmpapi/test/GppModel.test.ts and
//     modules/cmpapi/test/encoder/section/UsNat.test.ts;
//   iabtcf-es (github InteractiveAdvertisingBureau/iabtcf-es, core 1.5.21):
//     modules/core/test/TCString.test.ts.
// The expected values were produced by the libraries themselves (@iabgpp/cmpapi 3.2.0
// GppModel.toObject(), @iabtechlabtcf/core 1.5.21 TCString.decode()) with
// tools/signals/crosscheck.mjs, and are pasted here so the test needs no npm at run time. (Several
// of the libraries' own assertions are written `expect(value, actual)`, which asserts nothing, so
// the values below are what the code returns, not what those tests claim.)
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "signals/gpp.h"
#include "signals/signals_json.h"
#include "signals/tcf.h"
#include "testing/signal_strings.h"

namespace assent::signals {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Msg(const absl::Status& status) { return std::string(status.message()); }

struct GppVector {
  const char* gpp;
  const char* expected_us_sections;  // cmpapi's toObject(), US and uspv1 sections only
};

const GppVector kGppVectors[] = {
    {"DBABLA~CVVVkkkkkpFY.YA",
     R"json({"usnat":{"Version":2,"SharingNotice":1,"SaleOptOutNotice":1,"SharingOptOutNotice":1,"TargetedAdvertisingOptOutNotice":1,"SensitiveDataProcessingOptOutNotice":1,"SensitiveDataLimitUseNotice":1,"SaleOptOut":1,"SharingOptOut":1,"TargetedAdvertisingOptOut":1,"SensitiveDataProcessing":[2,1,0,2,1,0,2,1,0,2,1,0,2,1,0,2],"KnownChildSensitiveDataConsents":[2,1,0],"PersonalDataConsents":1,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":1,"MspaServiceProviderMode":2,"GpcSegmentType":1,"Gpc":true}})json"},
    {"DBABLA~BAAAVVVVUQA.QA",
     R"json({"usnat":{"Version":1,"SharingNotice":0,"SaleOptOutNotice":0,"SharingOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SensitiveDataProcessingOptOutNotice":0,"SensitiveDataLimitUseNotice":0,"SaleOptOut":0,"SharingOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[1,1,1,1,1,1,1,1,1,1,1,1],"KnownChildSensitiveDataConsents":[1,1],"PersonalDataConsents":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false}})json"},
    {"DBABLA~CVQqAAAACg",
     R"json({"usnat":{"Version":2,"SharingNotice":1,"SaleOptOutNotice":1,"SharingOptOutNotice":1,"TargetedAdvertisingOptOutNotice":1,"SensitiveDataProcessingOptOutNotice":0,"SensitiveDataLimitUseNotice":0,"SaleOptOut":2,"SharingOptOut":2,"TargetedAdvertisingOptOut":2,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0],"PersonalDataConsents":2,"MspaCoveredTransaction":2,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false}})json"},
    {"DBABLA~CAAAVVVVAFBA.QA",
     R"json({"usnat":{"Version":2,"SharingNotice":0,"SaleOptOutNotice":0,"SharingOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SensitiveDataProcessingOptOutNotice":0,"SensitiveDataLimitUseNotice":0,"SaleOptOut":0,"SharingOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[1,1,1,1,1,1,1,1,1,1,1,1,0,0,0,0],"KnownChildSensitiveDataConsents":[1,1,0],"PersonalDataConsents":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false}})json"},
    {"DBACOcGA~CPSG_8APSG_8ANwAAAENAAFgAAAAAAAAAAAAAAAAAAAA.IAAA.YAAAAAAAAAAA~BPSG_8APSG_"
     "8AAAAAAENAACAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAA~1---~BAAAAAAAAQA.QA~BAAAAABA.QA~BAAAABA~BAAAAEA."
     "QA~BAAAAAQA~BAAAAAEA.QA~BAAAAABA~BAAAAABA.QA~BAAAAAABAA.QA~BAAAAAQA.QA~BAAAAAABAA.QA~"
     "BAAAAAQA.QA~BAAAAAQA.QA~BAAAAABA.QA~BAAAAAAAQA.QA~BAAAAAQA.QA~BAAAAAQA.QA~BQAA.QA~BQAA.AAA~"
     "BQAA.AAA~BQAA.AAA",
     R"json({"uspv1":{"Version":1,"Notice":"-","OptOutSale":"-","LspaCovered":"-"},"usnat":{"Version":1,"SharingNotice":0,"SaleOptOutNotice":0,"SharingOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SensitiveDataProcessingOptOutNotice":0,"SensitiveDataLimitUseNotice":0,"SaleOptOut":0,"SharingOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0],"PersonalDataConsents":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usca":{"Version":1,"SaleOptOutNotice":0,"SharingOptOutNotice":0,"SensitiveDataLimitUseNotice":0,"SaleOptOut":0,"SharingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0],"PersonalDataConsents":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usva":{"Version":1,"SharingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0},"usco":{"Version":1,"SharingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usut":{"Version":1,"SharingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SensitiveDataProcessingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0},"usct":{"Version":1,"SharingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0],"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usfl":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0],"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0},"usmt":{"Version":1,"SharingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0],"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usor":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0],"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"ustx":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":0,"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usde":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0,0,0],"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usia":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SensitiveDataOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usne":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":0,"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usnh":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0],"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usnj":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0,0,0],"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"ustn":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":0,"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usmn":{"Version":1,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0],"KnownChildSensitiveDataConsents":0,"AdditionalDataProcessingConsent":0,"MspaCoveredTransaction":1,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,"GpcSegmentType":1,"Gpc":false},"usmd":{"MspaVersion":1,"MspaCoveredTransaction":1,"MspaMode":0,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"AdditionalDataProcessingConsent":0,"GpcSegmentType":1,"Gpc":false},"usin":{"MspaVersion":1,"MspaCoveredTransaction":1,"MspaMode":0,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"KnownChildSensitiveDataConsents":0,"AdditionalDataProcessingConsent":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0]},"usky":{"MspaVersion":1,"MspaCoveredTransaction":1,"MspaMode":0,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"KnownChildSensitiveDataConsents":0,"AdditionalDataProcessingConsent":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0]},"usri":{"MspaVersion":1,"MspaCoveredTransaction":1,"MspaMode":0,"ProcessingNotice":0,"SaleOptOutNotice":0,"TargetedAdvertisingOptOutNotice":0,"SaleOptOut":0,"TargetedAdvertisingOptOut":0,"KnownChildSensitiveDataConsents":0,"AdditionalDataProcessingConsent":0,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0]}})json"},
};

nlohmann::json Plain(const Json& j) { return nlohmann::json::parse(j.dump()); }

// Our rendering of the US sections, without the "...SegmentIncluded" flags cmpapi's toObject()
// leaves out.
nlohmann::json UsSectionsOf(const nlohmann::json& decoded) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : decoded["sections"].items()) {
    if (name.rfind("us", 0) != 0) continue;
    nlohmann::json v = value;
    v.erase("GpcSegmentIncluded");
    v.erase("SensitiveDataConsentSegmentIncluded");
    out[name] = v;
  }
  return out;
}

TEST(GppTest, MatchesReferenceLibraryOnItsTestStrings) {
  for (const GppVector& v : kGppVectors) {
    SCOPED_TRACE(v.gpp);
    absl::StatusOr<GppString> gpp = DecodeGppString(v.gpp);
    ASSERT_TRUE(gpp.ok()) << gpp.status();
    EXPECT_EQ(UsSectionsOf(Plain(GppStringToJson(*gpp))),
              nlohmann::json::parse(v.expected_us_sections));
  }
}

TEST(GppTest, HeaderSectionIdsAndEverySection) {
  // GppModel.test.ts: every section the library implements, ids 2 and 5..27.
  absl::StatusOr<GppString> gpp = DecodeGppString(kGppVectors[4].gpp);
  ASSERT_TRUE(gpp.ok()) << gpp.status();
  EXPECT_EQ(gpp->version, 1u);
  std::vector<uint32_t> want = {2};
  for (uint32_t id = 5; id <= 27; ++id) want.push_back(id);
  EXPECT_EQ(gpp->section_ids, want);
  EXPECT_EQ(gpp->us_sections.size(), 21u);  // 7..27
  ASSERT_TRUE(gpp->tcfeuv2.has_value());
  EXPECT_EQ(gpp->tcfeuv2->cmp_id, 880u);
  EXPECT_EQ(gpp->tcfeuv2->policy_version, 5u);
  EXPECT_TRUE(gpp->tcfeuv2->is_service_specific);
  ASSERT_TRUE(gpp->uspv1.has_value());
  EXPECT_EQ(gpp->uspv1->opt_out_sale, '-');
  ASSERT_EQ(gpp->undecoded.size(), 1u);  // tcfcav1 is kept verbatim
  EXPECT_EQ(gpp->undecoded[0].first, 5u);
  EXPECT_FALSE(gpp->OptedOutOfSaleSharingOrTargeting());
}

TEST(GppTest, UspV1AndOptOuts) {
  absl::StatusOr<GppString> usp = DecodeGppString("DBABTA~1YNN");  // GppModel.test.ts
  ASSERT_TRUE(usp.ok()) << usp.status();
  ASSERT_TRUE(usp->uspv1.has_value());
  EXPECT_EQ(usp->uspv1->notice, 'Y');
  EXPECT_EQ(usp->uspv1->opt_out_sale, 'N');
  EXPECT_FALSE(usp->OptedOutOfSaleSharingOrTargeting());
  absl::StatusOr<GppString> usp_out = DecodeGppString("DBABTA~1YYN");
  ASSERT_TRUE(usp_out.ok()) << usp_out.status();
  EXPECT_TRUE(usp_out->OptedOutOfSaleSharingOrTargeting());
  // UsNat.test.ts "CVVVkkkkkpFY.YA": SaleOptOut, SharingOptOut, TargetedAdvertisingOptOut = 1.
  absl::StatusOr<GppString> usnat = DecodeGppString("DBABLA~CVVVkkkkkpFY.YA");
  ASSERT_TRUE(usnat.ok()) << usnat.status();
  EXPECT_TRUE(usnat->OptedOutOfSaleSharingOrTargeting());
  EXPECT_EQ(usnat->us_sections[0].Get("Gpc"), 1);
  // "CVQqAAAACg": the user did not opt out (2 = did not opt out).
  absl::StatusOr<GppString> kept = DecodeGppString("DBABLA~CVQqAAAACg");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->OptedOutOfSaleSharingOrTargeting());
  EXPECT_EQ(kept->us_sections[0].Get("Gpc"), 0);  // no GPC segment: the default
  EXPECT_FALSE(kept->us_sections[0].second_included);
}

TEST(GppTest, UsNatVersion1ListsAreCut) {
  absl::StatusOr<GppString> gpp = DecodeGppString("DBABLA~BAAAVVVVUQA.QA");
  ASSERT_TRUE(gpp.ok()) << gpp.status();
  EXPECT_EQ(gpp->us_sections[0].GetList("SensitiveDataProcessing").size(), 12u);
  EXPECT_THAT(gpp->us_sections[0].GetList("KnownChildSensitiveDataConsents"), ElementsAre(1, 1));
}

TEST(TcfTest, MatchesReferenceLibrary) {
  // GppModel.test.ts's tcfeuv2 section, decoded by @iabtechlabtcf/core 1.5.21.
  absl::StatusOr<TcString> tc = DecodeTcString(
      "CPSG_8APSG_8ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA.YAAAAAAAAAAA");
  ASSERT_TRUE(tc.ok()) << tc.status();
  const nlohmann::json j = Plain(TcStringToJson(*tc));
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["created"], "2022-01-01T00:00:00.000Z");
  EXPECT_EQ(j["lastUpdated"], "2022-01-01T00:00:00.000Z");
  EXPECT_EQ(j["cmpId"], 880);
  EXPECT_EQ(j["cmpVersion"], 0);
  EXPECT_EQ(j["consentLanguage"], "EN");
  EXPECT_EQ(j["vendorListVersion"], 48);
  EXPECT_EQ(j["policyVersion"], 2);
  EXPECT_EQ(j["isServiceSpecific"], true);
  EXPECT_EQ(j["useNonStandardTexts"], false);
  EXPECT_EQ(j["publisherCountryCode"], "DE");
  EXPECT_EQ(j["purposeConsents"], nlohmann::json::array());
  EXPECT_EQ(j["vendorConsents"], nlohmann::json({1, 2, 3, 4}));
  EXPECT_EQ(j["vendorLegitimateInterests"], nlohmann::json::array());
  EXPECT_EQ(j["vendorsDisclosed"].size(), 7u);
  EXPECT_EQ(j["publisherConsents"], nlohmann::json::array());
  EXPECT_EQ(j["numCustomPurposes"], 0);
}

TEST(TcfTest, PurposesVendorsAndPaddingAndPolicy5) {
  // TCString.test.ts (decoded by the library: purposes 1-11, LI 2 and 7, vendors 12,14,435,448).
  const std::string s = "CQd924AQd924AASACCENCNFsAP_gAEIAACiQL6QBAAGAAOANmAcAF9IAIADgAA";
  for (const std::string& text : {s, s + "==", s + "="}) {
    absl::StatusOr<TcString> tc = DecodeTcString(text);
    ASSERT_TRUE(tc.ok()) << tc.status();
    EXPECT_EQ(tc->cmp_id, 18u);
    EXPECT_EQ(tc->vendor_list_version, 141u);
    EXPECT_EQ(tc->policy_version, 5u);
    EXPECT_THAT(tc->purpose_consents.Ids(), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    EXPECT_THAT(tc->purpose_legitimate_interests.Ids(), ElementsAre(2, 7));
    EXPECT_THAT(tc->special_feature_optins.Ids(), ElementsAre(1, 2));
    EXPECT_THAT(tc->vendor_consents.ids.Ids(), ElementsAre(12, 14, 435, 448));
    EXPECT_THAT(tc->vendor_legitimate_interests.ids.Ids(), ElementsAre(14));
    EXPECT_EQ(std::string(tc->publisher_country_code, 2), "US");
  }
}

TEST(TcfTest, LibraryRejectsItsBadBitfieldAndSoDoWe) {
  // TCString.test.ts line 227: the library throws "bitfield encoding length mismatch".
  absl::StatusOr<TcString> tc = DecodeTcString(
      "CLSYjTaOngnCIAOABBENAXCMAGOAABBAAA7IA5n-m7fP6_3fbqVv6E__PoA5Aqff3aJx8tv_"
      "1967rfnQEQoAIAAQCrwkA"
      "EABAcACABIMACAAuApEVABABUSABgBCAVSAtIoACACIArYQAHACgAFgAVwBJgDcAI7AWgMAAgBiKgAgBMgFfKQAQBRk"
      "QAQA4AFiBAAoA-AEVAJlAVgAtYcACAJcAr4eABAK8OgBgFzAOmAqwgABAWyA.IFukWSQh");
  ASSERT_FALSE(tc.ok());
  EXPECT_EQ(tc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(tc.status()), StartsWith("tcf "));
}

TEST(TcfTest, MalformedStringsNameSegmentAndBit) {
  const std::string core = "CQd924AQd924AASACCENCNFsAP_gAEIAACiQL6QBAAGAAOANmAcAF9IAIADgAA";
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"", "tcf core segment: bit 0: empty segment"},
      {"C!", "tcf core segment: bit 6: invalid base64url character at index 1"},
      {"BO", "tcf core segment: bit 0: version 1 is not supported (TCF v2 only)"},
      {"CQd924A",
       "tcf core segment: bit 42: lastUpdated runs past the end of the segment (42 bits)"},
      // Cut inside the range-encoded vendor consents (MaxVendorId at bit 213).
      {core.substr(0, 40),
       "tcf core segment: bit 230: vendorConsents NumEntries runs past the end of the segment "
       "(240 bits)"},
      {core.substr(0, 44),
       "tcf core segment: bit 259: vendorConsents range entry 1 of 4 runs past the end"},
      {core + ".", "tcf segment 2: bit 0: empty segment"},
      {core + ".AAAA", "tcf segment 2: bit 0: unknown segment type 0"},
      {core + ".IAA",
       "tcf disclosed vendors segment: bit 3: vendorsDisclosed MaxVendorId runs past the end"},
      {core + ".YAAA", "tcf publisher tc segment: bit 3: publisherConsents runs past the end"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<TcString> tc = DecodeTcString(c.text);
    ASSERT_FALSE(tc.ok());
    EXPECT_EQ(tc.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(tc.status()), StartsWith(c.message));
  }
}

TEST(TcfTest, RangeEncodingAndRestrictions) {
  // Built bit by bit: core with vendorConsents as ranges {3, 5-7} and one restriction
  // (purpose 2, type 1, vendors 5-6), vendorLegitimateInterests empty bitfield.
  std::string bits;
  auto put = [&bits](uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) bits += ((v >> i) & 1) ? '1' : '0';
  };
  put(2, 6);
  put(16409952000ull, 36);
  put(16409952000ull, 36);
  put(7, 12);
  put(1, 12);
  put(1, 6);
  put(4, 6);   // E
  put(13, 6);  // N
  put(100, 12);
  put(4, 6);
  put(0, 1);
  put(0, 1);
  put(0, 12);
  put(0b110000000000000000000000, 24);
  put(0, 24);
  put(0, 1);
  put(3, 6);   // D
  put(4, 6);   // E
  put(7, 16);  // MaxVendorId
  put(1, 1);   // range
  put(2, 12);
  put(0, 1);
  put(3, 16);
  put(1, 1);
  put(5, 16);
  put(7, 16);
  put(0, 16);  // LI MaxVendorId 0
  put(0, 1);
  put(1, 12);  // one restriction
  put(2, 6);
  put(1, 2);
  put(1, 12);
  put(1, 1);
  put(5, 16);
  put(6, 16);
  while (bits.size() % 6 != 0) bits += '0';
  static constexpr char kDict[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string text;
  for (size_t i = 0; i < bits.size(); i += 6)
    text += kDict[std::stoi(bits.substr(i, 6), nullptr, 2)];
  absl::StatusOr<TcString> tc = DecodeTcString(text);
  ASSERT_TRUE(tc.ok()) << tc.status();
  EXPECT_TRUE(tc->vendor_consents.range_encoding);
  EXPECT_THAT(tc->vendor_consents.ids.Ids(), ElementsAre(3, 5, 6, 7));
  EXPECT_THAT(tc->purpose_consents.Ids(), ElementsAre(1, 2));
  ASSERT_EQ(tc->publisher_restrictions.size(), 1u);
  EXPECT_EQ(tc->publisher_restrictions[0].purpose_id, 2u);
  EXPECT_EQ(tc->publisher_restrictions[0].restriction_type, 1u);
  EXPECT_THAT(tc->publisher_restrictions[0].vendors.Ids(), ElementsAre(5, 6));
  EXPECT_EQ(TcStringToJson(*tc)["created"], "2022-01-01T00:00:00.000Z");
  // Every truncation of it is an error naming the core segment, never a crash.
  for (size_t n = 1; n + 1 < text.size(); ++n) {
    absl::StatusOr<TcString> cut = DecodeTcString(text.substr(0, n));
    ASSERT_FALSE(cut.ok()) << n;
    EXPECT_THAT(Msg(cut.status()), StartsWith("tcf core segment: bit ")) << n;
  }
}

TEST(GppTest, MalformedStringsNameSegmentAndBit) {
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"", "gpp header: bit 0: empty segment"},
      {"CBABLA~CVQqAAAACg", "gpp header: bit 0: header type is 2, not 3"},
      {"DBABLA", "gpp header: bit 0: header lists 1 sections but the string has 0"},
      {"DBABLA~CVQqAAAACg~1YNN", "gpp header: bit 0: header lists 1 sections but the string has 2"},
      {"DBAB", "gpp header: bit 24: SectionIds group runs past the end"},
      {"DBABLA~CVQq", "gpp usnat core segment: bit 24: SensitiveDataProcessing runs past the end"},
      {"DBABLA~CVQqAAAACg.", "gpp usnat gpc segment: bit 0: empty segment"},
      {"DBABTA~1YN", "gpp uspv1 section: bit 0: length is 3 characters, not 4"},
      {"DBABTA~1YXN", "gpp uspv1 section: bit 16: OptOutSale is not Y, N or -"},
      {"DBABMA~CPSG", "gpp tcfeuv2 core segment: bit 6: created runs past the end"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<GppString> gpp = DecodeGppString(c.text);
    ASSERT_FALSE(gpp.ok());
    EXPECT_EQ(gpp.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(gpp.status()), StartsWith(c.message));
  }
}

// The typical GPP string of testing/signal_strings.h (tcfeuv2 with 321 vendor consents out of
// 1100, usnat with GPC); expected values from @iabtechlabtcf/core 1.5.21 (the tcfeuv2 section) and
// @iabgpp/cmpapi 3.2.0 (usnat), via tools/signals/crosscheck.mjs.
constexpr const char* kTypicalGpp = testing::kTypicalGppString;

uint64_t Sum(const std::vector<uint32_t>& ids) {
  uint64_t sum = 0;
  for (uint32_t id : ids) sum += id;
  return sum;
}

TEST(GppTest, TypicalStringMatchesBothLibraries) {
  absl::StatusOr<GppString> gpp = DecodeGppString(kTypicalGpp);
  ASSERT_TRUE(gpp.ok()) << gpp.status();
  EXPECT_THAT(gpp->section_ids, ElementsAre(2, 7));
  ASSERT_TRUE(gpp->tcfeuv2.has_value());
  const TcString& tc = *gpp->tcfeuv2;
  EXPECT_EQ(tc.cmp_id, 10u);
  EXPECT_EQ(tc.cmp_version, 3u);
  EXPECT_EQ(tc.vendor_list_version, 85u);
  EXPECT_EQ(tc.policy_version, 5u);
  EXPECT_THAT(tc.purpose_consents.Ids(), ElementsAre(1, 2, 3, 4, 7, 9, 10));
  EXPECT_THAT(tc.purpose_legitimate_interests.Ids(), ElementsAre(2, 7, 9, 10));
  EXPECT_THAT(tc.special_feature_optins.Ids(), ElementsAre(1));
  EXPECT_EQ(tc.vendor_consents.ids.Count(), 321u);
  EXPECT_EQ(Sum(tc.vendor_consents.ids.Ids()), 171013u);
  EXPECT_EQ(tc.vendor_legitimate_interests.ids.Count(), 129u);
  EXPECT_EQ(Sum(tc.vendor_legitimate_interests.ids.Ids()), 68924u);
  EXPECT_TRUE(tc.has_publisher_tc);
  EXPECT_THAT(tc.publisher_consents.Ids(), ElementsAre(1, 2, 3));
  EXPECT_EQ(TcStringToJson(tc)["created"], "2026-12-05T00:00:00.000Z");
  EXPECT_EQ(
      UsSectionsOf(Plain(GppStringToJson(*gpp))),
      nlohmann::json::parse(
          R"json({"usnat":{"Version":2,"SharingNotice":1,"SaleOptOutNotice":1,"SharingOptOutNotice":1,)json"
          R"json("TargetedAdvertisingOptOutNotice":1,"SensitiveDataProcessingOptOutNotice":0,)json"
          R"json("SensitiveDataLimitUseNotice":0,"SaleOptOut":2,"SharingOptOut":2,)json"
          R"json("TargetedAdvertisingOptOut":1,"SensitiveDataProcessing":[0,0,0,0,0,0,0,0,0,0,0,)json"
          R"json(0,0,0,0,0],"KnownChildSensitiveDataConsents":[0,0,0],"PersonalDataConsents":0,)json"
          R"json("MspaCoveredTransaction":2,"MspaOptOutOptionMode":0,"MspaServiceProviderMode":0,)json"
          R"json("GpcSegmentType":1,"Gpc":true}})json"));
  EXPECT_TRUE(gpp->OptedOutOfSaleSharingOrTargeting());  // TargetedAdvertisingOptOut = 1
}

// Writes big-endian bit fields and base64url-encodes them, as the IAB encoders do (for
// round-trip properties).
class BitWriter {
 public:
  void Put(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) bits_ += ((v >> i) & 1) ? '1' : '0';
  }
  // Fibonacci coding as @iabgpp/cmpapi's FibonacciIntegerEncoder (v >= 1).
  void PutFibonacci(uint64_t v) {
    std::vector<uint64_t> fib = {1, 2};
    while (fib.back() <= v) fib.push_back(fib[fib.size() - 1] + fib[fib.size() - 2]);
    std::string code;
    for (size_t i = fib.size(); i-- > 0;) {
      if (fib[i] <= v) {
        code.insert(code.begin(), '1');
        v -= fib[i];
      } else if (!code.empty()) {
        code.insert(code.begin(), '0');
      }
    }
    bits_ += code + "1";
  }
  std::string Base64() const {
    static constexpr char kDict[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string padded = bits_;
    while (padded.size() % 6 != 0) padded += '0';
    std::string out;
    for (size_t i = 0; i < padded.size(); i += 6) {
      out += kDict[std::stoi(padded.substr(i, 6), nullptr, 2)];
    }
    return out;
  }

 private:
  std::string bits_;
};

std::string GppHeader(uint32_t section_id) {
  BitWriter w;
  w.Put(3, 6);   // Type
  w.Put(1, 6);   // Version
  w.Put(1, 12);  // one group
  w.Put(0, 1);   // a single id
  w.PutFibonacci(section_id);
  return w.Base64();
}

TEST(GppTest, EveryUsSectionRoundTripsRandomValues) {
  std::mt19937 rng(17);
  for (const SectionDef& def : UsSections()) {
    SCOPED_TRACE(def.name);
    for (int round = 0; round < 20; ++round) {
      BitWriter core;
      std::vector<std::pair<std::string_view, std::vector<int>>> want;
      for (const FieldDef& f : def.core) {
        std::vector<int> values;
        for (int i = 0; i < f.count; ++i) {
          int v = static_cast<int>(rng() % (1u << f.bits));
          if (&f == &def.core[0]) v = 2;  // Version: not usnat's legacy 1
          core.Put(static_cast<uint64_t>(v), f.bits);
          values.push_back(v);
        }
        want.emplace_back(f.name, values);
      }
      std::string text = GppHeader(def.id) + "~" + core.Base64();
      int gpc = -1;
      if (def.second == SecondSegment::kGpc && rng() % 2 == 0) {
        BitWriter seg;
        seg.Put(1, 2);
        gpc = static_cast<int>(rng() % 2);
        seg.Put(static_cast<uint64_t>(gpc), 1);
        text += "." + seg.Base64();
      }
      SCOPED_TRACE(text);
      absl::StatusOr<GppString> gpp = DecodeGppString(text);
      ASSERT_TRUE(gpp.ok()) << gpp.status();
      EXPECT_THAT(gpp->section_ids, ElementsAre(def.id));
      ASSERT_EQ(gpp->us_sections.size(), 1u);
      const UsSection& us = gpp->us_sections[0];
      for (const auto& [name, values] : want) {
        if (values.size() == 1 && name != "SensitiveDataProcessing") {
          EXPECT_EQ(us.Get(name), values[0]) << name;
        } else {
          EXPECT_EQ(us.GetList(name), values) << name;
        }
      }
      EXPECT_EQ(us.second_included, gpc >= 0);
      if (gpc >= 0) {
        EXPECT_EQ(us.Get("Gpc"), gpc);
      }
      bool opted_out = false;
      for (const auto& [name, values] : want) {
        if ((name == "SaleOptOut" || name == "SharingOptOut" ||
             name == "TargetedAdvertisingOptOut") &&
            values[0] == 1) {
          opted_out = true;
        }
      }
      EXPECT_EQ(gpp->OptedOutOfSaleSharingOrTargeting(), opted_out);
    }
  }
}

TEST(TcfTest, VendorBitfieldsRoundTrip) {
  std::mt19937 rng(17);
  for (int round = 0; round < 200; ++round) {
    BitWriter w;
    w.Put(2, 6);
    w.Put(16409952000ull, 36);
    w.Put(16409952000ull, 36);
    w.Put(rng() % 4096, 12);
    w.Put(rng() % 4096, 12);
    w.Put(rng() % 64, 6);
    w.Put(4 * 64 + 13, 12);  // EN
    w.Put(rng() % 4096, 12);
    w.Put(5, 6);
    w.Put(rng() % 2, 1);
    w.Put(rng() % 2, 1);
    const uint32_t special = rng() % 4096, consents = rng() % (1u << 24);
    w.Put(special, 12);
    w.Put(consents, 24);
    w.Put(rng() % (1u << 24), 24);
    w.Put(0, 1);
    w.Put(3 * 64 + 4, 12);  // DE
    const uint32_t max_id = rng() % 1500;
    std::vector<uint32_t> ids;
    w.Put(max_id, 16);
    w.Put(0, 1);  // bitfield
    for (uint32_t id = 1; id <= max_id; ++id) {
      const bool set = rng() % 3 == 0;
      w.Put(set ? 1 : 0, 1);
      if (set) ids.push_back(id);
    }
    w.Put(0, 16);  // vendorLegitimateInterests: empty bitfield
    w.Put(0, 1);
    w.Put(0, 12);  // no publisher restrictions
    const std::string text = w.Base64();
    absl::StatusOr<TcString> tc = DecodeTcString(text);
    ASSERT_TRUE(tc.ok()) << tc.status() << " " << text;
    EXPECT_EQ(tc->vendor_consents.max_id, max_id);
    EXPECT_EQ(tc->vendor_consents.ids.Ids(), ids) << text;
    EXPECT_EQ(tc->special_feature_optins.raw, special);
    EXPECT_EQ(tc->purpose_consents.raw, consents);
    for (uint32_t p = 1; p <= 24; ++p) {
      EXPECT_EQ(tc->purpose_consents.Has(p), ((consents >> (24 - p)) & 1) != 0);
    }
  }
}

TEST(SignalJsonTest, DetectsTypeAndRenders) {
  EXPECT_EQ(DetectSignalType("DBABTA~1YNN"), SignalType::kGpp);
  EXPECT_EQ(DetectSignalType("CQd924AQd924A"), SignalType::kTcf);
  absl::StatusOr<Json> gpp = DecodeSignalToJson("DBABTA~1YNN", std::nullopt);
  ASSERT_TRUE(gpp.ok()) << gpp.status();
  EXPECT_EQ((*gpp)["type"], "gpp");
  EXPECT_EQ(Plain((*gpp)["decoded"]["header"]["SectionIds"]), nlohmann::json({6}));
  EXPECT_EQ((*gpp)["decoded"]["sections"]["uspv1"]["OptOutSale"], "N");
  absl::StatusOr<Json> forced = DecodeSignalToJson("DBABTA~1YNN", SignalType::kTcf);
  ASSERT_FALSE(forced.ok());
  EXPECT_THAT(Msg(forced.status()), HasSubstr("tcf core segment"));
}

}  // namespace
}  // namespace assent::signals
