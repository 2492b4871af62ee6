#include "consentd/import_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "consentd/cluster_router.h"
#include "rpc/status.h"
#include "spdlog/spdlog.h"
#include "store/committer.h"

namespace assent::consentd {
namespace {

using Request = v1::ImportDecisionsRequest;
using Response = v1::ImportDecisionsResponse;

// How long one row may wait in the committer's queue.
constexpr absl::Duration kRowDeadline = absl::Seconds(60);
// Cluster mode: the most rows sent to another partition's owner in one message.
constexpr size_t kMaxForwardedRows = 100;

// One request message on its way: its rows being recorded, then its response being written.
struct Batch {
  Request request;
  Response response;
  int pending = 0;
};

// The call's state lives here; every gRPC reaction and every row completion (on the committer's
// writer thread, or a gRPC thread for rows forwarded to their owner) takes `mu_`, decides what to
// start, and starts it after releasing the lock.
//
// Cluster mode: the instance the stream entered records the rows of the partitions it owns and
// forwards the others, grouped by partition, to each partition's owner (ClusterRouter) as a
// one-message ImportDecisions call with the caller's principal; the owner's results take the
// rows' places in the response. A local row refused because its partition's ownership moved
// before anything was applied goes to the new owner the same way. A forwarded call's rows are all
// recorded where it arrives: a row whose partition is not owned there (checked first, and again
// by each row's write) makes it end UNAVAILABLE with kNotOwnerTrailer, and the entry sends the
// rows again (a row recorded before the move is then
// answered ALREADY_IMPORTED: its row key is the idempotency). A dry run writes nothing and reads
// only the catalog, which every instance has: it runs where it entered.
class ImportReactor final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  ImportReactor(grpc::CallbackServerContext* ctx, ledger::Ledger& ledger, CallGuard& guard,
                ServiceMetrics* metrics)
      : ctx_(ctx),
        ledger_(ledger),
        guard_(guard),
        metrics_(metrics),
        rule_(RequireRpcRule(ImportService::kName, "ImportDecisions")),
        router_(guard.router()),
        forwarded_(router_ != nullptr && ForwardedPrincipal(ctx).has_value()) {
    if (forwarded_) ctx->AddTrailingMetadata(kServedByTrailer, router_->node().node_id());
    reading_ = true;
    incoming_ = std::make_shared<Batch>();
    StartRead(&incoming_->request);
  }

