#include "consentd/permissions.h"

#include <array>
#include <cstdlib>

#include "spdlog/spdlog.h"

namespace assent::consentd {
namespace {

using authz::Permission;

constexpr std::array kRules = {
    RpcRule{"CatalogService", "CreateTenant", Permission::kAdmin},
    RpcRule{"CatalogService", "GetTenant", Permission::kCatalogRead},
    RpcRule{"CatalogService", "ListTenants", Permission::kCatalogRead},
    RpcRule{"CatalogService", "CreatePurpose", Permission::kCatalogAdmin},
    RpcRule{"CatalogService", "UpdatePurpose", Permission::kCatalogAdmin},
    RpcRule{"CatalogService", "GetPurpose", Permission::kCatalogRead},
    RpcRule{"CatalogService", "ListPurposes", Permission::kCatalogRead},
    RpcRule{"CatalogService", "SetDefaultPolicy", Permission::kCatalogAdmin},
    RpcRule{"CatalogService", "GetDefaultPolicy", Permission::kCatalogRead},
    RpcRule{"ConsentService", "RecordDecisions", Permission::kConsentWrite},
    RpcRule{"ConsentService", "LinkContactPoint", Permission::kSubjectLink},
    RpcRule{"ConsentService", "UnlinkContactPoint", Permission::kSubjectLink},
    RpcRule{"ConsentService", "SetPreferences", Permission::kConsentWrite},
    RpcRule{"ConsentService", "SuppressContactPoint", Permission::kConsentWrite},
    RpcRule{"ConsentService", "GetSubjectState", Permission::kConsentRead},
    RpcRule{"ConsentService", "GetContactPointState", Permission::kConsentRead},
    RpcRule{"ConsentService", "ListHistory", Permission::kHistoryRead},
    RpcRule{"ConsentService", "VerifyHistory", Permission::kHistoryRead},
    RpcRule{"ConsentService", "Check", Permission::kConsentCheck},
    RpcRule{"ConsentService", "BatchCheck", Permission::kConsentCheck},
    RpcRule{"ConsentService", "CreateLink", Permission::kLinkCreate},
    RpcRule{"ConsentService", "ConfirmDecision", Permission::kConsentWrite},
    RpcRule{"ConsentService", "ResendConfirmation", Permission::kConsentWrite},
    RpcRule{"ConsentService", "RequestExportLink", Permission::kLinkCreate},
    RpcRule{"ConsentService", "ListRepermissionRequired", Permission::kConsentRead},
    RpcRule{"ConsentService", "GetEnforcementProof", Permission::kHistoryRead},
    RpcRule{"SubjectRightsService", "EraseSubject", Permission::kSubjectErase},
    RpcRule{"SubjectRightsService", "GetErasure", Permission::kHistoryRead},
    RpcRule{"SubjectRightsService", "SetLegalHold", Permission::kSubjectErase},
    RpcRule{"SubjectRightsService", "OffboardTenant", Permission::kAdmin},
    RpcRule{"SubjectRightsService", "GetOffboarding", Permission::kAdmin},
    RpcRule{"AdminService", "CompactStore", Permission::kAdmin},
    RpcRule{"AdminService", "GetClusterStatus", Permission::kAdmin},
    RpcRule{"AdminService", "ApplyContactLink", Permission::kClusterForward},
    RpcRule{"ExportService", "ExportSubject", Permission::kSubjectExport},
    RpcRule{"ImportService", "ImportDecisions", Permission::kConsentImport},
    RpcRule{"ReceiptService", "GetReceipt", Permission::kHistoryRead},
    RpcRule{"ReceiptService", "GetReceiptKeys", Permission::kCatalogRead},
    RpcRule{"ReportService", "GetConsentReport", Permission::kReportRead},
};

}  // namespace

std::span<const RpcRule> RpcRules() { return kRules; }

const RpcRule& RequireRpcRule(std::string_view service, std::string_view method) {
  const RpcRule* rule = FindRpcRule(service, method);
  if (rule == nullptr) {
    spdlog::critical("msg=\"RPC without a permission rule\" service={} method={}", service, method);
    std::abort();
  }
  return *rule;
}

const RpcRule* FindRpcRule(std::string_view service, std::string_view method) {
  for (const RpcRule& rule : kRules) {
    if (rule.service == service && rule.method == method) return &rule;
  }
  return nullptr;
}

}  // namespace assent::consentd
