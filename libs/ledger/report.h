// Consent report aggregates, kept on the write path (store/report_keys.h for the layout).
//
// Every history record appended (change.cc, the one place records are appended) stages, in the
// same WriteBatch, merge operands that count each decision it writes (DecisionChange.after) on
// the decision's effective day (UTC) in the 'u', 'p', 'j', 's', 'o' and 'f' families, and move the
// current counts ('c': +1 for after, -1 for before, when `after` is the decision in force after
// the change: an imported decision older than the one in force does not move them). An erasure
// takes the erased subject's decisions out of the current counts; its past decisions stay counted
// on their days.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "assent/v1/report.pb.h"
#include "assent/v1/types.pb.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::ledger {

// One decision made durable, as the reports count it (for metrics). Called on the committer's
// writer thread after the commit; must not block.
struct ReportEvent {
  std::string purpose_id;
  int channel = 0;
  int state = 0;
  std::string source;  // the decision's source as recorded (not bucketed)
};
class ReportObserver {
 public:
  virtual ~ReportObserver() = default;
  virtual void OnReportEvents(const std::string& tenant,
                              const std::vector<ReportEvent>& events) = 0;
};

struct ReportSettings {
  // False: no aggregates are written (GetConsentReport then answers from whatever is stored).
  bool enabled = true;
  // Distinct sources counted per tenant and day in the source families; later ones count as
  // "other". Default 50.
  int max_sources_per_day = 50;
  // Told about every decision counted (not owned; must outlive the writes). Null: none.
  ReportObserver* observer = nullptr;
};
inline constexpr std::string_view kOtherSource = "other";
// Process-wide, like SetEvidenceSealed; set once by consentd at start.
void SetReportSettings(const ReportSettings& settings);
ReportSettings GetReportSettings();

// Stages the counts of one appended record (`in_force`: the target's decisions after it) / of an
// erased subject's current decisions.
void StageReportCounts(store::Txn& txn, const v1::HistoryRecord& record,
                       const google::protobuf::RepeatedPtrField<v1::ConsentRecord>& in_force);
void StageErasureCounts(store::Txn& txn, const v1::SubjectState& state);

// Answers a report from the aggregates. INVALID_ARGUMENT naming the field for a bad range,
// group-by or filter; UNAVAILABLE on store errors. The tenant is not checked here.
absl::StatusOr<v1::GetConsentReportResponse> BuildConsentReport(
    const store::Store& store, const v1::GetConsentReportRequest& request);

// Most days one report may span. 3660 (ten years).
inline constexpr int kMaxReportDays = 3660;

}  // namespace assent::ledger
