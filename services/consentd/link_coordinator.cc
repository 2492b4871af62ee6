#include "consentd/link_coordinator.h"

#include <pthread.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ledger/route.h"
#include "rpc/status.h"
#include "spdlog/spdlog.h"

namespace assent::consentd {
namespace {

constexpr char kApplyContactLink[] = "/assent.v1.AdminService/ApplyContactLink";
constexpr absl::Duration kRecoveryInterval = absl::Seconds(1);
// An intent younger than this is left to the call that wrote it.
constexpr absl::Duration kRecoveryAge = absl::Seconds(2);
// How long one recovery drive may take.
constexpr absl::Duration kRecoveryDeadline = absl::Seconds(5);
// The longest a drive for a call may take (the call's deadline when sooner).
constexpr absl::Duration kMaxDriveTime = absl::Seconds(10);
// How long Stop waits for the drives under way.
constexpr absl::Duration kStopWait = absl::Seconds(15);

// Whether the contact point's owner answered the half for good: a refusal the intent ends with
// (linked to another subject; a request it cannot take). Anything else (unreachable, timed out,
// shutting down, not authorized as a peer, a tenant its replica has not read yet) leaves the
// intent pending for the next attempt.
bool Definitive(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

// A drive for a call without a deadline still ends: the halves' calls are bounded by this.
absl::Time Bounded(absl::Time deadline) { return std::min(deadline, absl::Now() + kMaxDriveTime); }

}  // namespace

LinkCoordinator::LinkCoordinator(ledger::Ledger& ledger, ClusterRouter& router,
                                 prometheus::Registry& registry, ledger::KeyFilter owned_here)
    : ledger_(ledger), router_(router), owned_here_(std::move(owned_here)) {
  auto& outcomes =
      prometheus::BuildCounter()
          .Name("assent_cluster_link_intents_total")
          .Help(
              "Links and unlinks over two owners' partitions driven by this instance, by "
              "outcome: completed, refused by the contact point's owner, or left pending (its "
              "owner not reached in time; the subject partition's owner finishes it)")
          .Register(registry);
  completed_ = &outcomes.Add({{"outcome", "completed"}});
  refused_ = &outcomes.Add({{"outcome", "refused"}});
  left_pending_ = &outcomes.Add({{"outcome", "left_pending"}});
  recovered_ = &prometheus::BuildCounter()
                    .Name("assent_cluster_link_intents_recovered_total")
                    .Help(
                        "Pending link intents this instance finished for a call that had ended "
                        "(a crash between the steps, a takeover, an unreachable owner)")
                    .Register(registry)
                    .Add({});
  pending_ = &prometheus::BuildGauge()
                  .Name("assent_cluster_link_intents_pending")
                  .Help(
                      "Link intents pending in the partitions this instance owns, at the last "
                      "recovery round")
                  .Register(registry)
                  .Add({});
  oldest_ = &prometheus::BuildGauge()
                 .Name("assent_cluster_link_intent_oldest_age_seconds")
                 .Help(
                     "Age of the oldest link intent pending in the partitions this instance "
                     "owns, at the last recovery round (0: none)")
                 .Register(registry)
                 .Add({});
}

LinkCoordinator::~LinkCoordinator() { Stop(); }

void LinkCoordinator::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "link-intents");
    RecoveryLoop();
  });
}

void LinkCoordinator::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // Drives under way end by their deadline (a call's, or kRecoveryDeadline): wait for them, so
  // that none reaches the router, the committer or this object after they are gone.
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return driving_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&idle), kStopWait)) {
    spdlog::get("consentd")
        ->warn("msg=\"cluster: link intents still being driven at shutdown\" count={}",
               driving_.size());
  }
}

void LinkCoordinator::Driven(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = driving_.find(id);
  if (it != driving_.end()) driving_.erase(it);
}

bool LinkCoordinator::SpansPartitions(const std::string& tenant, const std::string& subject_id,
                                      const v1::ContactPoint& contact_point) const {
  absl::StatusOr<std::string> contact = ledger_.RouteKeyOf("contact_point", tenant, contact_point);
  if (!contact.ok() || subject_id.empty()) return false;
  v1::TargetRef subject;
  subject.set_subject_id(subject_id);
  const cluster::Node& node = router_.node();
  return node.PartitionOf(ledger::RouteKey(tenant, subject)) != node.PartitionOf(*contact);
}

template <typename Request, typename Response>
void LinkCoordinator::Begin(void (ledger::Ledger::*begin)(const Request&, absl::Time,
                                                          ledger::Callback<ledger::LinkIntentStart>,
                                                          const ledger::Caller&),
                            const Request& request, absl::Time deadline,
                            const ledger::Caller& caller, ledger::Callback<Response> done) {
  deadline = Bounded(deadline);
  (ledger_.*begin)(
      request, deadline,
      [this, deadline,
       done = std::move(done)](absl::StatusOr<ledger::LinkIntentStart> start) mutable {
        Continue(std::move(start), deadline, std::move(done));
      },
      caller);
}

