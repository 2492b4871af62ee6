#include "consentd/rights_runner.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace assent::consentd {
namespace {

constexpr int kOffboardBatch = 200;
// Cluster mode: erasures a round runs at once, and how long each may take (a contact point's
// owner that does not answer leaves the erasure's intent to the recovery; the round is repeated).
constexpr int kClusterOffboardBatch = 50;
constexpr absl::Duration kClusterEraseDeadline = absl::Seconds(10);
constexpr int kRewrapBatch = 1000;
constexpr absl::Duration kIdle = absl::Seconds(5);
constexpr absl::Duration kRewrapIdle = absl::Minutes(10);

}  // namespace

RightsRunner::RightsRunner(const Clock& clock, ledger::Ledger& ledger, ErasureLog* erasure_log,
                           prometheus::Registry& registry, ledger::KeyFilter rewrap_here,
                           Erase erase)
    : clock_(clock),
      ledger_(ledger),
      erasure_log_(erasure_log),
      rewrap_here_(std::move(rewrap_here)),
      erase_(std::move(erase)),
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
  offboarding_ = std::make_unique<PeriodicRunner>("offboarding", clock, [this] {
    return erase_ != nullptr ? OffboardStepRound() : OffboardRound();
  });
  rewrap_ = std::make_unique<PeriodicRunner>("rewrap", clock, [this] { return RewrapRound(); });
}

RightsRunner::~RightsRunner() { Stop(); }

void RightsRunner::Start() {
  if (rewrap_here_ == nullptr || erase_ != nullptr) offboarding_->Start();
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
  LogErasures(progress->tenant, progress->erased_subjects);
  const v1::OffboardingStatus& s = progress->status;
  log->info("msg=\"offboarding\" tenant={} state={} scanned={} erased={} held={}", s.tenant(),
            v1::OffboardingStatus::State_Name(s.state()), s.subjects_scanned(), s.subjects_erased(),
            s.subjects_held());
  return absl::ZeroDuration();
}

void RightsRunner::LogErasures(const std::string& tenant,
                               const std::vector<std::string>& subjects) {
  if (erasure_log_ == nullptr || subjects.empty()) return;
  // Queued together, the entries share the log's group fsync; wait for all of them.
  absl::BlockingCounter logged(static_cast<int>(subjects.size()));
  for (const std::string& subject : subjects) {
    erasure_log_->Append({tenant, subject, clock_.Now()}, [&](absl::Status s) {
      if (!s.ok()) {
        spdlog::get("consentd")
            ->error("msg=\"erasure log append failed\" error=\"{}\"", s.ToString());
      }
      logged.DecrementCount();
    });
  }
  logged.Wait();
}

absl::Duration RightsRunner::OffboardStepRound() {
  auto log = spdlog::get("consentd");
  absl::StatusOr<std::optional<ledger::OffboardStep>> next =
      ledger_.NextOffboardStep(kClusterOffboardBatch);
  if (!next.ok()) {
    errors_.Increment();
    log->warn("msg=\"offboarding round failed\" error=\"{}\"", next.status().ToString());
    return kIdle;
  }
  if (!next->has_value()) return kIdle;
  const ledger::OffboardStep& step = **next;
  // The step's erasures, all at once; the round waits for every answer.
  struct Outcome {
    absl::Mutex mu;
    uint64_t held = 0;
    std::vector<std::string> erased;
    absl::Status failed;
  } outcome;
  {
    absl::BlockingCounter answered(static_cast<int>(step.subjects.size()));
    const absl::Time deadline = absl::Now() + kClusterEraseDeadline;
    for (const std::string& subject : step.subjects) {
      v1::EraseSubjectRequest request;
      request.set_tenant(step.tenant);
      request.set_subject_id(subject);
      // As single-node offboarding records it: by Assent, on behalf of who asked.
      request.set_actor(step.actor);
      request.set_reason(absl::StrCat("tenant offboarding: ", step.reason));
      erase_(request, deadline, ledger::Caller{"assent"},
             [&outcome, &answered, subject](absl::StatusOr<v1::EraseSubjectResponse> result) {
               {
                 absl::MutexLock lock(&outcome.mu);
                 if (result.ok()) {
                   if (!result->already_erased()) outcome.erased.push_back(subject);
                 } else if (absl::IsFailedPrecondition(result.status())) {
                   ++outcome.held;  // under a legal hold: left, counted
                 } else if (!absl::IsNotFound(result.status()) && outcome.failed.ok()) {
                   outcome.failed = result.status();  // NOT_FOUND: erased since the scan
                 }
               }
               answered.DecrementCount();
             });
    }
    answered.Wait();
  }
  offboard_erased_.Increment(static_cast<double>(outcome.erased.size()));
  LogErasures(step.tenant, outcome.erased);
  absl::Status stored = outcome.failed.ok()
                            ? ledger_.FinishOffboardStep(step, outcome.erased.size(), outcome.held)
                            : outcome.failed;
  if (!stored.ok()) {
    // The erasures done stay done; the round is repeated (by the partition's next owner when it
    // moved), its erasures then answered already erased.
    errors_.Increment();
    log->warn("msg=\"offboarding round failed; repeating it\" partition={} error=\"{}\"",
              step.partition, stored.ToString());
    return kIdle;
  }
  log->info(
      "msg=\"offboarding\" tenant={} partition={} phase={} subjects={} erased={} held={} "
      "last={}",
      step.tenant, step.partition, step.keys_phase ? "data keys" : "subjects", step.subjects.size(),
      outcome.erased.size(), outcome.held, step.last);
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
