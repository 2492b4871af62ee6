// Identifying evidence sealed per target (crypto-shredding). A decision's IP address, user agent
// and free-text reference are encrypted with AES-256-GCM under a data key of its target (subject
// or contact point) before anything is stored, published or returned by a write; the data key is
// stored wrapped by a master key of the evidence keyring (column family "keys"). Reads that may
// see the evidence open it again. Erasing a subject deletes its data key: every copy of the
// ciphertext, in the store, the WAL, backups and the topics, can then never be opened, while the
// records themselves, and so the hash chain over them, stay as they were.
//
// Master keys: the links/keyring.h file format (id + base64 secret of >= 32 bytes). The wrapping
// key of a master key is HMAC-SHA256(secret, "assent/evidence-wrap/v1"). New data keys are
// wrapped with the newest (last listed) key; older keys keep unwrapping what they wrapped until
// RewrapDataKeys has moved every data key to the newest, after which they may be removed.
//
// Thread safety: every method may be called concurrently. Unwrapped data keys are cached in
// memory (bounded); Forget drops a target's entry when its key is destroyed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "assent/v1/types.pb.h"
#include "links/keyring.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::ledger {

// True when `evidence` holds a field that identifies a person (ip_address, user_agent,
// reference).
bool HasPersonalEvidence(const v1::Evidence& evidence);

class EvidenceVault {
 public:
  // `master` must hold at least one key. `cache_entries` bounds the unwrapped-key cache.
  explicit EvidenceVault(std::shared_ptr<const links::KeyRing> master,
                         size_t cache_entries = 100000);

  // The identifying fields of one write, sealed outside the committer (on the caller's thread)
  // under the target's current data key, or under a fresh one when the target has none yet.
  // Commit checks the choice against the store inside the mutation.
  struct Sealing {
    std::string tenant;
    std::string entity;
    v1::PersonalEvidence plain;  // kept in memory only, to seal again if the key changed
    std::string key_id;
    std::string key;     // the raw data key (memory only)
    bool fresh = false;  // the key is new: Commit stores it (wrapped) unless one exists by then
    v1::SealedEvidence sealed;
  };
  // Seals the identifying fields of `evidence` for the target `entity` of `tenant`. nullopt
  // when there is nothing to seal. Errors: UNAVAILABLE (store), INTERNAL (corrupt data key or
  // no master key for it).
  absl::StatusOr<std::optional<Sealing>> Prepare(const store::Store& store, std::string_view tenant,
                                                 std::string_view entity,
                                                 const v1::Evidence& evidence) const;
  // Inside the mutation: makes sure `sealing` was sealed under the target's stored data key,
  // storing the fresh key when the target has none, and sealing again under the stored key when
  // another write (or an erasure) changed it since Prepare. Returns the SealedEvidence to store.
  absl::StatusOr<v1::SealedEvidence> Commit(store::Txn& txn, Sealing& sealing) const;

  // Replaces `evidence`'s identifying fields by their sealed form (clears them, sets sealed).
  static void Apply(const v1::SealedEvidence& sealed, v1::Evidence& evidence);

  // Opens the sealed evidence of a record of the target in place: the plain fields back, sealed
  // cleared; `shredded` set instead when the target's data key was destroyed (or replaced
  // after an erasure). Evidence that is not sealed is left as it is.
  absl::Status Reveal(const store::Store& store, std::string_view tenant, std::string_view entity,
                      v1::Evidence& evidence) const;

  // Stages the destruction of the target's data key and forgets it once committed.
  void Destroy(store::Txn& txn, std::string_view tenant, std::string_view entity) const;

  // Master-key rotation: re-wraps, with the newest master key, those of the named data keys
  // (Cf::kKeys key names, found by a scan outside the committer) still wrapped by an older one;
  // a key destroyed since the scan stays destroyed. Returns how many were re-wrapped.
  absl::StatusOr<int> Rewrap(store::Txn& txn, const std::vector<std::string>& key_names) const;
  // True when the stored DataKey `raw` is wrapped by an older master key: neither the current one
  // nor a staged one (which other instances of a cluster may already wrap with, mid-rotation:
  // re-wrapping back to the current key would only be undone).
  bool NeedsRewrap(std::string_view raw) const;

  std::string_view current_master_key_id() const;

  // Drops the cached unwrapped copy of the data key stored under `key_name` (Cf::kKeys), written
  // or deleted by another instance of a cluster.
  void ForgetStored(const std::string& key_name) const { Forget(key_name); }

 private:
  bool Stale(std::string_view master_key_id) const;
  struct Unwrapped {
    std::string key_id;
    std::string key;
  };
  absl::StatusOr<std::optional<Unwrapped>> Load(const store::Store& store, std::string_view tenant,
                                                std::string_view entity) const;
  absl::StatusOr<Unwrapped> Unwrap(std::string_view tenant, std::string_view entity,
                                   std::string_view raw) const;
  absl::StatusOr<std::string> Wrap(std::string_view tenant, std::string_view entity,
                                   const Unwrapped& key, absl::Time now) const;
  // Caches `key`, read from the store when forgets_ was `read_at` (nullopt: just stored by this
  // instance's own committed mutation).
  void Remember(const std::string& cache_key, const Unwrapped& key,
                std::optional<uint64_t> read_at) const;
  void Forget(const std::string& cache_key) const;

  std::shared_ptr<const links::KeyRing> master_;
  const size_t cache_entries_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, Unwrapped> cache_ ABSL_GUARDED_BY(mu_);
  // Forget calls so far: a key read before one of them is not cached.
  mutable uint64_t forgets_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace assent::ledger
