// Cluster mode: LinkContactPoint and UnlinkContactPoint whose subject and contact point are in
// different partitions, and EraseSubject (its linked contact points may be in any partition). No
// single Kafka transaction can be fenced by two owners' generations, and two live owners must
// never both extend a contact point's chain, so the change runs as an intent on the subject's
// owner (this instance: the call was forwarded here), each contact point's half on its owner
// (AdminService/ApplyContactLink through the router, retried while ownership moves), and the
// subject's half that deletes the intent (ledger.h; docs/SCALING.md, "Operations over two
// targets").
//
// An intent left pending (this instance died between the steps, or the contact point's owner
// could not be reached before the call's deadline) is finished by the subject partition's owner:
// once a second every instance drives the pending intents of the partitions it owns that no call
// here is driving. The contact point's half is idempotent, so asking again is safe.
//
// Thread safety: every method from any thread. Callbacks run on the committer thread or a gRPC
// thread and must not block.
#pragma once

#include <condition_variable>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "consentd/cluster_router.h"
#include "ledger/ledger.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace assent::consentd {

class LinkCoordinator {
 public:
  // `ledger` and `router` must outlive the coordinator, and so must the coordinator every call
  // it was given: destroy it after the router and the committer have stopped.
  // `owned_here`: whether a link intent's key (Cf::kRights) is in a partition owned here.
  LinkCoordinator(ledger::Ledger& ledger, ClusterRouter& router, prometheus::Registry& registry,
                  ledger::KeyFilter owned_here);
  ~LinkCoordinator();
  LinkCoordinator(const LinkCoordinator&) = delete;
  LinkCoordinator& operator=(const LinkCoordinator&) = delete;

  // Starts the recovery of pending intents (once a second). Once.
  void Start();
  // Stops the recovery and waits (a bounded time) for the drives under way to end: call it
  // while the committer and the router still run. Idempotent.
  void Stop();

  // True when the contact point and the subject are in different partitions: the change must go
  // through Link or Unlink below (false for a request that does not validate: the ledger's own
  // path reports its error).
  template <typename Request>
  bool Spans(const Request& request) const {
    return SpansPartitions(request.tenant(), request.subject_id(), request.contact_point());
  }

  void Link(const v1::LinkContactPointRequest& request, absl::Time deadline,
            const ledger::Caller& caller, ledger::Callback<v1::LinkContactPointResponse> done);
  void Unlink(const v1::UnlinkContactPointRequest& request, absl::Time deadline,
              const ledger::Caller& caller, ledger::Callback<v1::UnlinkContactPointResponse> done);
  // An erasure: the subject's linked contact points in other partitions get their part from
  // their owners first (every erasure goes this way in cluster mode; one without such contact
  // points is the intent and one mutation).
  void Erase(const v1::EraseSubjectRequest& request, absl::Time deadline,
             const ledger::Caller& caller, ledger::Callback<v1::EraseSubjectResponse> done);
  // Called with each erasure a recovery round finished (no call is waiting for it), so that it
  // reaches the erasure log like any other. Set before Start.
  void OnRecoveredErasure(std::function<void(const v1::EraseSubjectResponse&)> hook) {
    on_recovered_erasure_ = std::move(hook);
  }

 private:
  bool SpansPartitions(const std::string& tenant, const std::string& subject_id,
                       const v1::ContactPoint& contact_point) const;
  // Link, Unlink and Erase: the intent's mutation (`begin`), then Continue.
  template <typename Request, typename Response>
  void Begin(void (ledger::Ledger::*begin)(const Request&, absl::Time,
                                           ledger::Callback<ledger::LinkIntentStart>,
                                           const ledger::Caller&),
             const Request& request, absl::Time deadline, const ledger::Caller& caller,
             ledger::Callback<Response> done);
  // What Link, Unlink and Erase do after the intent's mutation: its replayed answer, or drive it.
  template <typename Response>
  void Continue(absl::StatusOr<ledger::LinkIntentStart> start, absl::Time deadline,
                ledger::Callback<Response> done);
  // Steps 2 and 3 of one intent; `done` gets the request's serialized response.
  void Drive(storage::v1::LinkIntent intent, absl::Time deadline,
             ledger::Callback<std::string> done);
  // The same for an erasure's intent: a half per contact point in another partition, at once.
  void DriveErasure(storage::v1::LinkIntent intent, absl::Time deadline,
                    ledger::Callback<std::string> done);
  int32_t PartitionOfContact(const std::string& tenant, const v1::ContactRef& contact) const;
  // A drive of `id` has ended.
  void Driven(const std::string& id);
  void RecoveryLoop();
  void RecoverOnce();

  ledger::Ledger& ledger_;
  ClusterRouter& router_;
  const ledger::KeyFilter owned_here_;
  std::function<void(const v1::EraseSubjectResponse&)> on_recovered_erasure_;
  prometheus::Counter* completed_;
  prometheus::Counter* refused_;
  prometheus::Counter* left_pending_;
  prometheus::Counter* recovered_;
  prometheus::Gauge* pending_;
  prometheus::Gauge* oldest_;
  absl::Mutex mu_;
  // Intents a drive is under way for (by id; a call and a recovery may drive one at once).
  std::multiset<std::string> driving_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace assent::consentd
