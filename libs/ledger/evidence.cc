#include "ledger/evidence.h"

#include "absl/strings/str_cat.h"
#include "assent/storage/v1/storage.pb.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/hex.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "crypto/aead.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr std::string_view kWrapLabel = "assent/evidence-wrap/v1";
constexpr size_t kDataKeyIdBytes = 16;

std::string Aad(std::string_view tenant, std::string_view entity, std::string_view key_id) {
  return absl::StrCat(Sv(tenant), "/", Sv(entity), "/", Sv(key_id));
}

std::string CacheKey(std::string_view tenant, std::string_view entity) {
  return store::DataKeyKey(tenant, entity);
}

v1::PersonalEvidence PersonalOf(const v1::Evidence& evidence) {
  v1::PersonalEvidence out;
  out.set_ip_address(evidence.ip_address());
  out.set_user_agent(evidence.user_agent());
  out.set_reference(evidence.reference());
  return out;
}

absl::StatusOr<v1::SealedEvidence> SealWith(std::string_view tenant, std::string_view entity,
                                            std::string_view key_id, std::string_view key,
                                            const v1::PersonalEvidence& plain) {
  v1::SealedEvidence sealed;
  sealed.set_data_key_id(std::string(key_id));
  ASSIGN_OR_RETURN(*sealed.mutable_ciphertext(),
                   crypto::AeadSeal(key, plain.SerializeAsString(), Aad(tenant, entity, key_id)));
  return sealed;
}

}  // namespace

bool HasPersonalEvidence(const v1::Evidence& evidence) {
  return !evidence.ip_address().empty() || !evidence.user_agent().empty() ||
         !evidence.reference().empty();
}

EvidenceVault::EvidenceVault(std::shared_ptr<const links::KeyRing> master, size_t cache_entries)
    : master_(std::move(master)), cache_entries_(cache_entries) {}

std::string_view EvidenceVault::current_master_key_id() const { return master_->Current().id; }

absl::StatusOr<EvidenceVault::Unwrapped> EvidenceVault::Unwrap(std::string_view tenant,
                                                               std::string_view entity,
                                                               std::string_view raw) const {
  storage::v1::DataKey stored;
  if (!stored.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) return Corrupt("data key");
  const links::KeyRing::Key* master = nullptr;
  for (const auto& k : master_->keys()) {
    if (k.id == stored.master_key_id()) master = &k;
  }
  if (master == nullptr) {
    return absl::InternalError(absl::StrCat("data key: wrapped by master key \"",
                                            stored.master_key_id(),
                                            "\", which the evidence keyring does not hold"));
  }
  absl::StatusOr<std::string> key =
      crypto::AeadOpen(HmacSha256(master->secret, kWrapLabel), stored.wrapped(),
                       Aad(tenant, entity, stored.key_id()));
  if (!key.ok()) {
    return absl::InternalError(
        absl::StrCat("data key: does not unwrap with master key \"", master->id, "\""));
  }
  return Unwrapped{stored.key_id(), *std::move(key)};
}

absl::StatusOr<std::string> EvidenceVault::Wrap(std::string_view tenant, std::string_view entity,
                                                const Unwrapped& key, absl::Time now) const {
  const links::KeyRing::Key& master = master_->Current();
  storage::v1::DataKey stored;
  stored.set_key_id(key.key_id);
  stored.set_master_key_id(master.id);
  ASSIGN_OR_RETURN(*stored.mutable_wrapped(),
                   crypto::AeadSeal(HmacSha256(master.secret, kWrapLabel), key.key,
                                    Aad(tenant, entity, key.key_id)));
  *stored.mutable_create_time() = ToProto(now);
  return stored.SerializeAsString();
}

void EvidenceVault::Remember(const std::string& cache_key, const Unwrapped& key,
                             std::optional<uint64_t> read_at) const {
  absl::MutexLock lock(&mu_);
  // A key forgotten since it was read (destroyed or replaced meanwhile) is not cached: the value
  // read may be the one just deleted.
  if (read_at.has_value() && forgets_ != *read_at) return;
  if (cache_.size() >= cache_entries_) cache_.erase(cache_.begin());
  cache_.insert_or_assign(cache_key, key);
}

void EvidenceVault::Forget(const std::string& cache_key) const {
  absl::MutexLock lock(&mu_);
  cache_.erase(cache_key);
  ++forgets_;
}

absl::StatusOr<std::optional<EvidenceVault::Unwrapped>> EvidenceVault::Load(
    const store::Store& store, std::string_view tenant, std::string_view entity) const {
  const std::string cache_key = CacheKey(tenant, entity);
  uint64_t read_at = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(cache_key);
    if (it != cache_.end()) return it->second;
    read_at = forgets_;
  }
  ASSIGN_OR_RETURN(auto raw, store.Get(store::Cf::kKeys, cache_key));
  if (!raw.has_value()) return std::nullopt;
  ASSIGN_OR_RETURN(Unwrapped key, Unwrap(tenant, entity, *raw));
  Remember(cache_key, key, read_at);
  return key;
}

