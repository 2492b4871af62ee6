// The settings of consentd's time-driven work (lifecycle_runner.h), part of its Config.
#pragma once

#include "absl/time/time.h"

namespace assent::consentd {

struct SweeperOptions {
  // Off: nothing expires or is reminded by time (Check still denies expired grants). Default on.
  bool enabled = true;
  // How often the sweeper looks for due work when there is none. Default 1 s.
  absl::Duration interval = absl::Seconds(1);
  // Entries per round (one committer mutation per target). Default 1000.
  int batch = 1000;
  // Most entries swept per second. Default 20000.
  double max_rate = 20000;
  // A round is skipped while more writes than this wait in the write queue. Default 1000.
  int yield_queue_depth = 1000;
  // Targets indexed per backfill round. Default 2000.
  int backfill_batch = 2000;
  // Most targets a re-permission campaign looks at per second (it yields to live traffic like
  // the sweeper). Default 5000.
  double repermission_rate = 5000;
};

}  // namespace assent::consentd
