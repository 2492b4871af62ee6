// Runs consentd's time-driven work in the background on the injected clock: the sweeper (expiry
// and reminders from the due index, ledger::Ledger::SweepDue) and, on a store written before the
// due index existed, the backfill that indexes the grants already stored.
//
// The sweeper yields to live traffic: it sweeps at most `max_rate` entries a second, and skips a
// round while the write queue is deeper than `yield_queue_depth`, so a backlog of expiries never
// slows down the writes callers wait for. Its progress is the due index itself (entries are
// deleted with the work they cause), so a restart resumes where it stopped.
//
// In cluster mode every instance runs the sweeper over the partitions it owns (`handled_here`);
// an entry whose partition moves mid-round fails to commit on the old owner and stays due for the
// new one; re-permission campaigns are walked by each instance over the partitions it owns
// (ledger::Ledger::RunRepermission). The backfill does not run there (cluster stores start empty,
// in the current format).
//
// Thread safety: Start and Stop from one thread.
#pragma once

#include <atomic>
#include <memory>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/periodic.h"
#include "consentd/sweeper_options.h"
#include "ledger/ledger.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::consentd {

class LifecycleRunner {
 public:
  // Everything must outlive the runner.
  LifecycleRunner(SweeperOptions options, const Clock& clock, ledger::Ledger& ledger,
                  const store::Store& store, const store::Committer& committer,
                  prometheus::Registry& registry, ledger::KeyFilter handled_here = nullptr);
  ~LifecycleRunner();

  void Start();
  // Stops after the current round. Idempotent.
  void Stop();

 private:
  absl::Duration SweepRound();
  absl::Duration BackfillRound();
  absl::Duration RepermissionRound();
  double StoredTargets() const;

  const SweeperOptions options_;
  const ledger::KeyFilter handled_here_;  // cluster mode; null: every entry
  const Clock& clock_;
  ledger::Ledger& ledger_;
  const store::Store& store_;
  const store::Committer& committer_;
  prometheus::Family<prometheus::Counter>& work_;
  prometheus::Counter& reminded_;
  prometheus::Counter& expired_;
  prometheus::Counter& pending_expired_;
  prometheus::Counter& dropped_;
  prometheus::Counter& errors_;
  prometheus::Counter& yielded_;
  prometheus::Gauge& lag_;
  prometheus::Gauge& backfill_ratio_;
  std::unique_ptr<PeriodicRunner> sweeper_;
  std::unique_ptr<PeriodicRunner> backfill_;
  std::unique_ptr<PeriodicRunner> repermission_;
  prometheus::Counter& repermission_notices_;
  // The sweeper waits for the backfill: an entry it has not indexed yet could be due already.
  std::atomic<bool> backfilled_{false};
  absl::Time last_progress_log_ = absl::InfinitePast();
};

}  // namespace assent::consentd
