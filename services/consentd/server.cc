#include "consentd/server.h"

#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cluster/partition.h"
#include "common/errors.h"
#include "common/hex.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "ledger/route.h"
#include "rpc/server.h"
#include "rpc/tls.h"
#include "spdlog/spdlog.h"

namespace assent::consentd {

absl::StatusOr<std::string> LoadOrCreateSecret(const std::string& path, bool create) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!create) return InvalidField("contact_key_secret_file", "file does not exist: " + path);
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("RAND_bytes failed");
    const std::string secret = ToHex(std::string_view(reinterpret_cast<char*>(bytes), 32));
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << secret << "\n";
      out.close();
      if (!out) return StorageUnavailable("cannot write " + tmp);
    }
    chmod(tmp.c_str(), 0600);
    std::filesystem::rename(tmp, path, ec);
    if (ec) return StorageUnavailable("cannot write " + path + ": " + ec.message());
    spdlog::get("consentd")->warn("msg=\"generated a new contact-key secret\" path={}", path);
    return secret;
  }
  RETURN_IF_ERROR(CheckSecretFileMode("contact_key_secret_file", path));
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in) return InvalidField("contact_key_secret_file", "cannot read " + path);
  std::string secret(absl::StripAsciiWhitespace(buffer.str()));
  if (secret.size() < 16) {
    return InvalidField("contact_key_secret_file", "the secret must be at least 16 bytes");
  }
  return secret;
}

namespace {

// The cluster node's options from the configuration (the advertised address comes at Join).
absl::StatusOr<cluster::NodeOptions> ClusterNodeOptions(const Config& config) {
  cluster::NodeOptions options;
  options.node_id = config.cluster_node_id;
  if (options.node_id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
      return absl::InvalidArgumentError("cluster.node_id: required (no host name to default to)");
    }
    options.node_id = host;
  }
  options.version = ASSENT_VERSION;
  options.brokers = config.kafka_brokers;
  options.connection = events::ConnectionSettings(config.kafka_producer);
  options.topic_prefix = config.kafka_topic_prefix;
  options.partitions = static_cast<int>(config.kafka_partitions);
  options.replication_factor = static_cast<int>(config.kafka_replication_factor);
  options.min_insync_replicas = static_cast<int>(config.cluster_min_insync_replicas);
  options.create_topics = config.kafka_create_topics;
  options.session_timeout = config.cluster_session_timeout;
  options.heartbeat_interval = config.cluster_heartbeat_interval;
  options.transaction_timeout = config.cluster_transaction_timeout;
  options.commit_timeout = config.cluster_commit_timeout;
  options.route_of_write = &ledger::RouteOfWrite;
  options.standbys = static_cast<int>(config.cluster_standbys);
  options.shared_write = &ledger::IsSharedWrite;
  return options;
}

