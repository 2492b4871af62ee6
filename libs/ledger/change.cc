#include "ledger/change.h"

#include <atomic>

#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/rights.pb.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/wire.h"
#include "ledger/events.h"
#include "ledger/history.h"
#include "ledger/report.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

template <typename State>
absl::StatusOr<bool> LoadInto(store::Txn& txn, store::Cf cf, const std::string& key, State& state) {
  ASSIGN_OR_RETURN(auto raw, txn.Get(cf, key));
  if (!raw.has_value()) return false;
  if (!state.ParseFromString(*raw)) return Corrupt(store::CfName(cf));
  return true;
}

std::atomic<bool> evidence_sealed{false};

// Identifying fields in plain text on a record that is not sealed: left from a store written
// before evidence was sealed (format < 3).
bool ScrubPlain(v1::ConsentRecord& r) {
  v1::Evidence& e = *r.mutable_evidence();
  if (e.has_sealed() ||
      (e.ip_address().empty() && e.user_agent().empty() && e.reference().empty())) {
    return false;
  }
  e.clear_ip_address();
  e.clear_user_agent();
  e.clear_reference();
  return true;
}

template <typename State>
void Append(store::Txn& txn, v1::HistoryRecord& record, State& state, store::Cf state_cf,
            const std::string& state_key) {
  if (evidence_sealed.load(std::memory_order_relaxed)) {
    // Once evidence is sealed, plain evidence of older records is never copied again: not into
    // a new record's `before`, nor into the state (and so the state topic). The older history
    // records keep it until an erasure redacts them.
    for (v1::DecisionChange& c : *record.mutable_decisions()) {
      if (c.has_before()) ScrubPlain(*c.mutable_before());
    }
    for (v1::ConsentRecord& r : *state.mutable_decisions()) ScrubPlain(r);
  }
  record.set_sequence(state.sequence() + 1);
  if (!record.has_recorded_time()) *record.mutable_recorded_time() = ToProto(txn.now());
  if (!record.has_effective_time()) *record.mutable_effective_time() = record.recorded_time();
  record.set_previous_hash(state.chain_head());
  std::string history_bytes = SealRecord(record);

  state.set_sequence(record.sequence());
  state.set_chain_head(record.hash());
  *state.mutable_update_time() = record.recorded_time();

  // Each of the state, the history record and the events is serialized once.
  std::string state_bytes = state.SerializeAsString();
  const std::string snapshot = SnapshotBytes(state, state_bytes);
  const std::string entity = store::EntityName(record.target());
  StageReportCounts(txn, record, state.decisions());
  txn.PutNew(store::Cf::kHistory, store::HistoryKey(record.tenant(), entity, record.sequence()),
             std::move(history_bytes));
  txn.Put(state_cf, state_key, std::move(state_bytes));
  for (const auto& outbox : BuildOutboxRecords(record, snapshot)) {
    txn.PutNew(store::Cf::kOutbox, store::OutboxKey(txn.NextOutboxId()),
               outbox.SerializeAsString());
  }
}

}  // namespace

void SetEvidenceSealed(bool sealed) { evidence_sealed.store(sealed); }

absl::StatusOr<v1::SubjectState> LoadSubject(store::Txn& txn, std::string_view tenant,
                                             std::string_view subject_id) {
  v1::SubjectState state;
  ASSIGN_OR_RETURN(bool found, LoadInto(txn, store::Cf::kSubjects,
                                        store::SubjectKey(tenant, subject_id), state));
  if (!found) {
    state.set_tenant(std::string(tenant));
    state.set_subject_id(std::string(subject_id));
    // A subject recorded again after its erasure continues its chain after the erasure record.
    ASSIGN_OR_RETURN(auto stub,
                     txn.Get(store::Cf::kRights, store::ErasureStubKey(tenant, subject_id)));
    if (stub.has_value()) {
      v1::ErasureStub erased;
      if (!erased.ParseFromString(*stub)) return Corrupt("erasure stub");
      state.set_sequence(erased.sequence());
      state.set_chain_head(erased.chain_head());
    }
  }
  return state;
}