void LinkCoordinator::Link(const v1::LinkContactPointRequest& request, absl::Time deadline,
                           const ledger::Caller& caller,
                           ledger::Callback<v1::LinkContactPointResponse> done) {
  Begin(&ledger::Ledger::BeginLinkIntent, request, deadline, caller, std::move(done));
}

void LinkCoordinator::Unlink(const v1::UnlinkContactPointRequest& request, absl::Time deadline,
                             const ledger::Caller& caller,
                             ledger::Callback<v1::UnlinkContactPointResponse> done) {
  Begin(&ledger::Ledger::BeginUnlinkIntent, request, deadline, caller, std::move(done));
}

void LinkCoordinator::Erase(const v1::EraseSubjectRequest& request, absl::Time deadline,
                            const ledger::Caller& caller,
                            ledger::Callback<v1::EraseSubjectResponse> done) {
  Begin(&ledger::Ledger::BeginErasureIntent, request, deadline, caller, std::move(done));
}

int32_t LinkCoordinator::PartitionOfContact(const std::string& tenant,
                                            const v1::ContactRef& contact) const {
  v1::TargetRef target;
  *target.mutable_contact() = contact;
  return router_.node().PartitionOf(ledger::RouteKey(tenant, target));
}

template <typename Response>
void LinkCoordinator::Continue(absl::StatusOr<ledger::LinkIntentStart> start, absl::Time deadline,
                               ledger::Callback<Response> done) {
  auto answer = [](ledger::Callback<Response>& to, absl::StatusOr<std::string> bytes) {
    if (!bytes.ok()) return to(bytes.status());
    Response response;
    if (!response.ParseFromString(*bytes)) {
      return to(absl::InternalError("a link change's response does not parse"));
    }
    to(std::move(response));
  };
  if (!start.ok()) return done(start.status());
  if (start->replayed.has_value()) return answer(done, *std::move(start->replayed));
  auto then = [answer, done = std::move(done)](absl::StatusOr<std::string> bytes) mutable {
    answer(done, std::move(bytes));
  };
  if (start->intent.half().erase()) {
    DriveErasure(std::move(start->intent), deadline, std::move(then));
  } else {
    Drive(std::move(start->intent), deadline, std::move(then));
  }
}

void LinkCoordinator::Drive(storage::v1::LinkIntent intent, absl::Time deadline,
                            ledger::Callback<std::string> done) {
  const std::string id = intent.half().intent_id();
  {
    absl::MutexLock lock(&mu_);
    driving_.insert(id);
  }
  const int32_t partition = PartitionOfContact(intent.half().tenant(), intent.half().contact());
  grpc::ByteBuffer half = ToByteBuffer(intent.half());
  const std::string principal = intent.principal();
  auto finish = [this, id, done = std::move(done)](absl::StatusOr<std::string> result) mutable {
    if (result.ok()) {
      completed_->Increment();
    } else if (Definitive(result.status())) {
      refused_->Increment();
    } else {
      left_pending_->Increment();
    }
    done(std::move(result));
    Driven(id);  // last: Stop() may return once it is done
  };
  router_.Route(partition, kApplyContactLink, std::move(half), principal, deadline,
                [this, intent = std::move(intent), deadline, finish = std::move(finish)](
                    const grpc::Status& status, grpc::ByteBuffer* bytes) mutable {
                  absl::StatusOr<uint64_t> contact_sequence;
                  v1::ApplyContactLinkResponse response;
                  if (!status.ok()) {
                    contact_sequence = rpc::FromGrpcStatus(status);
                  } else if (!FromByteBuffer(bytes, &response)) {
                    contact_sequence =
                        absl::InternalError("the contact point's owner's answer does not parse");
                  } else {
                    contact_sequence = response.contact_sequence();
                  }
                  if (!contact_sequence.ok() && !Definitive(contact_sequence.status())) {
                    // Unknown outcome on the contact point's side: the intent stays, to be asked
                    // again.
                    return finish(contact_sequence.status());
                  }
                  ledger_.CompleteLinkIntent(intent, std::move(contact_sequence), deadline,
                                             std::move(finish));
                });
}

