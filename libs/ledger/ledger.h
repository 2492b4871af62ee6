// The ledger: Assent's operations on top of the store. It validates every request completely
// before anything is written, runs writes as committer mutations (atomic, group-committed,
// idempotent by key), keeps each target's history hash chain, writes the outbox records of each
// change in the same batch, and answers reads and checks from the store with the decision rule.
//
// Errors follow the API: INVALID_ARGUMENT naming the field, NOT_FOUND for unknown tenants,
// purposes and subjects, ALREADY_EXISTS, FAILED_PRECONDITION (idempotency key reused with a
// different request, conflicting link), RESOURCE_EXHAUSTED (write queue full), UNAVAILABLE
// (storage), DEADLINE_EXCEEDED.
//
// Thread safety: every method may be called concurrently. Write callbacks run on the committer
// thread and must not block.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/admin.pb.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "assent/v1/export.pb.h"
#include "assent/v1/import.pb.h"
#include "assent/v1/report.pb.h"
#include "assent/v1/rights.pb.h"
#include "common/clock.h"
#include "core/deadlines.h"
#include "core/decision.h"
#include "ledger/catalog_cache.h"
#include "ledger/evidence.h"
#include "links/keyring.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::ledger {

class SubjectExport;

struct LedgerOptions {
  // Master secret from which each tenant's contact-hash key is derived. Required, >= 16 bytes.
  std::string contact_key_secret;
  // How long idempotency keys are remembered. Default 24 hours.
  absl::Duration idempotency_ttl = absl::Hours(24);
  // Largest BatchCheck. Default 10000.
  int max_batch_check = 10000;
  // Most decisions in one RecordDecisions. Default 100.
  int max_decisions_per_request = 100;
  // Signs customer links (CreateLink). Default null: CreateLink is FAILED_PRECONDITION.
  std::shared_ptr<const links::KeyRing> link_keyring;
  // The preference center's base URL ("https://prefs.example.com"), from which CreateLink builds
  // each link's url. Default empty: CreateLink returns the token alone.
  std::string link_base_url;
  // The statutory-deadline rules (core/deadlines.h) that set honour_by on every DENIED and
  // WITHDRAWN decision and every suppression added, from its effective time (an import's
  // original time). The jurisdiction is the request's, else the subject's stated one, else the
  // last one recorded for it (for a contact point: its linked subject's); the purpose kind is
  // the decision's purpose's; a decision without a channel takes the earliest deadline over its
  // purpose's channels. Default core::DefaultDeadlineRules(); empty: no honour_by.
  std::vector<core::DeadlineRule> deadline_rules = core::DefaultDeadlineRules();
  // Seals the address and link of each ConfirmationRequested for the email sender
  // (links/sealed.h; confirmation.keyring_file). Default null: a GRANTED that needs confirmation
  // for a contact point given by its address is FAILED_PRECONDITION (the customer could never
  // be asked); subjects need no sealing.
  std::shared_ptr<const links::KeyRing> confirmation_keyring;
  // Master keys that wrap each target's evidence data key (ledger/evidence.h;
  // evidence.keyring_file). Default null: identifying evidence is stored in plain text and
  // EraseSubject cannot shred it (consentd allows this only with --insecure, for development).
  std::shared_ptr<const links::KeyRing> evidence_keyring;
};

// Double opt-in limits.
inline constexpr absl::Duration kDefaultPendingTtl = absl::Hours(24 * 7);
inline constexpr absl::Duration kResendInterval = absl::Minutes(5);
inline constexpr int kMaxResends = 5;
// "Download my data" links (RequestExportLink): valid 30 minutes; asked for at most once per
// 5 minutes and 5 times per 24 hours per subject.
inline constexpr absl::Duration kExportLinkTtl = absl::Minutes(30);
inline constexpr absl::Duration kExportLinkInterval = absl::Minutes(5);
inline constexpr absl::Duration kExportLinkWindow = absl::Hours(24);
inline constexpr int kMaxExportLinksPerWindow = 5;

