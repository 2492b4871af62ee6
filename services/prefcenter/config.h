// The preference center's configuration: flags > environment (ASSENT_PREFCENTER_*) > YAML file
// (--config), as every Assent process reads it; `prefcenter --help` lists every key and default.
// Loaded once and validated at start, then immutable.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "http/server.h"
#include "links/keyring.h"
#include "rpc/tls.h"
#include "sender/settings.h"

namespace assent::prefcenter {

// How a tenant's pages look. Colours are "#rrggbb" (validated: the primary colour carries white
// text, so it needs 4.5:1 contrast against white; the accent 3:1).
struct Brand {
  std::string name;           // default: the tenant's display name from the catalog
  std::string logo_url;       // https: or data:image/..., optional
  std::string primary_color;  // default #1d4ed8
  std::string accent_color;   // default #0f766e
  std::string privacy_url;    // https:, optional
  std::string css_file;       // optional: a stylesheet replacing the built-in one
  std::string template_dir;   // optional: *.mustache files replacing the built-in ones
};

struct Config {
  // The HTTP server: listen (default 127.0.0.1:8080), http.tls_cert_file/http.tls_key_file
  // (--http-tls-cert, --http-tls-key: HTTPS), trusted_proxies.
  http::ServerOptions http;
  // consentd's gRPC address. Default 127.0.0.1:50051.
  std::string consentd = "127.0.0.1:50051";
  // The gRPC connection's TLS (tls.ca, tls.cert, tls.key, tls.server_name, token_file; else
  // ASSENT_TLS_*). Default: plaintext.
  rpc::TlsOptions consentd_tls;
  // /metrics, /healthz, /readyz. Default 127.0.0.1:9472; empty disables them.
  std::string metrics_listen = "127.0.0.1:9472";
  // The link keyring that verifies links (and signs the fresh ones it emails). Required.
  std::shared_ptr<const links::KeyRing> keyring;
  // Version 1 one-click links (before link keyrings) were keyed from consentd's contact-key
  // secret; with this file set they keep verifying until they expire. Default empty: refused.
  std::string legacy_v1_secret;
  // The public base URL of this service ("https://prefs.example.com"), for links it emails.
  std::string public_url;
  // Origins allowed to call the JSON API from a browser (CORS). Default none.
  std::vector<std::string> cors_origins;
  // Per-tenant branding; `default_brand` for pages whose tenant is unknown.
  std::map<std::string, Brand> brands;
  Brand default_brand;
  // Rate limits: requests per second and burst per client address, and per link.
  double client_rate = 5, client_burst = 30;
  double link_rate = 1, link_burst = 10;
  // How long a rendered form stays valid (its CSRF token). Default 2h.
  absl::Duration form_ttl = absl::Hours(2);
  // How long a link emailed by "send me a new link" stays valid. Default 7 days.
  absl::Duration resend_link_ttl = absl::Hours(24 * 7);
  // "Send me a new link": Kafka brokers and the email sender's requests topic, the purpose the
  // message is sent under (a TRANSACTIONAL purpose of the tenant) and the email template id.
  // Empty brokers: the form answers as usual but sends nothing (a warning is logged at start).
  std::string resend_brokers;
  std::string resend_topic = "assent.email.requests.v1";
  std::string resend_purpose = "service.account";
  std::string resend_template = "preference-link";
  // How long catalog entries (purposes, policy, tenant) are cached. Default 30s.
  absl::Duration catalog_ttl = absl::Seconds(30);
  // Deadline of each call to consentd. Default 5s.
  absl::Duration rpc_deadline = absl::Seconds(5);
  std::string log_level = "info";
  // Benchmarks only: GET and POST /__bench/static answer "ok" from the same server, the baseline
  // tools/bench/prefcenter measures against. Default false.
  bool bench_static_route = false;
  std::string settings_description;  // for the start-up log line, secrets redacted
};

// The settings keys, defaults and help lines.
std::vector<sender::SettingSpec> Specs();
std::vector<std::string> OpenPrefixes();
// Validates and reads everything, loading the keyring and secret files. INVALID_ARGUMENT naming
// the key for anything wrong.
absl::StatusOr<Config> ReadConfig(const sender::Settings& settings);

// Brand for `tenant`: its configured brand with defaults filled, the catalog's display name as
// the name when none is configured.
Brand BrandFor(const Config& config, const std::string& tenant, const std::string& display_name);

}  // namespace assent::prefcenter
