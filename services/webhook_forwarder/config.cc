#include "webhook_forwarder/config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "httpclient/client.h"

namespace assent::webhooks {
namespace {

constexpr char kEndpoints[] = "endpoints.";
// The keys of one endpoint block.
const std::set<std::string>& EndpointKeys() {
  static const auto* keys = new std::set<std::string>{"url",
                                                      "secret_file",
                                                      "tenants",
                                                      "purposes",
                                                      "kinds",
                                                      "imported_max_age",
                                                      "max_in_flight",
                                                      "retry_max_age",
                                                      "retry_initial",
                                                      "retry_max_delay",
                                                      "timeout",
                                                      "ca_file",
                                                      "allow_insecure_http"};
  return *keys;
}

std::set<std::string> SplitList(const std::string& value) {
  std::set<std::string> out;
  for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    out.insert(std::string(absl::StripAsciiWhitespace(part)));
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseDuration(const std::string& key, const std::string& value,
                                             absl::Duration min) {
  absl::Duration d;
  if (!absl::ParseDuration(Sv(value), &d) || d < min) {
    return InvalidField(key, absl::StrCat("must be a duration of at least ",
                                          absl::FormatDuration(min), " (e.g. 30s, 24h)"));
  }
  return d;
}

absl::StatusOr<EndpointConfig> ReadEndpoint(const std::string& name,
                                            const std::map<std::string, std::string>& values) {
  const std::string base = absl::StrCat(kEndpoints, name, ".");
  for (const auto& [key, value] : values) {
    if (!EndpointKeys().contains(key)) return InvalidField(base + key, "unknown key");
  }
  auto get = [&](const std::string& key, const std::string& fallback) {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  };
  EndpointConfig e;
  e.name = name;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return InvalidField(absl::StrCat(kEndpoints, name), "name: letters, digits, _ and - only");
    }
  }
  const std::string insecure = get("allow_insecure_http", "false");
  if (insecure != "true" && insecure != "false") {
    return InvalidField(base + "allow_insecure_http", "must be true or false");
  }
  e.allow_insecure_http = insecure == "true";
  e.url = get("url", "");
  if (e.url.empty()) return InvalidField(base + "url", "required");
  RETURN_IF_ERROR(httpclient::CheckUrl(base + "url", e.url, e.allow_insecure_http));
  const std::string secret_file = get("secret_file", "");
  if (secret_file.empty()) return InvalidField(base + "secret_file", "required");
  RETURN_IF_ERROR(CheckSecretFileMode(base + "secret_file", secret_file));
  std::ifstream in(secret_file, std::ios::binary);
  if (!in) return InvalidField(base + "secret_file", absl::StrCat("cannot read ", secret_file));
  std::stringstream text;
  text << in.rdbuf();
  ASSIGN_OR_RETURN(e.secrets, ParseSecrets(base + "secret_file", text.str()));
  e.filter.tenants = SplitList(get("tenants", ""));
  e.filter.purposes = SplitList(get("purposes", ""));
  for (const std::string& kind : SplitList(get("kinds", ""))) {
    assent::v1::ChangeKind k;
    if (!assent::v1::ChangeKind_Parse(kind, &k) || k == assent::v1::CHANGE_KIND_UNSPECIFIED) {
      return InvalidField(base + "kinds",
                          absl::StrCat("unknown change kind \"", kind, "\" (e.g. SUBJECT_ERASED)"));
    }
    e.filter.kinds.insert(k);
  }
  ASSIGN_OR_RETURN(e.filter.imported_max_age,
                   ParseDuration(base + "imported_max_age", get("imported_max_age", "720h"),
                                 absl::ZeroDuration()));
  int64_t in_flight = 0;
  if (!absl::SimpleAtoi(Sv(get("max_in_flight", "4")), &in_flight) || in_flight < 1 ||
      in_flight > 256) {
    return InvalidField(base + "max_in_flight", "must be an integer in 1..256");
  }
  e.max_in_flight = static_cast<int>(in_flight);
  ASSIGN_OR_RETURN(e.retry_max_age, ParseDuration(base + "retry_max_age",
                                                  get("retry_max_age", "24h"), absl::Seconds(0)));
  ASSIGN_OR_RETURN(
      e.retry_initial,
      ParseDuration(base + "retry_initial", get("retry_initial", "1s"), absl::Milliseconds(1)));
  ASSIGN_OR_RETURN(
      e.retry_max_delay,
      ParseDuration(base + "retry_max_delay", get("retry_max_delay", "10m"), e.retry_initial));
  ASSIGN_OR_RETURN(e.timeout,
                   ParseDuration(base + "timeout", get("timeout", "10s"), absl::Milliseconds(10)));
  e.ca_file = get("ca_file", "");
  if (!e.ca_file.empty() && !std::ifstream(e.ca_file)) {
    return InvalidField(base + "ca_file", absl::StrCat("cannot read ", e.ca_file));
  }
  return e;
}

}  // namespace

