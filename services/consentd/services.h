// The gRPC services: thin adapters from the callback API to the ledger. Every call is first
// refused if protobuf could not parse it, then admitted by the CallGuard (identity, permission,
// rate limits); writes complete asynchronously when the committer has made them durable, reads
// answer on the calling thread.
#pragma once

#include "assent/v1/admin.grpc.pb.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "assent/v1/receipts.grpc.pb.h"
#include "assent/v1/report.grpc.pb.h"
#include "assent/v1/rights.grpc.pb.h"
#include "cluster/node.h"
#include "consentd/call_guard.h"
#include "consentd/link_coordinator.h"
#include "consentd/proof.h"
#include "consentd/receipt_issuer.h"
#include "consentd/service_metrics.h"
#include "ledger/ledger.h"
#include "rpc/parse_guard.h"

namespace assent::consentd {

class CatalogService final : public rpc::ParseGuarded<v1::CatalogService::CallbackService> {
 public:
  static constexpr std::string_view kName = "CatalogService";
  // `guard` must outlive the service; `metrics` may be null.
  CatalogService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics);

  grpc::ServerUnaryReactor* CreateTenant(grpc::CallbackServerContext* ctx,
                                         const v1::CreateTenantRequest* request,
                                         v1::Tenant* response) override;
  grpc::ServerUnaryReactor* GetTenant(grpc::CallbackServerContext* ctx,
                                      const v1::GetTenantRequest* request,
                                      v1::Tenant* response) override;
  grpc::ServerUnaryReactor* ListTenants(grpc::CallbackServerContext* ctx,
                                        const v1::ListTenantsRequest* request,
                                        v1::ListTenantsResponse* response) override;
  grpc::ServerUnaryReactor* CreatePurpose(grpc::CallbackServerContext* ctx,
                                          const v1::CreatePurposeRequest* request,
                                          v1::Purpose* response) override;
  grpc::ServerUnaryReactor* UpdatePurpose(grpc::CallbackServerContext* ctx,
                                          const v1::UpdatePurposeRequest* request,
                                          v1::Purpose* response) override;
  grpc::ServerUnaryReactor* GetPurpose(grpc::CallbackServerContext* ctx,
                                       const v1::GetPurposeRequest* request,
                                       v1::Purpose* response) override;
  grpc::ServerUnaryReactor* ListPurposes(grpc::CallbackServerContext* ctx,
                                         const v1::ListPurposesRequest* request,
                                         v1::ListPurposesResponse* response) override;
  grpc::ServerUnaryReactor* SetDefaultPolicy(grpc::CallbackServerContext* ctx,
                                             const v1::SetDefaultPolicyRequest* request,
                                             v1::DefaultPolicy* response) override;
  grpc::ServerUnaryReactor* GetDefaultPolicy(grpc::CallbackServerContext* ctx,
                                             const v1::GetDefaultPolicyRequest* request,
                                             v1::DefaultPolicy* response) override;

 private:
  ledger::Ledger& ledger_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
};

