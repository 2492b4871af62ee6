// Proof of enforcement, consentd's side (README "Proof of enforcement"): records every published
// withdrawal with its place on the changes topic, follows the senders' EnforcementProgress reports
// on "<prefix>enforcement.v1", records when each registered sender had applied each withdrawal
// (consentd/auditor.h says what counts), and exports the metrics the alert rules watch:
//   assent_withdrawal_enforced_seconds{sender}          recorded -> applied (histogram)
//   assent_withdrawals_unenforced{sender}               pending longer than alert_after
//   assent_withdrawal_oldest_unenforced_seconds{sender} age of the oldest pending
//   assent_withdrawals_near_honour_by{sender}           pending within honour_margin of honour_by
//   assent_enforcement_live_instances{sender}           instances that reported lately
//
// A withdrawal is a change whose decisions have an after-state DENIED or WITHDRAWN, or an added
// suppression (SUPPRESSION_ADDED). A preference change that adds a global opt-out channel is not
// one yet (the event does not carry the preferences before the change).
//
// Storage (Cf::kProof, store/keys.h): the proof entry (WithdrawalProof) and, while some sender has
// not applied it, an index entry by partition and offset. They are written directly to the store
// on the relay thread, synchronously, before the relay deletes the published outbox record: so an
// acknowledged withdrawal always has its entry, even across a crash. It is bookkeeping about a
// decision already committed, not the decision, so it does not go through the committer. Pending
// entries are loaded again at start.
//
// Cluster mode (ProofOptions::cluster): there is no relay; each instance proves the withdrawals
// of the partitions it owns. It follows those partitions of the changes topic (read_committed,
// so only committed changes) from a cursor per partition, and writes each withdrawal's entry,
// its pending index entry and the partition's cursor through the committer in one mutation routed
// to that partition (the changes topic and the changelog share partitions), so they reach the
// partition's standbys and move with it: a new owner loads the partition's pending entries and
// goes on from its cursor, and nothing a crash interrupts is lost or recorded twice. An
// application is recorded through the committer too, on the partition's owner. The gauges count
// the withdrawals of the partitions owned here: sum them over the instances.
//
// Thread safety: OnDelivered from the relay thread; the rest from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "assent/v1/consent.pb.h"
#include "assent/v1/enforcement.pb.h"
#include "assent/v1/events.pb.h"
#include "common/clock.h"
#include "consentd/auditor.h"
#include "events/kafka.h"
#include "events/relay.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "store/store.h"

namespace assent::consentd {

// The withdrawal a change is (without its place on the topic or the senders), or nullopt.
std::optional<v1::WithdrawalProof> WithdrawalOf(const v1::ConsentChanged& change);

struct ProofOptions {
  AuditorOptions auditor;
  // Kafka: brokers, topic prefix, connection settings (security.protocol, ssl.*, sasl.*).
  std::string brokers;
  std::string topic_prefix = "assent.";
  events::KafkaSettings connection;
  // How often pending withdrawals are re-evaluated and the gauges updated. Default 100 ms.
  absl::Duration evaluate_interval = absl::Milliseconds(100);

  // Cluster mode (see above); unset in single-node mode.
  struct Cluster {
    std::string changes_topic;
    int32_t partitions = 0;
    // Whether `partition` is owned here now.
    std::function<bool(int32_t partition)> owned;
    // A route key of `partition` (cluster::PartitionRouteKey): the cursor's key.
    std::function<std::string(int32_t partition)> route_key;
    // Runs a mutation through the committer; returns once it is durable (or refused).
    std::function<absl::Status(std::function<absl::Status(store::Txn&)>)> run;
  };
  std::optional<Cluster> cluster;
};

class EnforcementProof {
 public:
  // Loads the pending withdrawals, registers the metrics and starts following the reports.
  // `store`, `clock` and `registry` must outlive it.
  static absl::StatusOr<std::unique_ptr<EnforcementProof>> Start(ProofOptions options,
                                                                 store::Store& store,
                                                                 const Clock& clock,
                                                                 prometheus::Registry& registry);
  ~EnforcementProof();
  void Stop();

  // The relay's hook: records the withdrawals among the delivered changes.
  void OnDelivered(const std::vector<events::DeliveredChange>& changes);

  const std::vector<std::string>& senders() const { return options_.auditor.senders; }
  size_t pending() const;

 private:
  EnforcementProof(ProofOptions options, store::Store& store, const Clock& clock,
                   prometheus::Registry& registry);
  // Loads the pending withdrawals (cluster mode: of the partitions `owned` says).
  absl::Status Load(const std::vector<bool>* owned = nullptr);
  void Loop();
  // Cluster mode: follows the partitions owned now (when that changed), then records the
  // withdrawals among the changes read.
  void FollowOwnedPartitions();
  void ReadChanges();
  // Cluster mode: records the withdrawals of `changes` (consecutive records of `partition`) and
  // the partition's cursor after them, in one mutation.
  absl::Status RecordChanges(int32_t partition,
                             const std::vector<events::DeliveredChange>& changes);
  absl::Status SetupConsumer();
  void Persist(const std::vector<Application>& applied);
  // Cluster mode's Persist: one committer mutation per partition.
  void PersistThroughCommitter(const std::vector<Application>& applied);
  // The application's time in the histogram, once recorded.
  void Observe(const Application& a);
  void UpdateGauges(absl::Time now);

  const ProofOptions options_;
  store::Store& store_;
  const Clock& clock_;
  events::KafkaPtr consumer_;
  // Cluster mode: the changes topic's partitions owned here, and the consumer following them.
  events::KafkaPtr changes_consumer_;
  std::vector<bool> following_;
  bool refollow_ = false;  // follow again from the stored cursors (a batch was refused)
  std::vector<absl::Time> cursor_stored_;  // per partition: when its cursor was last stored
  std::atomic<bool> stopping_{false};
  bool assigned_ = false;
  std::thread thread_;

  mutable absl::Mutex mu_;
  Auditor auditor_ ABSL_GUARDED_BY(mu_);

  prometheus::Family<prometheus::Histogram>& enforced_;
  prometheus::Family<prometheus::Gauge>& unenforced_;
  prometheus::Family<prometheus::Gauge>& oldest_;
  prometheus::Family<prometheus::Gauge>& near_honour_by_;
  prometheus::Family<prometheus::Gauge>& live_;
  prometheus::Family<prometheus::Counter>& reports_;
};

// GetEnforcementProof over the stored entries of one resolved target: newest first.
// INVALID_ARGUMENT for a bad page token or size.
absl::StatusOr<v1::GetEnforcementProofResponse> ReadEnforcementProof(
    const store::Store& store, std::string_view tenant, const v1::TargetRef& target, int page_size,
    std::string_view page_token, const std::vector<std::string>& senders);

}  // namespace assent::consentd
