#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace assent {
namespace {

// Token arithmetic is in doubles; a refill that should land exactly on a whole token may land a
// rounding error below it.
constexpr double kEpsilon = 1e-9;

}  // namespace

absl::StatusOr<std::unique_ptr<RateLimiter>> RateLimiter::Create(const RateLimiterOptions& options,
                                                                 const Clock& clock) {
  if (!(options.rate_per_second > 0) || !std::isfinite(options.rate_per_second)) {
    return InvalidField("rate_per_second", "must be a positive number");
  }
  if (!(options.burst >= 1) || !std::isfinite(options.burst)) {
    return InvalidField("burst", "must be at least 1");
  }
  if (options.max_keys < 1) return InvalidField("max_keys", "must be at least 1");
  return std::unique_ptr<RateLimiter>(new RateLimiter(options, clock));
}

// Small limits get one shard, so the bound is exact and eviction is plain LRU; large ones are
// spread over kShards shards of max_keys / kShards keys each.
RateLimiter::RateLimiter(const RateLimiterOptions& options, const Clock& clock)
    : options_(options),
      shard_count_(options.max_keys >= 64 * kShards ? kShards : 1),
      keys_per_shard_(options.max_keys / shard_count_),
      clock_(clock) {}

double RateLimiter::Refilled(const Bucket& bucket, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
  return std::min(options_.burst, bucket.tokens + elapsed * options_.rate_per_second);
}

RateLimiter::Result RateLimiter::Take(std::string_view key) {
  const absl::Time now = clock_.Now();
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % shard_count_];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.buckets.find(absl::string_view(key.data(), key.size()));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= keys_per_shard_) Evict(shard, now);
    it = shard.buckets.emplace(std::string(key), Bucket{options_.burst, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket, now);
  bucket.updated = now;
  if (bucket.tokens >= 1 - kEpsilon) {
    bucket.tokens = std::max(0.0, bucket.tokens - 1);
    return Result{true, absl::ZeroDuration()};
  }
  const double wait = (1 - bucket.tokens) / options_.rate_per_second;
  return Result{false, absl::Seconds(std::max(1.0, std::ceil(wait - kEpsilon)))};
}

// Forgets buckets that have refilled (indistinguishable from new ones); if that frees less than an
// eighth of the shard, also the least recently used, so a flood of new keys costs one scan per
// eighth of a shard rather than one per key.
void RateLimiter::Evict(Shard& shard, absl::Time now) {
  const size_t target = std::max<size_t>(1, keys_per_shard_ / 8);
  size_t freed = 0;
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    if (Refilled(it->second, now) >= options_.burst - kEpsilon) {
      shard.buckets.erase(it++);
      ++freed;
    } else {
      ++it;
    }
  }
  if (freed >= target) return;
  std::vector<std::pair<absl::Time, std::string>> by_age;
  by_age.reserve(shard.buckets.size());
  for (const auto& [key, bucket] : shard.buckets) by_age.emplace_back(bucket.updated, key);
  const size_t drop = std::min(target - freed, by_age.size());
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(drop),
                   by_age.end());
  for (size_t i = 0; i < drop; ++i) shard.buckets.erase(by_age[i].second);
}

size_t RateLimiter::size() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.buckets.size();
  }
  return total;
}

}  // namespace assent
