#include "common/periodic.h"

#include <utility>

namespace assent {

PeriodicRunner::PeriodicRunner(std::string name, const Clock& clock,
                               absl::AnyInvocable<absl::Duration()> tick)
    : name_(std::move(name)), clock_(clock), tick_(std::move(tick)) {}

PeriodicRunner::~PeriodicRunner() { Stop(); }

void PeriodicRunner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void PeriodicRunner::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void PeriodicRunner::Loop() {
  while (!stop_.HasBeenNotified()) {
    const absl::Duration delay = tick_();
    if (delay > absl::ZeroDuration() && !clock_.SleepFor(delay, &stop_)) return;
  }
}

}  // namespace assent
