#include "signals/signals_json.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace assent::signals {
namespace {

std::string IsoTime(int64_t deciseconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(deciseconds * 100),
                          absl::UTCTimeZone());
}

Json Ids(const std::vector<uint32_t>& ids) { return Json(ids); }

Json RenderFields(std::span<const FieldDef> fields, const uint8_t* values,
                  const UsSection& section) {
  Json out = Json::object();
  size_t slot = 0;
  for (const FieldDef& f : fields) {
    const std::string name(f.name);
    if (f.kind == FieldKind::kIntList) {
      out[name] = section.GetList(f.name);
    } else if (f.kind == FieldKind::kBool) {
      out[name] = values[slot] != 0;
    } else {
      out[name] = values[slot];
    }
    slot += f.count;
  }
  return out;
}

Json UsSectionToJson(const UsSection& s) {
  Json out = RenderFields(s.def->core, s.values, s);
  if (s.def->second == SecondSegment::kGpc) {
    out["GpcSegmentIncluded"] = s.second_included;
    out["GpcSegmentType"] = s.second_values[0];
    out["Gpc"] = s.second_values[1] != 0;
  } else if (s.def->second == SecondSegment::kSensitiveDataConsent) {
    out["SensitiveDataConsentSegmentIncluded"] = s.second_included;
    out["SensitiveDataProcessing"] = s.GetList("SensitiveDataProcessing");
  }
  return out;
}

Json VendorVectorJson(const VendorVector& v) { return Ids(v.ids.Ids()); }

}  // namespace

Json TcStringToJson(const TcString& tc) {
  Json j;
  j["version"] = tc.version;
  j["created"] = IsoTime(tc.created_deciseconds);
  j["lastUpdated"] = IsoTime(tc.last_updated_deciseconds);
  j["cmpId"] = tc.cmp_id;
  j["cmpVersion"] = tc.cmp_version;
  j["consentScreen"] = tc.consent_screen;
  j["consentLanguage"] = std::string(tc.consent_language, 2);
  j["vendorListVersion"] = tc.vendor_list_version;
  j["policyVersion"] = tc.policy_version;
  j["isServiceSpecific"] = tc.is_service_specific;
  j["useNonStandardTexts"] = tc.use_non_standard_texts;
  j["specialFeatureOptins"] = Ids(tc.special_feature_optins.Ids());
  j["purposeConsents"] = Ids(tc.purpose_consents.Ids());
  j["purposeLegitimateInterests"] = Ids(tc.purpose_legitimate_interests.Ids());
  j["purposeOneTreatment"] = tc.purpose_one_treatment;
  j["publisherCountryCode"] = std::string(tc.publisher_country_code, 2);
  j["vendorConsents"] = VendorVectorJson(tc.vendor_consents);
  j["vendorLegitimateInterests"] = VendorVectorJson(tc.vendor_legitimate_interests);
  Json restrictions = Json::array();
  for (const PublisherRestriction& pr : tc.publisher_restrictions) {
    restrictions.push_back({{"purposeId", pr.purpose_id},
                            {"restrictionType", pr.restriction_type},
                            {"vendors", Ids(pr.vendors.Ids())}});
  }
  j["publisherRestrictions"] = std::move(restrictions);
  if (tc.has_vendors_disclosed) j["vendorsDisclosed"] = VendorVectorJson(tc.vendors_disclosed);
  if (tc.has_vendors_allowed) j["vendorsAllowed"] = VendorVectorJson(tc.vendors_allowed);
  if (tc.has_publisher_tc) {
    j["publisherConsents"] = Ids(tc.publisher_consents.Ids());
    j["publisherLegitimateInterests"] = Ids(tc.publisher_legitimate_interests.Ids());
    j["numCustomPurposes"] = tc.num_custom_purposes;
    j["publisherCustomConsents"] = Ids(tc.publisher_custom_consents.Ids());
    j["publisherCustomLegitimateInterests"] = Ids(tc.publisher_custom_legitimate_interests.Ids());
  }
  return j;
}

Json GppStringToJson(const GppString& gpp) {
  Json j;
  j["header"] = {{"Version", gpp.version}, {"SectionIds", gpp.section_ids}};
  Json sections = Json::object();
  if (gpp.tcfeuv2) sections["tcfeuv2"] = TcStringToJson(*gpp.tcfeuv2);
  if (gpp.uspv1) {
    sections["uspv1"] = {{"Version", gpp.uspv1->version},
                         {"Notice", std::string(1, gpp.uspv1->notice)},
                         {"OptOutSale", std::string(1, gpp.uspv1->opt_out_sale)},
                         {"LspaCovered", std::string(1, gpp.uspv1->lspa_covered)}};
  }
  for (const UsSection& s : gpp.us_sections)
    sections[std::string(s.def->name)] = UsSectionToJson(s);
  j["sections"] = std::move(sections);
  if (!gpp.undecoded.empty()) {
    Json undecoded = Json::object();
    for (const auto& [id, text] : gpp.undecoded) {
      const std::string_view name = GppSectionName(id);
      undecoded[name.empty() ? absl::StrCat(id) : std::string(name)] = text;
    }
    j["undecodedSections"] = std::move(undecoded);
  }
  return j;
}

SignalType DetectSignalType(std::string_view text) {
  if (text.find('~') != std::string_view::npos || text.substr(0, 2) == "DB") {
    return SignalType::kGpp;
  }
  return SignalType::kTcf;
}

absl::StatusOr<Json> DecodeSignalToJson(std::string_view text, std::optional<SignalType> type) {
  const SignalType t = type.value_or(DetectSignalType(text));
  Json out;
  if (t == SignalType::kGpp) {
    absl::StatusOr<GppString> gpp = DecodeGppString(text);
    if (!gpp.ok()) return gpp.status();
    out["type"] = "gpp";
    out["decoded"] = GppStringToJson(*gpp);
  } else {
    absl::StatusOr<TcString> tc = DecodeTcString(text);
    if (!tc.ok()) return tc.status();
    out["type"] = "tcf";
    out["decoded"] = TcStringToJson(*tc);
  }
  return out;
}

}  // namespace assent::signals
