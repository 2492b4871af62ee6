// Erasure by crypto-shredding, legal holds, and the proof stubs erasure keeps.
//
// One erasure is one committer mutation, so it is all or nothing: every linked contact point is
// suppressed (reason ERASED) and unlinked, their data keys and the subject's are destroyed (the
// sealed evidence they protected, wherever its copies are, never opens again), the subject's
// chain is closed with a SUBJECT_ERASED record whose event carries no state, the compacted state
// topic gets a tombstone, the current state is deleted, and an ErasureStub keeps, per decision
// in force, what a legal claim needs and no personal data. The history itself stays: its
// identifying evidence is ciphertext under a key that no longer exists, so the chain still
// verifies. Records written before evidence was sealed (store format < 3) have their
// identifying fields removed here and are marked redacted (ledger/history.h).
//
// Cluster mode: linked contact points in other partitions are another owner's, so there an
// erasure runs as an intent, each such contact point's part on its owner, then the rest in one
// mutation (BeginErasureIntent, ledger.h); a crash in between delays it, never half-does it.
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "assent/v1/rights.pb.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "core/validate.h"
#include "ledger/change.h"
#include "ledger/evidence.h"
#include "ledger/ledger.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr std::string_view kErasureSource = "erasure";
constexpr size_t kMaxReasonLength = 256;

v1::DecisionStub StubOf(const v1::ConsentRecord& r) {
  v1::DecisionStub stub;
  stub.set_record_id(r.record_id());
  stub.set_sequence(r.sequence());
  stub.set_purpose_id(r.purpose_id());
  stub.set_purpose_version(r.purpose_version());
  stub.set_channel(r.channel());
  stub.set_topic(r.topic());
  stub.set_state(r.state());
  *stub.mutable_effective_time() = r.effective_time();
  *stub.mutable_recorded_time() = r.recorded_time();
  if (r.has_expire_time()) *stub.mutable_expire_time() = r.expire_time();
  if (r.has_honour_by()) *stub.mutable_honour_by() = r.honour_by();
  stub.set_notice_version(r.evidence().notice_version());
  stub.set_notice_sha256(r.evidence().notice_sha256());
  stub.set_source(r.source());
  stub.set_jurisdiction(r.jurisdiction());
  stub.set_imported(r.imported());
  return stub;
}

bool RedactRecord(v1::ConsentRecord& r) {
  if (!HasPersonalEvidence(r.evidence())) return false;
  r.mutable_evidence()->clear_ip_address();
  r.mutable_evidence()->clear_user_agent();
  r.mutable_evidence()->clear_reference();
  return true;
}