// A RecordDecisions request checked in full: its stored target and its records as they will be
// stored (ids, sequence and recorded time are filled in by the mutation).
struct PreparedDecisions {
  v1::TargetRef target;
  std::vector<v1::ConsentRecord> records;
  // The GRANTED decisions stored PENDING because their purpose requires confirmation (indexes
  // into `records`).
  std::vector<size_t> to_confirm;
};

// Who makes a write, as the transport authenticated it. With a principal, the history's actor is
// the principal and the request's own `actor` is kept as `on_behalf_of`; without one (a service
// running without authentication), the request's `actor` is the history's actor.
struct Caller {
  std::string principal;
};

// Whether this instance does the background work of a stored key (cluster mode: the key's
// partition is owned here; each instance works on the partitions it owns). Given the key in the
// column family the walk reads (Cf::kDue for SweepDue, Cf::kKeys for RewrapDataKeys).
using KeyFilter = std::function<bool(std::string_view key)>;

// Cluster mode: the changelog's partitions, for the tenant-wide walks that each partition's owner
// runs over the targets of its own partitions (re-permission campaigns), with one cursor per
// partition stored under a route key of that partition, so that a round's writes and its cursor
// go to that partition's changelog together and move with it to a new owner.
struct Partitions {
  int32_t count = 0;
  // The partition of a route key (route.h).
  std::function<int32_t(std::string_view route_key)> of;
  // Whether `partition` is owned here now.
  std::function<bool(int32_t partition)> owned;
  // A route key of `partition` (cluster::PartitionRouteKey).
  std::function<std::string(int32_t partition)> route_key;
};

// What one sweep did (Ledger::SweepDue).
struct SweepStats {
  int reminders = 0;        // ConsentExpiring notices published
  int expired = 0;          // grants that became LAPSED
  int pending_expired = 0;  // PENDING decisions that became LAPSED
  int dropped = 0;          // entries whose record had changed since (nothing to do)
  // More entries were due than the sweep took.
  bool more = false;
  // The due time of the oldest entry taken (InfiniteFuture: none was due).
  absl::Time oldest_due = absl::InfiniteFuture();
};

// How far the due backfill of a store written before the due index has come.
struct BackfillProgress {
  bool done = false;
  uint64_t scanned = 0;  // targets indexed so far, over all calls
  int indexed = 0;       // records indexed by this call
};

// One round of a re-permission campaign (Ledger::RunRepermission).
struct RepermissionProgress {
  bool idle = false;  // no campaign is walking
  int targets = 0;    // targets looked at
  int notices = 0;    // RepermissionRequired notices published
};

// One round of a tenant's offboarding (Ledger::RunOffboarding).
struct OffboardProgress {
  bool idle = false;  // no offboarding is running
  std::string tenant;
  v1::OffboardingStatus status;  // after the round
  // Subjects this round erased (for the erasure log).
  std::vector<std::string> erased_subjects;
};

// Cluster mode: the next round of a tenant's offboarding in one partition owned here
// (Ledger::NextOffboardStep): the subjects to erase (each through the erasure of cluster mode,
// consentd/link_coordinator.h), or in the last phase the data keys to destroy; then
// Ledger::FinishOffboardStep stores the round's outcome with the partition's cursor.
struct OffboardStep {
  std::string tenant;
  std::string actor;   // who asked for the offboarding
  std::string reason;  // the offboarding's
  int32_t partition = -1;
  std::string cursor_key;              // the partition's walk (Cf::kRights, routed to it)
  bool keys_phase = false;             // destroying the remaining data keys
  std::vector<std::string> subjects;   // subject ids to erase (subjects phase)
  std::vector<std::string> data_keys;  // Cf::kKeys keys to delete (keys phase)
  std::string start_cursor;            // the partition's cursor the step starts after
  std::string next_cursor;             // the last key looked at (empty: none)
  bool last = false;                   // the phase's keys end with this round
};

// The first step of a link change over two owners' partitions (Ledger::BeginLinkIntent).
struct LinkIntentStart {
  // A request finished before (same idempotency key and request): its serialized response,
  // marked replayed. Otherwise the intent to drive (a new one, or the same request's pending one).
  std::optional<std::string> replayed;
  storage::v1::LinkIntent intent;
};

