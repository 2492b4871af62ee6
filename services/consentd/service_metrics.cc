#include "consentd/service_metrics.h"

#include "absl/synchronization/mutex.h"
#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "common/strings.h"
#include "prometheus/gauge.h"
#include "store/keys.h"

namespace assent::consentd {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  return *buckets;
}

prometheus::MetricFamily Family(const std::string& name, const std::string& help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

struct OutboxHead {
  uint64_t id;
  absl::Time committed;
};

// The first outbox record at or after id `from` (ids below it are already gone), if any.
std::optional<OutboxHead> OldestOutboxRecord(const store::Store& store, uint64_t from) {
  auto it = store.NewIterator(store::Cf::kOutbox);
  it->Seek(store::OutboxKey(from));
  if (!it->Valid() || it->key().size() != 8) return std::nullopt;
  storage::v1::OutboxRecord record;
  if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
    return std::nullopt;
  }
  return OutboxHead{store::ReadBigEndian64(std::string_view(it->key().data(), 8)),
                    absl::FromUnixSeconds(record.create_time().seconds()) +
                        absl::Nanoseconds(record.create_time().nanos())};
}

}  // namespace

void ServiceMetrics::OnDenied(std::string_view principal, std::string_view service,
                              std::string_view method, std::string_view reason) {
  denied_
      .Add({{"principal", std::string(principal)},
            {"service", std::string(service)},
            {"method", std::string(method)},
            {"reason", std::string(reason)}})
      .Increment();
}

void ServiceMetrics::OnRateLimited(std::string_view scope, std::string_view service,
                                   std::string_view method) {
  rate_limited_
      .Add({{"scope", std::string(scope)},
            {"service", std::string(service)},
            {"method", std::string(method)}})
      .Increment();
}

