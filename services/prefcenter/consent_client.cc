#include "prefcenter/consent_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "grpcpp/client_context.h"

namespace assent::prefcenter {
namespace {

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

v1::Target ToTarget(const v1::TargetRef& ref) {
  v1::Target target;
  if (ref.has_contact()) {
    *target.mutable_contact_ref() = ref.contact();
  } else {
    target.set_subject_id(ref.subject_id());
  }
  return target;
}

ConsentClient::ConsentClient(std::shared_ptr<grpc::Channel> channel, const Clock& clock,
                             absl::Duration deadline, absl::Duration catalog_ttl)
    : clock_(clock),
      deadline_(deadline),
      catalog_ttl_(catalog_ttl),
      catalog_(v1::CatalogService::NewStub(channel)),
      consent_(v1::ConsentService::NewStub(channel)),
      export_(v1::ExportService::NewStub(channel)),
      receipts_(v1::ReceiptService::NewStub(channel)) {}

absl::StatusOr<std::shared_ptr<const std::string>> ConsentClient::ReceiptKeys() {
  const absl::Time now = clock_.Now();
  std::shared_ptr<const std::string> cached;
  {
    absl::MutexLock lock(&mu_);
    cached = jwks_;
    if (cached != nullptr && now - jwks_fetched_ < catalog_ttl_) return cached;
  }
  v1::GetReceiptKeysResponse keys;
  grpc::Status status =
      receipts_->GetReceiptKeys(Context().get(), v1::GetReceiptKeysRequest(), &keys);
  if (!status.ok()) {
    if (cached != nullptr && status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
      return cached;
    }
    return FromGrpc(status);
  }
  auto fresh = std::make_shared<const std::string>(std::move(*keys.mutable_jwks()));
  absl::MutexLock lock(&mu_);
  jwks_ = fresh;
  jwks_fetched_ = now;
  return fresh;
}

absl::Status ConsentClient::RequestExportLink(const v1::RequestExportLinkRequest& request) {
  v1::RequestExportLinkResponse response;
  return FromGrpc(consent_->RequestExportLink(Context().get(), request, &response));
}

namespace {

class GrpcExportStream final : public ConsentClient::ExportStream {
 public:
  GrpcExportStream(v1::ExportService::Stub& stub, const v1::ExportSubjectRequest& request,
                   absl::Duration deadline) {
    context_.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
    reader_ = stub.ExportSubject(&context_, request);
  }
  ~GrpcExportStream() override {
    if (!finished_) {
      context_.TryCancel();
      (void)reader_->Finish();
    }
  }
  std::optional<v1::ExportChunk> Next() override {
    v1::ExportChunk chunk;
    if (finished_ || !reader_->Read(&chunk)) return std::nullopt;
    return chunk;
  }
  absl::Status Finish() override {
    finished_ = true;
    return FromGrpc(reader_->Finish());
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::ExportChunk>> reader_;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<ConsentClient::ExportStream> ConsentClient::Export(const std::string& tenant,
                                                                   const std::string& subject_id,
                                                                   absl::Duration deadline) {
  v1::ExportSubjectRequest request;
  request.set_tenant(tenant);
  request.set_subject_id(subject_id);
  return std::make_unique<GrpcExportStream>(*export_, request, deadline);
}

std::unique_ptr<grpc::ClientContext> ConsentClient::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
  return context;
}

absl::StatusOr<std::shared_ptr<const TenantInfo>> ConsentClient::Tenant(const std::string& tenant) {
  const absl::Time now = clock_.Now();
  std::shared_ptr<const TenantInfo> cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = tenants_.find(tenant);
    if (it != tenants_.end()) cached = it->second;
  }
  if (cached != nullptr && now - cached->fetched < catalog_ttl_) return cached;
  auto info = std::make_shared<TenantInfo>();
  v1::GetTenantRequest request;
  request.set_name(absl::StrCat("tenants/", tenant));
  grpc::Status status = catalog_->GetTenant(Context().get(), request, &info->tenant);
  absl::Status fetched = status.ok() ? absl::OkStatus() : FromGrpc(status);
  if (fetched.ok()) {
    fetched = enforce::FetchTenantCatalog(*catalog_, tenant, deadline_, info->catalog);
  }
  if (!fetched.ok()) {
    if (cached != nullptr && fetched.code() != absl::StatusCode::kNotFound) return cached;
    return fetched;
  }
  info->fetched = now;
  absl::MutexLock lock(&mu_);
  tenants_[tenant] = info;
  return std::shared_ptr<const TenantInfo>(info);
}

absl::StatusOr<v1::SubjectState> ConsentClient::Subject(const std::string& tenant,
                                                        const std::string& id) {
  v1::GetSubjectStateRequest request;
  request.set_tenant(tenant);
  request.set_subject_id(id);
  v1::SubjectState state;
  grpc::Status status = consent_->GetSubjectState(Context().get(), request, &state);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    state.Clear();
    state.set_tenant(tenant);
    state.set_subject_id(id);
    return state;
  }
  if (!status.ok()) return FromGrpc(status);
  return state;
}

absl::StatusOr<v1::ContactPointState> ConsentClient::Contact(const std::string& tenant,
                                                             const v1::ContactRef& ref) {
  v1::GetContactPointStateRequest request;
  request.set_tenant(tenant);
  *request.mutable_contact_ref() = ref;
  v1::ContactPointState state;
  grpc::Status status = consent_->GetContactPointState(Context().get(), request, &state);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    state.Clear();
    state.set_tenant(tenant);
    *state.mutable_contact() = ref;
    return state;
  }
  if (!status.ok()) return FromGrpc(status);
  return state;
}

absl::StatusOr<v1::ContactPointState> ConsentClient::ContactByAddress(
    const std::string& tenant, const v1::ContactPoint& point) {
  v1::GetContactPointStateRequest request;
  request.set_tenant(tenant);
  *request.mutable_contact_point() = point;
  v1::ContactPointState state;
  grpc::Status status = consent_->GetContactPointState(Context().get(), request, &state);
  if (!status.ok()) return FromGrpc(status);
  return state;
}

absl::StatusOr<v1::ListHistoryResponse> ConsentClient::History(const std::string& tenant,
                                                               const v1::TargetRef& target,
                                                               int page_size) {
  v1::ListHistoryRequest request;
  request.set_tenant(tenant);
  *request.mutable_target() = ToTarget(target);
  request.set_page_size(page_size);
  request.set_newest_first(true);
  v1::ListHistoryResponse response;
  grpc::Status status = consent_->ListHistory(Context().get(), request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return v1::ListHistoryResponse();
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<v1::RecordDecisionsResponse> ConsentClient::Record(
    const v1::RecordDecisionsRequest& request) {
  v1::RecordDecisionsResponse response;
  grpc::Status status = consent_->RecordDecisions(Context().get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<v1::ConfirmDecisionResponse> ConsentClient::Confirm(
    const v1::ConfirmDecisionRequest& request) {
  v1::ConfirmDecisionResponse response;
  grpc::Status status = consent_->ConfirmDecision(Context().get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<v1::SetPreferencesResponse> ConsentClient::SetPreferences(
    const v1::SetPreferencesRequest& request) {
  v1::SetPreferencesResponse response;
  grpc::Status status = consent_->SetPreferences(Context().get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

bool ConsentClient::Ready() {
  v1::ListTenantsRequest request;
  request.set_page_size(1);
  v1::ListTenantsResponse response;
  return catalog_->ListTenants(Context().get(), request, &response).ok();
}

}  // namespace assent::prefcenter
