#include "prefcenter/config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "core/validate.h"
#include "sender/client_tls.h"

namespace assent::prefcenter {
namespace {

constexpr char kDefaultPrimary[] = "#1d4ed8";
constexpr char kDefaultAccent[] = "#0f766e";

// WCAG 2.1 relative luminance of "#rrggbb".
double Luminance(std::string_view hex) {
  auto channel = [&](size_t at) {
    const double c = std::stoi(std::string(hex.substr(at, 2)), nullptr, 16) / 255.0;
    return c <= 0.03928 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

absl::Status CheckColor(const std::string& key, std::string& value, double min_contrast) {
  bool ok = value.size() == 7 && value[0] == '#';
  for (size_t i = 1; ok && i < value.size(); ++i) ok = absl::ascii_isxdigit(value[i]);
  if (!ok) return InvalidField(key, "must be a colour like #1d4ed8");
  value = absl::AsciiStrToLower(value);
  // Against white: (1.0 + 0.05) / (L + 0.05).
  const double contrast = 1.05 / (Luminance(value) + 0.05);
  if (contrast < min_contrast) {
    return InvalidField(key, absl::StrCat("has contrast ", std::round(contrast * 10) / 10,
                                          ":1 against white; at least ", min_contrast,
                                          ":1 is needed (WCAG 2.1 AA)"));
  }
  return absl::OkStatus();
}

absl::Status CheckUrl(const std::string& key, const std::string& value, bool allow_data_image) {
  if (value.empty() || absl::StartsWith(value, "https://")) return absl::OkStatus();
  if (allow_data_image && absl::StartsWith(value, "data:image/")) return absl::OkStatus();
  return InvalidField(
      key, allow_data_image ? "must be an https: or data:image/ URL" : "must be an https: URL");
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidField(key, absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  std::string secret(absl::StripAsciiWhitespace(text.str()));
  if (secret.size() < 16) return InvalidField(key, "the secret must be at least 16 bytes");
  return secret;
}

std::vector<std::string> List(const std::string& value) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out;
}

absl::Status ReadBrand(const std::string& prefix, Brand& brand) {
  if (brand.primary_color.empty()) brand.primary_color = kDefaultPrimary;
  if (brand.accent_color.empty()) brand.accent_color = kDefaultAccent;
  RETURN_IF_ERROR(CheckColor(prefix + "primary_color", brand.primary_color, 4.5));
  RETURN_IF_ERROR(CheckColor(prefix + "accent_color", brand.accent_color, 3.0));
  RETURN_IF_ERROR(CheckUrl(prefix + "logo_url", brand.logo_url, /*allow_data_image=*/true));
  RETURN_IF_ERROR(CheckUrl(prefix + "privacy_url", brand.privacy_url, false));
  return absl::OkStatus();
}

}  // namespace

std::vector<sender::SettingSpec> Specs() {
  std::vector<sender::SettingSpec> specs = {
      {"listen", "127.0.0.1:8080", "HTTP listen address host:port (port 0: any free port)"},
      {"http.tls_cert", "", "PEM certificate chain: serve HTTPS (with http.tls_key)"},
      {"http.tls_key", "", "PEM private key of http.tls_cert"},
      {"consentd", "127.0.0.1:50051", "consentd's gRPC address"},
      {"metrics_listen", "127.0.0.1:9472", "address of /metrics, /healthz, /readyz (empty: off)"},
      {"port_file", "", "write the bound HTTP and metrics addresses here once serving"},
      {"log_level", "info", "trace, debug, info, warn or error"},
      {"link_keyring_file", "", "link keyring that verifies links (links/keyring.h); required"},
      {"legacy_v1_secret_file", "",
       "consentd's contact-key secret file: keeps version 1 one-click links working until they "
       "expire (empty: refused)"},
      {"public_url", "", "public base URL of this service, for links it emails"},
      {"trusted_proxies", "", "comma-separated proxies (CIDRs) whose X-Forwarded-For is believed"},
      {"cors_origins", "", "comma-separated origins allowed to call the JSON API"},
      {"threads", "32",
       "HTTP worker threads (an open keep-alive connection holds one until idle_timeout)"},
      {"idle_timeout", "2s", "how long an idle keep-alive connection is kept"},
      {"max_body_bytes", "65536", "largest request body"},
      {"limits.client_rate", "5", "requests per second per client address"},
      {"limits.client_burst", "30", "burst per client address"},
      {"limits.link_rate", "1", "requests per second per link"},
      {"limits.link_burst", "10", "burst per link"},
      {"form_ttl", "2h", "how long a rendered form can be submitted"},
      {"resend.brokers", "", "Kafka brokers for 'send me a new link' (empty: none sent)"},
      {"resend.topic", "assent.email.requests.v1", "the email sender's requests topic"},
      {"resend.purpose", "service.account",
       "TRANSACTIONAL purpose the new-link email is sent under"},
      {"resend.template", "preference-link", "the email sender's template for it ({{link}})"},
      {"resend.link_ttl", "168h", "how long an emailed link stays valid"},
      {"catalog_ttl", "30s", "how long purposes and policies are cached"},
      {"rpc_deadline", "5s", "deadline of each call to consentd"},
      {"bench.static_route", "false",
       "benchmarks only: GET/POST /__bench/static answer \"ok\" (the baseline handler)"},
  };
  for (sender::SettingSpec& spec : sender::ClientTlsSpecs()) specs.push_back(std::move(spec));
  return specs;
}

std::vector<std::string> OpenPrefixes() { return {"brand.", "tenants."}; }

absl::StatusOr<Config> ReadConfig(const sender::Settings& s) {
  Config c;
  c.http.listen = s.String("listen");
  c.http.tls_cert_file = s.String("http.tls_cert");
  c.http.tls_key_file = s.String("http.tls_key");
  c.http.trusted_proxies = List(s.String("trusted_proxies"));
  c.http.server_name = "prefcenter";
  ASSIGN_OR_RETURN(int64_t threads, s.Int("threads", 1, 256));
  c.http.threads = static_cast<int>(threads);
  ASSIGN_OR_RETURN(c.http.idle_timeout, s.Duration("idle_timeout", absl::Seconds(1)));
  ASSIGN_OR_RETURN(int64_t max_body, s.Int("max_body_bytes", 1024, 1 << 20));
  c.http.max_body_bytes = static_cast<size_t>(max_body);
  c.consentd = s.String("consentd");
  ASSIGN_OR_RETURN(c.consentd_tls, sender::ReadClientTls(s));
  c.metrics_listen = s.String("metrics_listen");
  c.log_level = s.String("log_level");
  const std::string keyring_file = s.String("link_keyring_file");
  if (keyring_file.empty()) return InvalidField("link_keyring_file", "required");
  absl::StatusOr<links::KeyRing> ring = links::KeyRing::Load(keyring_file);
  // Loading names the file, or a field inside it; the error names the key that pointed there.
  if (!ring.ok()) return InvalidField("link_keyring_file", StdSv(ring.status().message()));
  c.keyring = std::make_shared<const links::KeyRing>(*std::move(ring));
  if (const std::string legacy = s.String("legacy_v1_secret_file"); !legacy.empty()) {
    ASSIGN_OR_RETURN(c.legacy_v1_secret, ReadSecretFile("legacy_v1_secret_file", legacy));
  }
  c.public_url = s.String("public_url");
  if (!c.public_url.empty() && !absl::StartsWith(c.public_url, "https://") &&
      !absl::StartsWith(c.public_url, "http://")) {
    return InvalidField("public_url", "must be an http(s):// URL");
  }
  c.cors_origins = List(s.String("cors_origins"));
  for (size_t i = 0; i < c.cors_origins.size(); ++i) {
    RETURN_IF_ERROR(CheckUrl(absl::StrCat("cors_origins[", i, "]"), c.cors_origins[i], false));
  }
  auto rate = [&](const std::string& key, double* out) -> absl::Status {
    ASSIGN_OR_RETURN(int64_t v, s.Int(key, 1, 1000000));
    *out = static_cast<double>(v);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(rate("limits.client_rate", &c.client_rate));
  RETURN_IF_ERROR(rate("limits.client_burst", &c.client_burst));
  RETURN_IF_ERROR(rate("limits.link_rate", &c.link_rate));
  RETURN_IF_ERROR(rate("limits.link_burst", &c.link_burst));
  ASSIGN_OR_RETURN(c.form_ttl, s.Duration("form_ttl", absl::Minutes(5)));
  c.resend_brokers = s.String("resend.brokers");
  c.resend_topic = s.String("resend.topic");
  c.resend_purpose = s.String("resend.purpose");
  RETURN_IF_ERROR(core::ValidatePurposeId("resend.purpose", c.resend_purpose));
  c.resend_template = s.String("resend.template");
  ASSIGN_OR_RETURN(c.resend_link_ttl, s.Duration("resend.link_ttl", absl::Minutes(10)));
  ASSIGN_OR_RETURN(c.catalog_ttl, s.Duration("catalog_ttl", absl::Seconds(1)));
  ASSIGN_OR_RETURN(c.rpc_deadline, s.Duration("rpc_deadline", absl::Milliseconds(100)));

  // brand.<field> is the default brand; tenants.<tenant>.<field> a tenant's.
  auto set_field = [](Brand& b, const std::string& field, const std::string& value) -> bool {
    if (field == "name")
      b.name = value;
    else if (field == "logo_url")
      b.logo_url = value;
    else if (field == "primary_color")
      b.primary_color = value;
    else if (field == "accent_color")
      b.accent_color = value;
    else if (field == "privacy_url")
      b.privacy_url = value;
    else if (field == "css_file")
      b.css_file = value;
    else if (field == "template_dir")
      b.template_dir = value;
    else
      return false;
    return true;
  };
  for (const auto& [field, value] : s.WithPrefix("brand.")) {
    if (!set_field(c.default_brand, field, value)) {
      return InvalidField("brand." + field, "unknown brand field");
    }
  }
  if (c.default_brand.name.empty()) c.default_brand.name = "Assent";
  RETURN_IF_ERROR(ReadBrand("brand.", c.default_brand));
  for (const auto& [key, value] : s.WithPrefix("tenants.")) {
    const size_t dot = key.find('.');
    const std::string tenant = key.substr(0, dot);
    RETURN_IF_ERROR(core::ValidateTenantId("tenants." + tenant, tenant));
    if (dot == std::string::npos || !set_field(c.brands[tenant], key.substr(dot + 1), value)) {
      return InvalidField("tenants." + key, "unknown brand field");
    }
  }
  for (auto& [tenant, brand] : c.brands) {
    RETURN_IF_ERROR(ReadBrand("tenants." + tenant + ".", brand));
  }
  ASSIGN_OR_RETURN(c.bench_static_route, s.Bool("bench.static_route"));
  c.settings_description = s.Describe();
  return c;
}

Brand BrandFor(const Config& config, const std::string& tenant, const std::string& display_name) {
  auto it = config.brands.find(tenant);
  Brand brand = it != config.brands.end() ? it->second : config.default_brand;
  if (it == config.brands.end() || brand.name.empty()) {
    brand.name = display_name.empty() ? config.default_brand.name : display_name;
  }
  return brand;
}

}  // namespace assent::prefcenter