// One round of re-wrapping data keys after a master-key rotation (Ledger::RewrapDataKeys).
struct RewrapProgress {
  std::string cursor;  // where the next round starts; empty: the walk is complete
  int rewrapped = 0;
};

template <typename T>
using Callback = absl::AnyInvocable<void(absl::StatusOr<T>)>;

// Told what the ledger did, for metrics. Calls come from any thread and must not block.
class LedgerObserver {
 public:
  virtual ~LedgerObserver() = default;
  // A decision became durable (called once per stored decision, after the commit).
  virtual void OnDecisionRecorded(v1::PurposeKind kind, v1::ConsentState state) = 0;
  // A check was answered (Check, or each target of a BatchCheck).
  virtual void OnChecked(v1::Verdict verdict, v1::Reason reason) = 0;
};

class Ledger {
 public:
  // Loads the catalog. `store` and `committer` must outlive the ledger.
  static absl::StatusOr<std::unique_ptr<Ledger>> Create(store::Store& store,
                                                        store::Committer& committer,
                                                        const Clock& clock, LedgerOptions options);

  // Cluster mode: the route key (ledger/route.h) of a request's target, hashing a contact point
  // given by address; INVALID_ARGUMENT naming `field` as the write itself would.
  absl::StatusOr<std::string> RouteKeyOf(std::string_view field, std::string_view tenant,
                                         const v1::Target& target) const;
  absl::StatusOr<std::string> RouteKeyOf(std::string_view field, std::string_view tenant,
                                         const v1::ContactPoint& contact_point) const;
  // ... and of the target of a confirmation link (ConfirmDecision's token), once verified.
  absl::StatusOr<std::string> RouteKeyOfConfirmation(std::string_view tenant,
                                                     std::string_view token) const;
  // Reloads the catalog cache from the store (cluster mode: after the replica applied another
  // instance's catalog writes).
  absl::Status ReloadCatalog();
  // Cluster mode: evidence data keys (Cf::kKeys key names) another instance wrote or deleted,
  // applied here by the replica: their cached unwrapped copies are dropped, so that the next read
  // loads what is stored (a key an erasure destroyed must not keep opening evidence here).
  void ForgetDataKeys(const std::vector<std::string>& key_names) const;

  // Catalog. Writes complete through `done` (on the committer thread, or at once on a
  // validation error); `deadline` bounds the time spent queued.
  void CreateTenant(const v1::CreateTenantRequest& request, absl::Time deadline,
                    Callback<v1::Tenant> done);
  absl::StatusOr<v1::Tenant> GetTenant(const v1::GetTenantRequest& request) const;
  absl::StatusOr<v1::ListTenantsResponse> ListTenants(const v1::ListTenantsRequest& request) const;
  void CreatePurpose(const v1::CreatePurposeRequest& request, absl::Time deadline,
                     Callback<v1::Purpose> done);
  void UpdatePurpose(const v1::UpdatePurposeRequest& request, absl::Time deadline,
                     Callback<v1::Purpose> done);
  absl::StatusOr<v1::Purpose> GetPurpose(const v1::GetPurposeRequest& request) const;
  absl::StatusOr<v1::ListPurposesResponse> ListPurposes(
      const v1::ListPurposesRequest& request) const;
  void SetDefaultPolicy(const v1::SetDefaultPolicyRequest& request, absl::Time deadline,
                        Callback<v1::DefaultPolicy> done);
  absl::StatusOr<v1::DefaultPolicy> GetDefaultPolicy(
      const v1::GetDefaultPolicyRequest& request) const;

  // Consent and preferences.
  void RecordDecisions(const v1::RecordDecisionsRequest& request, absl::Time deadline,
                       Callback<v1::RecordDecisionsResponse> done, const Caller& caller = Caller());
  void LinkContactPoint(const v1::LinkContactPointRequest& request, absl::Time deadline,
                        Callback<v1::LinkContactPointResponse> done,
                        const Caller& caller = Caller());

