#include "consentd/config.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "consentd/deadline_config.h"
#include "core/validate.h"
#include "events/kafka_settings.h"
#include "yaml-cpp/yaml.h"

namespace assent::consentd {
namespace {

struct Option {
  std::string key;
  std::string help;
  std::function<absl::Status(Config&, const std::string&)> set;
  std::function<std::string(const Config&)> get;
};

absl::Status ParseInt(const std::string& key, const std::string& value, int64_t min, int64_t max,
                      int64_t* out) {
  if (!absl::SimpleAtoi(value, out) || *out < min || *out > max) {
    return InvalidField(
        key, absl::StrCat("must be an integer in ", min, "..", max, " (got \"", value, "\")"));
  }
  return absl::OkStatus();
}

absl::Status ParseBool(const std::string& key, const std::string& value, bool* out) {
  if (!absl::SimpleAtob(value, out)) {
    return InvalidField(key, absl::StrCat("must be true or false (got \"", value, "\")"));
  }
  return absl::OkStatus();
}

absl::Status ParseDurationValue(const std::string& key, const std::string& value,
                                absl::Duration min, absl::Duration* out) {
  if (!absl::ParseDuration(value, out) || *out < min) {
    return InvalidField(key, absl::StrCat("must be a duration like 30s or 24h, at least ",
                                          absl::FormatDuration(min), " (got \"", value, "\")"));
  }
  return absl::OkStatus();
}

// A retention period: "<n>d" (days) or an absl duration ("720h"). The minimum is checked with
// the rest of the retention options (store::ValidateRetention).
absl::Status ParseRetention(const std::string& key, const std::string& value, absl::Duration* out) {
  int64_t days = 0;
  if (value.size() > 1 && value.back() == 'd' &&
      absl::SimpleAtoi(value.substr(0, value.size() - 1), &days) && days >= 0 &&
      days <= 100 * 366) {
    *out = absl::Hours(24 * days);
    return absl::OkStatus();
  }
  if (!absl::ParseDuration(value, out) || *out < absl::ZeroDuration() ||
      *out == absl::InfiniteDuration()) {
    return InvalidField(
        key, absl::StrCat("must be a duration like 2191d or 720h (got \"", value, "\")"));
  }
  return absl::OkStatus();
}

std::string FormatRetention(absl::Duration d) {
  if (d % absl::Hours(24) == absl::ZeroDuration()) {
    return absl::StrCat(absl::IDivDuration(d, absl::Hours(24), &d), "d");
  }
  return absl::FormatDuration(d);
}

// retention.history or retention.erasure_stubs.
Option Retention(std::string key, std::string help,
                 absl::Duration store::RetentionOptions::*field) {
  return {key, std::move(help),
          [key, field](Config& c, const std::string& v) {
            return ParseRetention(key, v, &(c.retention.*field));
          },
          [field](const Config& c) { return FormatRetention(c.retention.*field); }};
}

Option String(std::string key, std::string help, std::string Config::*field) {
  return {key, std::move(help),
          [field](Config& c, const std::string& v) {
            c.*field = v;
            return absl::OkStatus();
          },
          [field](const Config& c) { return c.*field; }};
}

Option Int(std::string key, std::string help, int64_t Config::*field, int64_t min, int64_t max) {
  return {key, std::move(help),
          [key, field, min, max](Config& c, const std::string& v) {
            return ParseInt(key, v, min, max, &(c.*field));
          },
          [field](const Config& c) { return absl::StrCat(c.*field); }};
}

Option Bool(std::string key, std::string help, bool Config::*field) {
  return {key, std::move(help),
          [key, field](Config& c, const std::string& v) { return ParseBool(key, v, &(c.*field)); },
          [field](const Config& c) { return std::string(c.*field ? "true" : "false"); }};
}

Option Double(std::string key, std::string help, double Config::*field) {
  return {key, std::move(help),
          [key, field](Config& c, const std::string& v) {
            double d = 0;
            if (!absl::SimpleAtod(v, &d) || !(d >= 0) || d > 1e9) {
              return InvalidField(key, absl::StrCat("must be a number >= 0 (got \"", v, "\")"));
            }
            c.*field = d;
            return absl::OkStatus();
          },
          [field](const Config& c) { return absl::StrCat(c.*field); }};
}

// A string inside the TLS options.
Option TlsString(std::string key, std::string help, std::string rpc::TlsOptions::*field) {
  return {key, std::move(help),
          [field](Config& c, const std::string& v) {
            c.tls.*field = v;
            return absl::OkStatus();
          },
          [field](const Config& c) { return c.tls.*field; }};
}

Option Duration(std::string key, std::string help, absl::Duration Config::*field,
                absl::Duration min) {
  return {key, std::move(help),
          [key, field, min](Config& c, const std::string& v) {
            return ParseDurationValue(key, v, min, &(c.*field));
          },
          [field](const Config& c) { return absl::FormatDuration(c.*field); }};
}

// The sweeper's settings (SweeperOptions inside Config).
Option SweeperInt(std::string key, std::string help, int SweeperOptions::*field, int64_t min,
                  int64_t max) {
  return {key, std::move(help),
          [key, field, min, max](Config& c, const std::string& v) {
            int64_t n = 0;
            RETURN_IF_ERROR(ParseInt(key, v, min, max, &n));
            c.sweeper.*field = static_cast<int>(n);
            return absl::OkStatus();
          },
          [field](const Config& c) { return absl::StrCat(c.sweeper.*field); }};
}

const std::vector<Option>& Options() {
  static const auto* options = new std::vector<Option>{
      String("listen", "gRPC listen address host:port (port 0: any free port)", &Config::listen),
      TlsString("tls.cert", "PEM certificate chain of the gRPC server (TLS)",
                &rpc::TlsOptions::cert_file),
      TlsString("tls.key", "PEM private key of tls.cert (mode 0600 or stricter)",
                &rpc::TlsOptions::key_file),
      TlsString("tls.ca", "PEM CA bundle client certificates are verified against (mTLS)",
                &rpc::TlsOptions::ca_file),
      Option{"tls.client_auth", "client certificates: require, optional or none",
             [](Config& c, const std::string& v) -> absl::Status {
               ASSIGN_OR_RETURN(c.tls.client_auth, rpc::ParseClientAuth("tls.client_auth", v));
               return absl::OkStatus();
             },
             [](const Config& c) { return std::string(rpc::ClientAuthName(c.tls.client_auth)); }},
      Option{"tls.refresh_interval", "how often certificate files are checked for rotation",
             [](Config& c, const std::string& v) {
               return ParseDurationValue("tls.refresh_interval", v, absl::Seconds(1),
                                         &c.tls.refresh_interval);
             },
             [](const Config& c) { return absl::FormatDuration(c.tls.refresh_interval); }},
      Bool("insecure", "serve plaintext gRPC without TLS, on purpose", &Config::insecure),
      String("auth.policy_file", "authorization policy (YAML; empty: no authorization)",
             &Config::auth_policy_file),
      Duration("auth.reload_interval", "how often the policy file is checked for changes",
               &Config::auth_reload_interval, absl::Milliseconds(100)),
      Double("rate_limits.tenant_rate", "requests per second per tenant (0: no limit)",
             &Config::rate_limits_tenant_rate),
      Double("rate_limits.tenant_burst", "bucket size per tenant (0: twice the rate)",
             &Config::rate_limits_tenant_burst),
      Double("rate_limits.principal_rate", "requests per second per principal (0: no limit)",
             &Config::rate_limits_principal_rate),
      Double("rate_limits.principal_burst", "bucket size per principal (0: twice the rate)",
             &Config::rate_limits_principal_burst),
      String("data_dir", "RocksDB data directory", &Config::data_dir),
      String("config", "YAML configuration file", &Config::config_file),
      String("contact_key_secret_file",
             "file with the contact-hash master secret (default <data_dir>/contact-key.secret, "
             "generated on first start)",
             &Config::contact_key_secret_file),
      String("metrics_listen", "HTTP address of /metrics, /healthz, /readyz (empty: off)",
             &Config::metrics_listen),
      String("port_file", "write the bound address here once serving", &Config::port_file),
      String("log_level", "trace, debug, info, warn or error", &Config::log_level),
      Int("store.block_cache_mb", "RocksDB block cache in MiB", &Config::store_block_cache_mb, 8,
          1 << 20),
      Int("store.write_buffer_mb", "memtable size per column family in MiB",
          &Config::store_write_buffer_mb, 1, 4096),
      Bool("store.sync_writes", "fsync the WAL before acknowledging a write",
           &Config::store_sync_writes),
      Retention("retention.history",
                "history kept after a target's last activity (e.g. 2191d; at least 1d)",
                &store::RetentionOptions::history),
      Retention("retention.erasure_stubs", "an erased subject's proof stub kept (at least 1d)",
                &store::RetentionOptions::erasure_stubs),
      Int("limits.write_queue", "writes queued before RESOURCE_EXHAUSTED",
          &Config::limits_write_queue, 1, 10000000),
      Int("limits.commit_group", "most writes per group commit", &Config::limits_commit_group, 1,
          100000),
      Int("limits.max_batch_check", "largest BatchCheck", &Config::limits_max_batch_check, 1,
          100000),
      Int("limits.max_decisions", "most decisions per RecordDecisions",
          &Config::limits_max_decisions, 1, 10000),
      Int("limits.max_message_bytes", "largest request in bytes", &Config::limits_max_message_bytes,
          4096, 1 << 30),
      Duration("idempotency_ttl", "how long idempotency keys are remembered",
               &Config::idempotency_ttl, absl::Minutes(1)),
      String("kafka.brokers", "Kafka bootstrap servers (empty: events wait in the outbox)",
             &Config::kafka_brokers),
      String("kafka.topic_prefix", "prefix of Assent's topic names", &Config::kafka_topic_prefix),
      Int("kafka.partitions", "partitions of topics consentd creates", &Config::kafka_partitions, 1,
          10000),
      Int("kafka.replication_factor", "replication factor of topics consentd creates",
          &Config::kafka_replication_factor, 1, 100),
      Bool("kafka.create_topics", "create missing topics at start", &Config::kafka_create_topics),
      Duration("kafka.changes_retention", "retention of the changes topic",
               &Config::kafka_changes_retention, absl::Hours(1)),
      Duration("kafka.lifecycle_retention",
               "retention of the lifecycle topic (notices; at most the longest pending_ttl)",
               &Config::kafka_lifecycle_retention, absl::Hours(1)),
      Option{"sweeper.enabled", "expire grants and send reminders by time",
             [](Config& c, const std::string& v) {
               return ParseBool("sweeper.enabled", v, &c.sweeper.enabled);
             },
             [](const Config& c) { return std::string(c.sweeper.enabled ? "true" : "false"); }},
      Option{"sweeper.interval", "how often the sweeper looks for due work when idle",
             [](Config& c, const std::string& v) {
               return ParseDurationValue("sweeper.interval", v, absl::Milliseconds(10),
                                         &c.sweeper.interval);
             },
             [](const Config& c) { return absl::FormatDuration(c.sweeper.interval); }},
      SweeperInt("sweeper.batch", "due entries per sweeper round", &SweeperOptions::batch, 1,
                 100000),
      Option{"sweeper.max_rate", "most due entries swept per second",
             [](Config& c, const std::string& v) {
               double d = 0;
               if (!absl::SimpleAtod(v, &d) || !(d >= 1) || d > 1e7) {
                 return InvalidField("sweeper.max_rate",
                                     absl::StrCat("must be a number in 1..1e7 (got \"", v, "\")"));
               }
               c.sweeper.max_rate = d;
               return absl::OkStatus();
             },
             [](const Config& c) { return absl::StrCat(c.sweeper.max_rate); }},
      SweeperInt("sweeper.yield_queue_depth",
                 "skip a sweeper round while more writes than this are queued",
                 &SweeperOptions::yield_queue_depth, 0, 1000000),
      Option{"sweeper.repermission_rate",
             "most targets a re-permission campaign looks at per second",
             [](Config& c, const std::string& v) {
               double d = 0;
               if (!absl::SimpleAtod(v, &d) || !(d >= 1) || d > 1e7) {
                 return InvalidField("sweeper.repermission_rate",
                                     absl::StrCat("must be a number in 1..1e7 (got \"", v, "\")"));
               }
               c.sweeper.repermission_rate = d;
               return absl::OkStatus();
             },
             [](const Config& c) { return absl::StrCat(c.sweeper.repermission_rate); }},
      SweeperInt("sweeper.backfill_batch", "targets indexed per backfill round (old stores)",
                 &SweeperOptions::backfill_batch, 1, 1000000),
      String("links.keyring_file",
             "link keyring file that signs customer links (CreateLink; empty: no links)",
             &Config::links_keyring_file),
      String("links.base_url", "public base URL of the preference center for CreateLink's urls",
             &Config::links_base_url),
      String("confirmation.keyring_file",
             "keyring file sealing double opt-in confirmation addresses for the email sender "
             "(empty: no confirmation emails)",
             &Config::confirmation_keyring_file),
      String("evidence.keyring_file",
             "master keyring file wrapping the per-subject keys that seal identifying evidence "
             "(empty: evidence in plain text)",
             &Config::evidence_keyring_file),
      String("erasure.log_file",
             "append-only log of erasures outside the data directory, re-applied after a restore "
             "(empty: none)",
             &Config::erasure_log_file),
      String("receipts.keyring_file",
             "receipt keyring file (Ed25519 keys) that signs consent receipts (empty: no receipts)",
             &Config::receipts_keyring_file),
      Bool("reports.enabled", "keep consent report aggregates on the write path",
           &Config::reports_enabled),
      Int("reports.max_sources_per_day",
          "distinct sources per tenant and day in report aggregates (the rest: other)",
          &Config::reports_max_sources_per_day, 1, 10000),
      Int("reports.top_sources",
          "sources labelled per tenant in the withdrawal metrics (the rest: other)",
          &Config::reports_top_sources, 1, 100),
      String("enforcement.senders",
             "registered senders, comma-separated, whose enforcement of withdrawals is proved "
             "(empty: off)",
             &Config::enforcement_senders),
      Duration("enforcement.alert_after",
               "a withdrawal not applied by a registered sender this long is unenforced",
               &Config::enforcement_alert_after, absl::Seconds(1)),
      Duration("enforcement.instance_timeout",
               "a sender instance silent this long is dead (not enforcing)",
               &Config::enforcement_instance_timeout, absl::Seconds(1)),
      Duration("enforcement.honour_margin",
               "an unapplied withdrawal this close to its honour_by is near its deadline",
               &Config::enforcement_honour_margin, absl::ZeroDuration()),
      Duration("shutdown_delay", "on SIGTERM, time spent not ready before stopping",
               &Config::shutdown_delay, absl::ZeroDuration()),
      Duration("shutdown_grace", "time in-flight calls get on SIGTERM", &Config::shutdown_grace,
               absl::ZeroDuration()),
      Bool("cluster.enabled",
           "cluster mode: partitions shared through Kafka, writes acknowledged once Kafka holds "
           "them",
           &Config::cluster_enabled),
      String("cluster.node_id", "this instance's unique, stable name (default: host name)",
             &Config::cluster_node_id),
      String("cluster.advertise_address",
             "host:port other instances forward to (default: host name and listen port)",
             &Config::cluster_advertise_address),
      Duration("cluster.session_timeout", "an instance silent this long loses its partitions",
               &Config::cluster_session_timeout, absl::Seconds(1)),
      Duration("cluster.heartbeat_interval", "group heartbeat interval",
               &Config::cluster_heartbeat_interval, absl::Milliseconds(100)),
      Duration("cluster.transaction_timeout",
               "a transaction left open by a frozen instance is aborted after this",
               &Config::cluster_transaction_timeout, absl::Seconds(1)),
      Duration("cluster.commit_timeout", "time limit of one group commit",
               &Config::cluster_commit_timeout, absl::Seconds(1)),
      Duration("cluster.forward_timeout",
               "how long a call waits for its partition's owner while ownership moves",
               &Config::cluster_forward_timeout, absl::Milliseconds(100)),
      Int("cluster.min_insync_replicas", "min.insync.replicas of the changelog topic",
          &Config::cluster_min_insync_replicas, 1, 100),
      Int("cluster.standbys",
          "instances besides its owner that keep each partition in full (-1: every instance)",
          &Config::cluster_standbys, -1, 100),
  };
  return *options;
}

const Option* FindOption(std::string_view key) {
  for (const Option& o : Options()) {
    if (o.key == key) return &o;
  }
  return nullptr;
}

std::string FlagName(const std::string& key) {
  return absl::StrReplaceAll(key, {{".", "-"}, {"_", "-"}});
}
std::string EnvName(const std::string& key) {
  return "ASSENT_" + absl::AsciiStrToUpper(absl::StrReplaceAll(key, {{".", "_"}}));
}

// Options nest three levels at most (kafka.producer.<key>). A deeper file is refused, which also
// stops a YAML alias that contains itself (`a: &x {b: *x}`: endless nesting, which overflowed the
// stack).
constexpr int kMaxYamlDepth = 8;
// Aliases can also multiply a small file into a huge tree ("billion laughs"); no configuration
// has anywhere near this many entries.
constexpr int kMaxYamlEntries = 10000;

// Flattens a YAML mapping into dotted keys. `entries` counts down the entries left to visit.
absl::Status Flatten(const YAML::Node& node, const std::string& prefix,
                     std::map<std::string, std::string>& out, int depth, int& entries) {
  if (!node.IsMap()) return InvalidField(prefix.empty() ? "config" : prefix, "must be a mapping");
  if (depth > kMaxYamlDepth) {
    return InvalidField(prefix, absl::StrCat("nests more than ", kMaxYamlDepth, " levels deep"));
  }
  for (const auto& entry : node) {
    if (--entries < 0) {
      return InvalidField("config", absl::StrCat("has more than ", kMaxYamlEntries, " entries"));
    }
    const std::string name = entry.first.as<std::string>();
    // An error names the key; an empty one would name nothing.
    if (name.empty()) return InvalidField(prefix.empty() ? "config" : prefix, "has an empty key");
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    if (entry.second.IsMap()) {
      RETURN_IF_ERROR(Flatten(entry.second, key, out, depth + 1, entries));
    } else if (entry.second.IsScalar()) {
      out[key] = entry.second.as<std::string>();
    } else {
      return InvalidField(key, "must be a scalar or a mapping");
    }
  }
  return absl::OkStatus();
}

absl::Status Apply(Config& config, const std::string& key, const std::string& value,
                   std::string_view origin) {
  constexpr std::string_view kProducerPrefix = "kafka.producer.";
  if (std::string_view(key).starts_with(kProducerPrefix) && key.size() > kProducerPrefix.size()) {
    config.kafka_producer[key.substr(kProducerPrefix.size())] = value;
    return absl::OkStatus();
  }
  // retention.tenants.<tenant>.history | .erasure_stubs (the tenant id has no dot).
  constexpr std::string_view kTenantsPrefix = "retention.tenants.";
  if (std::string_view(key).starts_with(kTenantsPrefix)) {
    const std::string rest = key.substr(kTenantsPrefix.size());
    const size_t dot = rest.find('.');
    const std::string tenant = rest.substr(0, dot);
    const std::string period = dot == std::string::npos ? "" : rest.substr(dot + 1);
    RETURN_IF_ERROR(core::ValidateTenantId(absl::StrCat(Sv(kTenantsPrefix), tenant), tenant));
    store::TenantRetention& overrides = config.retention.tenants[tenant];
    if (period == "history") return ParseRetention(key, value, &overrides.history.emplace());
    if (period == "erasure_stubs") {
      return ParseRetention(key, value, &overrides.erasure_stubs.emplace());
    }
    return InvalidField(key, absl::StrCat("unknown option (from ", Sv(origin),
                                          "); a tenant sets history or erasure_stubs"));
  }
  const Option* option = FindOption(key);
  if (option == nullptr) {
    return InvalidField(key, absl::StrCat("unknown option (from ", Sv(origin), ")"));
  }
  return option->set(config, value);
}

}  // namespace

std::string Usage() {
  std::string out = "usage: consentd [--option value ...]\n\noptions (flag / environment):\n";
  Config defaults;
  for (const Option& o : Options()) {
    absl::StrAppend(&out, "  --", FlagName(o.key), " / ", EnvName(o.key), "\n      ", o.help,
                    " (default: \"", o.get(defaults), "\")\n");
  }
  return out;
}

absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args,
                                  const std::vector<std::string>& env) {
  // Collect flags and environment first; the config file's path may come from either.
  std::map<std::string, std::string> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(Usage());
    if (!arg.starts_with("--")) {
      return InvalidField(arg, "unexpected argument (options are --name value)");
    }
    arg = arg.substr(2);
    std::string value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg == "insecure") {
      value = "true";  // a switch: --insecure alone turns it on
    } else if (arg == "cluster") {
      arg = "cluster-enabled";  // a switch: --cluster alone is cluster mode
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return InvalidField("--" + arg, "needs a value");
    }
    const Option* match = nullptr;
    for (const Option& o : Options()) {
      if (FlagName(o.key) == arg) match = &o;
    }
    if (match == nullptr) return InvalidField("--" + arg, "unknown flag; see --help");
    flags[match->key] = value;
  }
  std::map<std::string, std::string> environment;
  for (const std::string& entry : env) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || !entry.starts_with("ASSENT_")) continue;
    const std::string name = entry.substr(0, eq);
    const Option* match = nullptr;
    for (const Option& o : Options()) {
      if (EnvName(o.key) == name) match = &o;
    }
    if (match == nullptr) continue;  // other ASSENT_* variables belong to other programs
    environment[match->key] = entry.substr(eq + 1);
  }

  Config config;
  std::string file = flags.count("config")         ? flags["config"]
                     : environment.count("config") ? environment["config"]
                                                   : "";
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return InvalidField("config", absl::StrCat("cannot read ", file, ": ", std::strerror(errno)));
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    RETURN_IF_ERROR(ApplyYaml(text, file, config));
  }
  for (const auto& [k, v] : environment) RETURN_IF_ERROR(Apply(config, k, v, EnvName(k)));
  for (const auto& [k, v] : flags) RETURN_IF_ERROR(Apply(config, k, v, "--" + FlagName(k)));
  RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

