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

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "common/clock.h"
#include "core/decision.h"
#include "ledger/catalog_cache.h"
#include "links/keyring.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::ledger {

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
};

// A RecordDecisions request checked in full: its stored target and its records as they will be
// stored (ids, sequence and recorded time are filled in by the mutation).
struct PreparedDecisions {
  v1::TargetRef target;
  std::vector<v1::ConsentRecord> records;
};

// Who makes a write, as the transport authenticated it. With a principal, the history's actor is
// the principal and the request's own `actor` is kept as `on_behalf_of`; without one (a service
// running without authentication), the request's `actor` is the history's actor.
struct Caller {
  std::string principal;
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
  void UnlinkContactPoint(const v1::UnlinkContactPointRequest& request, absl::Time deadline,
                          Callback<v1::UnlinkContactPointResponse> done,
                          const Caller& caller = Caller());
  void SetPreferences(const v1::SetPreferencesRequest& request, absl::Time deadline,
                      Callback<v1::SetPreferencesResponse> done, const Caller& caller = Caller());
  void SuppressContactPoint(const v1::SuppressContactPointRequest& request, absl::Time deadline,
                            Callback<v1::SuppressContactPointResponse> done,
                            const Caller& caller = Caller());

  // Reads.
  absl::StatusOr<v1::SubjectState> GetSubjectState(const v1::GetSubjectStateRequest& request) const;
  absl::StatusOr<v1::ContactPointState> GetContactPointState(
      const v1::GetContactPointStateRequest& request) const;
  absl::StatusOr<v1::ListHistoryResponse> ListHistory(const v1::ListHistoryRequest& request) const;
  // A read's target in its stored form (a contact point hashed), after checking the tenant
  // exists: NOT_FOUND for an unknown tenant, INVALID_ARGUMENT "<field>..." for a bad target.
  absl::StatusOr<v1::TargetRef> ResolveKnownTarget(std::string_view field, std::string_view tenant,
                                                   const v1::Target& target) const;
  absl::StatusOr<v1::VerifyHistoryResponse> VerifyHistory(
      const v1::VerifyHistoryRequest& request) const;
  absl::StatusOr<v1::CheckResponse> Check(const v1::CheckRequest& request) const;
  absl::StatusOr<v1::BatchCheckResponse> BatchCheck(const v1::BatchCheckRequest& request) const;

  // Customer links: validates the request against the catalog (tenant, purpose, channel), hashes a
  // contact point, and signs the link with the tenant's key. Writes nothing.
  absl::StatusOr<v1::CreateLinkResponse> CreateLink(const v1::CreateLinkRequest& request) const;

  // Sets the observer (not owned; may be null). Call before serving.
  void SetObserver(LedgerObserver* observer) { observer_ = observer; }

  // The HMAC key contact points of `tenant` are hashed with (for senders and tests).
  std::string TenantContactKey(std::string_view tenant) const;
  const LedgerOptions& options() const { return options_; }

 private:
  Ledger(store::Store& store, store::Committer& committer, const Clock& clock,
         LedgerOptions options)
      : store_(store), committer_(committer), clock_(clock), options_(std::move(options)) {}

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
  // What Link and Unlink check before anything is written; the hashed contact point.
  absl::StatusOr<v1::ContactRef> ValidateLink(std::string_view tenant, std::string_view subject_id,
                                              const v1::ContactPoint& contact_point,
                                              std::string_view actor, std::string_view source,
                                              std::string_view idempotency_key) const;
  // Resolves a target to its stored form (hashing a contact point).
  absl::StatusOr<v1::TargetRef> ResolveTarget(std::string_view field, std::string_view tenant,
                                              const v1::Target& target) const;

  store::Store& store_;
  store::Committer& committer_;
  const Clock& clock_;
  const LedgerOptions options_;
  CatalogCache catalog_;
  LedgerObserver* observer_ = nullptr;
};

}  // namespace assent::ledger