std::string_view CodeName(grpc::StatusCode code) {
  static constexpr std::string_view kNames[] = {"OK",
                                                "CANCELLED",
                                                "UNKNOWN",
                                                "INVALID_ARGUMENT",
                                                "DEADLINE_EXCEEDED",
                                                "NOT_FOUND",
                                                "ALREADY_EXISTS",
                                                "PERMISSION_DENIED",
                                                "RESOURCE_EXHAUSTED",
                                                "FAILED_PRECONDITION",
                                                "ABORTED",
                                                "OUT_OF_RANGE",
                                                "UNIMPLEMENTED",
                                                "INTERNAL",
                                                "UNAVAILABLE",
                                                "DATA_LOSS",
                                                "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "UNKNOWN";
}

class ServiceMetrics::StateCollector final : public prometheus::Collectable {
 public:
  void Attach(const Clock* clock, const store::Store* store, const store::Committer* committer,
              const events::OutboxRelay* relay, std::function<bool()> ready) {
    absl::MutexLock lock(&mu_);
    clock_ = clock;
    store_ = store;
    committer_ = committer;
    relay_ = relay;
    ready_ = std::move(ready);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    absl::MutexLock lock(&mu_);
    std::vector<prometheus::MetricFamily> out;
    out.push_back(Family("assent_ready", "1 when consentd is ready to serve.", MetricType::Gauge,
                         ready_ && ready_() ? 1 : 0));
    if (committer_ != nullptr) {
      const auto stats = committer_->stats();
      out.push_back(Family("assent_write_queue_depth", "Writes waiting for the committer.",
                           MetricType::Gauge, static_cast<double>(committer_->queue_depth())));
      prometheus::MetricFamily rejected;
      rejected.name = "assent_writes_rejected_total";
      rejected.help = "Writes refused before running, by reason.";
      rejected.type = MetricType::Counter;
      for (const auto& [reason, value] :
           {std::pair<std::string, uint64_t>{"queue_full", stats.rejected_queue_full},
            {"deadline", stats.rejected_deadline}}) {
        prometheus::ClientMetric m;
        m.label.push_back({"reason", reason});
        m.counter.value = static_cast<double>(value);
        rejected.metric.push_back(m);
      }
      out.push_back(rejected);
    }
    if (store_ != nullptr) {
      out.push_back(
          Family("assent_store_sst_bytes", "Size of the store's SST files.", MetricType::Gauge,
                 static_cast<double>(store_->SumProperty("rocksdb.total-sst-files-size"))));
      out.push_back(Family("assent_store_wal_bytes", "Size of the store's live WAL files.",
                           MetricType::Gauge, static_cast<double>(store_->WalBytes())));
      out.push_back(
          Family("assent_store_memtable_bytes", "Size of the store's memtables.", MetricType::Gauge,
                 static_cast<double>(store_->SumProperty("rocksdb.cur-size-all-mem-tables"))));
      out.push_back(Family("assent_store_block_cache_hits_total", "Block cache hits.",
                           MetricType::Counter, static_cast<double>(store_->BlockCacheHits())));
      out.push_back(Family("assent_store_block_cache_misses_total", "Block cache misses.",
                           MetricType::Counter, static_cast<double>(store_->BlockCacheMisses())));
      CollectOutbox(out);
    }
    if (relay_ != nullptr) {
      const auto stats = relay_->stats();
      out.push_back(Family("assent_events_published_total", "Outbox records Kafka acknowledged.",
                           MetricType::Counter, static_cast<double>(stats.published)));
      prometheus::MetricFamily errors;
      errors.name = "assent_producer_errors_total";
      errors.help = "Kafka producer errors by kind (refused record, fatal error, produce call).";
      errors.type = MetricType::Counter;
      for (const auto& [kind, value] :
           {std::pair<std::string, uint64_t>{"refused", stats.delivery_errors},
            {"fatal", stats.fatal_errors},
            {"produce", stats.produce_errors}}) {
        prometheus::ClientMetric m;
        m.label.push_back({"kind", kind});
        m.counter.value = static_cast<double>(value);
        errors.metric.push_back(m);
      }
      out.push_back(errors);
      out.push_back(Family("assent_kafka_up", "1 when Kafka answered lately and topics are ready.",
                           MetricType::Gauge, stats.kafka_up && stats.topics_ready ? 1 : 0));
    }
    return out;
  }

 private:
  // The backlog runs from the oldest record not yet acknowledged to the newest id handed out, so
  // it needs no count over the outbox (whose head is full of deleted records): one seek from the
  // relay's oldest unpublished id (or from the start when no relay has read yet) finds it.
  void CollectOutbox(std::vector<prometheus::MetricFamily>& out) const {
    const uint64_t newest = committer_ != nullptr ? committer_->last_outbox_id() : 0;
    const uint64_t from = relay_ != nullptr ? relay_->stats().oldest_unpublished_id : 0;
    double pending = 0;
    double age = 0;
    if (newest > 0 && from <= newest) {
      if (auto oldest = OldestOutboxRecord(*store_, from);
          oldest.has_value() && oldest->id <= newest) {
        pending = static_cast<double>(newest - oldest->id + 1);
        age = std::max(0.0, absl::ToDoubleSeconds(clock_->Now() - oldest->committed));
      }
    }
    out.push_back(Family("assent_outbox_pending_records",
                         "Committed events not yet acknowledged by Kafka.",
                         prometheus::MetricType::Gauge, pending));
    out.push_back(Family("assent_outbox_oldest_age_seconds",
                         "Age of the oldest event not yet acknowledged by Kafka.",
                         prometheus::MetricType::Gauge, age));
  }

  mutable absl::Mutex mu_;
  const Clock* clock_ = &SystemClock::Get();
  const store::Store* store_ = nullptr;
  const store::Committer* committer_ = nullptr;
  const events::OutboxRelay* relay_ = nullptr;
  std::function<bool()> ready_;
};

ServiceMetrics::ServiceMetrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      rpc_requests_(prometheus::BuildCounter()
                        .Name("assent_rpc_requests_total")
                        .Help("gRPC calls handled, by service, method and status code.")
                        .Register(*registry_)),
      rpc_duration_(prometheus::BuildHistogram()
                        .Name("assent_rpc_duration_seconds")
                        .Help("gRPC call latency in the server, by service, method and code.")
                        .Register(*registry_)),
      decisions_(prometheus::BuildCounter()
                     .Name("assent_decisions_written_total")
                     .Help("Consent decisions made durable, by purpose kind and state.")
                     .Register(*registry_)),
      verdicts_(prometheus::BuildCounter()
                    .Name("assent_check_verdicts_total")
                    .Help("Check verdicts, by verdict and reason.")
                    .Register(*registry_)),
      group_mutations_(prometheus::BuildHistogram()
                           .Name("assent_commit_group_mutations")
                           .Help("Mutations per group commit (one fsync each).")
                           .Register(*registry_)
                           .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64,
                                                                            128, 256, 512})),
      commit_write_(prometheus::BuildHistogram()
                        .Name("assent_commit_write_seconds")
                        .Help("WAL write and fsync time per group commit.")
                        .Register(*registry_)
                        .Add({}, LatencyBuckets())),
      publish_(prometheus::BuildHistogram()
                   .Name("assent_event_publish_seconds")
                   .Help("Time from a change's commit to Kafka acknowledging its event.")
                   .Register(*registry_)
                   .Add({}, LatencyBuckets())),
      denied_(prometheus::BuildCounter()
                  .Name("assent_auth_denied_total")
                  .Help("Calls refused by authentication or authorization, by principal (as the "
                        "policy names it; unknown and anonymous otherwise), service, method and "
                        "reason.")
                  .Register(*registry_)),
      rate_limited_(prometheus::BuildCounter()
                        .Name("assent_rate_limited_total")
                        .Help("Calls refused by a rate limit, by scope (tenant or principal), "
                              "service and method.")
                        .Register(*registry_)),
      collector_(std::make_shared<StateCollector>()) {
  prometheus::BuildGauge()
      .Name("assent_build_info")
      .Help("Build information; the value is 1.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  // The generated pool knows both services once their .pb.cc files are linked in, which the
  // includes above guarantee.
  (void)v1::CheckRequest::descriptor();
  (void)v1::CreateTenantRequest::descriptor();
  for (const char* name : {"assent.v1.CatalogService", "assent.v1.ConsentService"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;
    auto& methods = rpc_series_[service->name()];
    for (int i = 0; i < service->method_count(); ++i) {
      methods[service->method(i)->name()] = std::make_unique<RpcSeries>();
    }
  }
}

void ServiceMetrics::ObserveRpc(std::string_view service, std::string_view method,
                                grpc::StatusCode code, absl::Duration latency) {
  auto labels = [&] {
    return std::map<std::string, std::string>{{"service", std::string(service)},
                                              {"method", std::string(method)},
                                              {"code", std::string(CodeName(code))}};
  };
  auto make_counter = [&]() -> prometheus::Counter& { return rpc_requests_.Add(labels()); };
  auto make_histogram = [&]() -> prometheus::Histogram& {
    return rpc_duration_.Add(labels(), LatencyBuckets());
  };
  RpcSeries* series = nullptr;
  if (auto s = rpc_series_.find(absl::string_view(service.data(), service.size()));
      s != rpc_series_.end()) {
    if (auto m = s->second.find(absl::string_view(method.data(), method.size()));
        m != s->second.end()) {
      series = m->second.get();
    }
  }
  const double seconds = absl::ToDoubleSeconds(latency);
  if (series == nullptr) {  // not one of consentd's own methods: no cached series
    make_counter().Increment();
    make_histogram().Observe(seconds);
    return;
  }
  const auto index = static_cast<size_t>(code);
  series->requests.Get(index, make_counter).Increment();
  series->duration.Get(index, make_histogram).Observe(seconds);
}

void ServiceMetrics::OnGroupCommitted(size_t mutations, size_t, absl::Duration write_latency) {
  group_mutations_.Observe(static_cast<double>(mutations));
  commit_write_.Observe(absl::ToDoubleSeconds(write_latency));
}

void ServiceMetrics::OnDecisionRecorded(v1::PurposeKind kind, v1::ConsentState state) {
  const bool small = kind >= 0 && static_cast<size_t>(state) < kStates && state >= 0;
  decision_series_
      .Get(small ? static_cast<size_t>(kind) * kStates + static_cast<size_t>(state) : SIZE_MAX,
           [&]() -> prometheus::Counter& {
             return decisions_.Add({{"purpose_kind", v1::PurposeKind_Name(kind)},
                                    {"state", v1::ConsentState_Name(state)}});
           })
      .Increment();
}

void ServiceMetrics::OnChecked(v1::Verdict verdict, v1::Reason reason) {
  const bool small = verdict >= 0 && reason >= 0 && static_cast<size_t>(reason) < kReasons;
  verdict_series_
      .Get(small ? static_cast<size_t>(verdict) * kReasons + static_cast<size_t>(reason) : SIZE_MAX,
           [&]() -> prometheus::Counter& {
             return verdicts_.Add(
                 {{"verdict", v1::Verdict_Name(verdict)}, {"reason", v1::Reason_Name(reason)}});
           })
      .Increment();
}

void ServiceMetrics::OnPublished(absl::Duration latency) {
  publish_.Observe(absl::ToDoubleSeconds(latency));
}

std::shared_ptr<prometheus::Collectable> ServiceMetrics::state_collector() const {
  return collector_;
}

void ServiceMetrics::Attach(const Clock* clock, const store::Store* store,
                            const store::Committer* committer, const events::OutboxRelay* relay,
                            std::function<bool()> ready) {
  collector_->Attach(clock, store, committer, relay, std::move(ready));
}

}  // namespace assent::consentd
