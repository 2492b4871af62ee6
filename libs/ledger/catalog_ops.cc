// Catalog operations: tenants, purposes (versioned) and default policies.
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "core/validate.h"
#include "ledger/change.h"
#include "ledger/ledger.h"
#include "ledger/names.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// The purpose fields a caller may set, checked against each other.
absl::Status ValidatePurposeInput(const v1::Purpose& purpose) {
  return core::ValidatePurposeFields("purpose", purpose);
}

// Reads the current version number of a purpose inside a transaction (0: none).
absl::StatusOr<uint32_t> CurrentVersion(store::Txn& txn, std::string_view tenant,
                                        std::string_view purpose_id) {
  ASSIGN_OR_RETURN(auto raw,
                   txn.Get(store::Cf::kCatalog, store::PurposeCurrentKey(tenant, purpose_id)));
  if (!raw.has_value()) return 0u;
  if (raw->size() != 4) return Corrupt("purpose version pointer");
  return store::ReadBigEndian32(*raw);
}

absl::StatusOr<bool> TenantExists(store::Txn& txn, std::string_view tenant) {
  ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kCatalog, store::TenantKey(tenant)));
  return raw.has_value();
}

void PutPurposeVersion(store::Txn& txn, std::string_view tenant, const v1::Purpose& purpose) {
  txn.Put(store::Cf::kCatalog, store::PurposeKey(tenant, purpose.purpose_id(), purpose.version()),
          purpose.SerializeAsString());
  std::string version;
  store::PutBigEndian32(&version, purpose.version());
  txn.Put(store::Cf::kCatalog, store::PurposeCurrentKey(tenant, purpose.purpose_id()), version);
}

// Notice texts are part of the proof of every decision given against them, so they are
// append-only: an update keeps every stored (version, language) text, adds new ones, and refuses
// to change a stored one. Each gets its SHA-256, and they are kept ordered by version, language.
absl::Status MergeNotices(const v1::Purpose* previous, v1::Purpose& purpose) {
  std::map<std::pair<uint32_t, std::string>, v1::NoticeText> merged;
  if (previous != nullptr) {
    for (const v1::NoticeText& n : previous->notices()) {
      merged[{n.notice_version(), n.language()}] = n;
    }
  }
  for (int i = 0; i < purpose.notices_size(); ++i) {
    v1::NoticeText n = purpose.notices(i);
    n.set_sha256(Sha256Hex(n.text()));
    auto [it, inserted] = merged.emplace(std::make_pair(n.notice_version(), n.language()), n);
    if (!inserted && it->second.text() != n.text()) {
      return FailedPrecondition(absl::StrCat(
          "purpose.notices[", i, "]: the text of notice version ", n.notice_version(), " in ",
          n.language(), " is already published and cannot change; raise notice_version"));
    }
  }
  purpose.clear_notices();
  for (auto& [key, n] : merged) *purpose.add_notices() = std::move(n);
  return absl::OkStatus();
}

}  // namespace

void Ledger::CreateTenant(const v1::CreateTenantRequest& request, absl::Time deadline,
                          Callback<v1::Tenant> done) {
  absl::Status valid = core::ValidateTenantId("tenant.tenant_id", request.tenant().tenant_id());
  if (valid.ok()) {
    valid = core::ValidateDisplayName("tenant.display_name", request.tenant().display_name());
  }
  if (!valid.ok()) return done(valid);
  v1::Tenant tenant;
  tenant.set_tenant_id(request.tenant().tenant_id());
  tenant.set_display_name(request.tenant().display_name());
  tenant.set_name(TenantName(tenant.tenant_id()));
  SubmitWrite<v1::Tenant>(committer_, deadline, std::move(done),
                          [this, tenant](store::Txn& txn) mutable -> absl::StatusOr<v1::Tenant> {
                            ASSIGN_OR_RETURN(bool exists, TenantExists(txn, tenant.tenant_id()));
                            if (exists) return AlreadyExists("tenant", tenant.tenant_id());
                            *tenant.mutable_create_time() = ToProto(txn.now());
                            txn.Put(store::Cf::kCatalog, store::TenantKey(tenant.tenant_id()),
                                    tenant.SerializeAsString());
                            txn.OnCommit([this, tenant] { catalog_.PutTenant(tenant); });
                            return tenant;
                          });
}

absl::StatusOr<v1::Tenant> Ledger::GetTenant(const v1::GetTenantRequest& request) const {
  ASSIGN_OR_RETURN(std::string tenant, ParseTenantName("name", request.name()));
  auto catalog = catalog_.Snapshot();
  const TenantEntry* entry = catalog->FindTenant(tenant);
  if (entry == nullptr) return NotFound("tenant", tenant);
  return entry->tenant;
}

