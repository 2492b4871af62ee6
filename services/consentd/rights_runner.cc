#include "consentd/rights_runner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"
#include "store/keys.h"

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

// The offboarding's reason and the actor who asked, made to pass an erasure's checks (the actor:
// printable ASCII without spaces, at most 128 characters; the reason at most 256 bytes), which they
// need not have passed when the offboarding was asked for (a principal may be longer; the reason
// gains a prefix).
static std::string FitActor(std::string_view actor) {
  std::string out;
  for (char c : actor.substr(0, 128)) out.push_back(c > 0x20 && c < 0x7f ? c : '_');
  return out;
}
static std::string FitReason(std::string_view reason) {
  std::string out = "tenant offboarding: ";
  out.append(reason);
  if (out.size() <= 256) return out;
  size_t cut = 256;
  // Not inside a UTF-8 sequence: back off over continuation bytes.
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out;
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
  enum class Outcome { kErased, kAlreadyErased, kHeld, kGone, kFailed };
  const size_t n = step.subjects.size();
  std::vector<Outcome> outcomes(n, Outcome::kFailed);
  absl::Status failed;
  absl::Mutex mu;
  {
    absl::BlockingCounter answered(static_cast<int>(n));
    const absl::Time deadline = absl::Now() + kClusterEraseDeadline;
    for (size_t k = 0; k < n; ++k) {
      v1::EraseSubjectRequest request;
      request.set_tenant(step.tenant);
      request.set_subject_id(step.subjects[k]);
      // As single-node offboarding records it: by Assent, on behalf of who asked.
      request.set_actor(FitActor(step.actor));
      request.set_reason(FitReason(step.reason));
      erase_(request, deadline, ledger::Caller{"assent"},
             [&, k](absl::StatusOr<v1::EraseSubjectResponse> result) {
               {
                 absl::MutexLock lock(&mu);
                 if (result.ok()) {
                   outcomes[k] =
                       result->already_erased() ? Outcome::kAlreadyErased : Outcome::kErased;
                 } else if (absl::IsFailedPrecondition(result.status())) {
                   outcomes[k] = Outcome::kHeld;  // under a legal hold: left, counted
                 } else if (absl::IsNotFound(result.status())) {
                   outcomes[k] = Outcome::kGone;  // erased since the scan
                 } else if (failed.ok()) {
                   failed = result.status();
                 }
               }
               answered.DecrementCount();
             });
    }
    answered.Wait();
  }
  // What is stored: the subjects before the first that failed (all of them, normally), so that
  // the repeat of the rest does not lose their counts.
  const size_t done = static_cast<size_t>(
      std::find(outcomes.begin(), outcomes.end(), Outcome::kFailed) - outcomes.begin());
  // Every erasure made is logged (a repeat answers it already erased); the stored counters are
  // those of the subjects stored.
  std::vector<std::string> erased;
  uint64_t erased_beyond = 0;  // after the first failure: stored as scanned and erased too
  uint64_t held = 0;
  for (size_t k = 0; k < n; ++k) {
    if (outcomes[k] == Outcome::kErased) {
      erased.push_back(step.subjects[k]);
      if (k >= done) ++erased_beyond;
    }
    if (outcomes[k] == Outcome::kHeld && k < done) ++held;
  }
  offboard_erased_.Increment(static_cast<double>(erased.size()));
  LogErasures(step.tenant, erased);
  absl::Status stored = absl::OkStatus();
  if (done == n) {
    stored = ledger_.FinishOffboardStep(step, erased.size(), held);
  } else {
    stored = failed;
    if (done > 0 || erased_beyond > 0) {
      ledger::OffboardStep part = step;
      part.subjects.resize(done);
      part.next_cursor = done > 0 ? store::SubjectKey(step.tenant, step.subjects[done - 1]) : "";
      part.last = false;
      if (absl::Status s = ledger_.FinishOffboardStep(part, erased.size(), held, erased_beyond);
          !s.ok()) {
        stored = s;
      }
    }
  }
  if (!stored.ok()) {
    // The erasures done stay done; the rest of the round is repeated (by the partition's next
    // owner when it moved).
    errors_.Increment();
    log->warn("msg=\"offboarding round failed; repeating it\" partition={} error=\"{}\"",
              step.partition, stored.ToString());
    return kIdle;
  }
  log->info(
      "msg=\"offboarding\" tenant={} partition={} phase={} subjects={} erased={} held={} "
      "last={}",
      step.tenant, step.partition, step.keys_phase ? "data keys" : "subjects", n, erased.size(),
      held, step.last);
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
