// Key encoding for every column family. Keys sort so that prefix scans and ordered reads work:
// '\0' separates components (no identifier may contain it), integers are big-endian.
//
//   subjects     tenant \0 subject_id
//   contacts     tenant \0 entity                  (entity = "c:<type>:<hash>")
//   history      tenant \0 entity \0 seq(be64)     (entity = "s:<subject>" or "c:<type>:<hash>")
//   outbox       id(be64)
//   idempotency  tenant \0 key
//   catalog      "t" \0 tenant | "p" \0 tenant \0 purpose \0 version(be32) | "y" \0 tenant
//                | "q" \0 tenant \0 purpose (current version)
//   meta         "format" | "due_backfill"
//   due          due time(be64) kind tenant \0 entity \0 record_id   (ledger/due.h)
//   keys         tenant \0 entity                  -> the target's wrapped data key
//   rights       "h" \0 tenant \0 subject -> LegalHold | "e" \0 tenant \0 subject -> ErasureStub
//                | "o" \0 tenant -> offboarding job
//   import       tenant \0 sha256(row key)        -> be64 sequence the row was recorded at
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "assent/v1/types.pb.h"

namespace assent::store {

// Appends / reads big-endian integers.
void PutBigEndian64(std::string* out, uint64_t v);
void PutBigEndian32(std::string* out, uint32_t v);
uint64_t ReadBigEndian64(std::string_view in);  // in.size() must be >= 8
uint32_t ReadBigEndian32(std::string_view in);  // in.size() must be >= 4

// The entity name of a stored target: "s:<subject_id>" or "c:<type>:<hash>".
std::string EntityName(const v1::TargetRef& target);
std::string SubjectEntity(std::string_view subject_id);
std::string ContactEntity(const v1::ContactRef& contact);

std::string SubjectKey(std::string_view tenant, std::string_view subject_id);
std::string ContactKey(std::string_view tenant, const v1::ContactRef& contact);
// tenant \0 entity \0 seq.
std::string HistoryKey(std::string_view tenant, std::string_view entity, uint64_t sequence);
// tenant \0 entity \0 : every history key of the entity starts with it.
std::string HistoryPrefix(std::string_view tenant, std::string_view entity);
// The sequence at the end of a history key; nullopt if the key is not one.
std::optional<uint64_t> HistoryKeySequence(std::string_view key);
// Proof of enforcement (Cf::kProof): "w" + HistoryKey(...) -> the withdrawal's WithdrawalProof,
std::string ProofKey(std::string_view tenant, std::string_view entity, uint64_t sequence);
// ... every proof key of the entity starts with it,
std::string ProofPrefix(std::string_view tenant, std::string_view entity);
// ... and "p" + partition + offset (big-endian) -> the ProofKey of a withdrawal still pending
// (not yet applied by every registered sender).
inline constexpr std::string_view kProofPendingPrefix = "p";
std::string ProofPendingKey(int32_t partition, int64_t offset);
std::string OutboxKey(uint64_t id);
// The data key of a target (Cf::kKeys), and the prefix of every data key of a tenant.
std::string DataKeyKey(std::string_view tenant, std::string_view entity);
std::string DataKeyPrefix(std::string_view tenant);
// Subject rights (Cf::kRights).
std::string LegalHoldKey(std::string_view tenant, std::string_view subject_id);
std::string ErasureStubKey(std::string_view tenant, std::string_view subject_id);
// "e" \0 : prefix of every erasure stub.
std::string ErasureStubPrefix();
std::string OffboardingKey(std::string_view tenant);
// A link change in progress over two owners' partitions (cluster mode; storage LinkIntent).
std::string LinkIntentKey(std::string_view tenant, std::string_view subject_id);
// "i" \0 : prefix of every link intent.
std::string LinkIntentPrefix();
// The number of the subject's last link intent (big-endian 64 bits).
std::string LinkIntentCounterKey(std::string_view tenant, std::string_view subject_id);
// The last link half applied to a contact point (its entity) for a subject (LinkHalfRecord).
std::string LinkHalfKey(std::string_view tenant, std::string_view contact_entity,
                        std::string_view subject_id);
std::string IdempotencyKey(std::string_view tenant, std::string_view key);
// An imported row (Cf::kImport): tenant \0 and the raw SHA-256 of the row key.
std::string ImportRowKey(std::string_view tenant, std::string_view row_key);

std::string TenantKey(std::string_view tenant);
// "t" \0 : prefix of every tenant key.
std::string TenantPrefix();
std::string PurposeKey(std::string_view tenant, std::string_view purpose_id, uint32_t version);
// "p" \0 tenant \0 : prefix of every purpose version of a tenant.
std::string PurposePrefix(std::string_view tenant);
std::string PolicyKey(std::string_view tenant);
// "q" \0 tenant \0 purpose -> big-endian 32-bit current version of the purpose.
std::string PurposeCurrentKey(std::string_view tenant, std::string_view purpose_id);

inline constexpr std::string_view kFormatKey = "format";
// In the meta column family while grants stored before the due index (format 1) are still being
// indexed: phase byte ('s' subjects, 'c' contacts), targets scanned so far (be64), next key.
inline constexpr std::string_view kDueBackfillKey = "due_backfill";
// In the meta column family of a store migrated from format 2 (evidence stored in plain text):
// the migration's time (be64 microseconds since the epoch). History records recorded before it
// may hold identifying evidence in plain text, which an erasure redacts.
inline constexpr std::string_view kPlainEvidenceBeforeKey = "plain_evidence_before";

}  // namespace assent::store
