#include "consentd/cluster_router.h"

#include <pthread.h>

#include <utility>

#include "consentd/call_guard.h"
#include "grpcpp/client_context.h"
#include "spdlog/spdlog.h"

namespace assent::consentd {

namespace {
constexpr absl::Duration kRetryInterval = absl::Milliseconds(100);
}  // namespace

grpc::ByteBuffer ToByteBuffer(const google::protobuf::Message& message) {
  const std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool FromByteBuffer(grpc::ByteBuffer* buffer, google::protobuf::Message* message) {
  if (buffer == nullptr) return false;
  std::vector<grpc::Slice> slices;
  if (!buffer->Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return message->ParseFromString(bytes);
}

struct ClusterRouter::Attempt {
  int32_t partition = 0;
  std::string method;
  grpc::ByteBuffer request;
  std::string principal;
  absl::Time deadline;
  absl::Time give_up;
  absl::AnyInvocable<void(const grpc::Status&, grpc::ByteBuffer*)> done;
  // The call in flight.
  std::unique_ptr<grpc::ClientContext> context;
  grpc::ByteBuffer response;
  int attempts = 0;
};

ClusterRouter::ClusterRouter(cluster::Node& node, const ledger::Ledger& ledger,
                             ClusterRouterOptions options, prometheus::Registry& registry)
    : node_(node), ledger_(ledger), options_(std::move(options)) {
  forwarded_ = &prometheus::BuildCounter()
                    .Name("assent_cluster_forwarded_total")
                    .Help(
                        "Calls this instance forwarded to their partition's owner (writes, and "
                        "reads of history it does not keep with cluster.standbys).")
                    .Register(registry)
                    .Add({});
  auto& retries = prometheus::BuildCounter()
                      .Name("assent_cluster_forward_retries_total")
                      .Help("Forwarding attempts repeated while a partition's ownership moved.")
                      .Register(registry);
  forward_retries_ = &retries.Add({});
  forward_failures_ = &prometheus::BuildCounter()
                           .Name("assent_cluster_forward_failures_total")
                           .Help("Writes that found no owner of their partition in time.")
                           .Register(registry)
                           .Add({});
  partition_owned_ = &prometheus::BuildGauge()
                          .Name("assent_cluster_partition_owned")
                          .Help("1 for each partition this instance owns (accepts writes for).")
                          .Register(registry);
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
  };
  owned_ = gauge("assent_cluster_partitions_owned", "Partitions this instance owns.");
  kept_ = gauge("assent_cluster_partitions_kept",
                "Partitions this instance keeps in full and has replayed (owned or standby); all "
                "of them with cluster.standbys -1.");
  replica_lag_ = gauge("assent_cluster_replica_lag_records",
                       "Changelog records not yet applied to this instance's replica.");
  replay_ratio_ = gauge("assent_cluster_replay_ratio",
                        "Share of the changelog (as it stood at start) the replica has applied.");
  // The node's statistics only grow: exported as counters, advanced by the difference at each
  // refresh.
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
  };
  ownership_changes_ = counter("assent_cluster_ownership_changes_total",
                               "Partitions gained or lost by this instance.");
  transactions_ =
      counter("assent_cluster_transactions_total", "Kafka transactions (group commits).");
  transaction_failures_ = counter("assent_cluster_transaction_failures_total",
                                  "Kafka transactions that failed (writes answered UNAVAILABLE).");
  replicated_ = counter("assent_cluster_replicated_records_total",
                        "Changelog records of other instances applied to this replica.");
  auto& fences = prometheus::BuildCounter()
                     .Name("assent_cluster_departed_owner_fences_total")
                     .Help(
                         "Previous owners no longer in the group whose open transactions a "
                         "claim here ended at once (result=ended), or could not (result=failed: "
                         "they end at cluster.transaction_timeout).")
                     .Register(registry);
  departed_fenced_ = &fences.Add({{"result", "ended"}});
  departed_fence_failures_ = &fences.Add({{"result", "failed"}});
  UpdateGauges();
  timer_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cluster-router");
    TimerLoop();
  });
}

