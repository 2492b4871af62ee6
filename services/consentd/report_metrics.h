// Metrics for the privacy team's dashboard (deploy/grafana), with bounded cardinality:
//   assent_consent_decisions_recorded_total{tenant,purpose,channel,state}
//   assent_consent_withdrawals_total{tenant,purpose,source}
// tenant and purpose are bounded by the catalog, channel and state by the API. Sources are caller
// strings, so each tenant labels at most `top_sources` of them: the first N distinct sources it
// withdrew under since the process started (stable for the process's life; a restart may pick
// others); every later source is "other". Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "ledger/report.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace assent::consentd {

class ReportMetrics final : public ledger::ReportObserver {
 public:
  ReportMetrics(prometheus::Registry& registry, int top_sources);
  void OnReportEvents(const std::string& tenant,
                      const std::vector<ledger::ReportEvent>& events) override;

 private:
  prometheus::Family<prometheus::Counter>& recorded_;
  prometheus::Family<prometheus::Counter>& withdrawals_;
  const size_t top_sources_;
  absl::Mutex mu_;
  // Per tenant, the sources labelled so far.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> sources_ ABSL_GUARDED_BY(mu_);
  // Series by their joined labels.
  absl::flat_hash_map<std::string, prometheus::Counter*> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace assent::consentd
