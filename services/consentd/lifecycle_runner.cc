#include "consentd/lifecycle_runner.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "spdlog/spdlog.h"

namespace assent::consentd {
namespace {

prometheus::Family<prometheus::Counter>& WorkFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("assent_sweeper_work_total")
      .Help(
          "Due-index entries the sweeper handled, by result: reminded (ConsentExpiring "
          "published), expired (grant lapsed), pending_expired (unconfirmed decision lapsed), "
          "dropped (the decision had changed since).")
      .Register(registry);
}

}  // namespace

LifecycleRunner::LifecycleRunner(SweeperOptions options, const Clock& clock, ledger::Ledger& ledger,
                                 const store::Store& store, const store::Committer& committer,
                                 prometheus::Registry& registry, ledger::KeyFilter handled_here)
    : options_(options),
      handled_here_(std::move(handled_here)),
      clock_(clock),
      ledger_(ledger),
      store_(store),
      committer_(committer),
      work_(WorkFamily(registry)),
      reminded_(work_.Add({{"result", "reminded"}})),
      expired_(work_.Add({{"result", "expired"}})),
      pending_expired_(work_.Add({{"result", "pending_expired"}})),
      dropped_(work_.Add({{"result", "dropped"}})),
      errors_(prometheus::BuildCounter()
                  .Name("assent_sweeper_errors_total")
                  .Help("Sweeper and backfill rounds that failed (retried next round).")
                  .Register(registry)
                  .Add({})),
      yielded_(prometheus::BuildCounter()
                   .Name("assent_sweeper_yielded_total")
                   .Help("Sweeper rounds skipped because live writes were queued.")
                   .Register(registry)
                   .Add({})),
      lag_(prometheus::BuildGauge()
               .Name("assent_sweeper_lag_seconds")
               .Help("How late the oldest due entry of the last round was handled (0: on time).")
               .Register(registry)
               .Add({})),
      backfill_ratio_(prometheus::BuildGauge()
                          .Name("assent_due_backfill_progress_ratio")
                          .Help("Share of the stored targets whose due work is indexed (1: all).")
                          .Register(registry)
                          .Add({})),
      repermission_notices_(prometheus::BuildCounter()
                                .Name("assent_repermission_notices_total")
                                .Help("RepermissionRequired notices published by re-permission "
                                      "campaigns.")
                                .Register(registry)
                                .Add({})) {}

LifecycleRunner::~LifecycleRunner() { Stop(); }

void LifecycleRunner::Start() {
  if (!options_.enabled) {
    spdlog::get("consentd")
        ->warn("msg=\"sweeper disabled: nothing expires or is reminded by time\"");
    return;
  }
  sweeper_ = std::make_unique<PeriodicRunner>("sweeper", clock_, [this] { return SweepRound(); });
  if (handled_here_ != nullptr) {
    backfilled_.store(true, std::memory_order_release);
    backfill_ratio_.Set(1);
  }
  repermission_ = std::make_unique<PeriodicRunner>("repermission", clock_,
                                                   [this] { return RepermissionRound(); });
  if (handled_here_ != nullptr) {
    // Each instance walks the campaigns over the partitions it owns (ledger::Partitions).
    sweeper_->Start();
    repermission_->Start();
    return;
  }
  backfill_ =
      std::make_unique<PeriodicRunner>("due-backfill", clock_, [this] { return BackfillRound(); });
  backfill_->Start();
  sweeper_->Start();
  repermission_->Start();
}

void LifecycleRunner::Stop() {
  if (sweeper_ != nullptr) sweeper_->Stop();
  if (backfill_ != nullptr) backfill_->Stop();
  if (repermission_ != nullptr) repermission_->Stop();
}

absl::Duration LifecycleRunner::RepermissionRound() {
  if (committer_.queue_depth() > static_cast<size_t>(options_.yield_queue_depth)) {
    yielded_.Increment();
    return options_.interval;
  }
  const int batch = std::max(1, static_cast<int>(options_.repermission_rate / 10));
  absl::StatusOr<ledger::RepermissionProgress> progress = ledger_.RunRepermission(batch);
  if (!progress.ok()) {
    errors_.Increment();
    spdlog::get("consentd")
        ->warn("msg=\"re-permission round failed; retrying\" error=\"{}\"",
               progress.status().ToString());
    return options_.interval;
  }
  if (progress->idle) return options_.interval;
  repermission_notices_.Increment(progress->notices);
  // At most repermission_rate targets a second.
  return absl::Seconds(progress->targets / options_.repermission_rate);
}

absl::Duration LifecycleRunner::SweepRound() {
  if (!backfilled_.load(std::memory_order_acquire)) return options_.interval;
  if (committer_.queue_depth() > static_cast<size_t>(options_.yield_queue_depth)) {
    yielded_.Increment();
    return options_.interval;
  }
  const absl::Time now = clock_.Now();
  absl::StatusOr<ledger::SweepStats> stats = ledger_.SweepDue(now, options_.batch, handled_here_);
  if (!stats.ok()) {
    errors_.Increment();
    spdlog::get("consentd")
        ->warn("msg=\"sweep failed; retrying\" error=\"{}\"", stats.status().ToString());
    return options_.interval;
  }
  reminded_.Increment(stats->reminders);
  expired_.Increment(stats->expired);
  pending_expired_.Increment(stats->pending_expired);
  dropped_.Increment(stats->dropped);
  lag_.Set(stats->oldest_due == absl::InfiniteFuture()
               ? 0
               : std::max(0.0, absl::ToDoubleSeconds(now - stats->oldest_due)));
  const int handled = stats->reminders + stats->expired + stats->pending_expired + stats->dropped;
  if (!stats->more) return options_.interval;
  // More is due: go on at once, but no faster than max_rate.
  return absl::Seconds(handled / options_.max_rate);
}

double LifecycleRunner::StoredTargets() const {
  uint64_t total = 0;
  for (store::Cf cf : {store::Cf::kSubjects, store::Cf::kContacts}) {
    uint64_t keys = 0;
    if (store_.db()->GetIntProperty(store_.Handle(cf), "rocksdb.estimate-num-keys", &keys)) {
      total += keys;
    }
  }
  return static_cast<double>(total);
}

absl::Duration LifecycleRunner::BackfillRound() {
  auto log = spdlog::get("consentd");
  absl::StatusOr<ledger::BackfillProgress> progress = ledger_.BackfillDue(options_.backfill_batch);
  if (!progress.ok()) {
    errors_.Increment();
    log->warn("msg=\"due backfill failed; retrying\" error=\"{}\"", progress.status().ToString());
    return options_.interval;
  }
  if (progress->done) {
    if (progress->scanned > 0) {
      log->info("msg=\"due backfill done\" targets={} percent=100", progress->scanned);
    }
    backfill_ratio_.Set(1);
    backfilled_.store(true, std::memory_order_release);
    // Nothing more to do: the runner sleeps until consentd stops.
    return absl::InfiniteDuration();
  }
  const double total = std::max(StoredTargets(), static_cast<double>(progress->scanned));
  const double ratio = total > 0 ? static_cast<double>(progress->scanned) / total : 0;
  backfill_ratio_.Set(ratio);
  const absl::Time now = clock_.Now();
  if (now - last_progress_log_ >= absl::Seconds(5)) {
    last_progress_log_ = now;
    log->info("msg=\"due backfill\" targets={} percent={:.1f}", progress->scanned,
              std::floor(ratio * 1000) / 10);
  }
  return absl::ZeroDuration();
}

}  // namespace assent::consentd
