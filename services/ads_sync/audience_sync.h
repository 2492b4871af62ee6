// The ads audience sync's logic: which audience members must not be targeted, kept as a
// suppression file of the ad platforms' hashes (audience::AdPlatformHash).
//
// A member is suppressed while Check(purpose, TARGETED_ADS) for its contact point (judged with
// the subject it is linked to) is not ALLOW: any denial, and also a check that fails (consent
// that cannot be known is treated as refused). Several members can share one platform hash
// ("Ann@x.com" and "ann@x.com" are two contacts in Assent, one hash for the platforms); the hash
// is suppressed while any of them is.
//
// Incremental updates: the view follower reports the key of every target it changed
// (ChangeQueue); Apply maps a contact key to its member, and a subject key to every member whose
// contact point the view shows linked to that subject, and re-checks only those.
//
// The file is written (atomically, audience::WriteSuppressionFile) only when the set differs
// from what the file last held; a failed write is retried by the next Apply/EvaluateAll/Flush.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ads_sync/audience_file.h"
#include "audience/suppression_file.h"
#include "enforce/enforcer.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace assent::ads {

// What the sync needs from the enforcement library, behind an interface so tests can fake it.
// Implementations must be callable from the sync thread while the view changes underneath.
class ConsentSource {
 public:
  virtual ~ConsentSource() = default;
  // Whether the view holds everything Kafka had at start (see enforce::FollowerStatus).
  virtual bool CaughtUp() const = 0;
  // As enforce::Enforcer::Resolve.
  virtual absl::StatusOr<enforce::Recipient> Resolve(std::string_view tenant,
                                                     const v1::Target& target) const = 0;
  // As enforce::Enforcer::Check.
  virtual absl::StatusOr<enforce::Verdict> Check(const enforce::CheckParams& params,
                                                 const enforce::Recipient& recipient) const = 0;
  // The subject id the view's entry for `contact_key` is linked to; empty when the contact point
  // is unknown to the view or not linked.
  virtual std::string LinkedSubject(std::string_view contact_key) const = 0;
};

// The real ConsentSource. `enforcer` must outlive it.
class EnforcerConsent final : public ConsentSource {
 public:
  explicit EnforcerConsent(const enforce::Enforcer& enforcer) : enforcer_(enforcer) {}
  bool CaughtUp() const override;
  absl::StatusOr<enforce::Recipient> Resolve(std::string_view tenant,
                                             const v1::Target& target) const override;
  absl::StatusOr<enforce::Verdict> Check(const enforce::CheckParams& params,
                                         const enforce::Recipient& recipient) const override;
  std::string LinkedSubject(std::string_view contact_key) const override;

 private:
  const enforce::Enforcer& enforcer_;
};

// The keys of changed targets, handed from the Kafka consumer thread to the sync thread. Keys of
// other tenants are dropped, and a key queued twice is held once, so the queue is bounded by the
// tenant's number of targets. Before Enable() nothing is queued: the bootstrap's records are
// covered by the full evaluation that follows it (enable first, then evaluate, so no change
// falls between the two).
//
// Thread safety: every method from any thread.
class ChangeQueue {
 public:
  explicit ChangeQueue(std::string tenant) : prefix_(std::move(tenant) + "/") {}

  // Cheap and non-blocking beyond a short lock: called for every record the view applies.
  void Push(std::string_view key);
  void Enable();
  // Waits until a key is queued, Stop() is called or `timeout` passes; returns the queued keys
  // (and empties the queue). Returns nothing once stopped.
  std::vector<std::string> Wait(absl::Duration timeout);
  // Wakes Wait for good (shutdown).
  void Stop();
  bool stopped() const;

 private:
  const std::string prefix_;
  mutable absl::Mutex mu_;
  bool enabled_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::string> keys_ ABSL_GUARDED_BY(mu_);
};

struct SyncOptions {
  std::string tenant;
  std::string purpose_id;
  // Output path. Required.
  std::string suppression_file;
  audience::AdPlatform platform = audience::AdPlatform::kGoogle;
  // The `sender` label of the metrics. Default "ads".
  std::string name = "ads";
};

// Thread safety: not thread-safe; one sync thread calls everything. `source` must outlive it.
class AudienceSync {
 public:
  // Registers the metrics in `registry` and reads the current suppression file (so an unchanged
  // set is not rewritten after a restart).
  AudienceSync(SyncOptions options, const ConsentSource& source, prometheus::Registry& registry);
  ~AudienceSync();
  AudienceSync(const AudienceSync&) = delete;
  AudienceSync& operator=(const AudienceSync&) = delete;

  // Replaces the members with `entries` (duplicates of one contact point count once). Checks
  // nothing: call EvaluateAll next. INVALID_ARGUMENT "audience line <n>: ..." when an entry
  // cannot be resolved or hashed (the address is not echoed); the members are then unchanged.
  absl::Status SetAudience(const std::vector<AudienceEntry>& entries);

  // Re-checks every member (and re-reads its link to a subject), then writes the file if the
  // set changed. UNAVAILABLE when the write failed (it is retried by the next call).
  absl::Status EvaluateAll();

  // Re-checks the members the changed view keys affect, then writes the file once if the set
  // changed. Errors as EvaluateAll.
  absl::Status Apply(const std::vector<std::string>& keys);

  // Writes the file if the set differs from what it last held. Errors as EvaluateAll.
  absl::Status Flush();

  // Whether the file on disk lags the set (a write failed or none happened yet).
  bool write_pending() const { return compare_needed_ || set_.dirty(); }
  size_t members() const { return members_.size(); }
  const audience::SuppressionSet& suppressed() const { return set_; }
  uint64_t writes() const { return writes_; }

 private:
  struct Member {
    int line = 0;
    std::string ad_hash;
    enforce::Recipient recipient;
    // "tenant/<subject id>" of the subject the view shows it linked to; empty when none.
    std::string subject_key;
    bool denied = false;
  };
  struct Metrics;

  // Re-checks one member and updates the set; counts a failed check in `check_errors`.
  void Evaluate(Member& member, int& check_errors, absl::Status& first_error);
  // Re-reads the member's linked subject and updates the reverse index.
  void RefreshLink(size_t index);
  void LogCheckErrors(int check_errors, const absl::Status& first_error) const;
  void UpdateGauges();

  const SyncOptions options_;
  const ConsentSource& source_;
  std::unique_ptr<Metrics> metrics_;

  std::vector<Member> members_;
  // Contact key -> index in members_.
  absl::flat_hash_map<std::string, size_t> by_contact_key_;
  // Subject key -> indexes of the members linked to it.
  absl::flat_hash_map<std::string, absl::flat_hash_set<size_t>> by_subject_;
  // Platform hash -> number of denied members with that hash (only hashes with one or more).
  absl::flat_hash_map<std::string, int> denied_per_hash_;
  audience::SuppressionSet set_;
  // What the file held after the last successful write (or at start); nullopt: unknown.
  std::optional<std::set<std::string, std::less<>>> on_disk_;
  // The set was rebuilt, so dirty() alone cannot say whether it differs from the file.
  bool compare_needed_ = true;
  uint64_t writes_ = 0;
};

}  // namespace assent::ads
