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

// Whether the contact point's owner answered the half for good: a refusal the intent ends with
// (linked to another subject, the tenant gone). Anything else (unreachable, timed out, shutting
// down, not authorized as a peer) leaves the intent pending for the next attempt.
bool Definitive(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

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

void LinkCoordinator::Link(const v1::LinkContactPointRequest& request, absl::Time deadline,
                           const ledger::Caller& caller,
                           ledger::Callback<v1::LinkContactPointResponse> done) {
  ledger_.BeginLinkIntent(
      request, deadline,
      [this, deadline,
       done = std::move(done)](absl::StatusOr<ledger::LinkIntentStart> start) mutable {
        Continue(std::move(start), deadline, std::move(done));
      },
      caller);
}

void LinkCoordinator::Unlink(const v1::UnlinkContactPointRequest& request, absl::Time deadline,
                             const ledger::Caller& caller,
                             ledger::Callback<v1::UnlinkContactPointResponse> done) {
  ledger_.BeginUnlinkIntent(
      request, deadline,
      [this, deadline,
       done = std::move(done)](absl::StatusOr<ledger::LinkIntentStart> start) mutable {
        Continue(std::move(start), deadline, std::move(done));
      },
      caller);
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
  Drive(std::move(start->intent), deadline,
        [answer, done = std::move(done)](absl::StatusOr<std::string> bytes) mutable {
          answer(done, std::move(bytes));
        });
}

void LinkCoordinator::Drive(storage::v1::LinkIntent intent, absl::Time deadline,
                            ledger::Callback<std::string> done) {
  const std::string id = intent.half().intent_id();
  {
    absl::MutexLock lock(&mu_);
    driving_.insert(id);
  }
  v1::TargetRef contact;
  *contact.mutable_contact() = intent.half().contact();
  const int32_t partition =
      router_.node().PartitionOf(ledger::RouteKey(intent.half().tenant(), contact));
  grpc::ByteBuffer half = ToByteBuffer(intent.half());
  const std::string principal = intent.principal();
  auto finish = [this, id, done = std::move(done)](absl::StatusOr<std::string> result) mutable {
    {
      absl::MutexLock lock(&mu_);
      driving_.erase(id);
    }
    if (result.ok()) {
      completed_->Increment();
    } else if (Definitive(result.status())) {
      refused_->Increment();
    } else {
      left_pending_->Increment();
    }
    done(std::move(result));
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
    Drive(std::move(intent), now + kRecoveryDeadline, [this](absl::StatusOr<std::string> result) {
      if (result.ok() || Definitive(result.status())) {
        recovered_->Increment();
        spdlog::get("consentd")
            ->info("msg=\"cluster: finished a pending link intent\" outcome={}",
                   result.ok() ? "completed" : "refused");
      } else {
        spdlog::get("consentd")
            ->warn("msg=\"cluster: a pending link intent is still pending\" error=\"{}\"",
                   result.status().ToString());
      }
    });
  }
}

}  // namespace assent::consentd