absl::StatusOr<v1::ListTenantsResponse> Ledger::ListTenants(
    const v1::ListTenantsRequest& request) const {
  ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size(), kDefaultPageSize, kMaxPageSize));
  std::string after;
  if (!request.page_token().empty()) {
    ASSIGN_OR_RETURN(after, ParsePageToken("tenants", request.page_token()));
  }
  auto catalog = catalog_.Snapshot();
  v1::ListTenantsResponse response;
  auto it = after.empty() ? catalog->tenants.begin() : catalog->tenants.upper_bound(after);
  for (; it != catalog->tenants.end(); ++it) {
    if (!it->second.tenant.has_create_time()) continue;  // purposes cached before their tenant
    if (response.tenants_size() == page_size) {
      response.set_next_page_token(
          MakePageToken("tenants", response.tenants().rbegin()->tenant_id()));
      break;
    }
    *response.add_tenants() = it->second.tenant;
  }
  return response;
}

absl::Status Ledger::RequireTenant(const Catalog& catalog, std::string_view field,
                                   std::string_view tenant) const {
  RETURN_IF_ERROR(core::ValidateTenantId(field, tenant));
  if (catalog.FindTenant(tenant) == nullptr) {
    return absl::NotFoundError(absl::StrCat(Sv(field), ": tenant not found: ", Sv(tenant)));
  }
  return absl::OkStatus();
}

void Ledger::CreatePurpose(const v1::CreatePurposeRequest& request, absl::Time deadline,
                           Callback<v1::Purpose> done) {
  auto tenant = ParseTenantName("parent", request.parent());
  if (!tenant.ok()) return done(tenant.status());
  absl::Status valid =
      core::ValidatePurposeId("purpose.purpose_id", request.purpose().purpose_id());
  if (valid.ok()) valid = ValidatePurposeInput(request.purpose());
  if (valid.ok()) valid = RequireTenant(*catalog_.Snapshot(), "parent", *tenant);
  if (!valid.ok()) return done(valid);
  v1::Purpose purpose = request.purpose();
  if (purpose.min_notice_version() == 0) purpose.set_min_notice_version(1);
  if (valid = MergeNotices(nullptr, purpose); !valid.ok()) return done(valid);
  purpose.set_name(PurposeName(*tenant, purpose.purpose_id()));
  purpose.set_version(1);
  SubmitWrite<v1::Purpose>(
      committer_, deadline, std::move(done),
      [this, purpose, tenant = *tenant](store::Txn& txn) mutable -> absl::StatusOr<v1::Purpose> {
        ASSIGN_OR_RETURN(uint32_t current, CurrentVersion(txn, tenant, purpose.purpose_id()));
        if (current != 0) return AlreadyExists("purpose", purpose.name());
        *purpose.mutable_update_time() = ToProto(txn.now());
        PutPurposeVersion(txn, tenant, purpose);
        txn.OnCommit([this, tenant, purpose] { catalog_.PutPurpose(tenant, purpose); });
        return purpose;
      });
}

void Ledger::UpdatePurpose(const v1::UpdatePurposeRequest& request, absl::Time deadline,
                           Callback<v1::Purpose> done) {
  auto parts = ParsePurposeName("purpose.name", request.purpose().name());
  if (!parts.ok()) return done(parts.status());
  absl::Status valid = ValidatePurposeInput(request.purpose());
  if (valid.ok()) valid = RequireTenant(*catalog_.Snapshot(), "purpose.name", parts->tenant);
  if (!valid.ok()) return done(valid);
  v1::Purpose update = request.purpose();
  if (update.min_notice_version() == 0) update.set_min_notice_version(1);
  SubmitWrite<v1::Purpose>(
      committer_, deadline, std::move(done),
      [this, update, parts = *parts](store::Txn& txn) mutable -> absl::StatusOr<v1::Purpose> {
        ASSIGN_OR_RETURN(uint32_t current, CurrentVersion(txn, parts.tenant, parts.purpose_id));
        if (current == 0) return NotFound("purpose", update.name());
        ASSIGN_OR_RETURN(auto raw,
                         txn.Get(store::Cf::kCatalog,
                                 store::PurposeKey(parts.tenant, parts.purpose_id, current)));
        v1::Purpose previous;
        if (!raw.has_value() || !previous.ParseFromString(*raw)) return Corrupt("purpose");
        if (!update.purpose_id().empty() && update.purpose_id() != parts.purpose_id) {
          return InvalidField("purpose.purpose_id", "is immutable");
        }
        if (update.kind() != previous.kind()) {
          return InvalidField("purpose.kind", "is immutable; create a new purpose instead");
        }
        if (update.notice_version() < previous.notice_version()) {
          return InvalidField(
              "purpose.notice_version",
              absl::StrCat("must not go down (currently ", previous.notice_version(), ")"));
        }
        RETURN_IF_ERROR(MergeNotices(&previous, update));
        update.set_purpose_id(parts.purpose_id);
        update.set_name(PurposeName(parts.tenant, parts.purpose_id));
        update.set_version(current + 1);
        *update.mutable_update_time() = ToProto(txn.now());
        PutPurposeVersion(txn, parts.tenant, update);
        StartRepermission(txn, parts.tenant, previous, update);
        txn.OnCommit(
            [this, tenant = parts.tenant, update] { catalog_.PutPurpose(tenant, update); });
        return update;
      });
}