absl::StatusOr<v1::ContactPointState> LoadContact(store::Txn& txn, std::string_view tenant,
                                                  const v1::ContactRef& contact) {
  v1::ContactPointState state;
  ASSIGN_OR_RETURN(bool found,
                   LoadInto(txn, store::Cf::kContacts, store::ContactKey(tenant, contact), state));
  if (!found) {
    state.set_tenant(std::string(tenant));
    *state.mutable_contact() = contact;
  }
  return state;
}

absl::StatusOr<StoredDecisions> DecodeStoredDecisions(bool contact, std::string_view raw) {
  StoredDecisions out;
  if (contact) {
    v1::ContactPointState state;
    if (!state.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
      return Corrupt("contact state");
    }
    out.tenant = state.tenant();
    *out.target.mutable_contact() = state.contact();
    out.decisions.Swap(state.mutable_decisions());
  } else {
    v1::SubjectState state;
    if (!state.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
      return Corrupt("subject state");
    }
    out.tenant = state.tenant();
    out.target.set_subject_id(state.subject_id());
    out.decisions.Swap(state.mutable_decisions());
  }
  return out;
}

void AppendErasure(store::Txn& txn, v1::HistoryRecord& record, const v1::SubjectState& state) {
  record.set_sequence(state.sequence() + 1);
  if (!record.has_recorded_time()) *record.mutable_recorded_time() = ToProto(txn.now());
  if (!record.has_effective_time()) *record.mutable_effective_time() = record.recorded_time();
  record.set_previous_hash(state.chain_head());
  std::string history_bytes = SealRecord(record);
  txn.PutNew(
      store::Cf::kHistory,
      store::HistoryKey(record.tenant(), store::EntityName(record.target()), record.sequence()),
      std::move(history_bytes));
  txn.Delete(store::Cf::kSubjects, store::SubjectKey(state.tenant(), state.subject_id()));
  StageErasureCounts(txn, state);
  for (const auto& outbox : BuildErasureRecords(record)) {
    txn.PutNew(store::Cf::kOutbox, store::OutboxKey(txn.NextOutboxId()),
               outbox.SerializeAsString());
  }
}

void AppendChange(store::Txn& txn, v1::HistoryRecord& record, v1::SubjectState& state) {
  Append(txn, record, state, store::Cf::kSubjects,
         store::SubjectKey(state.tenant(), state.subject_id()));
}

void AppendChange(store::Txn& txn, v1::HistoryRecord& record, v1::ContactPointState& state) {
  Append(txn, record, state, store::Cf::kContacts,
         store::ContactKey(state.tenant(), state.contact()));
}

std::string RequestDigest(const google::protobuf::Message& request) {
  return Sha256(SerializeDeterministic(request));
}

absl::StatusOr<std::optional<std::string>> CheckIdempotency(store::Txn& txn,
                                                            std::string_view tenant,
                                                            std::string_view key,
                                                            std::string_view method,
                                                            std::string_view digest) {
  if (key.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kIdempotency, store::IdempotencyKey(tenant, key)));
  if (!raw.has_value()) return std::nullopt;
  storage::v1::IdempotencyRecord record;
  if (!record.ParseFromString(*raw)) return Corrupt("idempotency record");
  if (FromProto(record.expire_time()) <= txn.now()) return std::nullopt;
  if (record.method() != method || record.request_digest() != digest) {
    return FailedPrecondition(
        "idempotency_key: already used with a different request; use a new key for a new request");
  }
  return std::optional<std::string>(record.response());
}

void RememberIdempotency(store::Txn& txn, std::string_view tenant, std::string_view key,
                         std::string_view method, std::string_view digest,
                         const google::protobuf::Message& response, absl::Duration ttl) {
  if (key.empty()) return;
  storage::v1::IdempotencyRecord record;
  record.set_request_digest(std::string(digest));
  record.set_method(std::string(method));
  record.set_response(response.SerializeAsString());
  *record.mutable_create_time() = ToProto(txn.now());
  *record.mutable_expire_time() = ToProto(txn.now() + ttl);
  txn.Put(store::Cf::kIdempotency, store::IdempotencyKey(tenant, key), record.SerializeAsString());
}

}  // namespace assent::ledger