// host:port other instances reach this one at: cluster.advertise_address, else the bound address
// with a wildcard host replaced by the host name.
std::string AdvertiseAddress(const Config& config, const std::string& bound) {
  if (!config.cluster_advertise_address.empty()) return config.cluster_advertise_address;
  const size_t colon = bound.rfind(':');
  const std::string host = bound.substr(0, colon);
  if (host != "0.0.0.0" && host != "[::]" && host != "::" && !host.empty()) return bound;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return bound;
  return absl::StrCat(name, bound.substr(colon));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const Config& config, const Clock& clock) {
  auto log = spdlog::get("consentd");
  std::unique_ptr<Server> server(new Server());
  server->clock_ = &clock;
  Server* self = server.get();

  // Metrics and probes come up first, so /readyz says "starting" while the store opens.
  server->metrics_ = std::make_unique<ServiceMetrics>(ASSENT_VERSION);
  if (!config.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(server->http_,
                     metrics::HttpServer::Start(
                         config.metrics_listen,
                         {server->metrics_->registry(), server->metrics_->state_collector()},
                         [self] { return self->Ready(); }));
    log->info("msg=\"metrics serving\" address={}", server->http_->address());
  }

  store::StoreOptions store_options;
  store_options.path = config.data_dir;
  store_options.block_cache_bytes = static_cast<size_t>(config.store_block_cache_mb) << 20;
  store_options.write_buffer_bytes = static_cast<size_t>(config.store_write_buffer_mb) << 20;
  // Cluster mode: Kafka holds every acknowledged write (acks=all, replicated); the local store is
  // a replica that a restart completes from the changelog.
  store_options.sync_writes = config.store_sync_writes && !config.cluster_enabled;
  store_options.retention = config.retention;
  events::RelayOptions relay_options;
  relay_options.kafka.brokers = config.kafka_brokers;
  relay_options.kafka.topic_prefix = config.kafka_topic_prefix;
  relay_options.kafka.partitions = static_cast<int>(config.kafka_partitions);
  relay_options.kafka.replication_factor = static_cast<int>(config.kafka_replication_factor);
  relay_options.kafka.changes_retention = config.kafka_changes_retention;
  relay_options.kafka.lifecycle_retention = config.kafka_lifecycle_retention;
  relay_options.kafka.producer_overrides = config.kafka_producer;
  relay_options.kafka.create_topics = config.kafka_create_topics;
  relay_options.on_published = [metrics = server->metrics_.get()](absl::Duration d) {
    metrics->OnPublished(d);
  };
  RETURN_IF_ERROR(events::ValidateKafkaOptions(relay_options.kafka));

  ASSIGN_OR_RETURN(server->store_, store::Store::Open(store_options, clock));
  log->info("msg=\"store open\" path={} format_version={}", config.data_dir,
            server->store_->opened_format_version());

  ASSIGN_OR_RETURN(std::vector<std::string> senders, ParseSenders(config.enforcement_senders));
  if (!senders.empty() && config.kafka_brokers.empty()) {
    return absl::InvalidArgumentError("enforcement.senders: needs kafka.brokers");
  }
  ProofOptions proof_options;
  proof_options.auditor.senders = senders;
  proof_options.auditor.alert_after = config.enforcement_alert_after;
  proof_options.auditor.instance_timeout = config.enforcement_instance_timeout;
  proof_options.auditor.honour_margin = config.enforcement_honour_margin;
  proof_options.brokers = config.kafka_brokers;
  proof_options.topic_prefix = config.kafka_topic_prefix;
  proof_options.connection = events::ConnectionSettings(config.kafka_producer);
  // Cluster mode starts it once the node and the committer exist (below).
  if (!senders.empty() && !config.cluster_enabled) {
    ASSIGN_OR_RETURN(server->proof_,
                     EnforcementProof::Start(std::move(proof_options), *server->store_, clock,
                                             *server->metrics_->registry()));
    relay_options.on_delivered_changes =
        [proof = server->proof_.get()](const std::vector<events::DeliveredChange>& changes) {
          proof->OnDelivered(changes);
        };
    log->info("msg=\"proving enforcement\" senders={}", config.enforcement_senders);
  }

  const bool default_secret = config.contact_key_secret_file.empty();
  const std::string secret_path =
      default_secret ? config.data_dir + "/contact-key.secret" : config.contact_key_secret_file;
  ASSIGN_OR_RETURN(std::string secret, LoadOrCreateSecret(secret_path, default_secret));

  store::CommitterOptions committer_options;
  committer_options.max_queue = static_cast<size_t>(config.limits_write_queue);
  committer_options.max_group = static_cast<size_t>(config.limits_commit_group);
  if (config.cluster_enabled) {
    relay_options.kafka.min_insync_replicas = static_cast<int>(config.cluster_min_insync_replicas);
    if (config.kafka_create_topics) {
      RETURN_IF_ERROR(events::EnsureTopics(relay_options.kafka, absl::Seconds(30)));
    }
    ASSIGN_OR_RETURN(cluster::NodeOptions node_options, ClusterNodeOptions(config));
    node_options.topic_name = [kafka = relay_options.kafka](storage::v1::Topic topic) {
      return events::TopicName(kafka, topic);
    };
    node_options.on_replicated = [self](const std::vector<store::Cf>& families) {
      ledger::Ledger* ledger = self->ledger_ptr_.load();
      if (ledger == nullptr) return;
      if (std::find(families.begin(), families.end(), store::Cf::kCatalog) != families.end()) {
        if (absl::Status s = ledger->ReloadCatalog(); !s.ok()) {
          spdlog::get("consentd")
              ->error("msg=\"catalog reload failed\" error=\"{}\"", s.ToString());
        }
      }
    };
    // A data key another instance destroyed (an erasure) or replaced must not stay cached here.
    node_options.watched_family = store::Cf::kKeys;
    node_options.on_watched_writes = [self](const std::vector<std::string>& keys) {
      if (ledger::Ledger* ledger = self->ledger_ptr_.load(); ledger != nullptr) {
        ledger->ForgetDataKeys(keys);
      }
    };
    log->info("msg=\"cluster mode\" node_id={} partitions={}", node_options.node_id,
              node_options.partitions);
    ASSIGN_OR_RETURN(server->cluster_,
                     cluster::Node::Start(std::move(node_options), *server->store_, clock));
    committer_options.sink = server->cluster_.get();
  }
  server->committer_ =
      std::make_unique<store::Committer>(*server->store_, clock, committer_options);

  if (config.cluster_enabled) {
    log->info("msg=\"events published in each write's Kafka transaction (no outbox relay)\"");
  } else if (!config.kafka_brokers.empty()) {
    server->relay_ =
        std::make_unique<events::OutboxRelay>(*server->store_, clock, std::move(relay_options));
    RETURN_IF_ERROR(server->relay_->Start());
    server->committer_->AddObserver(server->relay_.get());
    log->info("msg=\"publishing events\" brokers={} prefix={}", config.kafka_brokers,
              config.kafka_topic_prefix);
  } else {
    log->warn("msg=\"no kafka.brokers configured; events stay in the outbox\"");
  }

  ledger::LedgerOptions ledger_options;
  ledger_options.contact_key_secret = std::move(secret);
  ledger_options.idempotency_ttl = config.idempotency_ttl;
  ledger_options.max_batch_check = static_cast<int>(config.limits_max_batch_check);
  ledger_options.max_decisions_per_request = static_cast<int>(config.limits_max_decisions);
  if (!config.links_keyring_file.empty()) {
    RETURN_IF_ERROR(CheckSecretFileMode("links.keyring_file", config.links_keyring_file));
    ASSIGN_OR_RETURN(links::KeyRing keyring, links::KeyRing::Load(config.links_keyring_file));
    log->info("msg=\"link keyring loaded\" keys={}", keyring.size());
    ledger_options.link_keyring = std::make_shared<const links::KeyRing>(std::move(keyring));
  }
  ledger_options.link_base_url = config.links_base_url;
  ledger_options.deadline_rules = config.deadline_rules;
  if (!config.confirmation_keyring_file.empty()) {
    RETURN_IF_ERROR(
        CheckSecretFileMode("confirmation.keyring_file", config.confirmation_keyring_file));
    ASSIGN_OR_RETURN(links::KeyRing keyring,
                     links::KeyRing::Load(config.confirmation_keyring_file));
    log->info("msg=\"confirmation keyring loaded\" keys={}", keyring.size());
    ledger_options.confirmation_keyring =
        std::make_shared<const links::KeyRing>(std::move(keyring));
  }
  if (!config.evidence_keyring_file.empty()) {
    RETURN_IF_ERROR(CheckSecretFileMode("evidence.keyring_file", config.evidence_keyring_file));
    ASSIGN_OR_RETURN(links::KeyRing keyring, links::KeyRing::Load(config.evidence_keyring_file));
    log->info("msg=\"evidence keyring loaded\" keys={} current={}", keyring.size(),
              keyring.Current().id);
    ledger_options.evidence_keyring = std::make_shared<const links::KeyRing>(std::move(keyring));
  } else {
    log->warn(
        "msg=\"no evidence.keyring_file: identifying evidence (IP address, user agent) is stored "
        "in plain text and an erasure can only redact it\"");
  }
  server->report_metrics_ = std::make_unique<ReportMetrics>(
      *server->metrics_->registry(), static_cast<int>(config.reports_top_sources));
  ledger::ReportSettings report_settings;
  report_settings.enabled = config.reports_enabled;
  report_settings.max_sources_per_day = static_cast<int>(config.reports_max_sources_per_day);
  report_settings.observer = server->report_metrics_.get();
  ledger::SetReportSettings(report_settings);
  ASSIGN_OR_RETURN(server->ledger_, ledger::Ledger::Create(*server->store_, *server->committer_,
                                                           clock, std::move(ledger_options)));
  server->ledger_ptr_.store(server->ledger_.get());
  if (server->cluster_ != nullptr) {
    // Catalog writes the replica applied between the ledger's load and the line above.
    RETURN_IF_ERROR(server->ledger_->ReloadCatalog());
  }
  // Erasures acknowledged since the backup this store may have been restored from are applied
  // again before anything is served.
  if (!config.erasure_log_file.empty()) {
    ASSIGN_OR_RETURN(std::vector<ErasureLog::Entry> erased,
                     ErasureLog::ReadAll(config.erasure_log_file));
    int reapplied = 0;
    for (const ErasureLog::Entry& e : erased) {
      ASSIGN_OR_RETURN(bool again, server->ledger_->ReapplyErasure(e.tenant, e.subject_id,
                                                                   "assent/erasure-log"));
      if (again) ++reapplied;
    }
    if (reapplied > 0) {
      log->warn("msg=\"erasures re-applied from the erasure log (restored store?)\" count={}",
                reapplied);
    }
    ASSIGN_OR_RETURN(server->erasure_log_, ErasureLog::Open(config.erasure_log_file));
    log->info("msg=\"erasure log\" path={} entries={}", config.erasure_log_file, erased.size());
  } else {
    log->warn("msg=\"no erasure.log_file: a restored backup would not re-apply later erasures\"");
  }

  server->ledger_->SetObserver(server->metrics_.get());
  server->committer_->AddObserver(server->metrics_.get());
  server->metrics_->Attach(&clock, server->store_.get(), server->committer_.get(),
                           server->relay_.get(), [self] { return self->Ready().ready; });
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   rpc::ServerCredentials(config.tls, config.insecure));
  if (config.tls.enabled()) {
    log->info("msg=\"gRPC over TLS\" client_auth={} refresh_interval={}",
              rpc::ClientAuthName(config.tls.client_auth),
              absl::FormatDuration(config.tls.refresh_interval));
  } else {
    log->warn(
        "msg=\"serving plaintext gRPC (--insecure): callers are not authenticated and "
        "traffic is not encrypted\"");
  }
  CallGuardOptions guard_options;
  if (!config.auth_policy_file.empty()) {
    ASSIGN_OR_RETURN(server->policy_, authz::PolicyFile::Open(config.auth_policy_file));
    guard_options.policy = server->policy_.get();
    log->info("msg=\"authorization policy loaded\" path={} principals={} tokens={}",
              config.auth_policy_file, server->policy_->current().principal_count(),
              server->policy_->current().token_count());
    server->policy_watcher_ = std::thread(
        [self, interval = config.auth_reload_interval] { self->WatchPolicy(interval); });
  } else if (config.tls.enabled()) {
    log->warn(
        "msg=\"no authorization policy (auth.policy_file): every identified caller may do "
        "everything\"");
  }
  guard_options.tls = config.tls.enabled();
  guard_options.per_tenant = {config.rate_limits_tenant_rate, config.rate_limits_tenant_burst};
  guard_options.per_principal = {config.rate_limits_principal_rate,
                                 config.rate_limits_principal_burst};
  ASSIGN_OR_RETURN(server->guard_, CallGuard::Create(guard_options, clock, server->metrics_.get()));
  // Cluster mode: whether this instance does the background work of a stored key of `cf` (its
  // partition is owned here).
  cluster::Node* node = server->cluster_.get();
  // A key that routes nowhere passes (ledger::OwnedKeys), so that the sweeper and the link
  // intent recovery report it corrupt.
  auto owned_here = [node](store::Cf cf) -> ledger::KeyFilter {
    return ledger::OwnedKeys(
        cf, [node](std::string_view route) { return node->Owns(node->PartitionOf(route)); });
  };
  if (server->cluster_ != nullptr) {
    // Re-permission campaigns and offboarding walk per owned partition, each with its own
    // cursor; so does the proof of enforcement.
    std::vector<std::string> route_keys;
    for (int32_t p = 0; p < node->partitions(); ++p) {
      route_keys.push_back(cluster::PartitionRouteKey(p, node->partitions()));
    }
    auto route_key = [route_keys](int32_t p) { return route_keys.at(static_cast<size_t>(p)); };
    server->ledger_->SetPartitions(ledger::Partitions{
        node->partitions(), [node](std::string_view route) { return node->PartitionOf(route); },
        [node](int32_t p) { return node->Owns(p); }, route_key});
    if (!senders.empty()) {
      ProofOptions::Cluster proof_cluster;
      proof_cluster.changes_topic =
          events::TopicName(relay_options.kafka, storage::v1::TOPIC_CHANGES);
      proof_cluster.partitions = node->partitions();
      proof_cluster.owned = [node](int32_t p) { return node->Owns(p); };
      proof_cluster.route_key = route_key;
      proof_cluster.run = [committer = server->committer_.get()](
                              std::function<absl::Status(store::Txn&)> mutation) {
        return committer->Run(std::move(mutation));
      };
      proof_options.cluster = std::move(proof_cluster);
      ASSIGN_OR_RETURN(server->proof_,
                       EnforcementProof::Start(std::move(proof_options), *server->store_, clock,
                                               *server->metrics_->registry()));
      log->info("msg=\"proving enforcement\" senders={} cluster=true", config.enforcement_senders);
    }
    ClusterRouterOptions router_options;
    router_options.forward_timeout = config.cluster_forward_timeout;
    if (config.tls.enabled()) {
      // Peers are called with this instance's own certificate (mTLS) and trust the same CA.
      router_options.peer_tls.ca_file = config.tls.ca_file;
      router_options.peer_tls.cert_file = config.tls.cert_file;
      router_options.peer_tls.key_file = config.tls.key_file;
    }
    server->router_ =
        std::make_unique<ClusterRouter>(*server->cluster_, *server->ledger_,
                                        std::move(router_options), *server->metrics_->registry());
    server->guard_->SetRouter(server->router_.get());
    server->links_ = std::make_unique<LinkCoordinator>(*server->ledger_, *server->router_,
                                                       *server->metrics_->registry(),
                                                       owned_here(store::Cf::kRights));
  }

  server->catalog_service_ =
      std::make_unique<CatalogService>(*server->ledger_, *server->guard_, server->metrics_.get());
  server->consent_service_ =
      std::make_unique<ConsentService>(*server->ledger_, *server->guard_, server->metrics_.get());
  server->consent_service_->SetProof(server->proof_.get(), server->store_.get());
  server->consent_service_->SetLinkCoordinator(server->links_.get());
  server->rights_service_ = std::make_unique<SubjectRightsService>(
      *server->ledger_, *server->guard_, server->metrics_.get(), server->erasure_log_.get());
  server->rights_service_->SetLinkCoordinator(server->links_.get());
  if (server->links_ != nullptr && server->erasure_log_ != nullptr) {
    // An erasure a recovery round finished was acknowledged to no one: it is logged all the same.
    ErasureLog* erasure_log = server->erasure_log_.get();
    server->links_->OnRecoveredErasure([erasure_log](const v1::EraseSubjectResponse& erased) {
      ErasureLog::Entry entry{erased.erasure().tenant(), erased.erasure().subject_id(),
                              FromProto(erased.erasure().erase_time())};
      erasure_log->Append(std::move(entry), [](absl::Status logged) {
        if (!logged.ok()) {
          spdlog::get("consentd")
              ->error("msg=\"erasure not logged\" error=\"{}\"", logged.ToString());
        }
      });
    });
  }
  server->admin_service_ =
      std::make_unique<AdminService>(*server->store_, *server->guard_, server->metrics_.get());
  server->admin_service_->SetCluster(server->cluster_.get(),
                                     node != nullptr ? server->ledger_.get() : nullptr);
  server->export_service_ =
      std::make_unique<ExportService>(*server->ledger_, *server->guard_, server->metrics_.get());
  server->import_service_ =
      std::make_unique<ImportService>(*server->ledger_, *server->guard_, server->metrics_.get());
  if (!config.receipts_keyring_file.empty()) {
    ASSIGN_OR_RETURN(server->receipts_,
                     ReceiptIssuer::Create(config.receipts_keyring_file, *server->store_, clock,
                                           *server->metrics_->registry()));
    log->info("msg=\"receipt keyring loaded\" current_kid={}",
              server->receipts_->Keys().current_kid());
    if (config.cluster_enabled && config.cluster_standbys >= 0) {
      server->receipts_->LeaveOutMissingCounterparts();
    }
  } else {
    log->info("msg=\"no receipt keyring (receipts.keyring_file): responses carry no receipts\"");
  }
  server->consent_service_->SetReceipts(server->receipts_.get());
  server->receipt_service_ = std::make_unique<ReceiptService>(
      *server->ledger_, *server->guard_, server->metrics_.get(), server->receipts_.get());
  server->report_service_ =
      std::make_unique<ReportService>(*server->ledger_, *server->guard_, server->metrics_.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  rpc::ConfigureServerBuilder(builder);
  int port = 0;
  builder.AddListeningPort(config.listen, credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.limits_max_message_bytes));
  builder.RegisterService(server->catalog_service_.get());
  builder.RegisterService(server->consent_service_.get());
  builder.RegisterService(server->rights_service_.get());
  builder.RegisterService(server->admin_service_.get());
  builder.RegisterService(server->export_service_.get());
  builder.RegisterService(server->import_service_.get());
  builder.RegisterService(server->receipt_service_.get());
  builder.RegisterService(server->report_service_.get());
  ASSIGN_OR_RETURN(server->server_, rpc::BuildAndStart(builder, config.listen, port));
  server->address_ = rpc::BoundAddress(config.listen, port);
  if (server->cluster_ != nullptr) {
    const std::string advertised = AdvertiseAddress(config, server->address_);
    RETURN_IF_ERROR(server->cluster_->Join(advertised));
    log->info("msg=\"cluster group joined\" advertise_address={}", advertised);
  }
  if (server->cluster_ == nullptr) {
    server->lifecycle_ =
        std::make_unique<LifecycleRunner>(config.sweeper, clock, *server->ledger_, *server->store_,
                                          *server->committer_, *server->metrics_->registry());
    server->lifecycle_->Start();
    server->rights_ = std::make_unique<RightsRunner>(
        clock, *server->ledger_, server->erasure_log_.get(), *server->metrics_->registry());
    server->rights_->Start();
  } else {
    // Each instance sweeps the due entries, and re-wraps the data keys, of the partitions it owns.
    server->lifecycle_ = std::make_unique<LifecycleRunner>(
        config.sweeper, clock, *server->ledger_, *server->store_, *server->committer_,
        *server->metrics_->registry(), owned_here(store::Cf::kDue));
    server->lifecycle_->Start();
    // Re-wrapping reports no corrupt key (it re-wraps what it finds): one that routes nowhere
    // would be re-wrapped by every instance at once, so it is nobody's.
    ledger::KeyFilter keys_here = [owned = owned_here(store::Cf::kKeys)](std::string_view key) {
      return ledger::RouteOfWrite(store::Cf::kKeys, key).has_value() && owned(key);
    };
    // Offboarding erases each subject of the owned partitions as EraseSubject does in cluster
    // mode (its linked contact points may be anywhere).
    RightsRunner::Erase erase = [links = server->links_.get()](
                                    const v1::EraseSubjectRequest& request, absl::Time deadline,
                                    const ledger::Caller& caller,
                                    ledger::Callback<v1::EraseSubjectResponse> done) {
      links->Erase(request, deadline, caller, std::move(done));
    };
    server->rights_ = std::make_unique<RightsRunner>(
        clock, *server->ledger_, server->erasure_log_.get(), *server->metrics_->registry(),
        std::move(keys_here), std::move(erase));
    server->rights_->Start();
    server->links_->Start();
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  server->phase_ = Phase::kServing;
  return server;
}

