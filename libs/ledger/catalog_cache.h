// An in-memory, copy-on-write snapshot of the catalog (tenants, current purposes, policies), so
// Check needs no catalog reads. Loaded from the store at start; updated by catalog mutations after
// their commit is durable.
//
// Thread safety: Snapshot() may be called from any thread; updates come from the committer thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "assent/v1/catalog.pb.h"
#include "store/store.h"

namespace assent::ledger {

struct TenantEntry {
  v1::Tenant tenant;
  // Current version of each purpose, by id (ordered for listing).
  std::map<std::string, v1::Purpose, std::less<>> purposes;
  v1::DefaultPolicy policy;
};

struct Catalog {
  std::map<std::string, TenantEntry, std::less<>> tenants;

  const TenantEntry* FindTenant(std::string_view tenant) const;
  const v1::Purpose* FindPurpose(std::string_view tenant, std::string_view purpose_id) const;
};

class CatalogCache {
 public:
  // Reads the whole catalog column family. UNAVAILABLE / DATA_LOSS on store errors.
  absl::Status Load(const store::Store& store);
  std::shared_ptr<const Catalog> Snapshot() const;
  void PutTenant(const v1::Tenant& tenant);
  void PutPurpose(std::string_view tenant, const v1::Purpose& purpose);
  void PutPolicy(std::string_view tenant, const v1::DefaultPolicy& policy);

 private:
  // Copies the current snapshot, lets `edit` change the copy, publishes it.
  template <typename Fn>
  void Update(Fn edit);

  mutable absl::Mutex mu_;
  std::shared_ptr<const Catalog> current_ ABSL_GUARDED_BY(mu_) = std::make_shared<Catalog>();
};

}  // namespace assent::ledger