  // Bulk import (import_ops.cc): records one row of `tenant` as RecordDecisions would (same
  // validation, sealed evidence, history record, outbox event; imported decisions need no
  // confirmation), with the row key's digest in the same batch, so a row key imported before is
  // answered ALREADY_IMPORTED without writing. A bad row is answered REJECTED (code, field,
  // message); `done` gets an error only when the row could not be tried (UNAVAILABLE,
  // RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, INTERNAL). With `dry_run`, validates and answers VALID
  // or REJECTED, writing nothing.
  void ImportRow(std::string_view tenant, const v1::ImportRow& row, bool dry_run,
                 absl::Time deadline, Callback<v1::ImportRowResult> done,
                 const Caller& caller = Caller());
  void UnlinkContactPoint(const v1::UnlinkContactPointRequest& request, absl::Time deadline,
                          Callback<v1::UnlinkContactPointResponse> done,
                          const Caller& caller = Caller());
  // Cluster mode: a link or unlink whose subject and contact point are in partitions of
  // different owners runs in three committer mutations, each within one partition
  // (docs/SCALING.md, "Operations over two targets"; consentd's LinkCoordinator drives them):
  // 1. on the subject's owner, BeginLinkIntent / BeginUnlinkIntent: the idempotency check, the
  //    subject's side of the checks, and the intent (one per subject: another link change of the
  //    subject while one is pending is UNAVAILABLE; the same request from the same caller, with or
  //    without an idempotency key, resumes it);
  // 2. on the contact point's owner, ApplyContactLink: the contact point's record and history
  //    record (idempotent: a half already applied answers the contact point's sequence);
  // 3. on the subject's owner, CompleteLinkIntent with the half's answer: the subject's record and
  //    history record, the idempotency record and the intent's deletion; a refused half (the
  //    contact point linked to another subject) deletes the intent and returns the refusal.
  //    Answers the request's serialized response.
  void BeginLinkIntent(const v1::LinkContactPointRequest& request, absl::Time deadline,
                       Callback<LinkIntentStart> done, const Caller& caller = Caller());
  void BeginUnlinkIntent(const v1::UnlinkContactPointRequest& request, absl::Time deadline,
                         Callback<LinkIntentStart> done, const Caller& caller = Caller());
  void ApplyContactLink(const v1::ApplyContactLinkRequest& request, absl::Time deadline,
                        Callback<v1::ApplyContactLinkResponse> done);
  void CompleteLinkIntent(const storage::v1::LinkIntent& intent,
                          absl::StatusOr<uint64_t> contact_sequence, absl::Time deadline,
                          Callback<std::string> done);
  // An erasure whose subject has linked contact points runs the same way: BeginErasureIntent
  // (the checks of EraseSubject; an erased subject answers `replayed` with already_erased; the
  // intent lists the linked contact points), an erase half (ApplyContactLink with erase) on the
  // owner of each contact point in another partition, then CompleteErasureIntent with those
  // contact points, which erases the subject and the others as EraseSubject does (a legal hold
  // set after the erasure started does not stop it: the halves are done). Answers the serialized
  // EraseSubjectResponse.
  void BeginErasureIntent(const v1::EraseSubjectRequest& request, absl::Time deadline,
                          Callback<LinkIntentStart> done, const Caller& caller = Caller());
  void CompleteErasureIntent(const storage::v1::LinkIntent& intent,
                             std::vector<v1::ContactRef> done_elsewhere, absl::Time deadline,
                             Callback<std::string> done);
  // The pending link intents whose key (Cf::kRights) `handled_here` accepts (every one: null).
  absl::StatusOr<std::vector<storage::v1::LinkIntent>> PendingLinkIntents(
      const KeyFilter& handled_here = nullptr) const;
  void SetPreferences(const v1::SetPreferencesRequest& request, absl::Time deadline,
                      Callback<v1::SetPreferencesResponse> done, const Caller& caller = Caller());
  void SuppressContactPoint(const v1::SuppressContactPointRequest& request, absl::Time deadline,
                            Callback<v1::SuppressContactPointResponse> done,
                            const Caller& caller = Caller());

