// The preference center's only way to the data: consentd's gRPC API, like any internal caller.
// Each call carries the configured deadline; errors come back as absl::Status with the gRPC code.
// Tenants' catalogs (display name, purposes, default policy) are cached for `catalog_ttl`.
//
// Thread safety: every method is thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "assent/v1/export.grpc.pb.h"
#include "assent/v1/receipts.grpc.pb.h"
#include "common/clock.h"
#include "enforce/catalog.h"
#include "grpcpp/channel.h"

namespace assent::prefcenter {

struct TenantInfo {
  v1::Tenant tenant;
  enforce::TenantCatalog catalog;
  absl::Time fetched;
};

class ConsentClient {
 public:
  ConsentClient(std::shared_ptr<grpc::Channel> channel, const Clock& clock, absl::Duration deadline,
                absl::Duration catalog_ttl);

  // The tenant's catalog, from the cache when fresher than catalog_ttl. NOT_FOUND for an unknown
  // tenant; a failed refresh serves the stale entry when there is one.
  absl::StatusOr<std::shared_ptr<const TenantInfo>> Tenant(const std::string& tenant);

  // A subject's or contact point's state; an empty state (sequence 0) when nothing is recorded.
  absl::StatusOr<v1::SubjectState> Subject(const std::string& tenant, const std::string& id);
  absl::StatusOr<v1::ContactPointState> Contact(const std::string& tenant,
                                                const v1::ContactRef& ref);
  // A contact point by its plain address (for "send me a new link"); NOT_FOUND when unknown.
  absl::StatusOr<v1::ContactPointState> ContactByAddress(const std::string& tenant,
                                                         const v1::ContactPoint& point);
  absl::StatusOr<v1::ListHistoryResponse> History(const std::string& tenant,
                                                  const v1::TargetRef& target, int page_size);
  absl::StatusOr<v1::RecordDecisionsResponse> Record(const v1::RecordDecisionsRequest& request);
  // Confirms a double opt-in (the token is a bearer secret: never logged).
  absl::StatusOr<v1::ConfirmDecisionResponse> Confirm(const v1::ConfirmDecisionRequest& request);
  absl::StatusOr<v1::SetPreferencesResponse> SetPreferences(
      const v1::SetPreferencesRequest& request);
  // "Download my data": asks consentd to mail an EXPORT link to the typed address (the address is
  // a customer's input: never logged).
  absl::Status RequestExportLink(const v1::RequestExportLinkRequest& request);
  // A subject's export as it streams: Next() gives each chunk in order, nullopt at the end (then
  // Finish() says whether the stream ended well). One stream per object; not thread-safe.
  class ExportStream {
   public:
    virtual ~ExportStream() = default;
    virtual std::optional<v1::ExportChunk> Next() = 0;
    virtual absl::Status Finish() = 0;
  };
  // Opens the export of `subject_id` (deadline: `deadline`, longer than the unary one).
  std::unique_ptr<ExportStream> Export(const std::string& tenant, const std::string& subject_id,
                                       absl::Duration deadline);
  // Ready when consentd answers (a cheap ListTenants).
  bool Ready();
  // The receipt JWKS (GetReceiptKeys), from the cache when fresher than catalog_ttl; a failed
  // refresh serves the cached one when there is one. FAILED_PRECONDITION when consentd signs no
  // receipts.
  absl::StatusOr<std::shared_ptr<const std::string>> ReceiptKeys();

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;

  const Clock& clock_;
  const absl::Duration deadline_;
  const absl::Duration catalog_ttl_;
  std::unique_ptr<v1::CatalogService::Stub> catalog_;
  std::unique_ptr<v1::ConsentService::Stub> consent_;
  std::unique_ptr<v1::ExportService::Stub> export_;
  std::unique_ptr<v1::ReceiptService::Stub> receipts_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const TenantInfo>> tenants_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const std::string> jwks_ ABSL_GUARDED_BY(mu_);
  absl::Time jwks_fetched_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// The Target that names a stored TargetRef (a contact point by its keyed hash).
v1::Target ToTarget(const v1::TargetRef& ref);

}  // namespace assent::prefcenter
