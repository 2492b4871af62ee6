// Matchers for absl::Status and absl::StatusOr, so a failing test says why:
//   ASSERT_OK_AND_ASSIGN(auto r, Record(req));
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decisions[0].topic")));
#pragma once

#include <ostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace assent::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Matches a Status or StatusOr whose code is `code` and whose message matches `message`.
MATCHER_P2(StatusIs, code, message,
           std::string("has status ") + absl::StatusCodeToString(code) + " and message that " +
               ::testing::DescribeMatcher<std::string>(message, negation)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message, std::string(status.message()), result_listener);
}

// Matches an OK Status or StatusOr.
MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

}  // namespace assent::testing

#define ASSENT_STATUS_CONCAT_INNER(a, b) a##b
#define ASSENT_STATUS_CONCAT(a, b) ASSENT_STATUS_CONCAT_INNER(a, b)
#define ASSENT_ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)  \
  auto tmp = (expr);                                      \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status(); \
  lhs = *std::move(tmp)
// Evaluates `expr` (a StatusOr); fails the test with its status unless it is OK, otherwise
// assigns the value to `lhs` (a declaration or an lvalue).
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSENT_ASSERT_OK_AND_ASSIGN_IMPL(ASSENT_STATUS_CONCAT(status_or_, __LINE__), lhs, expr)
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::assent::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::assent::testing::IsOk())
