// Settings of the ads audience sync: the common sender settings plus the ads.* keys (flags >
// ASSENT_ADS_* environment > YAML), read and validated once at start-up.
//
// Thread safety: immutable after ReadConfig.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audience/suppression_file.h"
#include "sender/runtime.h"
#include "sender/settings.h"

namespace assent::ads {

// The environment prefix of every key ("ASSENT_ADS_KAFKA_BROKERS", "ASSENT_ADS_ADS_TENANT").
inline constexpr char kEnvPrefix[] = "ASSENT_ADS_";

struct AdsConfig {
  sender::CommonConfig common;
  // The tenant whose consent governs the audience. Required.
  std::string tenant;
  // The purpose checked on channel TARGETED_ADS (it must cover that channel). Required.
  std::string purpose_id;
  // One contact point per line ("email:..." or "phone:+..."); see audience_file.h. Required.
  std::string audience_file;
  // Where the suppression file is written (replaced atomically). Required.
  std::string suppression_file;
  // Whose hashing convention to follow for phone numbers. Default google.
  audience::AdPlatform platform = audience::AdPlatform::kGoogle;
  // Every member is re-checked this often, because grants expire with time. Default 1m.
  absl::Duration recheck_interval = absl::Minutes(1);
  // The audience file is re-read this often when its modification time changed. Default 30s.
  absl::Duration reload_interval = absl::Seconds(30);
};

// Every key the ads sync accepts (common keys included), with defaults and help.
std::vector<sender::SettingSpec> AdsSpecs();

// Reads and validates the settings (the common ones too: reads the contact-key secret file).
// INVALID_ARGUMENT naming the key. When `tenants` is empty it is set to {tenant}: the sync serves
// one tenant, so only its catalog is loaded.
absl::StatusOr<AdsConfig> ReadConfig(const sender::Settings& settings);

}  // namespace assent::ads
