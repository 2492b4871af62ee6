// Retention: how long history is kept after a target's last activity, and how long the proof
// stubs of erased subjects are kept, per tenant with defaults. RocksDB compaction filters enforce
// it (retention.cc), reading the injected clock: a record past retention disappears when RocksDB
// next compacts the file that holds it (or at once after Store::CompactAll).
//
// What retention never removes: a target's current state (subjects, contacts), which is what
// enforcement reads (dropping a WITHDRAWN would make someone contactable again).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace assent::store {

// The default of both periods: 6 years (2191 days), the common limitation period for legal
// claims (e.g. England and Wales, Limitation Act 1980; many other jurisdictions are similar): the
// history proves a consent or a withdrawal for as long as a claim about it can be brought.
inline constexpr absl::Duration kDefaultRetention = absl::Hours(24 * 2191);
// The shortest period accepted: anything shorter would remove history before anyone could ask.
inline constexpr absl::Duration kMinRetention = absl::Hours(24);

// A tenant's overrides; an unset period uses the default.
struct TenantRetention {
  std::optional<absl::Duration> history;
  std::optional<absl::Duration> erasure_stubs;
};

struct RetentionOptions {
  // History records of a target are removed once the target's last activity (its state's
  // update_time; for an erased subject, the erasure time) is this long past. Default 6 years.
  absl::Duration history = kDefaultRetention;
  // An erased subject's ErasureStub is removed this long after the erasure. Default 6 years.
  absl::Duration erasure_stubs = kDefaultRetention;
  // Per-tenant overrides, by tenant id. Default none.
  std::map<std::string, TenantRetention, std::less<>> tenants;

  absl::Duration HistoryFor(std::string_view tenant) const;
  absl::Duration ErasureStubsFor(std::string_view tenant) const;
};

// INVALID_ARGUMENT naming the option ("retention.history", "retention.tenants.<t>.history") for
// a period shorter than kMinRetention. Tenant ids are checked by the caller (config).
absl::Status ValidateRetention(const RetentionOptions& options);

// Whether history whose target was last active at `last_activity` is past retention at `now`.
inline bool PastRetention(absl::Time last_activity, absl::Duration retention, absl::Time now) {
  return last_activity + retention <= now;
}

}  // namespace assent::store