class ConsentService final : public rpc::ParseGuarded<v1::ConsentService::CallbackService> {
 public:
  static constexpr std::string_view kName = "ConsentService";
  // `guard` must outlive the service; `metrics` may be null.
  ConsentService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics);

  grpc::ServerUnaryReactor* RecordDecisions(grpc::CallbackServerContext* ctx,
                                            const v1::RecordDecisionsRequest* request,
                                            v1::RecordDecisionsResponse* response) override;
  grpc::ServerUnaryReactor* LinkContactPoint(grpc::CallbackServerContext* ctx,
                                             const v1::LinkContactPointRequest* request,
                                             v1::LinkContactPointResponse* response) override;
  grpc::ServerUnaryReactor* UnlinkContactPoint(grpc::CallbackServerContext* ctx,
                                               const v1::UnlinkContactPointRequest* request,
                                               v1::UnlinkContactPointResponse* response) override;
  grpc::ServerUnaryReactor* SetPreferences(grpc::CallbackServerContext* ctx,
                                           const v1::SetPreferencesRequest* request,
                                           v1::SetPreferencesResponse* response) override;
  grpc::ServerUnaryReactor* SuppressContactPoint(
      grpc::CallbackServerContext* ctx, const v1::SuppressContactPointRequest* request,
      v1::SuppressContactPointResponse* response) override;
  grpc::ServerUnaryReactor* GetSubjectState(grpc::CallbackServerContext* ctx,
                                            const v1::GetSubjectStateRequest* request,
                                            v1::SubjectState* response) override;
  grpc::ServerUnaryReactor* GetContactPointState(grpc::CallbackServerContext* ctx,
                                                 const v1::GetContactPointStateRequest* request,
                                                 v1::ContactPointState* response) override;
  grpc::ServerUnaryReactor* ListRepermissionRequired(
      grpc::CallbackServerContext* ctx, const v1::ListRepermissionRequiredRequest* request,
      v1::ListRepermissionRequiredResponse* response) override;
  grpc::ServerUnaryReactor* ListHistory(grpc::CallbackServerContext* ctx,
                                        const v1::ListHistoryRequest* request,
                                        v1::ListHistoryResponse* response) override;
  grpc::ServerUnaryReactor* GetEnforcementProof(grpc::CallbackServerContext* ctx,
                                                const v1::GetEnforcementProofRequest* request,
                                                v1::GetEnforcementProofResponse* response) override;
  // Serves GetEnforcementProof from `proof` (may be null: FAILED_PRECONDITION) and `store`;
  // call before serving. Both must outlive the service.
  void SetProof(const EnforcementProof* proof, const store::Store* store) {
    proof_ = proof;
    store_ptr_ = store;
  }
  // Attaches signed receipts to the responses of the writes that change consent (may be null: no
  // receipts); call before serving. It must outlive the service.
  void SetReceipts(ReceiptIssuer* receipts) { receipts_ = receipts; }
  // Cluster mode: runs the links and unlinks whose subject and contact point are in different
  // partitions (null: single-node mode). Call before serving; it must outlive the service.
  void SetLinkCoordinator(LinkCoordinator* links) { links_ = links; }
  grpc::ServerUnaryReactor* VerifyHistory(grpc::CallbackServerContext* ctx,
                                          const v1::VerifyHistoryRequest* request,
                                          v1::VerifyHistoryResponse* response) override;
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx, const v1::CheckRequest* request,
                                  v1::CheckResponse* response) override;
  grpc::ServerUnaryReactor* BatchCheck(grpc::CallbackServerContext* ctx,
                                       const v1::BatchCheckRequest* request,
                                       v1::BatchCheckResponse* response) override;
  grpc::ServerUnaryReactor* CreateLink(grpc::CallbackServerContext* ctx,
                                       const v1::CreateLinkRequest* request,
                                       v1::CreateLinkResponse* response) override;
  grpc::ServerUnaryReactor* ConfirmDecision(grpc::CallbackServerContext* ctx,
                                            const v1::ConfirmDecisionRequest* request,
                                            v1::ConfirmDecisionResponse* response) override;
  grpc::ServerUnaryReactor* ResendConfirmation(grpc::CallbackServerContext* ctx,
                                               const v1::ResendConfirmationRequest* request,
                                               v1::ResendConfirmationResponse* response) override;
  grpc::ServerUnaryReactor* RequestExportLink(grpc::CallbackServerContext* ctx,
                                              const v1::RequestExportLinkRequest* request,
                                              v1::RequestExportLinkResponse* response) override;

 private:
  ledger::Ledger& ledger_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
  const EnforcementProof* proof_ = nullptr;
  const store::Store* store_ptr_ = nullptr;
  ReceiptIssuer* receipts_ = nullptr;
  LinkCoordinator* links_ = nullptr;
};

// Consent receipts (receipts.proto): re-signing a stored history record, and the JWKS.
class ReceiptService final : public rpc::ParseGuarded<v1::ReceiptService::CallbackService> {
 public:
  static constexpr std::string_view kName = "ReceiptService";
  // `receipts` may be null (no receipt keyring): every call is FAILED_PRECONDITION. `ledger`,
  // `guard` and `receipts` must outlive the service; `metrics` may be null.
  ReceiptService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics,
                 const ReceiptIssuer* receipts);

  grpc::ServerUnaryReactor* GetReceipt(grpc::CallbackServerContext* ctx,
                                       const v1::GetReceiptRequest* request,
                                       v1::Receipt* response) override;
  grpc::ServerUnaryReactor* GetReceiptKeys(grpc::CallbackServerContext* ctx,
                                           const v1::GetReceiptKeysRequest* request,
                                           v1::GetReceiptKeysResponse* response) override;

 private:
  ledger::Ledger& ledger_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
  const ReceiptIssuer* receipts_;
};