ClusterRouter::~ClusterRouter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (Attempt* attempt : in_flight_) attempt->context->TryCancel();
    // Their callbacks answer "shutting down" and leave; none is sent after stopping_.
    auto answered = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return in_flight_.empty() && callbacks_running_ == 0;
    };
    mu_.Await(absl::Condition(&answered));
  }
  if (timer_thread_.joinable()) timer_thread_.join();
}

void ClusterRouter::Route(int32_t partition, std::string method, grpc::ByteBuffer request,
                          std::string principal, absl::Time deadline,
                          absl::AnyInvocable<void(const grpc::Status&, grpc::ByteBuffer*)> done) {
  auto attempt = std::make_shared<Attempt>();
  attempt->partition = partition;
  attempt->method = std::move(method);
  attempt->request = std::move(request);
  attempt->principal = std::move(principal);
  attempt->deadline = deadline;
  attempt->give_up = std::min(deadline, absl::Now() + options_.forward_timeout);
  attempt->done = std::move(done);
  Try(std::move(attempt));
}

void ClusterRouter::Try(std::shared_ptr<Attempt> attempt) {
  std::optional<cluster::Node::Owner> owner = node_.OwnerOf(attempt->partition);
  if (!owner.has_value() ||
      (owner->node_id == node_.node_id() && !node_.Owns(attempt->partition))) {
    // No owner yet, or this instance is claiming it (replaying): wait. When the partition has
    // become this instance's meanwhile, the call goes to this instance's own address like to any
    // owner (the service's handler frame that admitted it is gone).
    RetryLater(std::move(attempt));
    return;
  }
  std::shared_ptr<grpc::GenericStub> stub = Stub(owner->address);
  if (stub == nullptr) {
    attempt->done(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "cannot dial the partition's owner (see the log)"),
                  nullptr);
    return;
  }
  attempt->context = std::make_unique<grpc::ClientContext>();
  // One call waits at most cluster.forward_timeout, whatever the caller's deadline: a peer that
  // stopped answering (its connection black-holed) holds neither the caller nor a shutdown,
  // which waits for the calls being forwarded, for longer.
  attempt->context->set_deadline(
      absl::ToChronoTime(std::min(attempt->deadline, absl::Now() + options_.forward_timeout)));
  attempt->context->AddMetadata(kForwardedPrincipalHeader, attempt->principal);
  Attempt* raw = attempt.get();
  bool stopping = false;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
    if (!stopping) in_flight_.insert(raw);
  }
  if (stopping) {
    // The destructor is waiting for the calls in flight: send no new one.
    ShuttingDown(*attempt);
    return;
  }
  attempt->attempts++;
  if (attempt->attempts == 1) forwarded_->Increment();
  stub->UnaryCall(
      raw->context.get(), raw->method, grpc::StubOptions(), &raw->request, &raw->response,
      [this, attempt = std::move(attempt)](grpc::Status status) { Answered(attempt, status); });
}

void ClusterRouter::Answered(std::shared_ptr<Attempt> attempt, const grpc::Status& status) {
  Attempt* raw = attempt.get();
  bool stopping = false;
  {
    // No longer in flight (a retry may send the same attempt again before this callback ends),
    // but counted until it ends: the destructor waits for both.
    absl::MutexLock lock(&mu_);
    in_flight_.erase(raw);
    ++callbacks_running_;
    stopping = stopping_;
  }
  const auto& trailers = attempt->context->GetServerTrailingMetadata();
  const bool not_owner = trailers.find(kNotOwnerTrailer) != trailers.end();
  // UNAVAILABLE without an answer from the owner's service: the owner is gone (connection
  // refused); safe to try again only then.
  const bool unreached = status.error_code() == grpc::StatusCode::UNAVAILABLE &&
                         trailers.find(kServedByTrailer) == trailers.end();
  if (stopping && status.error_code() == grpc::StatusCode::CANCELLED) {
    // Cancelled by the destructor: the owner may or may not have run it.
    attempt->done(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "shutting down; the write may have been applied: retry with its "
                               "idempotency key"),
                  nullptr);
  } else if ((not_owner || unreached) && !stopping) {
    RetryLater(attempt);
  } else if (not_owner || unreached) {
    ShuttingDown(*attempt);
  } else {
    attempt->done(status, &attempt->response);
  }
  // Last: once no call is in flight and no callback runs, the destructor may destroy the router.
  absl::MutexLock lock(&mu_);
  --callbacks_running_;
}

