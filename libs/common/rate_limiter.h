// Token-bucket rate limiting by key (a client address, a token digest), in bounded memory. Keys
// are kept in memory as given: pass a digest, never a bearer token. An IPv6 client usually holds
// a whole /64, so key IPv6 addresses by their /64 where that matters.
//
// Thread safety: Take() may be called from any number of threads (keys are spread over sharded
// mutexes).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace assent {

struct RateLimiterOptions {
  // Tokens added to each bucket per second; must be > 0. Default: 1.
  double rate_per_second = 1;
  // Bucket capacity: how many requests a key may make at once after being idle; must be >= 1.
  // Default: 10.
  double burst = 10;
  // Most keys remembered at once; must be >= 1. Default: 100000. When full, buckets that have
  // refilled are forgotten first (they behave like new ones), then the least recently used; a
  // forgotten key starts again with a full bucket, so under more than max_keys active keys the
  // limit is softer, never stricter. From 1024 keys on, keys are spread over 16 shards of
  // max_keys / 16 each, and a shard evicts when it alone is full.
  size_t max_keys = 100000;
};

class RateLimiter {
 public:
  struct Result {
    bool allowed = false;
    // When denied: how long until the key has a token again, in whole seconds rounded up and at
    // least one (what a Retry-After header says). Zero when allowed.
    absl::Duration retry_after;
  };

  // INVALID_ARGUMENT naming the field ("rate_per_second", "burst", "max_keys") when an option is
  // out of range. `clock` must outlive the limiter.
  static absl::StatusOr<std::unique_ptr<RateLimiter>> Create(const RateLimiterOptions& options,
                                                             const Clock& clock);

  // Takes one token from `key`'s bucket (created full on first use).
  [[nodiscard]] Result Take(std::string_view key);

  // Keys currently remembered (for tests and metrics).
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  };

  RateLimiter(const RateLimiterOptions& options, const Clock& clock);
  // Tokens in `bucket` at `now`, capped at the burst.
  double Refilled(const Bucket& bucket, absl::Time now) const;
  // Makes room in a full shard.
  void Evict(Shard& shard, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const RateLimiterOptions options_;
  const size_t shard_count_;
  const size_t keys_per_shard_;
  const Clock& clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace assent