  // Double opt-in (lifecycle_ops.cc): confirms the PENDING decisions a CONFIRMATION token names,
  // and publishes a ConfirmationRequested again (rate-limited).
  void ConfirmDecision(const v1::ConfirmDecisionRequest& request, absl::Time deadline,
                       Callback<v1::ConfirmDecisionResponse> done, const Caller& caller = Caller());
  void ResendConfirmation(const v1::ResendConfirmationRequest& request, absl::Time deadline,
                          Callback<v1::ResendConfirmationResponse> done,
                          const Caller& caller = Caller());
  // "Download my data" (export_link_ops.cc): mints an EXPORT link and publishes it sealed in an
  // ExportLinkRequested notice when the typed address is linked to the target's subject (or is
  // the target); otherwise publishes nothing and answers the same. Rate-limited per subject.
  void RequestExportLink(const v1::RequestExportLinkRequest& request, absl::Time deadline,
                         Callback<v1::RequestExportLinkResponse> done,
                         const Caller& caller = Caller());

  // Subject rights (erase_ops.cc; see rights.proto). EraseSubject: NOT_FOUND for a subject never
  // recorded, FAILED_PRECONDITION under a legal hold, already_erased when it was erased before
  // and not recorded since.
  void EraseSubject(const v1::EraseSubjectRequest& request, absl::Time deadline,
                    Callback<v1::EraseSubjectResponse> done, const Caller& caller = Caller());
  absl::StatusOr<v1::ErasureStub> GetErasure(const v1::GetErasureRequest& request) const;
  void SetLegalHold(const v1::SetLegalHoldRequest& request, absl::Time deadline,
                    Callback<v1::SetLegalHoldResponse> done, const Caller& caller = Caller());
  // Erases again what the erasure log says was erased (a store restored from a backup older
  // than the erasure): as EraseSubject, but a legal hold in the restored data does not stop it
  // (the erasure happened after the hold was lifted) and a subject the store does not hold is
  // no error. Waits until durable; true when something was erased. Not on the committer thread.
  absl::StatusOr<bool> ReapplyErasure(std::string_view tenant, std::string_view subject_id,
                                      std::string_view actor);

  // Starts offboarding a tenant (offboard_ops.cc); answers the progress when started before.
  void OffboardTenant(const v1::OffboardTenantRequest& request, absl::Time deadline,
                      Callback<v1::OffboardingStatus> done, const Caller& caller = Caller());
  absl::StatusOr<v1::OffboardingStatus> GetOffboarding(
      const v1::GetOffboardingRequest& request) const;
  // Erases up to `max_subjects` subjects of the oldest running offboarding (subjects under a
  // legal hold are counted and left), then destroys the tenant's remaining data keys (but those
  // of a subject still there, held, and of its addresses), the cursor and counters in the same
  // batch. Call from one
  // thread at a time (not the committer's).
  absl::StatusOr<OffboardProgress> RunOffboarding(int max_subjects);
  // Cluster mode (SetPartitions): each partition's owner walks the offboarding of its own
  // partitions, with a cursor and counters per partition (shared, so that GetOffboarding sums them
  // on any instance; DONE once every partition's walk is). The next round of the first running
  // offboarding (in tenant order) in a partition owned here (looking at up to
  // max(kMaxPassedOverPerTarget, partitions) * max_subjects keys), nullopt when there is none.
  absl::StatusOr<std::optional<OffboardStep>> NextOffboardStep(int max_subjects) const;
  // Stores a round's outcome: the counters (subjects erased now, and held by a legal hold), the
  // cursor, the next phase or DONE, and in the keys phase the deletion of the step's data keys
  // (but those of a subject still there, held, and of its addresses), in one batch routed to the
  // step's partition (refused, nothing written, once it is no longer owned here). Not on the
  // committer thread.
  // `beyond`: subjects after the step's (a round cut short stores the subjects before its first
  // failure) that it erased, counted as scanned: a repeat does not see them again.
  absl::Status FinishOffboardStep(const OffboardStep& step, uint64_t erased, uint64_t held,
                                  uint64_t beyond = 0);

