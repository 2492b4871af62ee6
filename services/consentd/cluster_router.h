// Cluster mode's front door: any instance accepts any call. The instance a write enters admits
// it (identity, permission, rate limits) and, when another instance owns the write's partition,
// forwards it there over gRPC with the caller's principal in `assent-forwarded-principal`
// (call_guard.h); the owner accepts that only from peers holding cluster.forward and never
// forwards again (it answers UNAVAILABLE with `assent-not-owner` when it no longer owns the
// partition). While ownership moves (an owner died and the group has not reassigned its
// partitions yet, or the new owner is replaying) the entry retries until the partition's owner
// answers, the call's deadline or cluster.forward_timeout, whichever comes first (one forwarded
// call, too, lasts at most cluster.forward_timeout); when the
// partition becomes its own meanwhile it runs the write locally. Reads are answered from the
// local replica (current within the replica lag, assent_cluster_replica_lag_records).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/node.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "ledger/ledger.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "rpc/tls.h"

namespace assent::consentd {

// Trailing metadata of a forwarded call's UNAVAILABLE when the callee does not own the partition.
inline constexpr char kNotOwnerTrailer[] = "assent-not-owner";
// Trailing metadata of every answer to a forwarded call: the instance that answered. A failure
// without it never reached the owner's service (connection refused, peer gone), so retrying
// cannot write twice.
inline constexpr char kServedByTrailer[] = "assent-served-by";

// A message as the bytes a routed call carries, and back (false: no bytes, or they do not parse).
grpc::ByteBuffer ToByteBuffer(const google::protobuf::Message& message);
bool FromByteBuffer(grpc::ByteBuffer* buffer, google::protobuf::Message* message);

struct ClusterRouterOptions {
  // Credentials for calls to peers: the instance's own certificate and CA (mTLS) when TLS is on.
  rpc::TlsOptions peer_tls;
  absl::Duration forward_timeout = absl::Seconds(15);
};

class ClusterRouter {
 public:
  // `node` and `ledger` must outlive the router.
  ClusterRouter(cluster::Node& node, const ledger::Ledger& ledger, ClusterRouterOptions options,
                prometheus::Registry& registry);
  // Cancels the calls in flight and waits for their callbacks; every call not yet answered gets
  // UNAVAILABLE "shutting down" (calls waiting to be retried too).
  ~ClusterRouter();
  ClusterRouter(const ClusterRouter&) = delete;
  ClusterRouter& operator=(const ClusterRouter&) = delete;

  cluster::Node& node() { return node_; }
  absl::Duration forward_timeout() const { return options_.forward_timeout; }
  const ledger::Ledger& ledger() const { return ledger_; }

  // Sends a write of `partition` that this instance does not own, the call `method`
  // ("/assent.v1.ConsentService/RecordDecisions") with `request`, to the partition's owner for
  // `principal`; `done` gets the owner's status and response bytes (null on failure). Retries as
  // the header says.
  void Route(int32_t partition, std::string method, grpc::ByteBuffer request, std::string principal,
             absl::Time deadline,
             absl::AnyInvocable<void(const grpc::Status&, grpc::ByteBuffer*)> done);

  // For a streamed call (ExportSubject) forwarded to `partition`'s owner: the owner's stub, counted
  // as a forwarded request (`retry`: as a retry of one). UNAVAILABLE while the partition has no
  // owner that answers (ownership moving); the streamed call retries it itself.
  absl::StatusOr<std::shared_ptr<grpc::GenericStub>> OwnerStub(int32_t partition, bool retry);

 private:
  struct Attempt;
  void Try(std::shared_ptr<Attempt> attempt);
  // A call's answer (on a gRPC thread): retried, or handed to its caller.
  void Answered(std::shared_ptr<Attempt> attempt, const grpc::Status& status);
  void RetryLater(std::shared_ptr<Attempt> attempt);
  static void ShuttingDown(Attempt& attempt);
  std::shared_ptr<grpc::GenericStub> Stub(const std::string& address);
  void TimerLoop();
  // Copies the node's ownership, lag and counters into the gauges (once a second).
  void UpdateGauges();

  cluster::Node& node_;
  const ledger::Ledger& ledger_;
  const ClusterRouterOptions options_;
  prometheus::Counter* forwarded_;
  prometheus::Counter* forward_retries_;
  prometheus::Counter* forward_failures_;
  prometheus::Family<prometheus::Gauge>* partition_owned_;
  prometheus::Gauge* owned_;
  prometheus::Gauge* kept_;
  prometheus::Gauge* replica_lag_;
  prometheus::Gauge* replay_ratio_;
  prometheus::Counter* ownership_changes_;
  prometheus::Counter* transactions_;
  prometheus::Counter* transaction_failures_;
  prometheus::Counter* replicated_;
  prometheus::Counter* departed_fenced_;
  prometheus::Counter* departed_fence_failures_;
  absl::Time last_gauges_ = absl::InfinitePast();  // timer thread only
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::GenericStub>> stubs_ ABSL_GUARDED_BY(mu_);
  // Retries waiting for their time.
  std::multimap<absl::Time, std::shared_ptr<Attempt>> timers_ ABSL_GUARDED_BY(mu_);
  // Calls sent and not yet answered: cancelled at destruction, which waits for their callbacks
  // (they use the router).
  std::set<Attempt*> in_flight_ ABSL_GUARDED_BY(mu_);
  // Answered callbacks under way (their call already left in_flight_).
  int callbacks_running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_thread_;
};

}  // namespace assent::consentd