absl::Status Server::ReloadPolicy() {
  if (policy_ == nullptr) return absl::OkStatus();
  absl::Status reloaded = policy_->Reload();
  LogReload(reloaded);
  return reloaded;
}

absl::Status Server::ReloadReceiptKeys() {
  if (receipts_ == nullptr) return absl::OkStatus();
  absl::Status reloaded = receipts_->Reload();
  auto log = spdlog::get("consentd");
  if (reloaded.ok()) {
    log->info("msg=\"receipt keyring reloaded\" current_kid={}", receipts_->Keys().current_kid());
  } else {
    log->error("msg=\"receipt keyring refused; the keys in use stay\" error=\"{}\"",
               reloaded.ToString());
  }
  return reloaded;
}

void Server::LogReload(const absl::Status& reloaded) const {
  auto log = spdlog::get("consentd");
  if (reloaded.ok()) {
    log->info("msg=\"authorization policy reloaded\" principals={} tokens={}",
              policy_->current().principal_count(), policy_->current().token_count());
  } else {
    log->error("msg=\"authorization policy refused; the previous one stays\" error=\"{}\"",
               reloaded.ToString());
  }
}

void Server::WatchPolicy(absl::Duration interval) {
  absl::MutexLock lock(&mu_);
  while (!shut_down_) {
    mu_.AwaitWithTimeout(absl::Condition(&shut_down_), interval);
    if (shut_down_) break;
    mu_.Unlock();
    // Reloads only when the file changed since it was last read (good or bad).
    absl::StatusOr<bool> reloaded = policy_->ReloadIfChanged();
    if (!reloaded.ok() || *reloaded) LogReload(reloaded.status());
    mu_.Lock();
  }
}