// Consent reports (report.proto) from the aggregates kept on the write path.
class ReportService final : public rpc::ParseGuarded<v1::ReportService::CallbackService> {
 public:
  static constexpr std::string_view kName = "ReportService";
  // `ledger` and `guard` must outlive the service; `metrics` may be null.
  ReportService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics);

  grpc::ServerUnaryReactor* GetConsentReport(grpc::CallbackServerContext* ctx,
                                             const v1::GetConsentReportRequest* request,
                                             v1::GetConsentReportResponse* response) override;

 private:
  ledger::Ledger& ledger_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
};

class ErasureLog;

// Erasure, legal holds and tenant offboarding (rights.proto). An erasure is acknowledged only
// once it is durable in the store and, when consentd keeps an erasure log, in the log too.
class SubjectRightsService final
    : public rpc::ParseGuarded<v1::SubjectRightsService::CallbackService> {
 public:
  static constexpr std::string_view kName = "SubjectRightsService";
  // `guard` must outlive the service; `metrics` and `erasure_log` may be null.
  SubjectRightsService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics,
                       ErasureLog* erasure_log);

  // Cluster mode: runs erasures (their linked contact points may be other instances'); null:
  // single-node mode. Call before serving; it must outlive the service.
  void SetLinkCoordinator(LinkCoordinator* links) { links_ = links; }
  grpc::ServerUnaryReactor* EraseSubject(grpc::CallbackServerContext* ctx,
                                         const v1::EraseSubjectRequest* request,
                                         v1::EraseSubjectResponse* response) override;
  grpc::ServerUnaryReactor* GetErasure(grpc::CallbackServerContext* ctx,
                                       const v1::GetErasureRequest* request,
                                       v1::ErasureStub* response) override;
  grpc::ServerUnaryReactor* SetLegalHold(grpc::CallbackServerContext* ctx,
                                         const v1::SetLegalHoldRequest* request,
                                         v1::SetLegalHoldResponse* response) override;
  grpc::ServerUnaryReactor* OffboardTenant(grpc::CallbackServerContext* ctx,
                                           const v1::OffboardTenantRequest* request,
                                           v1::OffboardingStatus* response) override;
  grpc::ServerUnaryReactor* GetOffboarding(grpc::CallbackServerContext* ctx,
                                           const v1::GetOffboardingRequest* request,
                                           v1::OffboardingStatus* response) override;

 private:
  ledger::Ledger& ledger_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
  ErasureLog* erasure_log_;
  LinkCoordinator* links_ = nullptr;
};

// Store maintenance for operators.
class AdminService final : public rpc::ParseGuarded<v1::AdminService::CallbackService> {
 public:
  static constexpr std::string_view kName = "AdminService";
  // `store` and `guard` must outlive the service; `metrics` may be null.
  AdminService(store::Store& store, CallGuard& guard, ServiceMetrics* metrics);

  grpc::ServerUnaryReactor* CompactStore(grpc::CallbackServerContext* ctx,
                                         const v1::CompactStoreRequest* request,
                                         v1::CompactStoreResponse* response) override;
  grpc::ServerUnaryReactor* GetClusterStatus(grpc::CallbackServerContext* ctx,
                                             const v1::GetClusterStatusRequest* request,
                                             v1::ClusterStatus* response) override;
  grpc::ServerUnaryReactor* ApplyContactLink(grpc::CallbackServerContext* ctx,
                                             const v1::ApplyContactLinkRequest* request,
                                             v1::ApplyContactLinkResponse* response) override;
  // Cluster mode: the node whose status GetClusterStatus reports, and the ledger ApplyContactLink
  // writes to (null: single-node mode, where ApplyContactLink is refused). Set before serving;
  // both must outlive the service.
  void SetCluster(const cluster::Node* node, ledger::Ledger* ledger) {
    cluster_ = node;
    ledger_ = ledger;
  }

 private:
  const cluster::Node* cluster_ = nullptr;
  ledger::Ledger* ledger_ = nullptr;
  store::Store& store_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
};

}  // namespace assent::consentd
