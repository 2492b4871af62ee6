// A background thread that runs one piece of time-driven work again and again on the injected
// clock: the sweeper, the backfill, re-permission campaigns. Each run says how long to wait
// before the next one, so work that found more to do runs again at once and idle work sleeps.
//
// Thread safety: Start and Stop from one thread. `tick` runs only on the runner's thread.
#pragma once

#include <string>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace assent {

class PeriodicRunner {
 public:
  // `tick` returns the delay before its next run (zero: at once). `clock` must outlive the
  // runner.
  PeriodicRunner(std::string name, const Clock& clock, absl::AnyInvocable<absl::Duration()> tick);
  ~PeriodicRunner();
  PeriodicRunner(const PeriodicRunner&) = delete;
  PeriodicRunner& operator=(const PeriodicRunner&) = delete;

  // Starts the thread; the first run is at once.
  void Start();
  // Wakes the thread out of its sleep, lets the current run finish and joins. Idempotent.
  void Stop();
  const std::string& name() const { return name_; }

 private:
  void Loop();

  const std::string name_;
  const Clock& clock_;
  absl::AnyInvocable<absl::Duration()> tick_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace assent
