#include "ads_sync/config.h"

#include <algorithm>

#include "common/errors.h"
#include "common/status_macros.h"
#include "core/validate.h"

namespace assent::ads {

std::vector<sender::SettingSpec> AdsSpecs() {
  std::vector<sender::SettingSpec> specs = sender::CommonSpecs("ads");
  specs.insert(
      specs.end(),
      {
          {"ads.tenant", "", "tenant whose consent governs the audience; required"},
          {"ads.purpose_id", "",
           "purpose checked on channel TARGETED_ADS (must cover it); required"},
          {"ads.audience_file", "",
           "the audience: one contact point per line (email:<address> or "
           "phone:<E.164>), '#' comments; required"},
          {"ads.suppression_file", "",
           "output: ad-platform hashes of members that must not be targeted; "
           "required"},
          {"ads.platform", "google",
           "hashing convention for phone numbers: google (+E.164) or meta "
           "(digits only)"},
          {"ads.recheck_interval", "1m",
           "how often every member is re-checked (grants expire with time)"},
          {"ads.reload_interval", "30s", "how often the audience file is re-read when it changed"},
      });
  return specs;
}

absl::StatusOr<AdsConfig> ReadConfig(const sender::Settings& s) {
  AdsConfig c;
  ASSIGN_OR_RETURN(c.common, sender::ReadCommon("ads", s));
  c.tenant = s.String("ads.tenant");
  if (c.tenant.empty()) return InvalidField("ads.tenant", "required");
  RETURN_IF_ERROR(core::ValidateTenantId("ads.tenant", c.tenant));
  c.purpose_id = s.String("ads.purpose_id");
  if (c.purpose_id.empty()) return InvalidField("ads.purpose_id", "required");
  RETURN_IF_ERROR(core::ValidatePurposeId("ads.purpose_id", c.purpose_id));
  c.audience_file = s.String("ads.audience_file");
  if (c.audience_file.empty()) return InvalidField("ads.audience_file", "required");
  c.suppression_file = s.String("ads.suppression_file");
  if (c.suppression_file.empty()) return InvalidField("ads.suppression_file", "required");
  const std::string platform = s.String("ads.platform");
  if (platform == "google") {
    c.platform = audience::AdPlatform::kGoogle;
  } else if (platform == "meta") {
    c.platform = audience::AdPlatform::kMeta;
  } else {
    return InvalidField("ads.platform", "must be google or meta");
  }
  ASSIGN_OR_RETURN(c.recheck_interval, s.Duration("ads.recheck_interval", absl::Seconds(1)));
  ASSIGN_OR_RETURN(c.reload_interval, s.Duration("ads.reload_interval", absl::Milliseconds(100)));
  if (c.common.tenants.empty()) {
    c.common.tenants.push_back(c.tenant);
  } else if (std::find(c.common.tenants.begin(), c.common.tenants.end(), c.tenant) ==
             c.common.tenants.end()) {
    return InvalidField("tenants", "must include ads.tenant (or be empty)");
  }
  return c;
}

}  // namespace assent::ads
