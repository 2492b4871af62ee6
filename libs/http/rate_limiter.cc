#include "http/rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace assent::http {

void Reply429(httplib::Response& res, absl::Duration retry_after) {
  const int64_t seconds =
      std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(retry_after, absl::Seconds(1))));
  res.status = 429;
  res.set_header("Retry-After", absl::StrCat(seconds));
  res.set_content("Too Many Requests\n", "text/plain; charset=utf-8");
}

}  // namespace assent::http