  void OnReadDone(bool ok) override {
    std::shared_ptr<Batch> batch;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        half_closed_ = true;
      } else if (!finished_ && failure_.ok()) {
        // After a failure nothing more is started: rows in flight would outlive the call.
        batch = std::move(incoming_);
        accepting_ = true;
      }
      // A message read stays "being read" until Accept has queued it: a Pump on another thread
      // would otherwise start the next read, and that message could be queued (and answered)
      // before this one.
      if (batch == nullptr) reading_ = false;
    }
    if (batch != nullptr) Accept(std::move(batch));
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      batches_.pop_front();
      if (!ok) Fail(absl::CancelledError("the import stream was cancelled"));
    }
    Pump();
  }

  // The ledger's callbacks run on the committer's thread, outside gRPC's reactions: once one has
  // counted its row done, another thread may finish the call, so `this` lives until the last of
  // them has left as well as until gRPC is done with it.
  void OnDone() override {
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = callbacks_running_ == 0;
    }
    if (last) delete this;
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      Fail(absl::CancelledError("the import stream was cancelled"));
    }
    Pump();
  }

 private:
  // Checks and admits a message, then hands its rows to the ledger.
  void Accept(std::shared_ptr<Batch> batch) {
    const Request& request = batch->request;
    absl::StatusOr<ledger::Caller> caller = Admit(request);
    std::optional<int32_t> moved = caller.ok() ? NotOwnedHere(request) : std::nullopt;
    const int rows = request.rows_size();
    batch->pending = rows;
    batch->response.mutable_results()->Reserve(rows);
    for (int i = 0; i < rows; ++i) batch->response.add_results();
    {
      absl::MutexLock lock(&mu_);
      accepting_ = false;
      reading_ = false;  // queued in the order read (or refused): the next read may start
      if (!caller.ok()) {
        Fail(caller.status());
        return;
      }
      if (moved.has_value()) {
        // A forwarded message whose partition moved away: the entry sends it to the new owner.
        not_owner_ = true;
        Fail(absl::UnavailableError(
            absl::StrCat("this instance does not own partition ", *moved, "; retry")));
        return;
      }
      // The call may have failed meanwhile (another message's rows): nothing more is started.
      if (!failure_.ok() || finished_) return;
      batches_.push_back(batch);
      pending_rows_ += rows;
    }
    const absl::Time deadline = absl::Now() + kRowDeadline;
    // Cluster mode: the rows of partitions owned elsewhere, by partition.
    std::map<int32_t, std::vector<int>> elsewhere;
    for (int i = 0; i < rows; ++i) {
      if (std::optional<int32_t> p = OwnedElsewhere(request, i)) {
        elsewhere[*p].push_back(i);
      } else {
        RecordHere(batch, i, deadline, *caller);
      }
    }
    // In messages of at most kMaxForwardedRows rows, each answered within the router's
    // cluster.forward_timeout.
    for (const auto& [partition, indices] : elsewhere) {
      for (size_t from = 0; from < indices.size(); from += kMaxForwardedRows) {
        const size_t to = std::min(indices.size(), from + kMaxForwardedRows);
        ForwardRows(batch, partition,
                    std::vector<int>(indices.begin() + from, indices.begin() + to), deadline,
                    caller->principal);
      }
    }
  }

  // A forwarded message (cluster mode) with a row of a partition this instance does not own (any
  // more): that partition. Checked before anything is read or written, as a forwarded unary write
  // is: a lagging replica's answers (ALREADY_IMPORTED, a rejection) would be stale.
  std::optional<int32_t> NotOwnedHere(const Request& request) const {
    if (!forwarded_ || request.dry_run()) return std::nullopt;
    for (const v1::ImportRow& row : request.rows()) {
      absl::StatusOr<std::string> route =
          ledger_.RouteKeyOf("rows.decisions.target", request.tenant(), row.decisions().target());
      if (!route.ok()) continue;
      const int32_t partition = router_->node().PartitionOf(*route);
      if (!router_->node().Owns(partition)) return partition;
    }
    return std::nullopt;
  }

  // The partition of row `i` when it is another instance's (cluster mode, the call entered here,
  // not a dry run); nullopt when the row is recorded here (a row without a valid target too: the
  // ledger rejects it as in single-node mode).
  std::optional<int32_t> OwnedElsewhere(const Request& request, int i) const {
    if (router_ == nullptr || forwarded_ || request.dry_run()) return std::nullopt;
    absl::StatusOr<std::string> route = ledger_.RouteKeyOf(
        "rows.decisions.target", request.tenant(), request.rows(i).decisions().target());
    if (!route.ok()) return std::nullopt;
    const int32_t partition = router_->node().PartitionOf(*route);
    if (router_->node().Owns(partition)) return std::nullopt;
    return partition;
  }

  void RecordHere(const std::shared_ptr<Batch>& batch, int i, absl::Time deadline,
                  const ledger::Caller& caller) {
    const Request& request = batch->request;
    ledger_.ImportRow(
        request.tenant(), request.rows(i), request.dry_run(), deadline,
        [this, batch, i, deadline,
         principal = caller.principal](absl::StatusOr<v1::ImportRowResult> result) {
          if (!result.ok() && store::IsNotApplied(result.status()) && router_ != nullptr &&
              !forwarded_) {
            // Its partition's ownership moved before anything was applied: to the new owner.
            absl::StatusOr<std::string> route =
                ledger_.RouteKeyOf("rows.decisions.target", batch->request.tenant(),
                                   batch->request.rows(i).decisions().target());
            if (route.ok()) {
              ForwardRows(batch, router_->node().PartitionOf(*route), {i}, deadline, principal);
              return;
            }
          }
          const bool not_owner = forwarded_ && !result.ok() && store::IsNotApplied(result.status());
          Complete(batch, {i}, std::move(result), not_owner);
        },
        caller);
  }

  // Sends rows `indices` of `batch` to `partition`'s owner as one request message.
  void ForwardRows(const std::shared_ptr<Batch>& batch, int32_t partition, std::vector<int> indices,
                   absl::Time deadline, const std::string& principal) {
    Request sub;
    sub.set_tenant(batch->request.tenant());
    for (int i : indices) *sub.add_rows() = batch->request.rows(i);
    router_->Route(partition, "/assent.v1.ImportService/ImportDecisions", ToByteBuffer(sub),
                   principal, deadline,
                   [this, batch, indices = std::move(indices)](const grpc::Status& status,
                                                               grpc::ByteBuffer* bytes) {
                     Response answer;
                     absl::Status failed;
                     if (!status.ok()) {
                       failed = rpc::FromGrpcStatus(status);
                     } else if (!FromByteBuffer(bytes, &answer) ||
                                answer.results_size() != static_cast<int>(indices.size())) {
                       failed = absl::InternalError(
                           "the partition owner's import answer does not match "
                           "the rows sent");
                     }
                     if (!failed.ok()) {
                       Complete(batch, indices, failed);
                       return;
                     }
                     for (size_t k = 0; k < indices.size(); ++k) {
                       Complete(batch, {indices[k]},
                                std::move(*answer.mutable_results(static_cast<int>(k))));
                     }
                   });
  }

  // Rows `indices` of `batch` are done: with their result (one row), or failed (the call fails).
  // `not_owner`: a forwarded call's row whose partition is no longer owned here (the call ends
  // with kNotOwnerTrailer, so that the entry sends it again).
  void Complete(const std::shared_ptr<Batch>& batch, const std::vector<int>& indices,
                absl::StatusOr<v1::ImportRowResult> result, bool not_owner = false) {
    {
      absl::MutexLock lock(&mu_);
      not_owner_ = not_owner_ || not_owner;
      if (result.ok()) {
        *batch->response.mutable_results(indices.front()) = *std::move(result);
      } else {
        Fail(result.status());
      }
      const int n = static_cast<int>(indices.size());
      batch->pending -= n;
      pending_rows_ -= n;
      ++callbacks_running_;
    }
    Pump();
    LeaveCallback();
  }

  // The end of a ledger callback: deletes the reactor when gRPC was done with it meanwhile.
  void LeaveCallback() {
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      --callbacks_running_;
      last = done_ && callbacks_running_ == 0;
    }
    if (last) delete this;
  }

  absl::StatusOr<ledger::Caller> Admit(const Request& request) {
    // An empty tenant would ask the guard about every tenant: refused before it is asked.
    if (request.tenant().empty()) return InvalidField("tenant", "is required");
    std::optional<authz::Permission> extra;
    for (const v1::ImportRow& row : request.rows()) {
      if (row.decisions().target().has_contact_ref()) extra = authz::Permission::kContactByHash;
    }
    ASSIGN_OR_RETURN(ledger::Caller caller, guard_.Admit(ctx_, rule_, request.tenant(), extra));
    if (request.rows_size() == 0 || request.rows_size() > ImportService::kMaxRows) {
      return InvalidField("rows", absl::StrCat("must hold 1..", ImportService::kMaxRows,
                                               " rows (got ", request.rows_size(), ")"));
    }
    return caller;
  }

  bool NotOwner() {
    absl::MutexLock lock(&mu_);
    return not_owner_;
  }

  // Remembers the first error; the call ends with it once no row is in flight.
  void Fail(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (failure_.ok()) failure_ = status;
  }

  // Starts what can start: the next write, the next read, or the end of the call.
  void Pump() {
    enum class Next { kNothing, kWrite, kRead, kFinish };
    Next next = Next::kNothing;
    Response* to_write = nullptr;
    std::shared_ptr<Batch> to_read;
    absl::Status finish;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (!failure_.ok()) {
        // Rows still in flight reference this reactor; the call ends when they are done.
        if (pending_rows_ == 0 && !writing_ && !accepting_) {
          finished_ = true;
          next = Next::kFinish;
          finish = failure_;
        }
      } else if (!writing_ && !batches_.empty() && batches_.front()->pending == 0) {
        writing_ = true;
        next = Next::kWrite;
        to_write = &batches_.front()->response;
      } else if (!reading_ && !half_closed_ &&
                 batches_.size() < ImportService::kMaxMessagesInFlight) {
        reading_ = true;
        incoming_ = std::make_shared<Batch>();
        to_read = incoming_;
        next = Next::kRead;
      } else if (half_closed_ && batches_.empty() && !writing_) {
        finished_ = true;
        next = Next::kFinish;
      }
    }
    switch (next) {
      case Next::kWrite:
        StartWrite(to_write);
        // A read may also be due; the next reaction (or this one) picks it up.
        Pump();
        break;
      case Next::kRead:
        StartRead(&to_read->request);
        break;
      case Next::kFinish:
        if (NotOwner()) ctx_->AddTrailingMetadata(kNotOwnerTrailer, "1");
        Finish(Record(finish));
        break;
      case Next::kNothing:
        break;
    }
  }

  grpc::Status Record(const absl::Status& status) const {
    grpc::Status out = rpc::ToGrpcStatus(status);
    if (metrics_ != nullptr) {
      metrics_->ObserveRpc(rule_.service, rule_.method, out.error_code(),
                           absl::FromChrono(std::chrono::steady_clock::now() - start_));
    }
    if (!status.ok()) {
      spdlog::info("msg=\"import stream ended\" code={}", absl::StatusCodeToString(status.code()));
    }
    return out;
  }

  grpc::CallbackServerContext* ctx_;
  ledger::Ledger& ledger_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
  const RpcRule& rule_;
  ClusterRouter* const router_;  // null: single-node mode
  const bool forwarded_;         // the call came from a peer (cluster mode)
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();

  absl::Mutex mu_;
  std::shared_ptr<Batch> incoming_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Batch>> batches_ ABSL_GUARDED_BY(mu_);
  int64_t pending_rows_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool half_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;       // OnDone has run
  bool not_owner_ ABSL_GUARDED_BY(mu_) = false;  // see Complete
  // A message read is being admitted and queued (Accept): the call does not end meanwhile.
  bool accepting_ ABSL_GUARDED_BY(mu_) = false;
  int64_t callbacks_running_ ABSL_GUARDED_BY(mu_) = 0;  // ledger callbacks past their count
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

ImportService::ImportService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics)
    : ledger_(ledger), guard_(guard), metrics_(metrics) {
  // Aborts at start when the permission table lacks the row.
  (void)RequireRpcRule(kName, "ImportDecisions");
}

grpc::ServerBidiReactor<v1::ImportDecisionsRequest, v1::ImportDecisionsResponse>*
ImportService::ImportDecisions(grpc::CallbackServerContext* ctx) {
  return new ImportReactor(ctx, ledger_, guard_, metrics_);
}

}  // namespace assent::consentd
