#include "common/clock.h"

#include "absl/time/clock.h"

namespace assent {

absl::Time SystemClock::Now() const { return absl::Now(); }

const Clock& SystemClock::Get() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace assent