void ClusterRouter::ShuttingDown(Attempt& attempt) {
  attempt.done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"), nullptr);
}

void ClusterRouter::RetryLater(std::shared_ptr<Attempt> attempt) {
  const absl::Time at = absl::Now() + kRetryInterval;
  if (at >= attempt->give_up) {
    forward_failures_->Increment();
    attempt->done(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               absl::StrCat("no instance owns partition ", attempt->partition,
                                            " yet (ownership is moving); retry")),
                  nullptr);
    return;
  }
  forward_retries_->Increment();
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      timers_.emplace(at, std::move(attempt));
      return;
    }
  }
  // Stopping: the timer thread may have answered its waiting retries already.
  ShuttingDown(*attempt);
}

absl::StatusOr<std::shared_ptr<grpc::GenericStub>> ClusterRouter::OwnerStub(int32_t partition,
                                                                            bool retry) {
  std::optional<cluster::Node::Owner> owner = node_.OwnerOf(partition);
  if (!owner.has_value() || owner->node_id == node_.node_id()) {
    // No owner yet, or this instance is claiming it and replaying.
    return absl::UnavailableError(absl::StrCat("no instance serves partition ", partition,
                                               " yet (ownership is moving); retry"));
  }
  std::shared_ptr<grpc::GenericStub> stub = Stub(owner->address);
  if (stub == nullptr) {
    return absl::UnavailableError("cannot dial the partition's owner (see the log)");
  }
  (retry ? forward_retries_ : forwarded_)->Increment();
  return stub;
}

std::shared_ptr<grpc::GenericStub> ClusterRouter::Stub(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = stubs_.find(address);
  if (it != stubs_.end()) return it->second;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::Dial(address, options_.peer_tls);
  if (!channel.ok()) {
    spdlog::get("consentd")
        ->error("msg=\"cannot dial a peer\" address={} error=\"{}\"", address,
                channel.status().ToString());
    return nullptr;
  }
  auto stub = std::make_shared<grpc::GenericStub>(*channel);
  stubs_[address] = stub;
  return stub;
}

void ClusterRouter::UpdateGauges() {
  last_gauges_ = absl::Now();
  int owned = 0;
  int kept = 0;
  for (const cluster::Node::PartitionStatus& p : node_.Status()) {
    partition_owned_->Add({{"partition", absl::StrCat(p.partition)}}).Set(p.owned_here ? 1 : 0);
    owned += p.owned_here ? 1 : 0;
    kept += p.replicated_here ? 1 : 0;
  }
  owned_->Set(owned);
  kept_->Set(kept);
  replica_lag_->Set(static_cast<double>(node_.ReplicaLag()));
  replay_ratio_->Set(node_.ReplayProgress());
  const cluster::Node::Stats stats = node_.stats();
  auto advance = [](prometheus::Counter* c, uint64_t total) {
    const double delta = static_cast<double>(total) - c->Value();
    if (delta > 0) c->Increment(delta);
  };
  advance(ownership_changes_, stats.ownership_changes);
  advance(transactions_, stats.transactions);
  advance(transaction_failures_, stats.transaction_failures);
  advance(replicated_, stats.replicated_records);
  advance(departed_fenced_, stats.departed_owners_fenced);
  advance(departed_fence_failures_, stats.departed_owner_fence_failures);
}

void ClusterRouter::TimerLoop() {
  while (true) {
    std::vector<std::shared_ptr<Attempt>> due;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || (!timers_.empty() && timers_.begin()->first <= absl::Now());
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), kRetryInterval / 2);
      if (stopping_) break;
      const absl::Time now = absl::Now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        due.push_back(std::move(timers_.begin()->second));
        timers_.erase(timers_.begin());
      }
    }
    for (auto& attempt : due) Try(std::move(attempt));
    if (absl::Now() - last_gauges_ >= absl::Seconds(1)) UpdateGauges();
  }
  // Stopping: whatever still waits fails.
  std::multimap<absl::Time, std::shared_ptr<Attempt>> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(timers_);
  }
  for (auto& [at, attempt] : left) ShuttingDown(*attempt);
}

}  // namespace assent::consentd
