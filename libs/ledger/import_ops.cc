// Bulk import, one row at a time: each row is a RecordDecisions of an import, run as its own
// committer mutation so that the committer gathers the rows in flight into group-committed
// batches, with the row key's digest stored in the same batch as the row's history record.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "ledger/ledger.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr size_t kMaxRowKeyLength = 256;

// The field an error names ("<field>: <why>", field paths have no spaces); empty when none.
std::string FieldOf(const absl::Status& status) {
  const std::string_view message(status.message().data(), status.message().size());
  const size_t colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0) return std::string();
  const std::string_view field = message.substr(0, colon);
  if (field.find(' ') != std::string_view::npos) return std::string();
  return std::string(field);
}

// Errors about the row itself: the row is REJECTED and the import goes on. Anything else
// (storage, queue, deadline) stops the call, and the row is tried again when the import resumes.
bool RowError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

v1::ImportRowResult Rejected(v1::ImportRowResult result, const absl::Status& status) {
  result.set_outcome(v1::ImportRowResult::REJECTED);
  result.set_code(absl::StatusCodeToString(status.code()));
  result.set_field(FieldOf(status));
  result.set_message(std::string(status.message()));
  return result;
}

// What an import row must be besides a valid RecordDecisions of an import.
absl::Status ValidateRow(std::string_view tenant, const v1::ImportRow& row) {
  if (row.row_key().empty() || row.row_key().size() > kMaxRowKeyLength) {
    return InvalidField("row_key", absl::StrCat("must be 1..", kMaxRowKeyLength, " characters"));
  }
  const v1::RecordDecisionsRequest& request = row.decisions();
  if (!request.tenant().empty() && request.tenant() != tenant) {
    return InvalidField("decisions.tenant", "must be empty or the message's tenant");
  }
  if (!request.has_import()) {
    return InvalidField("decisions.import", "is required (original_effective_time and origin)");
  }
  if (!request.idempotency_key().empty()) {
    return InvalidField("decisions.idempotency_key", "must be empty (the row key is the key)");
  }
  if (request.has_expected_sequence()) {
    return InvalidField("decisions.expected_sequence", "must be unset for an import");
  }
  return absl::OkStatus();
}

}  // namespace

void Ledger::ImportRow(std::string_view tenant, const v1::ImportRow& row, bool dry_run,
                       absl::Time deadline, Callback<v1::ImportRowResult> done,
                       const Caller& caller) {
  v1::ImportRowResult result;
  result.set_line(row.line());
  result.set_row_key(row.row_key());
  if (absl::Status valid = ValidateRow(tenant, row); !valid.ok()) {
    return done(Rejected(std::move(result), valid));
  }
  v1::RecordDecisionsRequest request = row.decisions();
  request.set_tenant(std::string(tenant));
  if (dry_run) {
    auto prepared = PrepareDecisions(*catalog_.Snapshot(), request, clock_.Now());
    if (!prepared.ok()) return done(Rejected(std::move(result), prepared.status()));
    result.set_outcome(v1::ImportRowResult::VALID);
    return done(std::move(result));
  }
  RecordDecisionsKeyed(
      request, deadline,
      [result = std::move(result),
       done = std::move(done)](absl::StatusOr<v1::RecordDecisionsResponse> recorded) mutable {
        if (!recorded.ok()) {
          if (!RowError(recorded.status())) return done(recorded.status());
          return done(Rejected(std::move(result), recorded.status()));
        }
        result.set_outcome(recorded->replayed() ? v1::ImportRowResult::ALREADY_IMPORTED
                                                : v1::ImportRowResult::IMPORTED);
        result.set_sequence(recorded->sequence());
        done(std::move(result));
      },
      caller, store::ImportRowKey(tenant, row.row_key()));
}

}  // namespace assent::ledger