absl::Status ApplyYaml(std::string_view yaml, std::string_view origin, Config& config) {
  std::map<std::string, std::string> from_yaml;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    // deadlines.rules is a list, which the flat options cannot hold: it is read here and taken
    // out of the tree before the rest is flattened.
    if (root.IsMap() && root["deadlines"] && root["deadlines"].IsMap() &&
        root["deadlines"]["rules"]) {
      YAML::Node deadlines = root["deadlines"];
      ASSIGN_OR_RETURN(config.deadline_rules,
                       ParseDeadlineRules(deadlines["rules"], "deadlines.rules"));
      deadlines.remove("rules");
      if (deadlines.size() == 0) root.remove("deadlines");
    }
    int entries = kMaxYamlEntries;
    if (!root.IsNull()) RETURN_IF_ERROR(Flatten(root, "", from_yaml, 1, entries));
  } catch (const YAML::Exception& e) {
    return InvalidField("config", absl::StrCat("cannot read ", Sv(origin), ": ", e.what()));
  }
  for (const auto& [k, v] : from_yaml) RETURN_IF_ERROR(Apply(config, k, v, origin));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ParseSenders(std::string_view senders) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(Sv(senders), ',', absl::SkipWhitespace())) {
    std::string name(absl::StripAsciiWhitespace(part));
    if (name.size() > 64 || !std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        })) {
      return InvalidField("enforcement.senders",
                          "names must be [a-z0-9_-], at most 64 characters, comma-separated");
    }
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      return InvalidField("enforcement.senders", absl::StrCat("\"", name, "\" appears twice"));
    }
    out.push_back(std::move(name));
  }
  return out;
}

