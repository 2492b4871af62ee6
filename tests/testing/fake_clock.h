// A clock that only moves when a test moves it. Sleepers wake when a move reaches their deadline
// (or when cancelled), so code that sleeps on the clock runs exactly as far as the test moves it.
#pragma once

#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace assent::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1767225600))  // 2026-01-01Z
      : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  bool SleepUntil(absl::Time deadline, const absl::Notification* cancel) const override {
    absl::MutexLock lock(&mu_);
    ++sleepers_;
    bool reached = false;
    while (true) {
      if (now_ >= deadline) {
        reached = true;
        break;
      }
      if (cancel != nullptr && cancel->HasBeenNotified()) break;
      // A notification cannot wake a mutex waiter, so cancellation is noticed within 5 ms of
      // real time; the clock's own moves wake sleepers at once.
      auto due = [this, deadline]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return now_ >= deadline; };
      mu_.AwaitWithTimeout(absl::Condition(&due), absl::Milliseconds(5));
    }
    --sleepers_;
    return reached;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // How many threads are sleeping on the clock now.
  int sleepers() const {
    absl::MutexLock lock(&mu_);
    return sleepers_;
  }
  // Waits (in real time, at most `timeout`) until at least `n` threads sleep on the clock: a
  // test moves the clock once the code under test is waiting for it. False on timeout.
  bool AwaitSleepers(int n, absl::Duration timeout = absl::Seconds(30)) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return sleepers_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  mutable int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace assent::testing
