#include "consentd/export_service.h"

#include <chrono>
#include <memory>
#include <utility>

#include "absl/time/time.h"
#include "ledger/export.h"
#include "rpc/status.h"
#include "spdlog/spdlog.h"

namespace assent::consentd {
namespace {

const RpcRule& Rule(std::string_view method) {
  return RequireRpcRule(ExportService::kName, method);
}

// Finishes the call and records it in the RPC metrics.
class Finisher {
 public:
  Finisher(const RpcRule& rule, ServiceMetrics* metrics) : rule_(rule), metrics_(metrics) {}
  grpc::Status Record(const absl::Status& status) const {
    grpc::Status out = rpc::ToGrpcStatus(status);
    if (metrics_ != nullptr) {
      metrics_->ObserveRpc(rule_.service, rule_.method, out.error_code(),
                           absl::FromChrono(std::chrono::steady_clock::now() - start_));
    }
    return out;
  }

 private:
  const RpcRule& rule_;
  ServiceMetrics* metrics_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// A call refused before anything was sent.
class RefusedReactor final : public grpc::ServerWriteReactor<v1::ExportChunk> {
 public:
  RefusedReactor(const Finisher& finisher, const absl::Status& status) {
    Finish(finisher.Record(status));
  }
  void OnDone() override { delete this; }
};

// Header, history pages, trailer: one chunk in flight at a time.
class ExportReactor final : public grpc::ServerWriteReactor<v1::ExportChunk> {
 public:
  ExportReactor(Finisher finisher, std::unique_ptr<ledger::SubjectExport> exporter)
      : finisher_(std::move(finisher)), export_(std::move(exporter)) {
    *chunk_.mutable_header() = export_->header();
    StartWrite(&chunk_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {  // the client went away or the call was cancelled
      Done(absl::CancelledError("the export stream was cancelled"));
      return;
    }
    if (trailer_sent_) {
      Done(absl::OkStatus());
      return;
    }
    chunk_.Clear();
    absl::StatusOr<bool> more = export_->NextPage(*chunk_.mutable_history());
    if (!more.ok()) {
      Done(more.status());
      return;
    }
    if (!*more) {
      *chunk_.mutable_trailer() = export_->Trailer();
      trailer_sent_ = true;
    }
    StartWrite(&chunk_);
  }

  void OnDone() override { delete this; }

 private:
  void Done(const absl::Status& status) {
    // The snapshot goes now, not when gRPC gets round to OnDone.
    export_.reset();
    Finish(finisher_.Record(status));
  }

  Finisher finisher_;
  std::unique_ptr<ledger::SubjectExport> export_;
  v1::ExportChunk chunk_;
  bool trailer_sent_ = false;
};

}  // namespace

ExportService::ExportService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics)
    : ledger_(ledger), guard_(guard), metrics_(metrics) {
  (void)Rule("ExportSubject");  // aborts at start when the permission table lacks the row
  GuardParsing("ExportSubject", &ExportService::ExportSubject);
}

grpc::ServerWriteReactor<v1::ExportChunk>* ExportService::ExportSubject(
    grpc::CallbackServerContext* ctx, const v1::ExportSubjectRequest* request) {
  static const RpcRule& rule = Rule("ExportSubject");
  Finisher finisher(rule, metrics_);
  if (std::optional<absl::Status> bad = rpc::ParseError(*request)) [[unlikely]] {
    return new RefusedReactor(finisher, *bad);
  }
  absl::StatusOr<ledger::Caller> caller = guard_.Admit(ctx, rule, request->tenant());
  if (!caller.ok()) return new RefusedReactor(finisher, caller.status());
  absl::StatusOr<std::unique_ptr<ledger::SubjectExport>> exporter = ledger_.ExportSubject(*request);
  if (!exporter.ok()) return new RefusedReactor(finisher, exporter.status());
  spdlog::debug("msg=\"subject export\" tenant={} subject={} records={}", request->tenant(),
                request->subject_id(), (*exporter)->header().history_length());
  return new ExportReactor(finisher, *std::move(exporter));
}

}  // namespace assent::consentd
