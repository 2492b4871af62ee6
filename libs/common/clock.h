// Time is injected: nothing in Assent reads the system clock except SystemClock.
#pragma once

#include "absl/time/time.h"

namespace assent {

// Thread-safe source of the current time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override;
  // A process-wide instance.
  static const Clock& Get();
};

}  // namespace assent
