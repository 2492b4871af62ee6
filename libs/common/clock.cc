#include "common/clock.h"

#include "absl/time/clock.h"

namespace assent {

absl::Time SystemClock::Now() const { return absl::Now(); }

bool SystemClock::SleepUntil(absl::Time deadline, const absl::Notification* cancel) const {
  while (true) {
    if (cancel != nullptr && cancel->HasBeenNotified()) return false;
    const absl::Time now = absl::Now();
    if (now >= deadline) return true;
    // The wall clock may be stepped while waiting, so the deadline is checked again after.
    if (cancel == nullptr) {
      absl::SleepFor(deadline - now);
    } else if (cancel->WaitForNotificationWithTimeout(deadline - now)) {
      return false;
    }
  }
}

const Clock& SystemClock::Get() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace assent
