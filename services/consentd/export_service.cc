#include "consentd/export_service.h"

#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "consentd/cluster_router.h"
#include "ledger/export.h"
#include "ledger/route.h"
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

// Cluster mode with standbys (cluster.standbys): the export of a subject whose partition this
// instance does not keep in full, streamed from the partition's owner (the same call, with the
// caller's principal forwarded) under the same flow control: the owner's next chunk is read only
// once the previous one was taken by this call's transport. The owner's status is the answer;
// an owner that does not keep the partition any more answers UNAVAILABLE (retry).
class ForwardedExportReactor final : public grpc::ServerWriteReactor<v1::ExportChunk> {
 public:
  ForwardedExportReactor(Finisher finisher, std::shared_ptr<grpc::GenericStub> stub,
                         const v1::ExportSubjectRequest& request, const std::string& principal,
                         std::chrono::system_clock::time_point deadline)
      : finisher_(std::move(finisher)), stub_(std::move(stub)), client_(*this) {
    context_.AddMetadata(kForwardedPrincipalHeader, principal);
    context_.set_deadline(deadline);
    request_ = ToByteBuffer(request);
    stub_->PrepareBidiStreamingCall(&context_, "/assent.v1.ExportService/ExportSubject",
                                    grpc::StubOptions(), &client_);
    client_.StartWriteLast(&request_, grpc::WriteOptions());
    client_.StartRead(&incoming_);
    client_.StartCall();
  }

  // The call's transport took a chunk: read the owner's next one.
  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      finish = std::move(owner_status_);
    }
    if (finish.has_value()) {
      FinishOnce(*finish);
    } else if (ok) {
      client_.StartRead(&incoming_);
    } else {
      context_.TryCancel();  // the caller went away; the owner's call ends, then this one
    }
  }
  void OnCancel() override { context_.TryCancel(); }
  void OnDone() override { Done(/*server=*/true); }

 private:
  class Client final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit Client(ForwardedExportReactor& outer) : outer_(outer) {}
    void OnReadDone(bool ok) override { outer_.OnOwnerChunk(ok); }
    void OnDone(const grpc::Status& status) override { outer_.OnOwnerDone(status); }

   private:
    ForwardedExportReactor& outer_;
  };

  void OnOwnerChunk(bool ok) {
    if (!ok) return;  // the owner's stream ended: its status follows (OnOwnerDone)
    chunk_.Clear();
    if (!FromByteBuffer(&incoming_, &chunk_)) {
      {
        absl::MutexLock lock(&mu_);
        unparsable_ = true;
      }
      context_.TryCancel();
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      writing_ = true;
    }
    StartWrite(&chunk_);
  }

  void OnOwnerDone(const grpc::Status& status) {
    grpc::Status answer = status;
    bool now = false;
    {
      absl::MutexLock lock(&mu_);
      if (unparsable_) {
        answer = grpc::Status(grpc::StatusCode::INTERNAL, "the owner's export does not parse");
      }
      // A chunk still being written is sent first; the status goes after it.
      if (writing_) {
        owner_status_ = answer;
      } else {
        now = true;
      }
    }
    if (now) FinishOnce(answer);
    Done(/*server=*/false);
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(finisher_.Record(rpc::FromGrpcStatus(status)));
  }

  // Deletes the reactor once both calls are over (the owner's call uses its members).
  void Done(bool server) {
    bool both = false;
    {
      absl::MutexLock lock(&mu_);
      (server ? server_done_ : owner_done_) = true;
      both = server_done_ && owner_done_;
    }
    if (both) delete this;
  }

  Finisher finisher_;
  std::shared_ptr<grpc::GenericStub> stub_;
  grpc::ClientContext context_;
  Client client_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer incoming_;
  v1::ExportChunk chunk_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool unparsable_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
  bool owner_done_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> owner_status_ ABSL_GUARDED_BY(mu_);
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
  ClusterRouter* router = guard_.router();
  const bool forwarded = router != nullptr && ForwardedPrincipal(ctx).has_value();
  if (forwarded) ctx->AddTrailingMetadata(kServedByTrailer, router->node().node_id());
  absl::StatusOr<ledger::Caller> caller = guard_.Admit(ctx, rule, request->tenant());
  if (!caller.ok()) return new RefusedReactor(finisher, caller.status());
  if (router != nullptr && !request->tenant().empty() && !request->subject_id().empty()) {
    v1::TargetRef target;
    target.set_subject_id(request->subject_id());
    const int32_t partition =
        router->node().PartitionOf(ledger::RouteKey(request->tenant(), target));
    if (!router->node().Replicates(partition)) {
      if (forwarded) {
        ctx->AddTrailingMetadata(kNotOwnerTrailer, "1");
        return new RefusedReactor(
            finisher, absl::UnavailableError(absl::StrCat("this instance does not keep partition ",
                                                          partition, "; retry")));
      }
      absl::StatusOr<std::shared_ptr<grpc::GenericStub>> owner = router->OwnerStub(partition);
      if (!owner.ok()) return new RefusedReactor(finisher, owner.status());
      return new ForwardedExportReactor(finisher, *std::move(owner), *request, caller->principal,
                                        ctx->deadline());
    }
  }
  absl::StatusOr<std::unique_ptr<ledger::SubjectExport>> exporter = ledger_.ExportSubject(*request);
  if (!exporter.ok()) return new RefusedReactor(finisher, exporter.status());
  spdlog::debug("msg=\"subject export\" tenant={} subject={} records={}", request->tenant(),
                request->subject_id(), (*exporter)->header().history_length());
  return new ExportReactor(finisher, *std::move(exporter));
}

}  // namespace assent::consentd