absl::Status ValidateConfig(const Config& config) {
  static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (std::find(kLevels.begin(), kLevels.end(), config.log_level) == kLevels.end()) {
    return InvalidField("log_level", "must be trace, debug, info, warn or error");
  }
  if (config.listen.find(':') == std::string::npos) {
    return InvalidField("listen", "must be host:port");
  }
  if (config.data_dir.empty()) return InvalidField("data_dir", "must not be empty");
  RETURN_IF_ERROR(core::ValidateDeadlineRules(config.deadline_rules, "deadlines.rules"));
  RETURN_IF_ERROR(ParseSenders(config.enforcement_senders).status());
  if (!config.erasure_log_file.empty()) {
    // A restore replaces the data directory: a log inside it would be restored too, and forget
    // exactly the erasures it exists to re-apply.
    std::error_code ec;
    const std::filesystem::path log =
        std::filesystem::weakly_canonical(config.erasure_log_file, ec);
    const std::filesystem::path data = std::filesystem::weakly_canonical(config.data_dir, ec);
    auto [d, l] = std::mismatch(data.begin(), data.end(), log.begin(), log.end());
    if (d == data.end()) {
      return InvalidField("erasure.log_file",
                          "must be outside data_dir: a restored data directory would bring back "
                          "an old log");
    }
  }
  RETURN_IF_ERROR(store::ValidateRetention(config.retention));
  if (config.cluster_enabled) {
    if (config.kafka_brokers.empty()) {
      return InvalidField("cluster.enabled", "needs kafka.brokers");
    }
    if (config.cluster_min_insync_replicas > config.kafka_replication_factor) {
      return InvalidField("cluster.min_insync_replicas",
                          "must not exceed kafka.replication_factor (writes would always fail)");
    }
    if (config.cluster_heartbeat_interval >= config.cluster_session_timeout) {
      return InvalidField("cluster.heartbeat_interval", "must be shorter than the session timeout");
    }
    if (!config.cluster_advertise_address.empty() &&
        config.cluster_advertise_address.find(':') == std::string::npos) {
      return InvalidField("cluster.advertise_address", "must be host:port");
    }
    if (config.contact_key_secret_file.empty()) {
      return InvalidField("contact_key_secret_file",
                          "required in cluster mode: every instance must hash contact points "
                          "with the same secret");
    }
  }
  if (!config.tls.enabled() && !config.insecure) {
    return InvalidField("tls.cert",
                        "required: give --tls-cert and --tls-key (and --tls-ca for client "
                        "certificates), or --insecure to serve plaintext on purpose");
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::string>> ConfigValues(const Config& config) {
  std::vector<std::pair<std::string, std::string>> values;
  for (const Option& o : Options()) values.emplace_back(o.key, o.get(config));
  return values;
}

std::string DescribeConfig(const Config& config) {
  std::string out;
  for (const auto& [key, value] : ConfigValues(config)) {
    absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
  }
  for (const auto& [k, v] : config.kafka_producer) {
    // Producer settings may carry credentials (sasl.password, ssl.key.password). Every
    // sasl.oauthbearer.* setting stays hidden too: its config and extensions can hold tokens.
    const bool secret =
        events::IsSecretSetting(k) || k.find("sasl.oauthbearer") != std::string::npos;
    absl::StrAppend(&out, " kafka.producer.", k, "=", secret ? "<redacted>" : v);
  }
  for (const auto& [tenant, overrides] : config.retention.tenants) {
    if (overrides.history.has_value()) {
      absl::StrAppend(&out, " retention.tenants.", tenant,
                      ".history=", FormatRetention(*overrides.history));
    }
    if (overrides.erasure_stubs.has_value()) {
      absl::StrAppend(&out, " retention.tenants.", tenant,
                      ".erasure_stubs=", FormatRetention(*overrides.erasure_stubs));
    }
  }
  absl::StrAppend(&out, " deadlines.rules=[", DescribeDeadlineRules(config.deadline_rules), "]");
  return out;
}

}  // namespace assent::consentd