  // Master-key rotation: re-wraps, with the evidence keyring's newest key, the data keys after
  // `cursor` (up to `max_keys` looked at) that an older key wraps. Call from one thread at a
  // time (not the committer's); a no-op without an evidence keyring. With `handled_here`, keys it
  // refuses are left (their partition's owner re-wraps them).
  absl::StatusOr<RewrapProgress> RewrapDataKeys(const std::string& cursor, int max_keys,
                                                const KeyFilter& handled_here = nullptr);

  // Reads.
  absl::StatusOr<v1::SubjectState> GetSubjectState(const v1::GetSubjectStateRequest& request) const;
  absl::StatusOr<v1::ContactPointState> GetContactPointState(
      const v1::GetContactPointStateRequest& request) const;
  absl::StatusOr<v1::ListHistoryResponse> ListHistory(const v1::ListHistoryRequest& request) const;
  // A consent report from the aggregates kept on the write path (ledger/report.h); NOT_FOUND for
  // an unknown tenant.
  absl::StatusOr<v1::GetConsentReportResponse> GetConsentReport(
      const v1::GetConsentReportRequest& request) const;
  // A read's target in its stored form (a contact point hashed), after checking the tenant
  // exists: NOT_FOUND for an unknown tenant, INVALID_ARGUMENT "<field>..." for a bad target.
  absl::StatusOr<v1::TargetRef> ResolveKnownTarget(std::string_view field, std::string_view tenant,
                                                   const v1::Target& target) const;
  absl::StatusOr<v1::VerifyHistoryResponse> VerifyHistory(
      const v1::VerifyHistoryRequest& request) const;
  absl::StatusOr<v1::CheckResponse> Check(const v1::CheckRequest& request) const;
  absl::StatusOr<v1::BatchCheckResponse> BatchCheck(const v1::BatchCheckRequest& request) const;

  // Subject export (export_ops.cc): reads the subject's state and its linked contact points'
  // states from a snapshot taken now; the returned export then walks the history in pages
  // (ledger/export.h). NOT_FOUND for an unknown tenant or a subject never recorded;
  // INVALID_ARGUMENT naming the field (tenant, subject_id, page_size).
  absl::StatusOr<std::unique_ptr<SubjectExport>> ExportSubject(
      const v1::ExportSubjectRequest& request) const;

  // Customer links: validates the request against the catalog (tenant, purpose, channel), hashes a
  // contact point, and signs the link with the tenant's key. Writes nothing.
  absl::StatusOr<v1::CreateLinkResponse> CreateLink(const v1::CreateLinkRequest& request) const;

  // Time-driven work (sweep_ops.cc). SweepDue does what the due index holds at or before `now`
  // for at most `max_entries` entries: publishes ConsentExpiring reminders and turns grants and
  // PENDING decisions past their expire_time LAPSED (DECISIONS_EXPIRED / PENDING_EXPIRED changes
  // by actor "assent"), one committer mutation per target, and waits for them to be durable.
  // Each entry is deleted in the batch that does its work, so a crash repeats work with the same
  // event ids, never new ones. Call from one thread at a time (not the committer's). With
  // `handled_here`, entries it refuses are passed over (another instance sweeps them), at most
  // kMaxPassedOverPerEntry * max_entries of them per round.
  static constexpr int kMaxPassedOverPerEntry = 8;
  absl::StatusOr<SweepStats> SweepDue(absl::Time now, int max_entries,
                                      const KeyFilter& handled_here = nullptr);
  // Indexes the due work of up to `max_targets` targets stored before the due index existed
  // (a store migrated from format 1), resuming from its cursor; done once every target is.
  absl::StatusOr<BackfillProgress> BackfillDue(int max_targets);

