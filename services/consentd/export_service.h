// ExportService: streams a subject's export (ledger/export.h) with a ServerWriteReactor under
// flow control: the next chunk is read and written only once the previous one was taken by the
// transport (OnWriteDone), so a 10,000-record history is never queued, only one page at a time.
// The call is refused if its request did not parse, then admitted by the CallGuard (permission
// subject.export) before the first chunk.
#pragma once

#include <string_view>

#include "assent/v1/export.grpc.pb.h"
#include "consentd/call_guard.h"
#include "consentd/service_metrics.h"
#include "ledger/ledger.h"
#include "rpc/parse_guard.h"

namespace assent::consentd {

class ExportService final : public rpc::ParseGuarded<v1::ExportService::CallbackService> {
 public:
  static constexpr std::string_view kName = "ExportService";
  // `ledger` and `guard` must outlive the service and every call it serves; `metrics` may be null.
  ExportService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics);

  grpc::ServerWriteReactor<v1::ExportChunk>* ExportSubject(
      grpc::CallbackServerContext* ctx, const v1::ExportSubjectRequest* request) override;

 private:
  ledger::Ledger& ledger_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
};

}  // namespace assent::consentd
