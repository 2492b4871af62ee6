// consentd's Prometheus metrics (names follow the prometheus.io guide: assent_ prefix, _total
// counters, _seconds histograms; no label ever carries a customer identifier or contact point).
//
// Event-driven metrics (RPCs, decisions, checks, commits, publishes) are updated as things
// happen; state (queue depth, store sizes, outbox backlog, Kafka, readiness) is read at scrape
// time by state_collector(). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

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
  std::shared_ptr<StateCollector> collector_;
};

// gRPC status code names as Prometheus label values ("OK", "INVALID_ARGUMENT", ...).
std::string_view CodeName(grpc::StatusCode code);

}  // namespace assent::consentd
