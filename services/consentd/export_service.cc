#include "consentd/export_service.h"

#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "consentd/cluster_router.h"
#include "grpcpp/alarm.h"
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
// once the previous one was taken by this call's transport. Until the first chunk arrives, an
// owner that cannot be reached or no longer keeps the partition (ownership moving) is tried
// again every 100 ms, up to cluster.forward_timeout or the call's deadline; after it, the owner's
// status is the answer.
class ForwardedExportReactor final : public grpc::ServerWriteReactor<v1::ExportChunk> {
 public:
  ForwardedExportReactor(Finisher finisher, ClusterRouter& router, int32_t partition,
                         const v1::ExportSubjectRequest& request, std::string principal,
                         std::chrono::system_clock::time_point deadline)
      : finisher_(std::move(finisher)),
        router_(router),
        partition_(partition),
        request_(ToByteBuffer(request)),
        principal_(std::move(principal)),
        deadline_(deadline),
        give_up_(std::min(absl::FromChrono(deadline), absl::Now() + router.forward_timeout())) {
    Attempt();
  }

  // The call's transport took a chunk: read the owner's next one. (gRPC callbacks and calls that
  // may run them are made outside mu_ throughout: some may run inline.)
  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    Owner* owner = nullptr;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      finish = std::move(owner_status_);
      owner_status_.reset();
      owner = owner_.get();
    }
    if (finish.has_value()) {
      FinishOnce(*finish);
    } else if (ok) {
      owner->StartRead(&incoming_);  // the hold keeps the owner's stream until this read returns
    } else {
      owner->context.TryCancel();  // the caller went away; the owner's call ends, then this one
      owner->RemoveHold();
    }
  }
  void OnCancel() override {
    Owner* owner = nullptr;
    grpc::Alarm* alarm = nullptr;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      owner = owner_.get();
      alarm = alarm_.get();
    }
    if (owner != nullptr) owner->context.TryCancel();
    if (alarm != nullptr) alarm->Cancel();
  }
  void OnDone() override { Done(/*server=*/true); }

 private:
  // One call to the owner.
  class Owner final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit Owner(ForwardedExportReactor& outer) : outer_(outer) {}
    void OnReadDone(bool ok) override { outer_.OnOwnerChunk(ok); }
    void OnDone(const grpc::Status& status) override { outer_.OnOwnerDone(status); }
    grpc::ClientContext context;

   private:
    ForwardedExportReactor& outer_;
  };

  // Starts a call to the partition's current owner, or schedules the next try. The owner's
  // stream is held (AddHold) until its last read returned: reads are started from this call's
  // OnWriteDone, outside the owner's callbacks, and the stream must still be there then.
  void Attempt() {
    // A partition that became this instance's own meanwhile is served here: the caller's retry.
    const bool here = attempts_ > 0 && router_.node().Replicates(partition_);
    absl::StatusOr<std::shared_ptr<grpc::GenericStub>> stub =
        here ? absl::UnavailableError(
                   absl::StrCat("partition ", partition_, " is now served by this instance; retry"))
             : router_.OwnerStub(partition_, /*retry=*/attempts_ > 0);
    ++attempts_;
    Owner* owner = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (!cancelled_ && !stub.ok() && !here && RetryLocked()) return;
      if (!cancelled_ && stub.ok()) {
        stub_ = *stub;
        if (owner_ != nullptr) spent_.push_back(std::move(owner_));  // its OnDone has run
        owner_ = std::make_unique<Owner>(*this);
        owner = owner_.get();
      }
    }
    if (owner == nullptr) {  // cancelled, or no owner in time: no call to wait for
      FinishOnce(cancelled() ? grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled")
                             : rpc::ToGrpcStatus(stub.status()));
      Done(/*server=*/false);
      return;
    }
    owner->context.AddMetadata(kForwardedPrincipalHeader, principal_);
    owner->context.set_deadline(deadline_);
    (*stub)->PrepareBidiStreamingCall(&owner->context, "/assent.v1.ExportService/ExportSubject",
                                      grpc::StubOptions(), owner);
    owner->AddHold();
    owner->StartWriteLast(&request_, grpc::WriteOptions());
    owner->StartRead(&incoming_);
    owner->StartCall();
  }

  bool cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  void OnOwnerChunk(bool ok) {
    if (!ok) {
      // The owner's stream ended: no read follows, and its status comes (OnOwnerDone).
      Owner* owner = nullptr;
      {
        absl::MutexLock lock(&mu_);
        owner = owner_.get();
      }
      owner->RemoveHold();
      return;
    }
    chunk_.Clear();
    Owner* owner = nullptr;
    {
      absl::MutexLock lock(&mu_);
      owner = owner_.get();
      if (!FromByteBuffer(&incoming_, &chunk_)) {
        unparsable_ = true;
      } else {
        first_chunk_ = true;
        writing_ = true;
      }
    }
    if (unparsable()) {
      owner->context.TryCancel();
      owner->RemoveHold();
      return;
    }
    StartWrite(&chunk_);
  }

  bool unparsable() {
    absl::MutexLock lock(&mu_);
    return unparsable_;
  }

  void OnOwnerDone(const grpc::Status& status) {
    grpc::Status answer = status;
    {
      absl::MutexLock lock(&mu_);
      const auto& trailers = owner_->context.GetServerTrailingMetadata();
      const bool not_owner = trailers.find(kNotOwnerTrailer) != trailers.end();
      const bool unreached = status.error_code() == grpc::StatusCode::UNAVAILABLE &&
                             trailers.find(kServedByTrailer) == trailers.end();
      if (unparsable_) {
        answer = grpc::Status(grpc::StatusCode::INTERNAL, "the owner's export does not parse");
      } else if (!first_chunk_ && !cancelled_ && (not_owner || unreached) && RetryLocked()) {
        return;
      }
    }
    FinishOnce(answer);
    Done(/*server=*/false);  // may delete this (and the Owner whose OnDone runs this): last
  }

  // Schedules the next try in 100 ms; false when that would pass give_up_ (or the call was
  // cancelled): the caller then finishes with the last status.
  bool RetryLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time at = absl::Now() + absl::Milliseconds(100);
    if (at >= give_up_ || cancelled_) return false;
    if (alarm_ != nullptr) spent_alarms_.push_back(std::move(alarm_));
    alarm_ = std::make_unique<grpc::Alarm>();
    // Run by gRPC once the alarm fires (true) or is cancelled by OnCancel (false), never inline.
    alarm_->Set(absl::ToChronoTime(at), [this](bool fired) {
      if (fired) {
        Attempt();
        return;
      }
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled"));
      Done(/*server=*/false);
    });
    return true;
  }

  // Finishes the call with `status`, once; while a chunk is being written, after it.
  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (writing_) {
        owner_status_ = status;
        return;
      }
      if (finished_) return;
      finished_ = true;
    }
    Finish(finisher_.Record(rpc::FromGrpcStatus(status)));
  }

  // Notes that this call (server) or the calls to owners (no call in flight, no try pending, the
  // status handed to FinishOnce) are over, and deletes the reactor once both are: whichever
  // comes second deletes it, and nothing may touch it after this returns.
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
  ClusterRouter& router_;
  const int32_t partition_;
  grpc::ByteBuffer request_;
  const std::string principal_;
  const std::chrono::system_clock::time_point deadline_;
  const absl::Time give_up_;
  grpc::ByteBuffer incoming_;
  v1::ExportChunk chunk_;
  int attempts_ = 0;  // tries so far (Attempt runs once at a time: first here, then each alarm)
  absl::Mutex mu_;
  std::shared_ptr<grpc::GenericStub> stub_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Owner> owner_ ABSL_GUARDED_BY(mu_);
  // Calls and alarms of earlier tries, kept until the reactor goes (a reactor is not destroyed
  // from its own callback).
  std::vector<std::unique_ptr<Owner>> spent_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<grpc::Alarm>> spent_alarms_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool first_chunk_ ABSL_GUARDED_BY(mu_) = false;
  bool unparsable_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
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
      return new ForwardedExportReactor(finisher, *router, partition, *request, caller->principal,
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