absl::StatusOr<v1::Purpose> Ledger::GetPurpose(const v1::GetPurposeRequest& request) const {
  ASSIGN_OR_RETURN(auto parts, ParsePurposeName("name", request.name()));
  if (request.version() == 0) {
    const v1::Purpose* purpose = catalog_.Snapshot()->FindPurpose(parts.tenant, parts.purpose_id);
    if (purpose == nullptr) return NotFound("purpose", request.name());
    return *purpose;
  }
  ASSIGN_OR_RETURN(
      auto raw, store_.Get(store::Cf::kCatalog,
                           store::PurposeKey(parts.tenant, parts.purpose_id, request.version())));
  if (!raw.has_value()) {
    return NotFound("purpose version", absl::StrCat(request.name(), "@", request.version()));
  }
  v1::Purpose purpose;
  if (!purpose.ParseFromString(*raw)) return Corrupt("purpose");
  return purpose;
}

absl::StatusOr<v1::ListPurposesResponse> Ledger::ListPurposes(
    const v1::ListPurposesRequest& request) const {
  ASSIGN_OR_RETURN(std::string tenant, ParseTenantName("parent", request.parent()));
  ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size(), kDefaultPageSize, kMaxPageSize));
  std::string after;
  if (!request.page_token().empty()) {
    ASSIGN_OR_RETURN(after, ParsePageToken("purposes", request.page_token()));
  }
  auto catalog = catalog_.Snapshot();
  RETURN_IF_ERROR(RequireTenant(*catalog, "parent", tenant));
  const auto& purposes = catalog->FindTenant(tenant)->purposes;
  v1::ListPurposesResponse response;
  for (auto it = after.empty() ? purposes.begin() : purposes.upper_bound(after);
       it != purposes.end(); ++it) {
    if (response.purposes_size() == page_size) {
      response.set_next_page_token(
          MakePageToken("purposes", response.purposes().rbegin()->purpose_id()));
      break;
    }
    *response.add_purposes() = it->second;
  }
  return response;
}

void Ledger::SetDefaultPolicy(const v1::SetDefaultPolicyRequest& request, absl::Time deadline,
                              Callback<v1::DefaultPolicy> done) {
  auto tenant = ParseTenantName("parent", request.parent());
  if (!tenant.ok()) return done(tenant.status());
  absl::Status valid = core::ValidatePolicy("policy", request.policy());
  if (valid.ok()) valid = RequireTenant(*catalog_.Snapshot(), "parent", *tenant);
  if (!valid.ok()) return done(valid);
  v1::DefaultPolicy policy = request.policy();
  policy.set_name(PolicyName(*tenant));
  SubmitWrite<v1::DefaultPolicy>(
      committer_, deadline, std::move(done),
      [this, policy,
       tenant = *tenant](store::Txn& txn) mutable -> absl::StatusOr<v1::DefaultPolicy> {
        *policy.mutable_update_time() = ToProto(txn.now());
        txn.Put(store::Cf::kCatalog, store::PolicyKey(tenant), policy.SerializeAsString());
        txn.OnCommit([this, tenant, policy] { catalog_.PutPolicy(tenant, policy); });
        return policy;
      });
}

absl::StatusOr<v1::DefaultPolicy> Ledger::GetDefaultPolicy(
    const v1::GetDefaultPolicyRequest& request) const {
  ASSIGN_OR_RETURN(std::string tenant, ParsePolicyName("name", request.name()));
  auto catalog = catalog_.Snapshot();
  RETURN_IF_ERROR(RequireTenant(*catalog, "name", tenant));
  v1::DefaultPolicy policy = catalog->FindTenant(tenant)->policy;
  policy.set_name(PolicyName(tenant));
  return policy;
}

}  // namespace assent::ledger