metrics::Readiness Server::Ready() const {
  switch (phase_.load()) {
    case Phase::kStarting:
      return {false, "starting"};
    case Phase::kStopping:
      return {false, "shutting down"};
    case Phase::kServing:
      break;
  }
  if (relay_ != nullptr && !relay_->stats().kafka_up) return {false, "kafka unreachable"};
  if (cluster_ != nullptr && !cluster_->CaughtUp()) return {false, "replica catching up"};
  return {true, ""};
}

void Server::StopPolicyWatcher() {
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
  }
  if (policy_watcher_.joinable()) policy_watcher_.join();
}

void Server::Shutdown(absl::Duration delay, absl::Duration grace) {
  if (server_ == nullptr) {  // Start() failed part-way
    StopPolicyWatcher();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  if (policy_watcher_.joinable()) policy_watcher_.join();
  auto log = spdlog::get("consentd");
  phase_ = Phase::kStopping;
  server_->GetHealthCheckService()->SetServingStatus(false);
  log->info("msg=\"shutting down\" delay={} grace={}", absl::FormatDuration(delay),
            absl::FormatDuration(grace));
  // Keep serving while reporting not ready, so that balancers move traffic away first.
  if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
  server_->Shutdown(absl::ToChronoTime(clock_->Now() + grace));
  if (lifecycle_ != nullptr) lifecycle_->Stop();  // its rounds write through the committer
  if (rights_ != nullptr) rights_->Stop();
  if (links_ != nullptr) links_->Stop();  // waits for the link intents being driven
  // Cluster mode: the proof records through the committer (single-node: after the relay, below).
  if (proof_ != nullptr && cluster_ != nullptr) proof_->Stop();
  committer_->Stop();
  // Calls still waiting for an owner fail; then the partitions move to the other instances.
  guard_->SetRouter(nullptr);
  router_.reset();
  links_.reset();  // after the committer and the router: their last callbacks reach it
  if (cluster_ != nullptr) cluster_->Stop();
  // No write reaches the report metrics any more (process-wide settings: keep the others).
  ledger::ReportSettings report_settings = ledger::GetReportSettings();
  if (report_settings.observer == report_metrics_.get()) {
    report_settings.observer = nullptr;
    ledger::SetReportSettings(report_settings);
  }
  // Signs what the last writes queued, then stops its thread: nothing reads the store after.
  receipts_.reset();
  if (relay_ != nullptr) {
    committer_->RemoveObserver(relay_.get());
    relay_->Stop();  // after the committer: the last writes' events get their chance
  }
  if (proof_ != nullptr) proof_->Stop();
  metrics_->Attach(clock_, nullptr, nullptr, nullptr, [] { return false; });
  absl::Status closed = store_->Close();
  if (!closed.ok()) {
    log->error("msg=\"store close failed\" error=\"{}\"", closed.ToString());
  } else {
    log->info("msg=\"store closed\"");
  }
}

void Server::Wait() { server_->Wait(); }

Server::~Server() {
  Shutdown(absl::ZeroDuration(), absl::ZeroDuration());
  http_.reset();  // before the metrics it serves
}

}  // namespace assent::consentd
