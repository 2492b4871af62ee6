// consentd's Prometheus metrics (names follow the prometheus.io guide: assent_ prefix, _total
// counters, _seconds histograms; no label ever carries a customer identifier or contact point).
//
// Event-driven metrics (RPCs, decisions, checks, commits, publishes) are updated as things
// happen; state (queue depth, store sizes, outbox backlog, Kafka, readiness) is read at scrape
// time by state_collector(). Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "events/relay.h"
#include "grpcpp/support/status.h"
#include "ledger/ledger.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::consentd {

// Series of one metric family addressed by a small integer (an enum value, or a pair of them),
// each created on first use and then reached without a label map, a hash or a lock: the hot
// paths (every RPC, every Check) only load a pointer. Family::Add is idempotent and thread-safe,
// so two threads racing to create a slot store the same pointer.
template <typename Metric, size_t N>
class SeriesSlots {
 public:
  Metric& Get(size_t index, absl::FunctionRef<Metric&()> create) {
    if (index >= N) return create();
    Metric* metric = slots_[index].load(std::memory_order_acquire);
    if (metric == nullptr) {
      metric = &create();
      slots_[index].store(metric, std::memory_order_release);
    }
    return *metric;
  }

 private:
  std::array<std::atomic<Metric*>, N> slots_{};
};

class ServiceMetrics final : public store::CommitObserver, public ledger::LedgerObserver {
 public:
  explicit ServiceMetrics(const std::string& version);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // One finished RPC.
  void ObserveRpc(std::string_view service, std::string_view method, grpc::StatusCode code,
                  absl::Duration latency);
  void OnGroupCommitted(size_t mutations, size_t bytes, absl::Duration write_latency) override;
  void OnDecisionRecorded(v1::PurposeKind kind, v1::ConsentState state) override;
  void OnChecked(v1::Verdict verdict, v1::Reason reason) override;
  // A call refused by the guard: `principal` is a bounded label (a principal the policy names,
  // "unknown" or "anonymous"); `reason` is "unauthenticated" or "permission_denied".
  void OnDenied(std::string_view principal, std::string_view service, std::string_view method,
                std::string_view reason);
  // A call refused by the tenant's or the principal's rate limit (`scope`).
  void OnRateLimited(std::string_view scope, std::string_view service, std::string_view method);
  // Commit -> Kafka acknowledgement of one event.
  void OnPublished(absl::Duration latency);

  // What the scrape-time collector reads. Pointers are not owned and must outlive the metrics or
  // be detached (null) first; `relay` may be null (no Kafka); `ready` answers assent_ready.
  void Attach(const Clock* clock, const store::Store* store, const store::Committer* committer,
              const events::OutboxRelay* relay, std::function<bool()> ready);
  std::shared_ptr<prometheus::Collectable> state_collector() const;

 private:
  class StateCollector;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& verdicts_;
  prometheus::Histogram& group_mutations_;
  prometheus::Histogram& commit_write_;
  prometheus::Histogram& publish_;
  prometheus::Family<prometheus::Counter>& denied_;
  prometheus::Family<prometheus::Counter>& rate_limited_;
  std::shared_ptr<StateCollector> collector_;

  // One gRPC method's series, by status code (17 codes).
  struct RpcSeries {
    SeriesSlots<prometheus::Counter, 17> requests;
    SeriesSlots<prometheus::Histogram, 17> duration;
  };
  // Every method of the services consentd serves, from their descriptors, keyed by service and
  // then method name. Built in the constructor and never changed, so lookups take no lock.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, std::unique_ptr<RpcSeries>>>
      rpc_series_;
  // Indexed by verdict * kReasons + reason, and by kind * kStates + state.
  static constexpr size_t kReasons = 32;
  static constexpr size_t kStates = 8;
  SeriesSlots<prometheus::Counter, 4 * kReasons> verdict_series_;
  SeriesSlots<prometheus::Counter, 16 * kStates> decision_series_;
};

// gRPC status code names as Prometheus label values ("OK", "INVALID_ARGUMENT", ...).
std::string_view CodeName(grpc::StatusCode code);

}  // namespace assent::consentd
