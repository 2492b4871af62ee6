#include "consentd/services.h"

#include <chrono>

#include "absl/time/time.h"
#include "consentd/grpc_status.h"

namespace assent::consentd {
namespace {

absl::Time Deadline(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// Names one RPC for metrics.
struct Method {
  ServiceMetrics* metrics;
  std::string_view service;
  std::string_view name;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  // Finishes the call and records it.
  void Finish(grpc::ServerUnaryReactor* reactor, const grpc::Status& status) const {
    if (metrics != nullptr) {
      metrics->ObserveRpc(service, name, status.error_code(),
                          absl::FromChrono(std::chrono::steady_clock::now() - start));
    }
    reactor->Finish(status);
  }
};

// A write: the ledger completes it on the committer thread once durable.
template <typename Response, typename Start>
grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* ctx, Response* response, Method method,
                                Start start) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  start(Deadline(ctx), [reactor, response, method](absl::StatusOr<Response> result) {
    if (result.ok()) *response = *std::move(result);
    method.Finish(reactor, ToGrpcStatus(result.status()));
  });
  return reactor;
}

// A read: answered on the calling thread.
template <typename Response, typename Run>
grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx, Response* response, Method method,
                               Run run) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<Response> result = run();
  if (result.ok()) *response = *std::move(result);
  method.Finish(reactor, ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* CatalogService::CreateTenant(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateTenantRequest* request,
                                                       v1::Tenant* response) {
  return Write(ctx, response, Method{metrics_, "CatalogService", "CreateTenant"},
               [&](absl::Time deadline, ledger::Callback<v1::Tenant> done) {
                 ledger_.CreateTenant(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* CatalogService::CreatePurpose(grpc::CallbackServerContext* ctx,
                                                        const v1::CreatePurposeRequest* request,
                                                        v1::Purpose* response) {
  return Write(ctx, response, Method{metrics_, "CatalogService", "CreatePurpose"},
               [&](absl::Time deadline, ledger::Callback<v1::Purpose> done) {
                 ledger_.CreatePurpose(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* CatalogService::UpdatePurpose(grpc::CallbackServerContext* ctx,
                                                        const v1::UpdatePurposeRequest* request,
                                                        v1::Purpose* response) {
  return Write(ctx, response, Method{metrics_, "CatalogService", "UpdatePurpose"},
               [&](absl::Time deadline, ledger::Callback<v1::Purpose> done) {
                 ledger_.UpdatePurpose(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* CatalogService::SetDefaultPolicy(
    grpc::CallbackServerContext* ctx, const v1::SetDefaultPolicyRequest* request,
    v1::DefaultPolicy* response) {
  return Write(ctx, response, Method{metrics_, "CatalogService", "SetDefaultPolicy"},
               [&](absl::Time deadline, ledger::Callback<v1::DefaultPolicy> done) {
                 ledger_.SetDefaultPolicy(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* CatalogService::GetTenant(grpc::CallbackServerContext* ctx,
                                                    const v1::GetTenantRequest* request,
                                                    v1::Tenant* response) {
  return Read(ctx, response, Method{metrics_, "CatalogService", "GetTenant"},
              [&] { return ledger_.GetTenant(*request); });
}

grpc::ServerUnaryReactor* CatalogService::ListTenants(grpc::CallbackServerContext* ctx,
                                                      const v1::ListTenantsRequest* request,
                                                      v1::ListTenantsResponse* response) {
  return Read(ctx, response, Method{metrics_, "CatalogService", "ListTenants"},
              [&] { return ledger_.ListTenants(*request); });
}

grpc::ServerUnaryReactor* CatalogService::GetPurpose(grpc::CallbackServerContext* ctx,
                                                     const v1::GetPurposeRequest* request,
                                                     v1::Purpose* response) {
  return Read(ctx, response, Method{metrics_, "CatalogService", "GetPurpose"},
              [&] { return ledger_.GetPurpose(*request); });
}

grpc::ServerUnaryReactor* CatalogService::ListPurposes(grpc::CallbackServerContext* ctx,
                                                       const v1::ListPurposesRequest* request,
                                                       v1::ListPurposesResponse* response) {
  return Read(ctx, response, Method{metrics_, "CatalogService", "ListPurposes"},
              [&] { return ledger_.ListPurposes(*request); });
}

grpc::ServerUnaryReactor* CatalogService::GetDefaultPolicy(
    grpc::CallbackServerContext* ctx, const v1::GetDefaultPolicyRequest* request,
    v1::DefaultPolicy* response) {
  return Read(ctx, response, Method{metrics_, "CatalogService", "GetDefaultPolicy"},
              [&] { return ledger_.GetDefaultPolicy(*request); });
}

grpc::ServerUnaryReactor* ConsentService::RecordDecisions(grpc::CallbackServerContext* ctx,
                                                          const v1::RecordDecisionsRequest* request,
                                                          v1::RecordDecisionsResponse* response) {
  return Write(ctx, response, Method{metrics_, "ConsentService", "RecordDecisions"},
               [&](absl::Time deadline, ledger::Callback<v1::RecordDecisionsResponse> done) {
                 ledger_.RecordDecisions(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::LinkContactPoint(
    grpc::CallbackServerContext* ctx, const v1::LinkContactPointRequest* request,
    v1::LinkContactPointResponse* response) {
  return Write(ctx, response, Method{metrics_, "ConsentService", "LinkContactPoint"},
               [&](absl::Time deadline, ledger::Callback<v1::LinkContactPointResponse> done) {
                 ledger_.LinkContactPoint(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::UnlinkContactPoint(
    grpc::CallbackServerContext* ctx, const v1::UnlinkContactPointRequest* request,
    v1::UnlinkContactPointResponse* response) {
  return Write(ctx, response, Method{metrics_, "ConsentService", "UnlinkContactPoint"},
               [&](absl::Time deadline, ledger::Callback<v1::UnlinkContactPointResponse> done) {
                 ledger_.UnlinkContactPoint(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::SetPreferences(grpc::CallbackServerContext* ctx,
                                                         const v1::SetPreferencesRequest* request,
                                                         v1::SetPreferencesResponse* response) {
  return Write(ctx, response, Method{metrics_, "ConsentService", "SetPreferences"},
               [&](absl::Time deadline, ledger::Callback<v1::SetPreferencesResponse> done) {
                 ledger_.SetPreferences(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::SuppressContactPoint(
    grpc::CallbackServerContext* ctx, const v1::SuppressContactPointRequest* request,
    v1::SuppressContactPointResponse* response) {
  return Write(ctx, response, Method{metrics_, "ConsentService", "SuppressContactPoint"},
               [&](absl::Time deadline, ledger::Callback<v1::SuppressContactPointResponse> done) {
                 ledger_.SuppressContactPoint(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* ConsentService::GetSubjectState(grpc::CallbackServerContext* ctx,
                                                          const v1::GetSubjectStateRequest* request,
                                                          v1::SubjectState* response) {
  return Read(ctx, response, Method{metrics_, "ConsentService", "GetSubjectState"},
              [&] { return ledger_.GetSubjectState(*request); });
}

grpc::ServerUnaryReactor* ConsentService::GetContactPointState(
    grpc::CallbackServerContext* ctx, const v1::GetContactPointStateRequest* request,
    v1::ContactPointState* response) {
  return Read(ctx, response, Method{metrics_, "ConsentService", "GetContactPointState"},
              [&] { return ledger_.GetContactPointState(*request); });
}

grpc::ServerUnaryReactor* ConsentService::ListHistory(grpc::CallbackServerContext* ctx,
                                                      const v1::ListHistoryRequest* request,
                                                      v1::ListHistoryResponse* response) {
  return Read(ctx, response, Method{metrics_, "ConsentService", "ListHistory"},
              [&] { return ledger_.ListHistory(*request); });
}

grpc::ServerUnaryReactor* ConsentService::VerifyHistory(grpc::CallbackServerContext* ctx,
                                                        const v1::VerifyHistoryRequest* request,
                                                        v1::VerifyHistoryResponse* response) {
  return Read(ctx, response, Method{metrics_, "ConsentService", "VerifyHistory"},
              [&] { return ledger_.VerifyHistory(*request); });
}

grpc::ServerUnaryReactor* ConsentService::Check(grpc::CallbackServerContext* ctx,
                                                const v1::CheckRequest* request,
                                                v1::CheckResponse* response) {
  return Read(ctx, response, Method{metrics_, "ConsentService", "Check"},
              [&] { return ledger_.Check(*request); });
}

grpc::ServerUnaryReactor* ConsentService::BatchCheck(grpc::CallbackServerContext* ctx,
                                                     const v1::BatchCheckRequest* request,
                                                     v1::BatchCheckResponse* response) {
  return Read(ctx, response, Method{metrics_, "ConsentService", "BatchCheck"},
              [&] { return ledger_.BatchCheck(*request); });
}

grpc::ServerUnaryReactor* ConsentService::CreateLink(grpc::CallbackServerContext* ctx,
                                                     const v1::CreateLinkRequest* request,
                                                     v1::CreateLinkResponse* response) {
  return Read(ctx, response, Method{metrics_, "ConsentService", "CreateLink"},
              [&] { return ledger_.CreateLink(*request); });
}

}  // namespace assent::consentd
