#include "store/keys.h"

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/strings.h"
#include "contact/normalize.h"

namespace assent::store {
namespace {

// Joins components with '\0'.
template <typename... Parts>
std::string Join(const Parts&... parts) {
  std::string out;
  bool first = true;
  ((out.append(first ? "" : std::string_view("\0", 1)), out.append(parts), first = false), ...);
  return out;
}

}  // namespace

void PutBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
void PutBigEndian32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
uint64_t ReadBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}
uint32_t ReadBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string SubjectEntity(std::string_view subject_id) {
  return std::string("s:").append(subject_id);
}
std::string ContactEntity(const v1::ContactRef& contact) {
  return absl::StrCat("c:", Sv(contact::ContactTypeName(contact.type())), ":", contact.hash());
}
std::string EntityName(const v1::TargetRef& target) {
  return target.has_contact() ? ContactEntity(target.contact())
                              : SubjectEntity(target.subject_id());
}

std::string SubjectKey(std::string_view tenant, std::string_view subject_id) {
  return Join(tenant, subject_id);
}
std::string ContactKey(std::string_view tenant, const v1::ContactRef& contact) {
  return Join(tenant, ContactEntity(contact));
}
std::string HistoryPrefix(std::string_view tenant, std::string_view entity) {
  std::string out = Join(tenant, entity);
  out.push_back('\0');
  return out;
}
std::string HistoryKey(std::string_view tenant, std::string_view entity, uint64_t sequence) {
  std::string out = HistoryPrefix(tenant, entity);
  PutBigEndian64(&out, sequence);
  return out;
}
std::string ProofKey(std::string_view tenant, std::string_view entity, uint64_t sequence) {
  return "w" + HistoryKey(tenant, entity, sequence);
}
std::string ProofPrefix(std::string_view tenant, std::string_view entity) {
  return "w" + HistoryPrefix(tenant, entity);
}
std::string DataKeyKey(std::string_view tenant, std::string_view entity) {
  return Join(tenant, entity);
}

std::string DataKeyPrefix(std::string_view tenant) { return Join(tenant, std::string_view()); }

std::string LegalHoldKey(std::string_view tenant, std::string_view subject_id) {
  return Join("h", tenant, subject_id);
}

std::string ErasureStubKey(std::string_view tenant, std::string_view subject_id) {
  return Join("e", tenant, subject_id);
}

std::string ErasureStubPrefix() { return Join("e", std::string_view()); }

std::string OffboardingKey(std::string_view tenant) { return Join("o", tenant); }

std::string LinkIntentKey(std::string_view tenant, std::string_view subject_id) {
  return Join("i", tenant, subject_id);
}

std::string LinkIntentPrefix() { return Join("i", std::string_view()); }

std::string LinkIntentCounterKey(std::string_view tenant, std::string_view subject_id) {
  return Join("n", tenant, subject_id);
}

std::string LinkHalfKey(std::string_view tenant, std::string_view contact_entity,
                        std::string_view subject_id) {
  return Join("j", tenant, contact_entity, subject_id);
}

std::string ProofPendingKey(int32_t partition, int64_t offset) {
  std::string out(kProofPendingPrefix);
  PutBigEndian32(&out, static_cast<uint32_t>(partition));
  PutBigEndian64(&out, static_cast<uint64_t>(offset));
  return out;
}
std::optional<uint64_t> HistoryKeySequence(std::string_view key) {
  if (key.size() < 9 || key[key.size() - 9] != '\0') return std::nullopt;
  return ReadBigEndian64(key.substr(key.size() - 8));
}
std::string OutboxKey(uint64_t id) {
  std::string out;
  PutBigEndian64(&out, id);
  return out;
}
std::string IdempotencyKey(std::string_view tenant, std::string_view key) {
  return Join(tenant, key);
}
std::string ImportRowKey(std::string_view tenant, std::string_view row_key) {
  return Join(tenant, Sha256(row_key));
}
std::string TenantKey(std::string_view tenant) { return Join(std::string_view("t"), tenant); }
std::string TenantPrefix() { return std::string("t\0", 2); }
std::string PurposeKey(std::string_view tenant, std::string_view purpose_id, uint32_t version) {
  std::string out = Join(std::string_view("p"), tenant, purpose_id);
  out.push_back('\0');
  PutBigEndian32(&out, version);
  return out;
}
std::string PurposePrefix(std::string_view tenant) {
  std::string out = Join(std::string_view("p"), tenant);
  out.push_back('\0');
  return out;
}
std::string PolicyKey(std::string_view tenant) { return Join(std::string_view("y"), tenant); }
std::string PurposeCurrentKey(std::string_view tenant, std::string_view purpose_id) {
  return Join(std::string_view("q"), tenant, purpose_id);
}

}  // namespace assent::store
