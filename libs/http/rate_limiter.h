// Rate limiting for the HTTP services: the token buckets of common/rate_limiter.h, and the 429
// answer that goes with them.
#pragma once

#include "absl/time/time.h"
#include "common/rate_limiter.h"
#include "httplib.h"

namespace assent::http {

using RateLimiter = ::assent::RateLimiter;
using RateLimiterOptions = ::assent::RateLimiterOptions;

// Answers 429 Too Many Requests with `Retry-After` in whole seconds (rounded up, at least 1) and a
// short plain-text body.
void Reply429(httplib::Response& res, absl::Duration retry_after);

}  // namespace assent::http
