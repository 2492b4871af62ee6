#include "enforce/catalog.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "grpcpp/client_context.h"

namespace assent::enforce {
namespace {

absl::Status FromGrpc(const grpc::Status& status, std::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("catalog: ", Sv(what), ": ", status.error_message()));
}

void SetDeadline(grpc::ClientContext& context, absl::Duration deadline) {
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
}

}  // namespace

absl::Status FetchTenantCatalog(v1::CatalogService::StubInterface& stub, const std::string& tenant,
                                absl::Duration deadline, TenantCatalog& out) {
  std::string token;
  do {
    v1::ListPurposesRequest request;
    request.set_parent(absl::StrCat("tenants/", tenant));
    request.set_page_size(1000);
    request.set_page_token(token);
    v1::ListPurposesResponse response;
    grpc::ClientContext context;
    SetDeadline(context, deadline);
    grpc::Status status = stub.ListPurposes(&context, request, &response);
    if (!status.ok()) return FromGrpc(status, "ListPurposes");
    for (const v1::Purpose& p : response.purposes()) out.purposes[p.purpose_id()] = p;
    token = response.next_page_token();
  } while (!token.empty());
  v1::GetDefaultPolicyRequest request;
  request.set_name(absl::StrCat("tenants/", tenant, "/policy"));
  grpc::ClientContext context;
  SetDeadline(context, deadline);
  grpc::Status status = stub.GetDefaultPolicy(&context, request, &out.policy);
  // A tenant without a policy has no rules (everything OPT_IN).
  if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) {
    return FromGrpc(status, "GetDefaultPolicy");
  }
  return absl::OkStatus();
}

const TenantCatalog* Catalog::FindTenant(std::string_view tenant) const {
  auto it = tenants.find(tenant);
  return it == tenants.end() ? nullptr : &it->second;
}

const v1::Purpose* Catalog::FindPurpose(std::string_view tenant,
                                        std::string_view purpose_id) const {
  const TenantCatalog* t = FindTenant(tenant);
  if (t == nullptr) return nullptr;
  auto it = t->purposes.find(purpose_id);
  return it == t->purposes.end() ? nullptr : &it->second;
}

absl::Status CatalogSource::Fetch(v1::CatalogService::StubInterface& stub,
                                  const std::vector<std::string>& tenants, absl::Duration deadline,
                                  absl::Time now) {
  std::vector<std::string> ids = tenants;
  if (ids.empty()) {
    std::string token;
    do {
      v1::ListTenantsRequest request;
      request.set_page_size(1000);
      request.set_page_token(token);
      v1::ListTenantsResponse response;
      grpc::ClientContext context;
      SetDeadline(context, deadline);
      grpc::Status status = stub.ListTenants(&context, request, &response);
      if (!status.ok()) return FromGrpc(status, "ListTenants");
      for (const v1::Tenant& t : response.tenants()) ids.push_back(t.tenant_id());
      token = response.next_page_token();
    } while (!token.empty());
  }
  auto catalog = std::make_shared<Catalog>();
  for (const std::string& id : ids) {
    RETURN_IF_ERROR(FetchTenantCatalog(stub, id, deadline, catalog->tenants[id]));
  }
  catalog->fetch_time = now;
  Set(std::move(catalog));
  return absl::OkStatus();
}

sender::v1::CatalogSnapshot ToSnapshot(const Catalog& catalog) {
  sender::v1::CatalogSnapshot snapshot;
  for (const auto& [id, tenant] : catalog.tenants) {
    auto* t = snapshot.add_tenants();
    t->mutable_tenant()->set_tenant_id(id);
    for (const auto& [pid, purpose] : tenant.purposes) *t->add_purposes() = purpose;
    *t->mutable_policy() = tenant.policy;
  }
  if (catalog.fetch_time != absl::InfinitePast()) {
    *snapshot.mutable_fetch_time() = ToProto(catalog.fetch_time);
  }
  return snapshot;
}

Catalog FromSnapshot(const sender::v1::CatalogSnapshot& snapshot) {
  Catalog catalog;
  for (const auto& t : snapshot.tenants()) {
    TenantCatalog& tenant = catalog.tenants[t.tenant().tenant_id()];
    for (const v1::Purpose& p : t.purposes()) tenant.purposes[p.purpose_id()] = p;
    tenant.policy = t.policy();
  }
  if (snapshot.has_fetch_time()) catalog.fetch_time = FromProto(snapshot.fetch_time());
  return catalog;
}

absl::Status CatalogSource::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("catalog cache: ", path, ": not found"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  sender::v1::CatalogSnapshot snapshot;
  if (!snapshot.ParseFromString(buffer.str())) {
    return absl::DataLossError(absl::StrCat("catalog cache: ", path, ": does not parse"));
  }
  Set(std::make_shared<Catalog>(FromSnapshot(snapshot)));
  return absl::OkStatus();
}

absl::Status CatalogSource::Save(const std::string& path) const {
  const std::string bytes = ToSnapshot(*Snapshot()).SerializeAsString();
  const std::string tmp = absl::StrCat(path, ".tmp");
  auto fail = [&](std::string_view what) {
    return absl::UnavailableError(
        absl::StrCat("catalog cache: ", Sv(what), " ", tmp, ": ", std::strerror(errno)));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("open");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("fsync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  return absl::OkStatus();
}

void CatalogSource::Set(std::shared_ptr<const Catalog> catalog) {
  absl::MutexLock lock(&mu_);
  current_ = std::move(catalog);
}

std::shared_ptr<const Catalog> CatalogSource::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace assent::enforce
