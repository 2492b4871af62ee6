// Background work of subject rights in consentd: tenant offboarding (ledger::Ledger::
// RunOffboarding, each round's erasures appended to the erasure log) and, after a rotation of
// the evidence master key, re-wrapping every data key with the newest master key.
//
// Cluster mode: each instance offboards the partitions it owns (ledger::Ledger::NextOffboardStep
// and FinishOffboardStep), each subject erased by the erasure of cluster mode (`erase`: the
// link coordinator's, since its linked contact points may be in other partitions), a round's
// cursor stored once its erasures are done.
//
// Thread safety: Start and Stop from one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/periodic.h"
#include "consentd/erasure_log.h"
#include "ledger/ledger.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace assent::consentd {

class RightsRunner {
 public:
  // An erasure of cluster mode (LinkCoordinator::Erase); `done` must be called once.
  using Erase = std::function<void(const v1::EraseSubjectRequest& request, absl::Time deadline,
                                   const ledger::Caller& caller,
                                   ledger::Callback<v1::EraseSubjectResponse> done)>;

  // Everything must outlive the runner; `erasure_log` may be null. Cluster mode gives
  // `rewrap_here`, the keys re-wrapped here (those of the partitions owned here), and `erase`.
  RightsRunner(const Clock& clock, ledger::Ledger& ledger, ErasureLog* erasure_log,
               prometheus::Registry& registry, ledger::KeyFilter rewrap_here = nullptr,
               Erase erase = nullptr);
  ~RightsRunner();

  void Start();
  // Stops after the current round. Idempotent.
  void Stop();

 private:
  absl::Duration OffboardRound();
  // Cluster mode's round: one step of one owned partition.
  absl::Duration OffboardStepRound();
  // Appends erasures to the erasure log and waits until they are durable there.
  void LogErasures(const std::string& tenant, const std::vector<std::string>& subjects);
  absl::Duration RewrapRound();

  const Clock& clock_;
  ledger::Ledger& ledger_;
  ErasureLog* erasure_log_;
  const ledger::KeyFilter rewrap_here_;
  const Erase erase_;
  prometheus::Counter& offboard_erased_;
  prometheus::Counter& rewrapped_;
  prometheus::Counter& errors_;
  std::string rewrap_cursor_;
  std::unique_ptr<PeriodicRunner> offboarding_;
  std::unique_ptr<PeriodicRunner> rewrap_;
};

}  // namespace assent::consentd