absl::Status ValidateReason(std::string_view field, std::string_view reason, bool required) {
  if (required && reason.empty()) return InvalidField(field, "is required");
  if (reason.size() > kMaxReasonLength) {
    return InvalidField(field, absl::StrCat("must be at most ", kMaxReasonLength, " characters"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Ledger::RedactLegacyEvidence(store::Txn& txn, std::string_view tenant,
                                          std::string_view entity) const {
  // Without an evidence keyring every record holds its evidence in plain text.
  absl::Time cutoff = absl::InfiniteFuture();
  if (vault_ != nullptr) {
    ASSIGN_OR_RETURN(auto before, store_.Get(store::Cf::kMeta, store::kPlainEvidenceBeforeKey));
    if (!before.has_value() || before->size() < 8) return absl::OkStatus();
    cutoff = absl::FromUnixMicros(static_cast<int64_t>(store::ReadBigEndian64(*before)));
  }
  const std::string prefix = store::HistoryPrefix(tenant, entity);
  auto it = store_.NewIterator(store::Cf::kHistory);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    v1::HistoryRecord record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corrupt("history record");
    }
    // Records are in sequence order: once one is newer than the migration, all later ones are.
    if (FromProto(record.recorded_time()) >= cutoff) break;
    bool changed = false;
    for (v1::DecisionChange& c : *record.mutable_decisions()) {
      if (c.has_before()) changed |= RedactRecord(*c.mutable_before());
      if (c.has_after()) changed |= RedactRecord(*c.mutable_after());
    }
    if (!changed) continue;
    record.set_personal_data_redacted(true);
    txn.Put(store::Cf::kHistory, it->key().ToString(), record.SerializeAsString());
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  return absl::OkStatus();
}

absl::Status Ledger::ValidateErasure(const Catalog& catalog,
                                     const v1::EraseSubjectRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(catalog, "tenant", request.tenant()));
  RETURN_IF_ERROR(core::ValidateSubjectId("subject_id", request.subject_id()));
  if (!request.actor().empty()) RETURN_IF_ERROR(core::ValidateActor("actor", request.actor()));
  return ValidateReason("reason", request.reason(), false);
}

absl::StatusOr<uint64_t> Ledger::EraseContactInTxn(store::Txn& txn, const ErasureOrder& order,
                                                   const v1::ContactRef& contact) const {
  ASSIGN_OR_RETURN(auto contact_state, LoadContact(txn, order.tenant, contact));
  const absl::Time now = txn.now();
  v1::HistoryRecord history;
  history.set_tenant(order.tenant);
  *history.mutable_target()->mutable_contact() = contact;
  history.set_kind(v1::SUPPRESSION_ADDED);
  history.set_actor(order.actor);
  history.set_on_behalf_of(order.on_behalf_of);
  history.set_source(std::string(kErasureSource));
  v1::Suppression s;
  s.set_channel(v1::CHANNEL_UNSPECIFIED);
  s.set_kind(v1::Suppression::ERASED);
  *s.mutable_effective_time() = ToProto(now);
  s.set_source(std::string(kErasureSource));
  s.set_sequence(contact_state.sequence() + 1);
  s.set_record_id(absl::StrCat(s.sequence(), "-0"));
  auto* suppressions = contact_state.mutable_suppressions();
  auto existing =
      std::find_if(suppressions->begin(), suppressions->end(), [](const v1::Suppression& x) {
        return x.kind() == v1::Suppression::ERASED && x.channel() == v1::CHANNEL_UNSPECIFIED;
      });
  if (existing != suppressions->end()) {
    *existing = s;
  } else {
    *suppressions->Add() = s;
  }
  *history.mutable_suppression() = s;
  if (contact_state.linked_subject_id() == order.subject_id) {
    contact_state.clear_linked_subject_id();
  }
  AppendChange(txn, history, contact_state);
  const std::string entity = store::ContactEntity(contact);
  if (vault_ != nullptr) vault_->Destroy(txn, order.tenant, entity);
  RETURN_IF_ERROR(RedactLegacyEvidence(txn, order.tenant, entity));
  return contact_state.sequence();
}

absl::StatusOr<v1::EraseSubjectResponse> Ledger::EraseInTxn(store::Txn& txn,
                                                            const ErasureOrder& order) const {
  v1::EraseSubjectResponse response;
  ASSIGN_OR_RETURN(auto raw_stub, txn.Get(store::Cf::kRights,
                                          store::ErasureStubKey(order.tenant, order.subject_id)));
  ASSIGN_OR_RETURN(auto raw_state, txn.Get(store::Cf::kSubjects,
                                           store::SubjectKey(order.tenant, order.subject_id)));
  if (!raw_state.has_value()) {
    if (!raw_stub.has_value()) return NotFound("subject", order.subject_id);
    // Erased before and not recorded since: nothing to do.
    if (!response.mutable_erasure()->ParseFromString(*raw_stub)) return Corrupt("erasure stub");
    response.set_already_erased(true);
    return response;
  }
  const std::string hold_key = store::LegalHoldKey(order.tenant, order.subject_id);
  ASSIGN_OR_RETURN(auto hold, txn.Get(store::Cf::kRights, hold_key));
  if (hold.has_value()) {
    if (!order.despite_hold) {
      return FailedPrecondition(
          "subject_id: is under a legal hold; lift it (SetLegalHold hold=false) before erasing");
    }
    txn.Delete(store::Cf::kRights, hold_key);
  }
  v1::SubjectState state;
  if (!state.ParseFromString(*raw_state)) return Corrupt("subject state");

  const absl::Time now = txn.now();
  v1::ErasureStub& stub = *response.mutable_erasure();
  stub.set_tenant(order.tenant);
  stub.set_subject_id(order.subject_id);
  *stub.mutable_erase_time() = ToProto(now);
  stub.set_actor(order.actor);
  stub.set_on_behalf_of(order.on_behalf_of);
  stub.set_reason(order.reason);

  // Every linked contact point: suppressed for every channel (reason ERASED) and unlinked, in
  // one change on its own chain; its decisions and suppressions stay (keyed hashes and a legal
  // duty); its evidence key goes with the subject's.
  for (const v1::ContactRef& contact : state.contacts()) {
    const bool elsewhere = std::any_of(
        order.done_elsewhere.begin(), order.done_elsewhere.end(), [&](const v1::ContactRef& c) {
          return c.type() == contact.type() && c.hash() == contact.hash();
        });
    if (!elsewhere) RETURN_IF_ERROR(EraseContactInTxn(txn, order, contact).status());
    *stub.add_suppressed_contacts() = contact;
  }

  for (const v1::ConsentRecord& r : state.decisions()) *stub.add_decisions() = StubOf(r);

  v1::HistoryRecord erased;
  erased.set_tenant(order.tenant);
  erased.mutable_target()->set_subject_id(order.subject_id);
  erased.set_kind(v1::SUBJECT_ERASED);
  erased.set_actor(order.actor);
  erased.set_on_behalf_of(order.on_behalf_of);
  erased.set_source(std::string(kErasureSource));
  erased.set_request_reference(order.reason);
  AppendErasure(txn, erased, state);
  stub.set_sequence(erased.sequence());
  stub.set_chain_head(erased.hash());
  txn.Put(store::Cf::kRights, store::ErasureStubKey(order.tenant, order.subject_id),
          stub.SerializeAsString());
  const std::string entity = store::SubjectEntity(order.subject_id);
  if (vault_ != nullptr) vault_->Destroy(txn, order.tenant, entity);
  RETURN_IF_ERROR(RedactLegacyEvidence(txn, order.tenant, entity));
  return response;
}

void Ledger::EraseSubject(const v1::EraseSubjectRequest& request, absl::Time deadline,
                          Callback<v1::EraseSubjectResponse> done, const Caller& caller) {
  absl::Status valid = ValidateErasure(*catalog_.Snapshot(), request);
  if (!valid.ok()) return done(valid);
  ErasureOrder order;
  order.tenant = request.tenant();
  order.subject_id = request.subject_id();
  order.actor = caller.principal.empty() ? request.actor() : caller.principal;
  order.on_behalf_of = caller.principal.empty() ? "" : request.actor();
  order.reason = request.reason();
  SubmitWrite<v1::EraseSubjectResponse>(
      committer_, deadline, std::move(done),
      [this, order = std::move(order)](store::Txn& txn) { return EraseInTxn(txn, order); });
}

void Ledger::BeginErasureIntent(const v1::EraseSubjectRequest& request, absl::Time deadline,
                                Callback<LinkIntentStart> done, const Caller& caller) {
  absl::Status valid = ValidateErasure(*catalog_.Snapshot(), request);
  if (!valid.ok()) return done(valid);
  v1::ApplyContactLinkRequest half;
  half.set_tenant(request.tenant());
  half.set_subject_id(request.subject_id());
  half.set_unlink(true);
  half.set_erase(true);
  half.set_actor(caller.principal.empty() ? request.actor() : caller.principal);
  half.set_on_behalf_of(caller.principal.empty() ? "" : request.actor());
  half.set_source(std::string(kErasureSource));
  SubmitWrite<LinkIntentStart>(
      committer_, deadline, std::move(done),
      [half = std::move(half), reason = request.reason(), digest = RequestDigest(request),
       principal = caller.principal](store::Txn& txn) -> absl::StatusOr<LinkIntentStart> {
        const std::string& tenant = half.tenant();
        const std::string& subject_id = half.subject_id();
        LinkIntentStart start;
        ASSIGN_OR_RETURN(auto pending, LoadLinkIntent(txn, tenant, subject_id));
        if (pending.has_value()) {
          if (pending->half().erase() && pending->request_digest() == digest &&
              pending->principal() == principal) {
            start.intent = *std::move(pending);
            return start;
          }
          return absl::UnavailableError(
              "subject_id: a link change of this subject is in progress; retry");
        }
        ASSIGN_OR_RETURN(auto raw_state,
                         txn.Get(store::Cf::kSubjects, store::SubjectKey(tenant, subject_id)));
        if (!raw_state.has_value()) {
          ASSIGN_OR_RETURN(auto raw_stub,
                           txn.Get(store::Cf::kRights, store::ErasureStubKey(tenant, subject_id)));
          if (!raw_stub.has_value()) return NotFound("subject", subject_id);
          v1::EraseSubjectResponse response;
          if (!response.mutable_erasure()->ParseFromString(*raw_stub)) {
            return Corrupt("erasure stub");
          }
          response.set_already_erased(true);
          start.replayed = response.SerializeAsString();
          return start;
        }
        ASSIGN_OR_RETURN(auto hold,
                         txn.Get(store::Cf::kRights, store::LegalHoldKey(tenant, subject_id)));
        if (hold.has_value()) {
          return FailedPrecondition(
              "subject_id: is under a legal hold; lift it (SetLegalHold hold=false) before "
              "erasing");
        }
        v1::SubjectState state;
        if (!state.ParseFromString(*raw_state)) return Corrupt("subject state");
        storage::v1::LinkIntent& intent = start.intent;
        *intent.mutable_half() = half;
        intent.mutable_half()->set_intent_id(absl::BytesToHexString(RandomBytes(12)));
        ASSIGN_OR_RETURN(const uint64_t number, NextLinkIntentNumber(txn, tenant, subject_id));
        intent.mutable_half()->set_intent_number(number);
        intent.set_request_digest(digest);
        intent.set_principal(principal);
        *intent.mutable_create_time() = ToProto(txn.now());
        *intent.mutable_erase_contacts() = state.contacts();
        intent.set_erase_reason(reason);
        txn.Put(store::Cf::kRights, store::LinkIntentKey(tenant, subject_id),
                intent.SerializeAsString());
        return start;
      });
}

void Ledger::CompleteErasureIntent(const storage::v1::LinkIntent& intent,
                                   std::vector<v1::ContactRef> done_elsewhere, absl::Time deadline,
                                   Callback<std::string> done) {
  ErasureOrder order{intent.half().tenant(), intent.half().subject_id(), intent.half().actor(),
                     intent.half().on_behalf_of(), intent.erase_reason(),
                     // Begin checked the hold; the contact points' halves are done.
                     true, std::move(done_elsewhere)};
  SubmitWrite<std::string>(
      committer_, deadline, std::move(done),
      [this, id = intent.half().intent_id(),
       order = std::move(order)](store::Txn& txn) -> absl::StatusOr<std::string> {
        ASSIGN_OR_RETURN(auto pending, LoadLinkIntent(txn, order.tenant, order.subject_id));
        if (!pending.has_value() || pending->half().intent_id() != id) {
          // Another attempt finished it first: its stub is the answer.
          ASSIGN_OR_RETURN(
              auto raw_stub,
              txn.Get(store::Cf::kRights, store::ErasureStubKey(order.tenant, order.subject_id)));
          if (!raw_stub.has_value()) {
            return absl::UnavailableError(
                "the erasure was finished by another attempt; retry to read its outcome");
          }
          v1::EraseSubjectResponse response;
          if (!response.mutable_erasure()->ParseFromString(*raw_stub)) {
            return Corrupt("erasure stub");
          }
          response.set_already_erased(true);
          return response.SerializeAsString();
        }
        txn.Delete(store::Cf::kRights, store::LinkIntentKey(order.tenant, order.subject_id));
        ASSIGN_OR_RETURN(v1::EraseSubjectResponse response, EraseInTxn(txn, order));
        return response.SerializeAsString();
      });
}

absl::StatusOr<v1::ErasureStub> Ledger::GetErasure(const v1::GetErasureRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  RETURN_IF_ERROR(core::ValidateSubjectId("subject_id", request.subject_id()));
  ASSIGN_OR_RETURN(auto raw,
                   store_.Get(store::Cf::kRights,
                              store::ErasureStubKey(request.tenant(), request.subject_id())));
  if (!raw.has_value()) return NotFound("erasure of subject", request.subject_id());
  v1::ErasureStub stub;
  if (!stub.ParseFromString(*raw)) return Corrupt("erasure stub");
  return stub;
}

void Ledger::SetLegalHold(const v1::SetLegalHoldRequest& request, absl::Time deadline,
                          Callback<v1::SetLegalHoldResponse> done, const Caller& caller) {
  absl::Status valid = RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant());
  if (valid.ok()) valid = core::ValidateSubjectId("subject_id", request.subject_id());
  if (valid.ok()) valid = ValidateReason("reason", request.reason(), request.hold());
  if (!valid.ok()) return done(valid);
  SubmitWrite<v1::SetLegalHoldResponse>(
      committer_, deadline, std::move(done),
      [request,
       actor = caller.principal](store::Txn& txn) -> absl::StatusOr<v1::SetLegalHoldResponse> {
        const std::string key = store::LegalHoldKey(request.tenant(), request.subject_id());
        v1::SetLegalHoldResponse response;
        // Cluster mode: an erasure whose contact points' parts may already be done cannot be
        // held any more (it would erase the subject all the same and drop the hold).
        ASSIGN_OR_RETURN(auto pending, LoadLinkIntent(txn, request.tenant(), request.subject_id()));
        if (request.hold() && pending.has_value() && pending->half().erase()) {
          return FailedPrecondition(
              "subject_id: an erasure of this subject is in progress; it cannot be held");
        }
        if (!request.hold()) {
          txn.Delete(store::Cf::kRights, key);
          return response;
        }
        v1::LegalHold& hold = *response.mutable_hold();
        hold.set_reason(request.reason());
        *hold.mutable_set_time() = ToProto(txn.now());
        hold.set_actor(actor);
        txn.Put(store::Cf::kRights, key, hold.SerializeAsString());
        return response;
      });
}

absl::StatusOr<bool> Ledger::ReapplyErasure(std::string_view tenant, std::string_view subject_id,
                                            std::string_view actor) {
  ErasureOrder order;
  order.tenant = std::string(tenant);
  order.subject_id = std::string(subject_id);
  order.actor = std::string(actor);
  order.reason = "re-applied from the erasure log after a restore";
  order.despite_hold = true;
  bool erased = false;
  absl::Status s = committer_.Run([&](store::Txn& txn) -> absl::Status {
    absl::StatusOr<v1::EraseSubjectResponse> r = EraseInTxn(txn, order);
    if (absl::IsNotFound(r.status())) return absl::OkStatus();
    if (!r.ok()) return r.status();
    erased = !r->already_erased();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return erased;
}

}  // namespace assent::ledger
