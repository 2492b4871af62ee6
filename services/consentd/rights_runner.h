// Background work of subject rights in consentd: tenant offboarding (ledger::Ledger::
// RunOffboarding, each round's erasures appended to the erasure log) and, after a rotation of
// the evidence master key, re-wrapping every data key with the newest master key.
//
// Thread safety: Start and Stop from one thread.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/periodic.h"
#include "consentd/erasure_log.h"
#include "ledger/ledger.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace assent::consentd {

class RightsRunner {
 public:
  // Everything must outlive the runner; `erasure_log` may be null. With `rewrap_here` (cluster
  // mode) only the re-wrapping runs, over the keys it accepts (those of the partitions owned
  // here); offboarding does not run in cluster mode yet.
  RightsRunner(const Clock& clock, ledger::Ledger& ledger, ErasureLog* erasure_log,
               prometheus::Registry& registry, ledger::KeyFilter rewrap_here = nullptr);
  ~RightsRunner();

  void Start();
  // Stops after the current round. Idempotent.
  void Stop();

 private:
  absl::Duration OffboardRound();
  absl::Duration RewrapRound();

  const Clock& clock_;
  ledger::Ledger& ledger_;
  ErasureLog* erasure_log_;
  const ledger::KeyFilter rewrap_here_;
  prometheus::Counter& offboard_erased_;
  prometheus::Counter& rewrapped_;
  prometheus::Counter& errors_;
  std::string rewrap_cursor_;
  std::unique_ptr<PeriodicRunner> offboarding_;
  std::unique_ptr<PeriodicRunner> rewrap_;
};

}  // namespace assent::consentd
