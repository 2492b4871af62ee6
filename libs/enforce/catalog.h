// The catalog (tenants' current purposes and default policies) as the enforcement library needs it
// to run the decision rule locally. Fetched from the service's CatalogService, refreshed
// periodically, and kept in a file so that a sender restarted while the service is unreachable
// still knows its purposes (and so which ones are transactional when it must fail closed).
//
// Thread safety: Snapshot() from any thread; Fetch/Load/Save from one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "assent/sender/v1/sender.pb.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/catalog.pb.h"

namespace assent::enforce {

struct TenantCatalog {
  std::map<std::string, v1::Purpose, std::less<>> purposes;
  v1::DefaultPolicy policy;
};

struct Catalog {
  std::map<std::string, TenantCatalog, std::less<>> tenants;
  absl::Time fetch_time = absl::InfinitePast();

  const TenantCatalog* FindTenant(std::string_view tenant) const;
  const v1::Purpose* FindPurpose(std::string_view tenant, std::string_view purpose_id) const;
};

class CatalogSource {
 public:
  // Reads every tenant (or only `tenants` when not empty), their current purposes and policies.
  // The RPCs' errors are returned as they come (UNAVAILABLE, DEADLINE_EXCEEDED, ...); nothing is
  // replaced unless the whole catalog was read.
  absl::Status Fetch(v1::CatalogService::StubInterface& stub,
                     const std::vector<std::string>& tenants, absl::Duration deadline,
                     absl::Time now);
  // Loads a file written by Save. NOT_FOUND when it does not exist; DATA_LOSS when it does not
  // parse.
  absl::Status Load(const std::string& path);
  // Writes the current catalog atomically (temporary file, fsync, rename). UNAVAILABLE on I/O
  // errors.
  absl::Status Save(const std::string& path) const;
  // Replaces the catalog (tests, and Fetch/Load).
  void Set(std::shared_ptr<const Catalog> catalog);

  // The current catalog; never null (empty until a fetch or load succeeded).
  std::shared_ptr<const Catalog> Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const Catalog> current_ ABSL_GUARDED_BY(mu_) = std::make_shared<Catalog>();
};

// Reads one tenant's current purposes and default policy (none: no rules) into `out`. The RPCs'
// errors as they come, prefixed "catalog: <rpc>: ".
absl::Status FetchTenantCatalog(v1::CatalogService::StubInterface& stub, const std::string& tenant,
                                absl::Duration deadline, TenantCatalog& out);

// Conversions to and from the on-disk form.
sender::v1::CatalogSnapshot ToSnapshot(const Catalog& catalog);
Catalog FromSnapshot(const sender::v1::CatalogSnapshot& snapshot);

}  // namespace assent::enforce
