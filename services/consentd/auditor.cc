#include "consentd/auditor.h"

#include <algorithm>

#include "common/time_util.h"

namespace assent::consentd {
namespace {

// Reports kept per instance and partition where the offset moved: at one a second when idle and
// one per poll under load, enough to date withdrawals still pending.
constexpr size_t kMaxHistory = 512;

}  // namespace

Auditor::Auditor(AuditorOptions options)
    : options_(std::move(options)), instances_(options_.senders.size()) {}

std::optional<size_t> Auditor::SenderIndex(std::string_view sender) const {
  for (size_t i = 0; i < options_.senders.size(); ++i) {
    if (options_.senders[i] == sender) return i;
  }
  return std::nullopt;
}

void Auditor::AddPending(PendingWithdrawal withdrawal) {
  withdrawal.applied.resize(options_.senders.size());
  const std::string key = withdrawal.key;
  pending_.emplace(key, std::move(withdrawal));
}

void Auditor::OnProgress(const v1::EnforcementProgress& report, absl::Time received) {
  std::optional<size_t> sender = SenderIndex(report.sender());
  if (!sender.has_value() || report.instance_id().empty()) return;
  Instance& instance = instances_[*sender][report.instance_id()];
  instance.last_received = std::max(instance.last_received, received);
  const absl::Time time = FromProto(report.time());
  for (const v1::PartitionProgress& p : report.partitions()) {
    std::deque<Point>& points = instance.history[p.partition()];
    if (!points.empty() && points.back().next_offset >= p.next_offset()) continue;
    points.push_back({p.next_offset(), time});
    if (points.size() > kMaxHistory) points.pop_front();
  }
}

std::optional<absl::Time> Auditor::AppliedBy(const Instance& instance, int32_t partition,
                                             int64_t offset) {
  auto it = instance.history.find(partition);
  if (it == instance.history.end()) return std::nullopt;
  for (const Point& point : it->second) {
    // The first report past the offset; when even the oldest kept one is past it, that one is
    // the best (latest possible) time known.
    if (point.next_offset > offset) return point.time;
  }
  return std::nullopt;
}

bool Auditor::Live(const Instance& instance, absl::Time now) const {
  return now - instance.last_received <= options_.instance_timeout;
}

std::vector<Application> Auditor::Evaluate(absl::Time now) {
  std::vector<Application> out;
  // Forget instances dead for long (restarted instances get new ids).
  for (auto& by_id : instances_) {
    std::erase_if(by_id, [&](const auto& entry) {
      return now - entry.second.last_received > 10 * options_.instance_timeout;
    });
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    PendingWithdrawal& w = it->second;
    bool complete = true;
    for (size_t s = 0; s < options_.senders.size(); ++s) {
      if (w.applied[s].has_value()) continue;
      std::optional<absl::Time> latest;
      bool all = true;
      for (const auto& [id, instance] : instances_[s]) {
        if (!Live(instance, now)) continue;
        std::optional<absl::Time> t = AppliedBy(instance, w.partition, w.offset);
        if (!t.has_value()) {
          all = false;
          break;
        }
        latest = latest.has_value() ? std::max(*latest, *t) : *t;
      }
      if (all && latest.has_value()) {
        w.applied[s] = latest;
        out.push_back({w.key, s, *latest, w.recorded_time, false, w.partition});
      } else {
        complete = false;
      }
    }
    if (complete) {
      if (!out.empty() && out.back().key == w.key) out.back().complete = true;
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<SenderAudit> Auditor::Audit(absl::Time now) const {
  std::vector<SenderAudit> out(options_.senders.size());
  for (size_t s = 0; s < options_.senders.size(); ++s) {
    for (const auto& [id, instance] : instances_[s]) {
      if (Live(instance, now)) ++out[s].live_instances;
    }
  }
  for (const auto& [key, w] : pending_) {
    for (size_t s = 0; s < options_.senders.size(); ++s) {
      if (w.applied[s].has_value()) continue;
      const absl::Duration age = now - w.recorded_time;
      if (age > options_.alert_after) ++out[s].unenforced;
      out[s].oldest_unenforced = std::max(out[s].oldest_unenforced, age);
      if (w.honour_by != absl::InfiniteFuture() && now >= w.honour_by - options_.honour_margin) {
        ++out[s].near_honour_by;
      }
    }
  }
  return out;
}

}  // namespace assent::consentd