void LinkCoordinator::DriveErasure(storage::v1::LinkIntent intent, absl::Time deadline,
                                   ledger::Callback<std::string> done) {
  const std::string id = intent.half().intent_id();
  {
    absl::MutexLock lock(&mu_);
    driving_.insert(id);
  }
  // The contact points of other partitions: their owners' halves first.
  const std::string& tenant = intent.half().tenant();
  v1::TargetRef subject;
  subject.set_subject_id(intent.half().subject_id());
  const int32_t subject_partition = router_.node().PartitionOf(ledger::RouteKey(tenant, subject));
  std::vector<v1::ContactRef> elsewhere;
  for (const v1::ContactRef& contact : intent.erase_contacts()) {
    if (PartitionOfContact(tenant, contact) != subject_partition) elsewhere.push_back(contact);
  }
  struct Fanout {
    absl::Mutex mu;
    size_t left = 0;
    absl::Status failed;  // the first failure: the intent stays for the next attempt
  };
  auto fanout = std::make_shared<Fanout>();
  fanout->left = elsewhere.size();
  auto complete = [this, id, intent, elsewhere, deadline,
                   done = std::move(done)](absl::Status halves) mutable {
    auto finish = [this, id, done = std::move(done)](absl::StatusOr<std::string> result) mutable {
      (result.ok() ? completed_ : left_pending_)->Increment();
      done(std::move(result));
      Driven(id);  // last: Stop() may return once it is done
    };
    // An erasure's half is never refused for good (a contact point no longer naming the subject
    // is done), so any failure leaves the intent pending: the caller is told to retry, whatever
    // the half answered.
    if (!halves.ok()) {
      return finish(absl::UnavailableError(absl::StrCat(
          "the erasure is in progress (a contact point's owner did not complete its part: ",
          halves.message(), "); retry")));
    }
    ledger_.CompleteErasureIntent(intent, std::move(elsewhere), deadline, std::move(finish));
  };
  if (elsewhere.empty()) return complete(absl::OkStatus());
  auto shared_complete = std::make_shared<decltype(complete)>(std::move(complete));
  for (const v1::ContactRef& contact : elsewhere) {
    v1::ApplyContactLinkRequest half = intent.half();
    *half.mutable_contact() = contact;
    router_.Route(PartitionOfContact(tenant, contact), kApplyContactLink, ToByteBuffer(half),
                  intent.principal(), deadline,
                  [fanout, shared_complete](const grpc::Status& status, grpc::ByteBuffer*) {
                    bool last = false;
                    absl::Status failed;
                    {
                      absl::MutexLock lock(&fanout->mu);
                      if (!status.ok() && fanout->failed.ok()) {
                        fanout->failed = rpc::FromGrpcStatus(status);
                      }
                      last = --fanout->left == 0;
                      failed = fanout->failed;
                    }
                    if (last) (*shared_complete)(failed);
                  });
  }
}

void LinkCoordinator::RecoveryLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), kRecoveryInterval)) return;
    }
    RecoverOnce();
  }
}

void LinkCoordinator::RecoverOnce() {
  absl::StatusOr<std::vector<storage::v1::LinkIntent>> intents =
      ledger_.PendingLinkIntents(owned_here_);
  if (!intents.ok()) {
    spdlog::get("consentd")
        ->error("msg=\"cannot read the pending link intents\" error=\"{}\"",
                intents.status().ToString());
    return;
  }
  pending_->Set(static_cast<double>(intents->size()));
  const absl::Time now = absl::Now();
  absl::Duration oldest = absl::ZeroDuration();
  for (const storage::v1::LinkIntent& intent : *intents) {
    oldest = std::max(oldest, now - absl::FromUnixSeconds(intent.create_time().seconds()));
  }
  oldest_->Set(absl::ToDoubleSeconds(oldest));
  for (storage::v1::LinkIntent& intent : *intents) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || driving_.contains(intent.half().intent_id())) continue;
    }
    if (now - absl::FromUnixSeconds(intent.create_time().seconds()) < kRecoveryAge) continue;
    const bool erase = intent.half().erase();
    auto report = [this, erase](absl::StatusOr<std::string> result) {
      // An erasure ends only by completing (its failures leave it pending).
      if (result.ok() || (!erase && Definitive(result.status()))) {
        recovered_->Increment();
        spdlog::get("consentd")
            ->info("msg=\"cluster: finished a pending link intent\" kind={} outcome={}",
                   erase ? "erasure" : "link", result.ok() ? "completed" : "refused");
        v1::EraseSubjectResponse erased;
        if (erase && result.ok() && erased.ParseFromString(*result) && on_recovered_erasure_) {
          on_recovered_erasure_(erased);
        }
      } else {
        spdlog::get("consentd")
            ->warn("msg=\"cluster: a pending link intent is still pending\" kind={} error=\"{}\"",
                   erase ? "erasure" : "link", result.status().ToString());
      }
    };
    if (erase) {
      DriveErasure(std::move(intent), now + kRecoveryDeadline, std::move(report));
    } else {
      Drive(std::move(intent), now + kRecoveryDeadline, std::move(report));
    }
  }
}

}  // namespace assent::consentd
