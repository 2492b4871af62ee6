#include "ledger/catalog_cache.h"

#include "common/errors.h"
#include "store/keys.h"

namespace assent::ledger {

const TenantEntry* Catalog::FindTenant(std::string_view tenant) const {
  auto it = tenants.find(tenant);
  return it == tenants.end() ? nullptr : &it->second;
}

const v1::Purpose* Catalog::FindPurpose(std::string_view tenant,
                                        std::string_view purpose_id) const {
  const TenantEntry* entry = FindTenant(tenant);
  if (entry == nullptr) return nullptr;
  auto it = entry->purposes.find(purpose_id);
  return it == entry->purposes.end() ? nullptr : &it->second;
}

absl::Status CatalogCache::Load(const store::Store& store) {
  auto catalog = std::make_shared<Catalog>();
  auto it = store.NewIterator(store::Cf::kCatalog);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    const std::string value = it->value().ToString();
    if (key.starts_with(std::string_view("t\0", 2))) {
      v1::Tenant tenant;
      if (!tenant.ParseFromString(value)) return Corrupt("tenant");
      catalog->tenants[tenant.tenant_id()].tenant = tenant;
    } else if (key.starts_with(std::string_view("p\0", 2))) {
      v1::Purpose purpose;
      if (!purpose.ParseFromString(value)) return Corrupt("purpose");
      // Versions of one purpose sort in ascending order, so the last one seen is current.
      std::string_view rest = key.substr(2);  // tenant \0 purpose \0 version
      const std::string tenant(rest.substr(0, rest.find('\0')));
      catalog->tenants[tenant].purposes[purpose.purpose_id()] = purpose;
    } else if (key.starts_with(std::string_view("y\0", 2))) {
      v1::DefaultPolicy policy;
      if (!policy.ParseFromString(value)) return Corrupt("policy");
      catalog->tenants[std::string(key.substr(2))].policy = policy;
    }
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  absl::MutexLock lock(&mu_);
  current_ = std::move(catalog);
  return absl::OkStatus();
}

std::shared_ptr<const Catalog> CatalogCache::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

template <typename Fn>
void CatalogCache::Update(Fn edit) {
  absl::MutexLock lock(&mu_);
  auto next = std::make_shared<Catalog>(*current_);
  edit(*next);
  current_ = std::move(next);
}

void CatalogCache::PutTenant(const v1::Tenant& tenant) {
  Update([&](Catalog& c) { c.tenants[tenant.tenant_id()].tenant = tenant; });
}

void CatalogCache::PutPurpose(std::string_view tenant, const v1::Purpose& purpose) {
  Update(
      [&](Catalog& c) { c.tenants[std::string(tenant)].purposes[purpose.purpose_id()] = purpose; });
}

void CatalogCache::PutPolicy(std::string_view tenant, const v1::DefaultPolicy& policy) {
  Update([&](Catalog& c) { c.tenants[std::string(tenant)].policy = policy; });
}

}  // namespace assent::ledger
