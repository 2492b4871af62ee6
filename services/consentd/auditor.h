// Proof of enforcement, the logic: which registered sender has applied which withdrawal, from the
// senders' EnforcementProgress reports (enforcement.proto). No I/O and no clock of its own: the
// caller passes the times, so tests drive it with a fake clock.
//
// A withdrawal published at (partition p, offset o) of the changes topic is *applied by sender X*
// once every live instance of X has reported next_offset > o for p; the time is the latest of those
// instances' first reports that covered it (their own clocks). An instance is live while its last
// report arrived within instance_timeout; a sender with no live instance is not enforcing, so its
// withdrawals stay unapplied (and alert) until one comes back. An instance that has not caught up
// (reports no partitions) holds its sender back.
//
// Thread safety: none; the caller locks.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "assent/v1/enforcement.pb.h"

namespace assent::consentd {

struct AuditorOptions {
  // The registered senders (config enforcement.senders).
  std::vector<std::string> senders;
  // A withdrawal still unapplied by a sender this long after it was recorded is unenforced.
  absl::Duration alert_after = absl::Seconds(60);
  // An instance whose last report is older than this is dead.
  absl::Duration instance_timeout = absl::Seconds(10);
  // A withdrawal unapplied within this of its honour_by is near its deadline.
  absl::Duration honour_margin = absl::Hours(24);
};

struct PendingWithdrawal {
  std::string key;  // the proof entry's key (opaque here)
  int32_t partition = 0;
  int64_t offset = 0;
  absl::Time recorded_time;
  absl::Time honour_by = absl::InfiniteFuture();  // InfiniteFuture: no deadline
  // Per registered sender (options order): when it applied it; nullopt: not yet.
  std::vector<std::optional<absl::Time>> applied;
};

struct Application {
  std::string key;
  size_t sender = 0;  // index in options.senders
  absl::Time time;
  // When it was recorded (for the histogram).
  absl::Time recorded_time;
  // Every registered sender has applied the withdrawal now: it is no longer pending.
  bool complete = false;
  // The withdrawal's partition of the changes topic.
  int32_t partition = 0;
};

struct SenderAudit {
  int live_instances = 0;
  // Pending withdrawals recorded more than alert_after ago.
  int64_t unenforced = 0;
  // Age of the oldest pending withdrawal (zero when none).
  absl::Duration oldest_unenforced = absl::ZeroDuration();
  // Pending withdrawals whose honour_by is within honour_margin (or past).
  int64_t near_honour_by = 0;
};

class Auditor {
 public:
  explicit Auditor(AuditorOptions options);

  const AuditorOptions& options() const { return options_; }
  // Index of a registered sender; nullopt for another name.
  std::optional<size_t> SenderIndex(std::string_view sender) const;

  // A withdrawal to follow (one key once; a second add is ignored). `applied` may be shorter
  // than the senders list (missing entries: not yet).
  void AddPending(PendingWithdrawal withdrawal);
  // A report, received at `received` (the auditor's clock: liveness never trusts senders' clocks).
  // Reports of unregistered senders are ignored.
  void OnProgress(const v1::EnforcementProgress& report, absl::Time received);
  // What was newly applied by now; complete withdrawals are dropped.
  std::vector<Application> Evaluate(absl::Time now);
  // Per registered sender (options order).
  std::vector<SenderAudit> Audit(absl::Time now) const;
  size_t pending() const { return pending_.size(); }
  // Forgets every pending withdrawal (cluster mode: the partitions owned here changed; the
  // owned ones' are added again from the store). The senders' reports are kept.
  void ClearPending() { pending_.clear(); }

 private:
  struct Point {
    int64_t next_offset;
    absl::Time time;
  };
  struct Instance {
    absl::Time last_received;
    // Per partition, the reports where next_offset moved (oldest first, bounded).
    absl::flat_hash_map<int32_t, std::deque<Point>> history;
  };
  // When `instance` first reported p covered past o; nullopt when it has not.
  static std::optional<absl::Time> AppliedBy(const Instance& instance, int32_t partition,
                                             int64_t offset);
  bool Live(const Instance& instance, absl::Time now) const;

  const AuditorOptions options_;
  // Per registered sender: instance id -> state.
  std::vector<std::map<std::string, Instance>> instances_;
  std::map<std::string, PendingWithdrawal> pending_;
};

}  // namespace assent::consentd
