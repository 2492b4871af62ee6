#include "consentd/rights_runner.h"

#include <utility>

#include "absl/synchronization/blocking_counter.h"
#include "spdlog/spdlog.h"

namespace assent::consentd {
namespace {

constexpr int kOffboardBatch = 200;
constexpr int kRewrapBatch = 1000;
constexpr absl::Duration kIdle = absl::Seconds(5);
constexpr absl::Duration kRewrapIdle = absl::Minutes(10);

}  // namespace

RightsRunner::RightsRunner(const Clock& clock, ledger::Ledger& ledger, ErasureLog* erasure_log,
                           prometheus::Registry& registry, ledger::KeyFilter rewrap_here)
    : clock_(clock),
      ledger_(ledger),
      erasure_log_(erasure_log),
      rewrap_here_(std::move(rewrap_here)),
      offboard_erased_(prometheus::BuildCounter()
                           .Name("assent_offboarding_erased_subjects_total")
                           .Help("Subjects erased by tenant offboarding")
                           .Register(registry)
                           .Add({})),
      rewrapped_(prometheus::BuildCounter()
                     .Name("assent_data_keys_rewrapped_total")
                     .Help("Evidence data keys re-wrapped with the newest master key")
                     .Register(registry)
                     .Add({})),
      errors_(prometheus::BuildCounter()
                  .Name("assent_rights_errors_total")
                  .Help("Failed rounds of offboarding or data-key re-wrapping")
                  .Register(registry)
                  .Add({})) {
  offboarding_ =
      std::make_unique<PeriodicRunner>("offboarding", clock, [this] { return OffboardRound(); });
  rewrap_ = std::make_unique<PeriodicRunner>("rewrap", clock, [this] { return RewrapRound(); });
}

RightsRunner::~RightsRunner() { Stop(); }

void RightsRunner::Start() {
  if (rewrap_here_ == nullptr) offboarding_->Start();
  rewrap_->Start();
}

void RightsRunner::Stop() {
  offboarding_->Stop();
  rewrap_->Stop();
}

absl::Duration RightsRunner::OffboardRound() {
  auto log = spdlog::get("consentd");
  absl::StatusOr<ledger::OffboardProgress> progress = ledger_.RunOffboarding(kOffboardBatch);
  if (!progress.ok()) {
    errors_.Increment();
    log->warn("msg=\"offboarding round failed\" error=\"{}\"", progress.status().ToString());
    return kIdle;
  }
  if (progress->idle) return kIdle;
  offboard_erased_.Increment(static_cast<double>(progress->erased_subjects.size()));
  if (erasure_log_ != nullptr) {
    // Queued together, the round's entries share the log's group fsync; wait for all of them.
    absl::BlockingCounter logged(static_cast<int>(progress->erased_subjects.size()));
    for (const std::string& subject : progress->erased_subjects) {
      erasure_log_->Append({progress->tenant, subject, clock_.Now()}, [&](absl::Status s) {
        if (!s.ok()) log->error("msg=\"erasure log append failed\" error=\"{}\"", s.ToString());
        logged.DecrementCount();
      });
    }
    logged.Wait();
  }
  const v1::OffboardingStatus& s = progress->status;
  log->info("msg=\"offboarding\" tenant={} state={} scanned={} erased={} held={}", s.tenant(),
            v1::OffboardingStatus::State_Name(s.state()), s.subjects_scanned(), s.subjects_erased(),
            s.subjects_held());
  return absl::ZeroDuration();
}

absl::Duration RightsRunner::RewrapRound() {
  absl::StatusOr<ledger::RewrapProgress> progress =
      ledger_.RewrapDataKeys(rewrap_cursor_, kRewrapBatch, rewrap_here_);
  if (!progress.ok()) {
    errors_.Increment();
    spdlog::get("consentd")
        ->warn("msg=\"data key re-wrap failed\" error=\"{}\"", progress.status().ToString());
    return kIdle;
  }
  rewrapped_.Increment(progress->rewrapped);
  rewrap_cursor_ = progress->cursor;
  return rewrap_cursor_.empty() ? kRewrapIdle : absl::ZeroDuration();
}

}  // namespace assent::consentd
