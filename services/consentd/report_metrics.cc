#include "consentd/report_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "assent/v1/types.pb.h"

namespace assent::consentd {

ReportMetrics::ReportMetrics(prometheus::Registry& registry, int top_sources)
    : recorded_(prometheus::BuildCounter()
                    .Name("assent_consent_decisions_recorded_total")
                    .Help("Consent decisions recorded, by tenant, purpose, channel and state "
                          "(README \"Consent reports\").")
                    .Register(registry)),
      withdrawals_(prometheus::BuildCounter()
                       .Name("assent_consent_withdrawals_total")
                       .Help("Withdrawals recorded, by tenant, purpose and source (each tenant's "
                             "first reports.top_sources sources since start; the rest: other).")
                       .Register(registry)),
      top_sources_(static_cast<size_t>(top_sources)) {}

void ReportMetrics::OnReportEvents(const std::string& tenant,
                                   const std::vector<ledger::ReportEvent>& events) {
  absl::MutexLock lock(&mu_);
  for (const ledger::ReportEvent& e : events) {
    const std::string channel = absl::AsciiStrToLower(
        v1::Channel_IsValid(e.channel) ? v1::Channel_Name(static_cast<v1::Channel>(e.channel))
                                       : "unknown");
    const std::string state =
        absl::AsciiStrToLower(v1::ConsentState_IsValid(e.state)
                                  ? v1::ConsentState_Name(static_cast<v1::ConsentState>(e.state))
                                  : "unknown");
    const std::string key =
        absl::StrCat("d\x1f", tenant, "\x1f", e.purpose_id, "\x1f", channel, "\x1f", state);
    prometheus::Counter*& recorded = series_[key];
    if (recorded == nullptr) {
      recorded = &recorded_.Add(
          {{"tenant", tenant}, {"purpose", e.purpose_id}, {"channel", channel}, {"state", state}});
    }
    recorded->Increment();
    if (e.state != v1::WITHDRAWN) continue;
    auto& seen = sources_[tenant];
    std::string source = e.source.empty() ? "none" : e.source;
    if (!seen.contains(source)) {
      if (seen.size() < top_sources_ && source != "other") {
        seen.insert(source);
      } else {
        source = "other";
      }
    }
    const std::string wkey = absl::StrCat("w\x1f", tenant, "\x1f", e.purpose_id, "\x1f", source);
    prometheus::Counter*& withdrawn = series_[wkey];
    if (withdrawn == nullptr) {
      withdrawn =
          &withdrawals_.Add({{"tenant", tenant}, {"purpose", e.purpose_id}, {"source", source}});
    }
    withdrawn->Increment();
  }
}

}  // namespace assent::consentd
