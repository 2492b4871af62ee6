// Waiting in tests without sleeping for a guessed time: poll a condition until it holds or a
// deadline passes.
#pragma once

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace assent::testing {

// Calls `done` every 20 ms until it returns true (true) or `timeout` has passed (the last call's
// answer).
inline bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return done();
}

}  // namespace assent::testing
