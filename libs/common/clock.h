// Time is injected: nothing in Assent reads the system clock or sleeps on it except SystemClock,
// so that time-driven work (expiry, reminders, deadlines) is tested by moving a fake clock.
#pragma once

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace assent {

// Thread-safe source of the current time that can also wait for a time to come.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Blocks until Now() >= deadline, or until `cancel` (may be null) is notified. Returns true
  // when the deadline came, false when cancelled first (a cancel already notified returns false
  // at once).
  virtual bool SleepUntil(absl::Time deadline, const absl::Notification* cancel) const = 0;
  bool SleepFor(absl::Duration d, const absl::Notification* cancel) const {
    return SleepUntil(Now() + d, cancel);
  }
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override;
  bool SleepUntil(absl::Time deadline, const absl::Notification* cancel) const override;
  // A process-wide instance.
  static const Clock& Get();
};

}  // namespace assent