absl::StatusOr<std::optional<EvidenceVault::Sealing>> EvidenceVault::Prepare(
    const store::Store& store, std::string_view tenant, std::string_view entity,
    const v1::Evidence& evidence) const {
  if (!HasPersonalEvidence(evidence)) return std::nullopt;
  Sealing s;
  s.tenant = std::string(tenant);
  s.entity = std::string(entity);
  s.plain = PersonalOf(evidence);
  ASSIGN_OR_RETURN(auto current, Load(store, tenant, entity));
  if (current.has_value()) {
    s.key_id = std::move(current->key_id);
    s.key = std::move(current->key);
  } else {
    s.key_id = ToHex(RandomBytes(kDataKeyIdBytes));
    s.key = RandomBytes(crypto::kAeadKeyBytes);
    s.fresh = true;
  }
  ASSIGN_OR_RETURN(s.sealed, SealWith(tenant, entity, s.key_id, s.key, s.plain));
  return s;
}

absl::StatusOr<v1::SealedEvidence> EvidenceVault::Commit(store::Txn& txn, Sealing& s) const {
  const std::string key_name = store::DataKeyKey(s.tenant, s.entity);
  ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kKeys, key_name));
  if (raw.has_value()) {
    storage::v1::DataKey stored;
    if (!stored.ParseFromString(*raw)) return Corrupt("data key");
    if (stored.key_id() == s.key_id) return s.sealed;
    // Another write created the target's key first (or it was replaced after an erasure):
    // seal under the stored one.
    ASSIGN_OR_RETURN(Unwrapped key, Unwrap(s.tenant, s.entity, *raw));
    s.key_id = key.key_id;
    s.key = key.key;
    s.fresh = false;
  } else {
    // No key: the target is new, or its key was destroyed since Prepare (an erasure). A key
    // that was once stored is never stored again: the erased ciphertext it sealed would open.
    if (!s.fresh) {
      s.key_id = ToHex(RandomBytes(kDataKeyIdBytes));
      s.key = RandomBytes(crypto::kAeadKeyBytes);
      s.fresh = true;
    }
    Unwrapped key{s.key_id, s.key};
    ASSIGN_OR_RETURN(std::string wrapped, Wrap(s.tenant, s.entity, key, txn.now()));
    txn.Put(store::Cf::kKeys, key_name, std::move(wrapped));
    txn.OnCommit([this, key_name, key] { Remember(key_name, key, std::nullopt); });
  }
  ASSIGN_OR_RETURN(s.sealed, SealWith(s.tenant, s.entity, s.key_id, s.key, s.plain));
  return s.sealed;
}

void EvidenceVault::Apply(const v1::SealedEvidence& sealed, v1::Evidence& evidence) {
  evidence.clear_ip_address();
  evidence.clear_user_agent();
  evidence.clear_reference();
  *evidence.mutable_sealed() = sealed;
}

absl::Status EvidenceVault::Reveal(const store::Store& store, std::string_view tenant,
                                   std::string_view entity, v1::Evidence& evidence) const {
  if (!evidence.has_sealed()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto key, Load(store, tenant, entity));
  if (!key.has_value() || key->key_id != evidence.sealed().data_key_id()) {
    evidence.set_shredded(true);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> plain =
      crypto::AeadOpen(key->key, evidence.sealed().ciphertext(), Aad(tenant, entity, key->key_id));
  if (!plain.ok()) return Corrupt("sealed evidence");
  v1::PersonalEvidence personal;
  if (!personal.ParseFromString(*plain)) return Corrupt("sealed evidence");
  evidence.set_ip_address(personal.ip_address());
  evidence.set_user_agent(personal.user_agent());
  evidence.set_reference(personal.reference());
  evidence.clear_sealed();
  return absl::OkStatus();
}

void EvidenceVault::Destroy(store::Txn& txn, std::string_view tenant,
                            std::string_view entity) const {
  const std::string key_name = store::DataKeyKey(tenant, entity);
  txn.Delete(store::Cf::kKeys, key_name);
  Forget(key_name);
  txn.OnCommit([this, key_name] { Forget(key_name); });
}

absl::StatusOr<int> EvidenceVault::Rewrap(store::Txn& txn,
                                          const std::vector<std::string>& key_names) const {
  int rewrapped = 0;
  for (const std::string& name : key_names) {
    // Read again inside the mutation: a key destroyed since the scan stays destroyed.
    ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kKeys, name));
    if (!raw.has_value()) continue;
    storage::v1::DataKey stored;
    if (!stored.ParseFromString(*raw)) return Corrupt("data key");
    if (!Stale(stored.master_key_id())) continue;
    const size_t split = name.find('\0');
    if (split == std::string::npos) return Corrupt("data key name");
    const std::string_view tenant = std::string_view(name).substr(0, split);
    const std::string_view entity = std::string_view(name).substr(split + 1);
    ASSIGN_OR_RETURN(Unwrapped key, Unwrap(tenant, entity, *raw));
    ASSIGN_OR_RETURN(std::string wrapped,
                     Wrap(tenant, entity, key, FromProto(stored.create_time())));
    txn.Put(store::Cf::kKeys, name, std::move(wrapped));
    ++rewrapped;
  }
  return rewrapped;
}

bool EvidenceVault::Stale(std::string_view master_key_id) const {
  if (master_key_id == master_->Current().id) return false;
  for (const links::KeyRing::Key& k : master_->keys()) {
    if (k.id == master_key_id && k.staged) return false;
  }
  return true;
}

bool EvidenceVault::NeedsRewrap(std::string_view raw) const {
  storage::v1::DataKey stored;
  return stored.ParseFromArray(raw.data(), static_cast<int>(raw.size())) &&
         Stale(stored.master_key_id());
}

}  // namespace assent::ledger
