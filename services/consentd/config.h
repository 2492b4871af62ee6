// consentd's configuration: one typed struct, loaded once at start from (highest first) command-
// line flags, ASSENT_* environment variables, and a YAML file, then validated and immutable.
//
// Every option has a dotted key ("store.block_cache_mb"); its flag is "--store-block-cache-mb",
// its environment variable ASSENT_STORE_BLOCK_CACHE_MB, and in YAML it is nested
// (store: {block_cache_mb: 256}). `consentd --help` lists them all with their defaults.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "consentd/sweeper_options.h"
#include "core/deadlines.h"
#include "rpc/tls.h"
#include "store/retention.h"

namespace assent::consentd {

struct Config {
  // gRPC transport security: tls.cert/tls.key (the server's certificate), tls.ca (the CAs client
  // certificates are verified against), tls.client_auth (require, optional or none; default
  // require), tls.refresh_interval (how often the files are checked for rotation; default 10s).
  // Without tls.cert, consentd refuses to start unless `insecure` is true.
  rpc::TlsOptions tls;
  // Serve plaintext gRPC without TLS, on purpose (logged as a warning). Default false.
  bool insecure = false;
  // The authorization policy (authz/policy.h; README "Security"). Default empty: no
  // authorization (identified callers may do everything). Reloaded on SIGHUP and when the file
  // changes (checked every auth.reload_interval, default 5s); a bad file is refused at start and
  // on reload (the old policy stays).
  std::string auth_policy_file;
  absl::Duration auth_reload_interval = absl::Seconds(5);
  // Token buckets, in requests per second and bucket size, per tenant and per principal
  // (rate 0: off, the default; burst 0: twice the rate). Refused calls are RESOURCE_EXHAUSTED
  // with the retry delay in the trailers.
  double rate_limits_tenant_rate = 0;
  double rate_limits_tenant_burst = 0;
  double rate_limits_principal_rate = 0;
  double rate_limits_principal_burst = 0;
  // Expiry and reminders by time (sweeper.*: enabled, interval, batch, max_rate,
  // yield_queue_depth, backfill_batch; defaults in sweeper_options.h).
  SweeperOptions sweeper;
  // Address the gRPC API listens on ("host:port"; port 0 picks a free port). Default
  // 127.0.0.1:50051.
  std::string listen = "127.0.0.1:50051";
  // RocksDB data directory. Default ./data/consentd.
  std::string data_dir = "./data/consentd";
  // The YAML file this config was read from (empty: none).
  std::string config_file;
  // File holding the master secret contact points are hashed with (>= 16 bytes). Default empty:
  // <data_dir>/contact-key.secret, generated randomly on first start.
  std::string contact_key_secret_file;
  // Address of the HTTP endpoints /metrics, /healthz and /readyz ("host:port"). Default
  // 127.0.0.1:9464; empty disables them.
  std::string metrics_listen = "127.0.0.1:9464";
  // When set, the bound gRPC address (line 1) and metrics address (line 2) are written here once
  // the server is serving (for supervisors and tests that listen on port 0).
  std::string port_file;
  // trace, debug, info, warn, error. Default info.
  std::string log_level = "info";
  // Store: block cache (MiB, default 256), memtable per column family (MiB, default 32), fsync
  // before acknowledging (default true; false loses acknowledged writes on power loss).
  int64_t store_block_cache_mb = 256;
  int64_t store_write_buffer_mb = 32;
  bool store_sync_writes = true;
  // Retention (store/retention.h; README "Retention"): retention.history, how long a target's
  // history is kept after its last activity, and retention.erasure_stubs, how long an erased
  // subject's proof stub is kept; each a duration ("2191d", "720h"), at least 1 day, default
  // 2191 days (6 years). Per tenant, YAML only: retention: {tenants: {acme: {history: 3653d}}}.
  store::RetentionOptions retention;
  // Writes waiting for the committer beyond this are refused with RESOURCE_EXHAUSTED. Default
  // 20000.
  int64_t limits_write_queue = 20000;
  // Most mutations per group commit. Default 512.
  int64_t limits_commit_group = 512;
  // Largest BatchCheck (default 10000) and RecordDecisions (default 100).
  int64_t limits_max_batch_check = 10000;
  int64_t limits_max_decisions = 100;
  // Largest request message in bytes. Default 8 MiB.
  int64_t limits_max_message_bytes = 8 << 20;
  // How long idempotency keys are remembered. Default 24h.
  absl::Duration idempotency_ttl = absl::Hours(24);
  // Kafka bootstrap servers ("host:port,..."). Default empty: events stay in the outbox until a
  // broker is configured.
  std::string kafka_brokers;
  // Topic name prefix (default "assent."), partitions (default 6) and replication factor
  // (default 1) used when consentd creates its topics, and the changes topic's retention
  // (default 7 days; the state topic is compacted).
  std::string kafka_topic_prefix = "assent.";
  int64_t kafka_partitions = 6;
  int64_t kafka_replication_factor = 1;
  absl::Duration kafka_changes_retention = absl::Hours(24 * 7);
  // Retention of the lifecycle topic (default 7 days, the default confirmation window).
  absl::Duration kafka_lifecycle_retention = absl::Hours(24 * 7);
  // Create missing topics at start (default true); false where topics are managed elsewhere.
  bool kafka_create_topics = true;
  // librdkafka producer settings overriding Assent's defaults; YAML only:
  // kafka: {producer: {linger.ms: 5}}.
  std::map<std::string, std::string> kafka_producer;
  // The link keyring file (links/keyring.h) that signs CreateLink's customer links. Default
  // empty: CreateLink answers FAILED_PRECONDITION.
  std::string links_keyring_file;
  // The preference center's public base URL ("https://prefs.example.com"); CreateLink returns
  // links under it. Default empty: CreateLink returns tokens without a URL.
  std::string links_base_url;
  // The statutory-deadline rules that set honour_by on refusals, withdrawals and suppressions
  // (core/deadlines.h; README "Statutory deadlines"). YAML only, replacing the whole table:
  // deadlines: {rules: [{name: can-spam, jurisdiction: US, channel: EMAIL, days: 10,
  // business_days: true, applies_to: [refusals, withdrawals, suppressions]}, ...]}. Default
  // core::DefaultDeadlineRules(); an empty list: no honour_by.
  std::vector<core::DeadlineRule> deadline_rules = core::DefaultDeadlineRules();
  // The confirmation keyring file (links/keyring.h format, mode 0600) under which consentd seals
  // the address and link of each ConfirmationRequested for the email sender (links/sealed.h);
  // the email sender reads the same file. Default empty: a grant that needs double opt-in for a
  // contact point given by address is FAILED_PRECONDITION.
  std::string confirmation_keyring_file;
  // The evidence keyring file (links/keyring.h format, mode 0600): master keys that wrap each
  // target's data key, under which identifying evidence (IP address, user agent, reference) is
  // sealed (ledger/evidence.h). Rotation: add a key at the end; data keys are re-wrapped in the
  // background. Default empty: identifying evidence is stored in plain text (a warning at start;
  // for development only) and an erasure redacts it from the history instead of shredding.
  std::string evidence_keyring_file;
  // The erasure log: every acknowledged erasure is appended (fsync'ed) to this file, which must
  // live outside the data directory; a store restored from a backup re-applies every erasure it
  // lists before it serves. Default empty: no log (a warning at start).
  std::string erasure_log_file;
  // The receipt keyring file (crypto/signing_keys.h: Ed25519 keys by id, mode 0600) that signs
  // the consent receipts of RecordDecisions, ConfirmDecision, SuppressContactPoint and
  // Link/UnlinkContactPoint (docs/RECEIPTS.md). Re-read on SIGHUP (rotation). Default empty: no
  // receipts (responses carry none; ReceiptService is FAILED_PRECONDITION).
  std::string receipts_keyring_file;
  // Consent reports (README "Consent reports"): aggregates kept on the write path, in the same
  // batch as each decision. Default true; false writes none (GetConsentReport then counts only
  // what was written while on).
  bool reports_enabled = true;
  // Distinct sources counted per tenant and day in the stored aggregates; later sources of the
  // day count as "other". Default 50, 1..10000.
  int64_t reports_max_sources_per_day = 50;
  // Sources labelled in the metrics assent_consent_withdrawals_total per tenant: the first N
  // distinct sources seen per tenant since the process started; the rest are "other". Default
  // 10, 1..100.
  int64_t reports_top_sources = 10;
  // Proof of enforcement: the registered senders, comma-separated ("email,sms,ads"; the names
  // the senders report under). Default empty: no proof is recorded.
  std::string enforcement_senders;
  // A withdrawal not applied by a registered sender this long after it was recorded counts as
  // unenforced (assent_withdrawals_unenforced). Default 60s.
  absl::Duration enforcement_alert_after = absl::Seconds(60);
  // A sender instance that published no progress for this long is dead. Default 10s.
  absl::Duration enforcement_instance_timeout = absl::Seconds(10);
  // An unapplied withdrawal this close to its honour_by counts as near its deadline. Default 24h.
  absl::Duration enforcement_honour_margin = absl::Hours(24);
  // On SIGTERM, consentd first reports not ready (gRPC health NOT_SERVING, /readyz 503) and keeps
  // serving this long so that load balancers stop sending calls. Default 0s.
  absl::Duration shutdown_delay = absl::ZeroDuration();
  // On SIGTERM, in-flight calls get this long to finish. Default 10s.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Cluster mode (docs/SCALING.md, libs/cluster/node.h): instances share the partitions through
  // a Kafka consumer group, a write is acknowledged once a Kafka transaction holds it (acks=all),
  // any instance forwards a write to its partition's owner, and every instance keeps a replica.
  // Default false: one instance, durable in its own fsync'ed WAL.
  bool cluster_enabled = false;
  // This instance's name, unique and stable (a StatefulSet pod name). Default: the host name.
  std::string cluster_node_id;
  // host:port the other instances forward requests to. Default: the host name and the port of
  // `listen`.
  std::string cluster_advertise_address;
  // The group evicts an instance silent this long (failover time); the brokers'
  // group.min.session.timeout.ms must allow it. Default 10s, heartbeat 3s.
  absl::Duration cluster_session_timeout = absl::Seconds(10);
  absl::Duration cluster_heartbeat_interval = absl::Seconds(3);
  // A transaction a frozen instance left open is aborted after this. Default 10s.
  absl::Duration cluster_transaction_timeout = absl::Seconds(10);
  // One group commit's time limit. Default 10s.
  absl::Duration cluster_commit_timeout = absl::Seconds(10);
  // How long a call waits for its partition's owner (while ownership moves) before it fails
  // UNAVAILABLE; the call's own deadline wins when shorter. Default 15s.
  absl::Duration cluster_forward_timeout = absl::Seconds(15);
  // min.insync.replicas of the changelog topic when created. Default 2.
  int64_t cluster_min_insync_replicas = 2;
  // How many instances besides its owner keep each partition's history in full (its standbys,
  // the instances the range assignor gives it to next); every instance still keeps every
  // partition's states, so Check is answered anywhere, and forwards reads of history it does not
  // keep. Default -1: every instance keeps everything (docs/SCALING.md, "Standbys").
  int64_t cluster_standbys = -1;
};

// Loads the configuration. `argv` are the process arguments (flags "--key value" or
// "--key=value"); `env` is the environment ("NAME=value" strings). INVALID_ARGUMENT naming the
// option for unknown flags, bad values or a YAML file that cannot be read; the special status
// code CANCELLED with the usage text as message when --help is given.
absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args,
                                  const std::vector<std::string>& env);

// Applies the text of a YAML configuration file to `config`: what LoadConfig does with the file
// that --config names, before the environment and flags apply. `origin` names the file in
// errors. INVALID_ARGUMENT naming the option for YAML that does not parse, an unknown option or a
// bad value.
absl::Status ApplyYaml(std::string_view yaml, std::string_view origin, Config& config);

// enforcement.senders as a list. INVALID_ARGUMENT "enforcement.senders: ..." for a bad name or
// a name given twice.
absl::StatusOr<std::vector<std::string>> ParseSenders(std::string_view senders);

// What LoadConfig checks once every source applied: INVALID_ARGUMENT naming the option.
absl::Status ValidateConfig(const Config& config);

// Every option's dotted key and effective value, in the order of Usage() (what DescribeConfig
// prints, kafka.producer.* aside); a value given back as "--<flag>=<value>" sets the same value.
std::vector<std::pair<std::string, std::string>> ConfigValues(const Config& config);

// The effective configuration as "key=value" lines, secrets redacted, for the start-up log.
std::string DescribeConfig(const Config& config);

// Usage text listing every option, its flag, variable and default.
std::string Usage();

}  // namespace assent::consentd
