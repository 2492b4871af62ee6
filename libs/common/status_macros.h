// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr<T>.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ASSENT_CONCAT_INNER(a, b) a##b
#define ASSENT_CONCAT(a, b) ASSENT_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status assent_status_ = (expr);          \
    if (!assent_status_.ok()) return assent_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (a StatusOr), returns its status when not OK,
// otherwise moves the value into `lhs` (which may be a declaration: `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSENT_ASSIGN_OR_RETURN_IMPL(ASSENT_CONCAT(assent_statusor_, __LINE__), lhs, expr)
#define ASSENT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()
