// Building blocks shared by the ledger's write mutations: loading a target's state inside a
// transaction, appending a change to its hash chain (with its outbox records), and idempotency.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/types.pb.h"
#include "google/protobuf/message.h"
#include "store/committer.h"

namespace assent::ledger {

// Runs `fn` as a committer mutation and hands its result to `done` once durable.
template <typename T>
void SubmitWrite(store::Committer& committer, absl::Time deadline,
                 absl::AnyInvocable<void(absl::StatusOr<T>)> done,
                 absl::AnyInvocable<absl::StatusOr<T>(store::Txn&)> fn) {
  auto result = std::make_shared<T>();
  committer.Submit(
      [fn = std::move(fn), result](store::Txn& txn) mutable -> absl::Status {
        absl::StatusOr<T> r = fn(txn);
        if (!r.ok()) return r.status();
        *result = *std::move(r);
        return absl::OkStatus();
      },
      [done = std::move(done), result](absl::Status s) mutable {
        if (s.ok()) {
          done(std::move(*result));
        } else {
          done(std::move(s));
        }
      },
      deadline);
}

// A write that may be refused while still writing (a record of the refusal, a deletion): its
// writes commit either way, and the callback gets `refused` when set, else `value`.
template <typename T>
struct Refusable {
  absl::Status refused;
  T value;
};
template <typename T>
void SubmitRefusableWrite(store::Committer& committer, absl::Time deadline,
                          absl::AnyInvocable<void(absl::StatusOr<T>)> done,
                          absl::AnyInvocable<absl::StatusOr<Refusable<T>>(store::Txn&)> fn) {
  SubmitWrite<Refusable<T>>(
      committer, deadline,
      [done = std::move(done)](absl::StatusOr<Refusable<T>> outcome) mutable {
        if (!outcome.ok()) return done(outcome.status());
        if (!outcome->refused.ok()) return done(std::move(outcome->refused));
        done(std::move(outcome->value));
      },
      std::move(fn));
}

// The stored state, or a new empty one for a target never written (sequence 0; for a subject
// erased before, the erasure record's sequence and hash, so its chain continues).
absl::StatusOr<v1::SubjectState> LoadSubject(store::Txn& txn, std::string_view tenant,
                                             std::string_view subject_id);
absl::StatusOr<v1::ContactPointState> LoadContact(store::Txn& txn, std::string_view tenant,
                                                  const v1::ContactRef& contact);

// A stored subject or contact-point state reduced to what scans over every target need.
struct StoredDecisions {
  std::string tenant;
  v1::TargetRef target;
  google::protobuf::RepeatedPtrField<v1::ConsentRecord> decisions;
};
// Decodes the bytes of a state from the subjects (`contact` false) or contacts column family.
// INTERNAL (corrupt) when they do not parse.
absl::StatusOr<StoredDecisions> DecodeStoredDecisions(bool contact, std::string_view raw);

// Whether this process seals identifying evidence (the ledger has an evidence keyring). Then
// AppendChange strips plain identifying evidence left by a store written before sealing from
// the copies it makes (a new record's `before`, the state). Set once by Ledger::Create.
void SetEvidenceSealed(bool sealed);

// Appends `record` to the target's history: assigns the next sequence, links it to the chain
// head, hashes it, and stages the history record, the new state (with its sequence, head and
// update time) and the two outbox records. `record` must have tenant, target, kind and the change
// itself filled in; recorded_time defaults to the transaction time.
void AppendChange(store::Txn& txn, v1::HistoryRecord& record, v1::SubjectState& state);
void AppendChange(store::Txn& txn, v1::HistoryRecord& record, v1::ContactPointState& state);

// Closes an erased subject's chain: appends `record` (kind SUBJECT_ERASED) after the state's
// head, deletes the stored state, and stages the change event (without a state) and a tombstone
// for the compacted state topic.
void AppendErasure(store::Txn& txn, v1::HistoryRecord& record, const v1::SubjectState& state);

// The next number of the subject's link intents, staged in `txn`: rising, the intent's start in
// microseconds since the epoch unless the last number was later.
absl::StatusOr<uint64_t> NextLinkIntentNumber(store::Txn& txn, std::string_view tenant,
                                              std::string_view subject);
// The subject's pending link intent (cluster mode, ledger.h: BeginLinkIntent), if any.
absl::StatusOr<std::optional<storage::v1::LinkIntent>> LoadLinkIntent(store::Txn& txn,
                                                                      std::string_view tenant,
                                                                      std::string_view subject);

// Stages a re-permission campaign when `updated` raises the purpose's minimum notice version
// above `previous`'s (repermission_ops.cc).
void StartRepermission(store::Txn& txn, std::string_view tenant, const v1::Purpose& previous,
                       const v1::Purpose& updated);

// SHA-256 of the deterministic serialization of a request.
std::string RequestDigest(const google::protobuf::Message& request);
// RequestDigest when the request carries an idempotency key (the only use of the digest), else
// empty: a request without a key is not serialized and hashed for nothing.
template <typename Request>
std::string IdempotencyDigest(const Request& request) {
  return request.idempotency_key().empty() ? std::string() : RequestDigest(request);
}

// Looks up an idempotency key. Returns the stored response when the same method and request
// used it before (and it has not expired), nullopt when the key is new (or empty), and
// FAILED_PRECONDITION when it was used with another request or method.
absl::StatusOr<std::optional<std::string>> CheckIdempotency(store::Txn& txn,
                                                            std::string_view tenant,
                                                            std::string_view key,
                                                            std::string_view method,
                                                            std::string_view digest);
// Stages the idempotency record for a successful request (no-op for an empty key).
void RememberIdempotency(store::Txn& txn, std::string_view tenant, std::string_view key,
                         std::string_view method, std::string_view digest,
                         const google::protobuf::Message& response, absl::Duration ttl);

}  // namespace assent::ledger