  // Walks the oldest unfinished re-permission campaign (started by an UpdatePurpose that raised
  // min_notice_version) over up to `max_targets` targets: a RepermissionRequired notice on the
  // lifecycle topic and a list entry per grant below the new minimum, with the campaign's cursor
  // in the same batch. Call from one thread at a time (not the committer's).
  //
  // Cluster mode (SetPartitions): each instance walks, for the oldest campaign with work left in
  // a partition it owns, that partition's targets only, with that partition's cursor (looking at
  // up to max(kMaxPassedOverPerTarget, partitions) * max_targets of the tenant's keys a round, so
  // that a round takes about max_targets); the campaign is complete once every partition's walk
  // is done.
  static constexpr int kMaxPassedOverPerTarget = 8;
  absl::StatusOr<RepermissionProgress> RunRepermission(int max_targets);
  absl::StatusOr<v1::ListRepermissionRequiredResponse> ListRepermissionRequired(
      const v1::ListRepermissionRequiredRequest& request) const;

  // Opens, in place, the sealed evidence of the records of a state or a history record read for
  // a caller allowed to see it (reads, exports); evidence whose data key was destroyed is marked
  // shredded. A no-op without an evidence keyring. UNAVAILABLE on store errors.
  absl::Status Reveal(std::string_view tenant, const v1::TargetRef& target,
                      google::protobuf::RepeatedPtrField<v1::ConsentRecord>& records) const;
  absl::Status Reveal(v1::HistoryRecord& record) const;

  // Sets the observer (not owned; may be null). Call before serving.
  void SetObserver(LedgerObserver* observer) { observer_ = observer; }
  // Cluster mode: the partitions, for the walks run per owned partition. Call before serving.
  void SetPartitions(Partitions partitions) {
    partitions_ = std::make_unique<Partitions>(std::move(partitions));
  }

  // The HMAC key contact points of `tenant` are hashed with (for senders and tests).
  std::string TenantContactKey(std::string_view tenant) const;
  const LedgerOptions& options() const { return options_; }

 private:
  Ledger(store::Store& store, store::Committer& committer, const Clock& clock,
         LedgerOptions options)
      : store_(store), committer_(committer), clock_(clock), options_(std::move(options)) {
    if (options_.evidence_keyring != nullptr) {
      vault_ = std::make_unique<EvidenceVault>(options_.evidence_keyring);
    }
  }

  // The offboarding status of `job`: in cluster mode summed over the partitions' walks.
  absl::StatusOr<v1::OffboardingStatus> OffboardingStatusOf(
      const storage::v1::OffboardingJob& job) const;

  // RunRepermission's walk of one owned partition (cluster mode).
  absl::StatusOr<RepermissionProgress> RunRepermissionPerPartition(int max_targets);

  // Checks that the tenant exists in the catalog snapshot; NOT_FOUND naming `field` otherwise.
  absl::Status RequireTenant(const Catalog& catalog, std::string_view field,
                             std::string_view tenant) const;
  // Validates what Check and BatchCheck share and fills in everything of the rule's input but
  // the target's states.
  absl::StatusOr<core::CheckInput> PrepareCheck(const Catalog& catalog, std::string_view tenant,
                                                std::string_view purpose_id, int channel,
                                                std::string_view topic,
                                                const google::protobuf::Timestamp* time) const;
  // Checks a RecordDecisions request against the catalog snapshot; the first error, naming its
  // field, otherwise what the mutation will store.
  absl::StatusOr<PreparedDecisions> PrepareDecisions(const Catalog& catalog,
                                                     const v1::RecordDecisionsRequest& request,
                                                     absl::Time now) const;
  // RecordDecisions that also looks up and stores `import_key` (Cf::kImport; empty: none): a
  // key found answers `replayed` with the sequence stored, writing nothing.
  void RecordDecisionsKeyed(const v1::RecordDecisionsRequest& request, absl::Time deadline,
                            Callback<v1::RecordDecisionsResponse> done, const Caller& caller,
                            std::string import_key);
  // What Link and Unlink check before anything is written; the hashed contact point.
  absl::StatusOr<v1::ContactRef> ValidateLink(std::string_view tenant, std::string_view subject_id,
                                              const v1::ContactPoint& contact_point,
                                              std::string_view actor, std::string_view source,
                                              std::string_view idempotency_key) const;
  // BeginLinkIntent and BeginUnlinkIntent: `half` is filled in but for its intent id.
  void BeginLinkChange(v1::ApplyContactLinkRequest half, std::string digest, std::string principal,
                       absl::Time deadline, Callback<LinkIntentStart> done);
  // Resolves a target to its stored form (hashing a contact point).
  absl::StatusOr<v1::TargetRef> ResolveTarget(std::string_view field, std::string_view tenant,
                                              const v1::Target& target) const;