std::vector<sender::SettingSpec> WebhookSpecs() {
  return {
      {"kafka.brokers", "", "Kafka bootstrap servers, host:port,...; required"},
      {"kafka.topic_prefix", "assent.", "prefix of Assent's topic names"},
      {"kafka.group_id", "assent-webhooks", "consumer group of the forwarder"},
      {"deadletter_partitions", "3", "partitions of the dead-letter topic when created"},
      {"max_backlog", "10000", "pause consuming while an endpoint has this many waiting"},
      {"replay_from", "", "RFC 3339 time: seek the group to it at start and deliver again"},
      {"metrics_listen", "127.0.0.1:0", "HTTP address of /metrics, /healthz, /readyz"},
      {"port_file", "", "write the bound metrics address here once serving"},
      {"log_level", "info", "trace, debug, info, warn or error"},
  };
}

std::vector<std::string> WebhookOpenPrefixes() {
  return {kEndpoints, "kafka.consumer.", "kafka.producer."};
}

absl::StatusOr<std::vector<std::string>> ParseSecrets(const std::string& field,
                                                      const std::string& text) {
  std::vector<std::string> secrets;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    if (!absl::ConsumePrefix(&line, "whsec_")) {
      return InvalidField(field, "each secret must be \"whsec_\" followed by base64");
    }
    std::string key;
    if (!absl::Base64Unescape(line, &key) || key.size() < 24 || key.size() > 64) {
      return InvalidField(field, "each secret must be whsec_ + base64 of 24 to 64 random bytes");
    }
    secrets.push_back(std::move(key));
  }
  if (secrets.empty()) return InvalidField(field, "holds no whsec_ secret");
  return secrets;
}

absl::StatusOr<WebhookConfig> ReadWebhookConfig(const sender::Settings& s) {
  WebhookConfig c;
  c.kafka_brokers = s.String("kafka.brokers");
  if (c.kafka_brokers.empty()) return InvalidField("kafka.brokers", "required");
  c.topic_prefix = s.String("kafka.topic_prefix");
  c.group_id = s.String("kafka.group_id");
  if (c.group_id.empty()) return InvalidField("kafka.group_id", "required");
  c.consumer_overrides = s.WithPrefix("kafka.consumer.");
  c.producer_overrides = s.WithPrefix("kafka.producer.");
  c.changes_topic = c.topic_prefix + "consent.changes.v1";
  c.deadletter_topic = c.topic_prefix + "webhooks.deadletter.v1";
  ASSIGN_OR_RETURN(int64_t partitions, s.Int("deadletter_partitions", 1, 1000));
  c.deadletter_partitions = static_cast<int>(partitions);
  ASSIGN_OR_RETURN(int64_t backlog, s.Int("max_backlog", 1, 10'000'000));
  c.max_backlog = static_cast<int>(backlog);
  const std::string replay = s.String("replay_from");
  if (!replay.empty()) {
    absl::Time t;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, Sv(replay), &t, &error)) {
      return InvalidField("replay_from", "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
    }
    c.replay_from = t;
  }
  c.metrics_listen = s.String("metrics_listen");
  c.port_file = s.String("port_file");
  c.log_level = s.String("log_level");
  if (!std::set<std::string>{"trace", "debug", "info", "warn", "error"}.contains(c.log_level)) {
    return InvalidField("log_level", "must be trace, debug, info, warn or error");
  }
  // endpoints.<name>.<key> -> per-endpoint maps.
  std::map<std::string, std::map<std::string, std::string>> blocks;
  for (const auto& [key, value] : s.WithPrefix(kEndpoints)) {
    const size_t dot = key.find('.');
    if (dot == std::string::npos) {
      return InvalidField(absl::StrCat(kEndpoints, key), "must be a mapping of endpoint settings");
    }
    blocks[key.substr(0, dot)][key.substr(dot + 1)] = value;
  }
  if (blocks.empty()) return InvalidField("endpoints", "configure at least one endpoint");
  for (const auto& [name, values] : blocks) {
    ASSIGN_OR_RETURN(EndpointConfig e, ReadEndpoint(name, values));
    c.endpoints.push_back(std::move(e));
  }
  return c;
}

}  // namespace assent::webhooks
