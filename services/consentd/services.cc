#include "consentd/services.h"

#include "absl/time/time.h"
#include "consentd/grpc_status.h"

namespace assent::consentd {
namespace {

absl::Time Deadline(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// A write: the ledger completes it on the committer thread once durable.
template <typename Response, typename Start>
grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* ctx, Response* response, Start start) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  start(Deadline(ctx), [reactor, response](absl::StatusOr<Response> result) {
    if (result.ok()) *response = *std::move(result);
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

// A read: answered on the calling thread.
template <typename Response>
grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx, Response* response,
                               absl::StatusOr<Response> result) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* CatalogService::CreateTenant(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateTenantRequest* request,
                                                       v1::Tenant* response) {
  return Write(ctx, response, [&](absl::Time deadline, ledger::Callback<v1::Tenant> done) {
    ledger_.CreateTenant(*request, deadline, std::move(done));
  });
}

grpc::ServerUnaryReactor* CatalogService::CreatePurpose(grpc::CallbackServerContext* ctx,
                                                        const v1::CreatePurposeRequest* request,
                                                        v1::Purpose* response) {
  return Write(ctx, response, [&](absl::Time deadline, ledger::Callback<v1::Purpose> done) {
    ledger_.CreatePurpose(*request, deadline, std::move(done));
  });
}

grpc::ServerUnaryReactor* CatalogService::UpdatePurpose(grpc::CallbackServerContext* ctx,
                                                        const v1::UpdatePurposeRequest* request,
                                                        v1::Purpose* response) {
  return Write(ctx, response, [&](absl::Time deadline, ledger::Callback<v1::Purpose> done) {
    ledger_.UpdatePurpose(*request, deadline, std::move(done));
  });
}

grpc::ServerUnaryReactor* CatalogService::SetDefaultPolicy(
    grpc::CallbackServerContext* ctx, const v1::SetDefaultPolicyRequest* request,
    v1::DefaultPolicy* response) {
  return Write(ctx, response, [&](absl::Time deadline, ledger::Callback<v1::DefaultPolicy> done) {
    ledger_.SetDefaultPolicy(*request, deadline, std::move(done));
  });
}

grpc::ServerUnaryReactor* CatalogService::GetTenant(grpc::CallbackServerContext* ctx,
                                                    const v1::GetTenantRequest* request,
                                                    v1::Tenant* response) {
  return Read(ctx, response, ledger_.GetTenant(*request));
}

grpc::ServerUnaryReactor* CatalogService::ListTenants(grpc::CallbackServerContext* ctx,
                                                      const v1::ListTenantsRequest* request,
                                                      v1::ListTenantsResponse* response) {
  return Read(ctx, response, ledger_.ListTenants(*request));
}

grpc::ServerUnaryReactor* CatalogService::GetPurpose(grpc::CallbackServerContext* ctx,
                                                     const v1::GetPurposeRequest* request,
                                                     v1::Purpose* response) {
  return Read(ctx, response, ledger_.GetPurpose(*request));
}

grpc::ServerUnaryReactor* CatalogService::ListPurposes(grpc::CallbackServerContext* ctx,
                                                       const v1::ListPurposesRequest* request,
                                                       v1::ListPurposesResponse* response) {
  return Read(ctx, response, ledger_.ListPurposes(*request));
}

grpc::ServerUnaryReactor* CatalogService::GetDefaultPolicy(
    grpc::CallbackServerContext* ctx, const v1::GetDefaultPolicyRequest* request,
    v1::DefaultPolicy* response) {
  return Read(ctx, response, ledger_.GetDefaultPolicy(*request));
}

grpc::ServerUnaryReactor* ConsentService::RecordDecisions(grpc::CallbackServerContext* ctx,
                                                          const v1::RecordDecisionsRequest* request,
                                                          v1::RecordDecisionsResponse* response) {
  return Write(ctx, response,
               [&](absl::Time deadline, ledger::Callback<v1::RecordDecisionsResponse> done) {
                 ledger_.RecordDecisions(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::LinkContactPoint(
    grpc::CallbackServerContext* ctx, const v1::LinkContactPointRequest* request,
    v1::LinkContactPointResponse* response) {
  return Write(ctx, response,
               [&](absl::Time deadline, ledger::Callback<v1::LinkContactPointResponse> done) {
                 ledger_.LinkContactPoint(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::UnlinkContactPoint(
    grpc::CallbackServerContext* ctx, const v1::UnlinkContactPointRequest* request,
    v1::UnlinkContactPointResponse* response) {
  return Write(ctx, response,
               [&](absl::Time deadline, ledger::Callback<v1::UnlinkContactPointResponse> done) {
                 ledger_.UnlinkContactPoint(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::SetPreferences(grpc::CallbackServerContext* ctx,
                                                         const v1::SetPreferencesRequest* request,
                                                         v1::SetPreferencesResponse* response) {
  return Write(ctx, response,
               [&](absl::Time deadline, ledger::Callback<v1::SetPreferencesResponse> done) {
                 ledger_.SetPreferences(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::SuppressContactPoint(
    grpc::CallbackServerContext* ctx, const v1::SuppressContactPointRequest* request,
    v1::SuppressContactPointResponse* response) {
  return Write(ctx, response,
               [&](absl::Time deadline, ledger::Callback<v1::SuppressContactPointResponse> done) {
                 ledger_.SuppressContactPoint(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::GetSubjectState(grpc::CallbackServerContext* ctx,
                                                          const v1::GetSubjectStateRequest* request,
                                                          v1::SubjectState* response) {
  return Read(ctx, response, ledger_.GetSubjectState(*request));
}

grpc::ServerUnaryReactor* ConsentService::GetContactPointState(
    grpc::CallbackServerContext* ctx, const v1::GetContactPointStateRequest* request,
    v1::ContactPointState* response) {
  return Read(ctx, response, ledger_.GetContactPointState(*request));
}

grpc::ServerUnaryReactor* ConsentService::ListHistory(grpc::CallbackServerContext* ctx,
                                                      const v1::ListHistoryRequest* request,
                                                      v1::ListHistoryResponse* response) {
  return Read(ctx, response, ledger_.ListHistory(*request));
}

grpc::ServerUnaryReactor* ConsentService::VerifyHistory(grpc::CallbackServerContext* ctx,
                                                        const v1::VerifyHistoryRequest* request,
                                                        v1::VerifyHistoryResponse* response) {
  return Read(ctx, response, ledger_.VerifyHistory(*request));
}

grpc::ServerUnaryReactor* ConsentService::Check(grpc::CallbackServerContext* ctx,
                                                const v1::CheckRequest* request,
                                                v1::CheckResponse* response) {
  return Read(ctx, response, ledger_.Check(*request));
}

grpc::ServerUnaryReactor* ConsentService::BatchCheck(grpc::CallbackServerContext* ctx,
                                                     const v1::BatchCheckRequest* request,
                                                     v1::BatchCheckResponse* response) {
  return Read(ctx, response, ledger_.BatchCheck(*request));
}

}  // namespace assent::consentd