  // What a ConfirmationRequested needs besides the store: the keyrings to mint the link and seal
  // it with the plain contact point (when the target was given by address).
  struct ConfirmationNotice {
    std::string tenant;
    v1::TargetRef target;
    uint64_t sequence = 0;
    std::vector<v1::ConsentRecord> records;
    absl::Time expire_time;
    // The normalised plain contact point, or nullopt for a subject / a contact given by hash.
    std::optional<v1::ContactPoint> contact_point;
    // "" for the first notice, "/<n>" for the n-th resend.
    std::string event_suffix;
  };
  // Stages the notice's outbox record in `txn`; returns its event id.
  absl::StatusOr<std::string> StageConfirmationNotice(store::Txn& txn,
                                                      const ConfirmationNotice& notice) const;
  // The latest expiry of the live PENDING decisions the target recorded at `sequence`;
  // FAILED_PRECONDITION when there are none.
  absl::StatusOr<absl::Time> PendingWindowEnd(std::string_view tenant, const v1::TargetRef& target,
                                              uint64_t sequence) const;
  // FAILED_PRECONDITION unless the keyrings that a notice for `contact_point` needs are set.
  absl::Status RequireConfirmationKeys(bool contact_point) const;
  // What EraseSubject checks before anything is written.
  absl::Status ValidateErasure(const Catalog& catalog,
                               const v1::EraseSubjectRequest& request) const;
  // What one erasure does (erase_ops.cc).
  struct ErasureOrder {
    std::string tenant;
    std::string subject_id;
    std::string actor;
    std::string on_behalf_of;
    std::string reason;
    bool despite_hold = false;
    // Linked contact points whose part (EraseContactInTxn) a peer did already (cluster mode).
    std::vector<v1::ContactRef> done_elsewhere;
  };
  absl::StatusOr<v1::EraseSubjectResponse> EraseInTxn(store::Txn& txn,
                                                      const ErasureOrder& order) const;
  // A linked contact point's part of an erasure: suppressed for every channel (reason ERASED)
  // and unlinked in one change on its chain, its data key destroyed. Returns its new sequence.
  absl::StatusOr<uint64_t> EraseContactInTxn(store::Txn& txn, const ErasureOrder& order,
                                             const v1::ContactRef& contact) const;
  // Removes the identifying evidence of the target's history records written before evidence
  // was sealed (a store migrated from format 2), marking them redacted.
  absl::Status RedactLegacyEvidence(store::Txn& txn, std::string_view tenant,
                                    std::string_view entity) const;
  // Seals the identifying fields of a write's evidence for `target` (nullopt: nothing to seal,
  // or no evidence keyring).
  absl::StatusOr<std::optional<EvidenceVault::Sealing>> SealEvidence(
      std::string_view tenant, const v1::TargetRef& target, const v1::Evidence& evidence) const;

  // The plain contact point of a target given by address, normalised; nullopt otherwise.
  absl::StatusOr<std::optional<v1::ContactPoint>> PlainContactPoint(std::string_view field,
                                                                    const v1::Target& target) const;

  store::Store& store_;
  store::Committer& committer_;
  const Clock& clock_;
  const LedgerOptions options_;
  CatalogCache catalog_;
  // Seals and opens identifying evidence; null without an evidence keyring.
  std::unique_ptr<EvidenceVault> vault_;
  LedgerObserver* observer_ = nullptr;
  std::unique_ptr<Partitions> partitions_;  // cluster mode
  // Where the next SweepDue round starts (empty: at the first due entry).
  absl::Mutex sweep_mu_;
  std::string sweep_cursor_ ABSL_GUARDED_BY(sweep_mu_);
};

}  // namespace assent::ledger
