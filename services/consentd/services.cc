#include "consentd/services.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "consentd/cluster_router.h"
#include "consentd/erasure_log.h"
#include "ledger/route.h"
#include "rpc/parse_guard.h"
#include "rpc/status.h"
#include "spdlog/spdlog.h"

namespace assent::consentd {
namespace {

using authz::Permission;

absl::Time Deadline(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// The rule of one of consentd's RPCs; a method without one is a defect caught at start.
const RpcRule& Rule(std::string_view service, std::string_view method) {
  return RequireRpcRule(service, method);
}

// The tenant a request is about: its `tenant` field, or the tenant of its resource name
// ("tenants/{tenant}/..."). Empty when it names none (then only a grant on every tenant admits it).
template <typename Request>
std::string_view TenantOf(const Request& request) {
  return request.tenant();
}
std::string_view TenantOfName(std::string_view name) {
  constexpr std::string_view kPrefix = "tenants/";
  if (!name.starts_with(kPrefix)) return {};
  name.remove_prefix(kPrefix.size());
  return name.substr(0, name.find('/'));
}
std::string_view TenantOf(const v1::CreateTenantRequest& r) {
  return r.tenant().tenant_id().empty() ? TenantOfName(r.tenant().name()) : r.tenant().tenant_id();
}
std::string_view TenantOf(const v1::GetTenantRequest& r) { return TenantOfName(r.name()); }
// Anyone who may read some tenant's catalog may list: the list shows those tenants.
std::string_view TenantOf(const v1::ListTenantsRequest&) { return authz::Policy::kAnyTenant; }
std::string_view TenantOf(const v1::CreatePurposeRequest& r) { return TenantOfName(r.parent()); }
std::string_view TenantOf(const v1::UpdatePurposeRequest& r) {
  return TenantOfName(r.purpose().name());
}
std::string_view TenantOf(const v1::GetPurposeRequest& r) { return TenantOfName(r.name()); }
std::string_view TenantOf(const v1::ListPurposesRequest& r) { return TenantOfName(r.parent()); }
std::string_view TenantOf(const v1::SetDefaultPolicyRequest& r) { return TenantOfName(r.parent()); }
// The receipt keys are the same for every tenant: anyone who may read some tenant's catalog.
std::string_view TenantOf(const v1::GetReceiptKeysRequest&) { return authz::Policy::kAnyTenant; }
std::string_view TenantOf(const v1::GetDefaultPolicyRequest& r) { return TenantOfName(r.name()); }
// The store is every tenant's: only a grant on every tenant admits store maintenance.
std::string_view TenantOf(const v1::CompactStoreRequest&) { return {}; }
std::string_view TenantOf(const v1::GetClusterStatusRequest&) { return {}; }
// A call between instances: cluster.forward on every tenant (what peers hold).
std::string_view TenantOf(const v1::ApplyContactLinkRequest&) { return {}; }

// The second permission a request needs for what it carries (permissions.h), if any.
template <typename Request>
std::optional<Permission> ExtraPermission(const Request&) {
  return std::nullopt;
}
std::optional<Permission> ByHash(const v1::Target& target) {
  if (target.has_contact_ref()) return Permission::kContactByHash;
  return std::nullopt;
}
std::optional<Permission> ExtraPermission(const v1::RecordDecisionsRequest& r) {
  if (r.has_import()) return Permission::kConsentImport;
  return ByHash(r.target());
}
std::optional<Permission> ExtraPermission(const v1::ResendConfirmationRequest& r) {
  return ByHash(r.target());
}
std::optional<Permission> ExtraPermission(const v1::RequestExportLinkRequest& r) {
  return ByHash(r.target());
}
std::optional<Permission> ExtraPermission(const v1::GetContactPointStateRequest& r) {
  if (r.has_contact_ref()) return Permission::kContactByHash;
  return std::nullopt;
}
std::optional<Permission> ExtraPermission(const v1::ListHistoryRequest& r) {
  return ByHash(r.target());
}
std::optional<Permission> ExtraPermission(const v1::GetEnforcementProofRequest& r) {
  return ByHash(r.target());
}
std::optional<Permission> ExtraPermission(const v1::VerifyHistoryRequest& r) {
  return ByHash(r.target());
}
std::optional<Permission> ExtraPermission(const v1::CheckRequest& r) { return ByHash(r.target()); }
std::optional<Permission> ExtraPermission(const v1::BatchCheckRequest& r) {
  for (const v1::Target& target : r.targets()) {
    if (target.has_contact_ref()) return Permission::kContactByHash;
  }
  return std::nullopt;
}
std::optional<Permission> ExtraPermission(const v1::CreateLinkRequest& r) {
  return ByHash(r.target());
}
std::optional<Permission> ExtraPermission(const v1::GetReceiptRequest& r) {
  return ByHash(r.target());
}

// The history records a write's response reports, whose receipts it carries (ReceiptIssuer).
// Writes without receipts report none.
struct ReceiptRecords {
  std::string tenant;
  std::vector<ReceiptIssuer::Record> records;
};
template <typename Request, typename Response>
ReceiptRecords ReceiptRecordsOf(const Request&, const Response&) {
  return {};
}
v1::TargetRef SubjectRef(const std::string& subject_id) {
  v1::TargetRef ref;
  ref.set_subject_id(subject_id);
  return ref;
}
v1::TargetRef ContactTarget(const v1::ContactRef& contact) {
  v1::TargetRef ref;
  *ref.mutable_contact() = contact;
  return ref;
}
ReceiptRecords ReceiptRecordsOf(const v1::RecordDecisionsRequest& q,
                                const v1::RecordDecisionsResponse& r) {
  return {q.tenant(), {{r.target(), r.sequence()}}};
}
ReceiptRecords ReceiptRecordsOf(const v1::ConfirmDecisionRequest&,
                                const v1::ConfirmDecisionResponse& r) {
  if (r.already_confirmed()) return {};  // nothing was written
  return {r.tenant(), {{r.target(), r.sequence()}}};
}
ReceiptRecords ReceiptRecordsOf(const v1::SuppressContactPointRequest& q,
                                const v1::SuppressContactPointResponse& r) {
  return {q.tenant(), {{ContactTarget(r.contact()), r.sequence()}}};
}
ReceiptRecords ReceiptRecordsOf(const v1::LinkContactPointRequest& q,
                                const v1::LinkContactPointResponse& r) {
  return {q.tenant(),
          {{SubjectRef(q.subject_id()), r.subject_sequence()},
           {ContactTarget(r.contact()), r.contact_sequence()}}};
}
ReceiptRecords ReceiptRecordsOf(const v1::UnlinkContactPointRequest& q,
                                const v1::UnlinkContactPointResponse& r) {
  // The response does not name the contact point: it is the subject record's counterpart.
  return {
      q.tenant(),
      {{SubjectRef(q.subject_id()), r.subject_sequence()}, {std::nullopt, r.contact_sequence()}}};
}
template <typename Response>
void SetReceipts(Response& response, std::vector<v1::Receipt>& receipts) {
  // Only the responses ReceiptRecordsOf names records for get here.
  if constexpr (requires { response.mutable_receipt(); }) {
    *response.mutable_receipt() = std::move(receipts[0]);
  }
}
// A link's contact point receipt is empty when its record is not kept on the instance that ran
// the write (ReceiptIssuer::Issue): left out then.
void SetReceipts(v1::LinkContactPointResponse& response, std::vector<v1::Receipt>& receipts) {
  *response.mutable_receipt() = std::move(receipts[0]);
  if (!receipts[1].claims().empty()) *response.mutable_contact_receipt() = std::move(receipts[1]);
}
void SetReceipts(v1::UnlinkContactPointResponse& response, std::vector<v1::Receipt>& receipts) {
  *response.mutable_receipt() = std::move(receipts[0]);
  if (!receipts[1].claims().empty()) *response.mutable_contact_receipt() = std::move(receipts[1]);
}

// Cluster mode: the route key (ledger/route.h) of a write's target, which picks the partition
// whose owner runs it. nullopt: no single target; the write runs where it entered (and fails
// UNAVAILABLE there unless this instance owns every partition it touches). An error (a contact
// point that does not parse) runs it locally too, where validation names the field.
template <typename Request>
std::optional<std::string> RouteOf(const ledger::Ledger&, const Request&) {
  return std::nullopt;
}
std::optional<std::string> SubjectRoute(std::string_view tenant, const std::string& subject_id) {
  v1::TargetRef ref;
  ref.set_subject_id(subject_id);
  return ledger::RouteKey(tenant, ref);
}
std::optional<std::string> Ok(absl::StatusOr<std::string> route) {
  if (!route.ok()) return std::nullopt;
  return *std::move(route);
}
std::optional<std::string> RouteOf(const ledger::Ledger& l, const v1::RecordDecisionsRequest& r) {
  return Ok(l.RouteKeyOf("target", r.tenant(), r.target()));
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::LinkContactPointRequest& r) {
  return SubjectRoute(r.tenant(), r.subject_id());
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::UnlinkContactPointRequest& r) {
  return SubjectRoute(r.tenant(), r.subject_id());
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::ApplyContactLinkRequest& r) {
  // Where the contact point's half runs: the contact point's partition.
  if (r.tenant().empty() || r.contact().hash().empty()) return std::nullopt;
  v1::TargetRef ref;
  *ref.mutable_contact() = r.contact();
  return ledger::RouteKey(r.tenant(), ref);
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::SetPreferencesRequest& r) {
  return SubjectRoute(r.tenant(), r.subject_id());
}
std::optional<std::string> RouteOf(const ledger::Ledger& l,
                                   const v1::SuppressContactPointRequest& r) {
  return Ok(l.RouteKeyOf("contact_point", r.tenant(), r.contact_point()));
}
std::optional<std::string> RouteOf(const ledger::Ledger& l,
                                   const v1::ResendConfirmationRequest& r) {
  return Ok(l.RouteKeyOf("target", r.tenant(), r.target()));
}
std::optional<std::string> RouteOf(const ledger::Ledger& l, const v1::RequestExportLinkRequest& r) {
  return Ok(l.RouteKeyOf("target", r.tenant(), r.target()));
}
std::optional<std::string> RouteOf(const ledger::Ledger& l, const v1::ConfirmDecisionRequest& r) {
  return Ok(l.RouteKeyOfConfirmation(r.tenant(), r.token()));
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::EraseSubjectRequest& r) {
  return SubjectRoute(r.tenant(), r.subject_id());
}
// A tenant's offboarding starts on its catalog's owner, so that two calls are serialised by one
// committer (each partition's owner then walks its own partitions: rights_runner.h).
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::OffboardTenantRequest& r) {
  return ledger::TenantRouteKey(r.tenant());
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::SetLegalHoldRequest& r) {
  return SubjectRoute(r.tenant(), r.subject_id());
}
// Reads of a target's history, which an instance keeps only for the partitions it keeps in full
// (cluster.standbys): where they are answered.
std::optional<std::string> RouteOf(const ledger::Ledger& l, const v1::ListHistoryRequest& r) {
  return Ok(l.RouteKeyOf("target", r.tenant(), r.target()));
}
std::optional<std::string> RouteOf(const ledger::Ledger& l, const v1::VerifyHistoryRequest& r) {
  return Ok(l.RouteKeyOf("target", r.tenant(), r.target()));
}
std::optional<std::string> RouteOf(const ledger::Ledger& l,
                                   const v1::GetEnforcementProofRequest& r) {
  return Ok(l.RouteKeyOf("target", r.tenant(), r.target()));
}
std::optional<std::string> RouteOf(const ledger::Ledger& l, const v1::GetReceiptRequest& r) {
  return Ok(l.RouteKeyOf("target", r.tenant(), r.target()));
}
std::optional<std::string> CatalogRoute(std::string_view tenant) {
  if (tenant.empty()) return std::nullopt;
  return ledger::TenantRouteKey(tenant);
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::CreateTenantRequest& r) {
  return CatalogRoute(TenantOf(r));
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::CreatePurposeRequest& r) {
  return CatalogRoute(TenantOf(r));
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::UpdatePurposeRequest& r) {
  return CatalogRoute(TenantOf(r));
}
std::optional<std::string> RouteOf(const ledger::Ledger&, const v1::SetDefaultPolicyRequest& r) {
  return CatalogRoute(TenantOf(r));
}

// One call: its rule, the guard that admits it, and its metrics.
struct Call {
  CallGuard& guard;
  ServiceMetrics* metrics;
  const RpcRule& rule;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  // Finishes the call and records it.
  void Finish(grpc::ServerUnaryReactor* reactor, const absl::Status& status) const {
    const grpc::Status out = rpc::ToGrpcStatus(status);
    if (metrics != nullptr) {
      metrics->ObserveRpc(rule.service, rule.method, out.error_code(),
                          absl::FromChrono(std::chrono::steady_clock::now() - start));
    }
    reactor->Finish(out);
  }

  // What every call does first: refuse a request protobuf could not parse, then admit the caller.
  template <typename Request>
  absl::StatusOr<ledger::Caller> Admit(grpc::CallbackServerContext* ctx,
                                       const Request& request) const {
    if (std::optional<absl::Status> bad = rpc::ParseError(request)) [[unlikely]]
      return *bad;
    return guard.Admit(ctx, rule, TenantOf(request), ExtraPermission(request));
  }
};

// Where a write goes in cluster mode.
struct Routing {
  ClusterRouter* router = nullptr;   // null: single-node mode
  std::optional<int32_t> partition;  // the write's partition, when it has one target
  bool forwarded = false;            // the call came from a peer
  std::string principal;             // the caller, for a forward
};

// Sends a write to its partition's owner (which may be this instance by then) and answers with
// the owner's answer.
template <typename Request, typename Response>
void Forward(const Routing& routing, grpc::CallbackServerContext* ctx, const Request& request,
             Response* response, const Call& call, grpc::ServerUnaryReactor* reactor) {
  routing.router->Route(
      *routing.partition,
      absl::StrCat("/assent.v1.", Sv(call.rule.service), "/", Sv(call.rule.method)),
      ToByteBuffer(request), routing.principal, Deadline(ctx),
      [reactor, response, call](const grpc::Status& status, grpc::ByteBuffer* bytes) {
        if (!status.ok()) {
          call.Finish(reactor, rpc::FromGrpcStatus(status));
        } else if (!FromByteBuffer(bytes, response)) {
          call.Finish(reactor, absl::InternalError("the owner's response does not parse"));
        } else {
          call.Finish(reactor, absl::OkStatus());
        }
      });
}

// The local part of a write: the ledger runs it and completes it once durable. A write refused
// because its partition's ownership moved before anything was applied (store::IsNotApplied) goes
// to the new owner: a peer's forward is told to retry (kNotOwnerTrailer), a call that entered
// here is forwarded.
template <typename Request, typename Response, typename Start>
void RunWrite(grpc::CallbackServerContext* ctx, const Request& request, Response* response,
              Call call, Start& start, ReceiptIssuer* receipts, ledger::Caller caller,
              grpc::ServerUnaryReactor* reactor, Routing routing) {
  start(Deadline(ctx), std::move(caller),
        [ctx, reactor, response, call, receipts, &request,
         routing = std::move(routing)](absl::StatusOr<Response> result) {
          if (!result.ok()) {
            if (routing.partition.has_value() && store::IsNotApplied(result.status())) {
              if (!routing.forwarded) {
                Forward(routing, ctx, request, response, call, reactor);
                return;
              }
              ctx->AddTrailingMetadata(kNotOwnerTrailer, "1");
            }
            call.Finish(reactor, result.status());
            return;
          }
          *response = *std::move(result);
          ReceiptRecords wanted;
          if (receipts != nullptr) wanted = ReceiptRecordsOf(request, *response);
          if (wanted.records.empty()) {
            call.Finish(reactor, absl::OkStatus());
            return;
          }
          const size_t count = wanted.records.size();
          receipts->Issue(
              std::move(wanted.tenant), std::move(wanted.records),
              [reactor, response, call, count](absl::StatusOr<std::vector<v1::Receipt>> signed_) {
                // The write is durable either way: a receipt that cannot be made leaves the
                // response without one (GetReceipt can sign it later), never fails the write.
                if (signed_.ok() && signed_->size() == count) {
                  SetReceipts(*response, *signed_);
                } else {
                  spdlog::get("consentd")
                      ->warn("msg=\"receipt not issued\" service={} method={} error=\"{}\"",
                             call.rule.service, call.rule.method, signed_.status().ToString());
                }
                call.Finish(reactor, absl::OkStatus());
              });
        });
}

// A write: the ledger completes it on the committer thread once durable. With `receipts`, the
// history records the response reports are signed before it is sent (a replayed idempotent
// response too): the committer thread only queues them for the signer thread.
//
// Cluster mode: a write whose partition another instance owns is forwarded there (routed by
// ClusterRouter); the owner's answer is the answer.
template <typename Request, typename Response, typename Start>
grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* ctx, const Request& request,
                                Response* response, Call call, Start start,
                                ReceiptIssuer* receipts = nullptr) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Routing routing;
  routing.router = call.guard.router();
  routing.forwarded = routing.router != nullptr && ForwardedPrincipal(ctx).has_value();
  if (routing.forwarded) {
    ctx->AddTrailingMetadata(kServedByTrailer, routing.router->node().node_id());
  }
  absl::StatusOr<ledger::Caller> caller = call.Admit(ctx, request);
  if (!caller.ok()) {
    call.Finish(reactor, caller.status());
    return reactor;
  }
  if (routing.router != nullptr) {
    if (std::optional<std::string> route = RouteOf(routing.router->ledger(), request)) {
      routing.partition = routing.router->node().PartitionOf(*route);
    }
    routing.principal = caller->principal;
  }
  if (routing.partition.has_value() && !routing.router->node().Owns(*routing.partition)) {
    if (routing.forwarded) {
      ctx->AddTrailingMetadata(kNotOwnerTrailer, "1");
      call.Finish(reactor,
                  absl::UnavailableError(absl::StrCat("this instance does not own partition ",
                                                      *routing.partition, "; retry")));
      return reactor;
    }
    Forward(routing, ctx, request, response, call, reactor);
    return reactor;
  }
  RunWrite(ctx, request, response, call, start, receipts, *std::move(caller), reactor,
           std::move(routing));
  return reactor;
}

// A read: answered on the calling thread, from the local replica.
//
// Cluster mode with standbys (cluster.standbys): a read with a route (a target's history) whose
// partition this instance does not keep in full is forwarded to the partition's owner, like a
// write; an owner that no longer keeps it tells the entry to retry (kNotOwnerTrailer).
template <typename Request, typename Response, typename Run>
grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx, const Request& request,
                               Response* response, Call call, Run run) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  ClusterRouter* router = call.guard.router();
  const bool forwarded = router != nullptr && ForwardedPrincipal(ctx).has_value();
  if (forwarded) ctx->AddTrailingMetadata(kServedByTrailer, router->node().node_id());
  absl::StatusOr<ledger::Caller> caller = call.Admit(ctx, request);
  if (!caller.ok()) {
    call.Finish(reactor, caller.status());
    return reactor;
  }
  if (router != nullptr) {
    if (std::optional<std::string> route = RouteOf(router->ledger(), request)) {
      const int32_t partition = router->node().PartitionOf(*route);
      if (!router->node().Replicates(partition)) {
        if (forwarded) {
          ctx->AddTrailingMetadata(kNotOwnerTrailer, "1");
          call.Finish(reactor,
                      absl::UnavailableError(absl::StrCat("this instance does not keep partition ",
                                                          partition, "; retry")));
          return reactor;
        }
        Forward(Routing{router, partition, false, caller->principal}, ctx, request, response, call,
                reactor);
        return reactor;
      }
    }
  }
  absl::StatusOr<Response> result = run(*caller);
  if (result.ok()) *response = *std::move(result);
  call.Finish(reactor, result.status());
  return reactor;
}

// Aborts unless every method of `service` has a permission rule.
void RequireRules(std::string_view service) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          absl::StrCat("assent.v1.", Sv(service)));
  for (int i = 0; i < descriptor->method_count(); ++i) Rule(service, descriptor->method(i)->name());
}

}  // namespace

CatalogService::CatalogService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics)
    : ledger_(ledger), guard_(guard), metrics_(metrics) {
  RequireRules(kName);
  GuardParsing("CreateTenant", &CatalogService::CreateTenant);
  GuardParsing("GetTenant", &CatalogService::GetTenant);
  GuardParsing("ListTenants", &CatalogService::ListTenants);
  GuardParsing("CreatePurpose", &CatalogService::CreatePurpose);
  GuardParsing("UpdatePurpose", &CatalogService::UpdatePurpose);
  GuardParsing("GetPurpose", &CatalogService::GetPurpose);
  GuardParsing("ListPurposes", &CatalogService::ListPurposes);
  GuardParsing("SetDefaultPolicy", &CatalogService::SetDefaultPolicy);
  GuardParsing("GetDefaultPolicy", &CatalogService::GetDefaultPolicy);
}

ConsentService::ConsentService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics)
    : ledger_(ledger), guard_(guard), metrics_(metrics) {
  RequireRules(kName);
  GuardParsing("RecordDecisions", &ConsentService::RecordDecisions);
  GuardParsing("LinkContactPoint", &ConsentService::LinkContactPoint);
  GuardParsing("UnlinkContactPoint", &ConsentService::UnlinkContactPoint);
  GuardParsing("SetPreferences", &ConsentService::SetPreferences);
  GuardParsing("SuppressContactPoint", &ConsentService::SuppressContactPoint);
  GuardParsing("GetSubjectState", &ConsentService::GetSubjectState);
  GuardParsing("GetContactPointState", &ConsentService::GetContactPointState);
  GuardParsing("ListHistory", &ConsentService::ListHistory);
  GuardParsing("GetEnforcementProof", &ConsentService::GetEnforcementProof);
  GuardParsing("VerifyHistory", &ConsentService::VerifyHistory);
  GuardParsing("Check", &ConsentService::Check);
  GuardParsing("BatchCheck", &ConsentService::BatchCheck);
  GuardParsing("CreateLink", &ConsentService::CreateLink);
  GuardParsing("ConfirmDecision", &ConsentService::ConfirmDecision);
  GuardParsing("ResendConfirmation", &ConsentService::ResendConfirmation);
  GuardParsing("RequestExportLink", &ConsentService::RequestExportLink);
  GuardParsing("ListRepermissionRequired", &ConsentService::ListRepermissionRequired);
}

grpc::ServerUnaryReactor* CatalogService::CreateTenant(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateTenantRequest* request,
                                                       v1::Tenant* response) {
  static const RpcRule& rule = Rule(kName, "CreateTenant");
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, const ledger::Caller&, ledger::Callback<v1::Tenant> done) {
                 ledger_.CreateTenant(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* CatalogService::CreatePurpose(grpc::CallbackServerContext* ctx,
                                                        const v1::CreatePurposeRequest* request,
                                                        v1::Purpose* response) {
  static const RpcRule& rule = Rule(kName, "CreatePurpose");
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, const ledger::Caller&, ledger::Callback<v1::Purpose> done) {
                 ledger_.CreatePurpose(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* CatalogService::UpdatePurpose(grpc::CallbackServerContext* ctx,
                                                        const v1::UpdatePurposeRequest* request,
                                                        v1::Purpose* response) {
  static const RpcRule& rule = Rule(kName, "UpdatePurpose");
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, const ledger::Caller&, ledger::Callback<v1::Purpose> done) {
                 ledger_.UpdatePurpose(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* CatalogService::SetDefaultPolicy(
    grpc::CallbackServerContext* ctx, const v1::SetDefaultPolicyRequest* request,
    v1::DefaultPolicy* response) {
  static const RpcRule& rule = Rule(kName, "SetDefaultPolicy");
  return Write(
      ctx, *request, response, Call{guard_, metrics_, rule},
      [&](absl::Time deadline, const ledger::Caller&, ledger::Callback<v1::DefaultPolicy> done) {
        ledger_.SetDefaultPolicy(*request, deadline, std::move(done));
      });
}

grpc::ServerUnaryReactor* CatalogService::GetTenant(grpc::CallbackServerContext* ctx,
                                                    const v1::GetTenantRequest* request,
                                                    v1::Tenant* response) {
  static const RpcRule& rule = Rule(kName, "GetTenant");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.GetTenant(*request); });
}

grpc::ServerUnaryReactor* CatalogService::ListTenants(grpc::CallbackServerContext* ctx,
                                                      const v1::ListTenantsRequest* request,
                                                      v1::ListTenantsResponse* response) {
  static const RpcRule& rule = Rule(kName, "ListTenants");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller& caller) -> absl::StatusOr<v1::ListTenantsResponse> {
                // A principal granted some tenants sees those.
                ASSIGN_OR_RETURN(v1::ListTenantsResponse all, ledger_.ListTenants(*request));
                v1::ListTenantsResponse visible;
                visible.set_next_page_token(all.next_page_token());
                for (v1::Tenant& t : *all.mutable_tenants()) {
                  if (guard_.Allows(caller, t.tenant_id(), Permission::kCatalogRead)) {
                    *visible.add_tenants() = std::move(t);
                  }
                }
                return visible;
              });
}

grpc::ServerUnaryReactor* CatalogService::GetPurpose(grpc::CallbackServerContext* ctx,
                                                     const v1::GetPurposeRequest* request,
                                                     v1::Purpose* response) {
  static const RpcRule& rule = Rule(kName, "GetPurpose");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.GetPurpose(*request); });
}

grpc::ServerUnaryReactor* CatalogService::ListPurposes(grpc::CallbackServerContext* ctx,
                                                       const v1::ListPurposesRequest* request,
                                                       v1::ListPurposesResponse* response) {
  static const RpcRule& rule = Rule(kName, "ListPurposes");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.ListPurposes(*request); });
}

grpc::ServerUnaryReactor* CatalogService::GetDefaultPolicy(
    grpc::CallbackServerContext* ctx, const v1::GetDefaultPolicyRequest* request,
    v1::DefaultPolicy* response) {
  static const RpcRule& rule = Rule(kName, "GetDefaultPolicy");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.GetDefaultPolicy(*request); });
}

grpc::ServerUnaryReactor* ConsentService::RecordDecisions(grpc::CallbackServerContext* ctx,
                                                          const v1::RecordDecisionsRequest* request,
                                                          v1::RecordDecisionsResponse* response) {
  static const RpcRule& rule = Rule(kName, "RecordDecisions");
  return Write(
      ctx, *request, response, Call{guard_, metrics_, rule},
      [&](absl::Time deadline, ledger::Caller caller,
          ledger::Callback<v1::RecordDecisionsResponse> done) {
        ledger_.RecordDecisions(*request, deadline, std::move(done), caller);
      },
      receipts_);
}

grpc::ServerUnaryReactor* ConsentService::ConfirmDecision(grpc::CallbackServerContext* ctx,
                                                          const v1::ConfirmDecisionRequest* request,
                                                          v1::ConfirmDecisionResponse* response) {
  static const RpcRule& rule = Rule(kName, "ConfirmDecision");
  return Write(
      ctx, *request, response, Call{guard_, metrics_, rule},
      [&](absl::Time deadline, ledger::Caller caller,
          ledger::Callback<v1::ConfirmDecisionResponse> done) {
        ledger_.ConfirmDecision(*request, deadline, std::move(done), caller);
      },
      receipts_);
}

grpc::ServerUnaryReactor* ConsentService::ResendConfirmation(
    grpc::CallbackServerContext* ctx, const v1::ResendConfirmationRequest* request,
    v1::ResendConfirmationResponse* response) {
  static const RpcRule& rule = Rule(kName, "ResendConfirmation");
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, ledger::Caller caller,
                   ledger::Callback<v1::ResendConfirmationResponse> done) {
                 ledger_.ResendConfirmation(*request, deadline, std::move(done), caller);
               });
}

grpc::ServerUnaryReactor* ConsentService::RequestExportLink(
    grpc::CallbackServerContext* ctx, const v1::RequestExportLinkRequest* request,
    v1::RequestExportLinkResponse* response) {
  static const RpcRule& rule = Rule(kName, "RequestExportLink");
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, ledger::Caller caller,
                   ledger::Callback<v1::RequestExportLinkResponse> done) {
                 ledger_.RequestExportLink(*request, deadline, std::move(done), caller);
               });
}

grpc::ServerUnaryReactor* ConsentService::LinkContactPoint(
    grpc::CallbackServerContext* ctx, const v1::LinkContactPointRequest* request,
    v1::LinkContactPointResponse* response) {
  static const RpcRule& rule = Rule(kName, "LinkContactPoint");
  return Write(
      ctx, *request, response, Call{guard_, metrics_, rule},
      [&](absl::Time deadline, ledger::Caller caller,
          ledger::Callback<v1::LinkContactPointResponse> done) {
        if (links_ != nullptr && links_->Spans(*request)) {
          links_->Link(*request, deadline, caller, std::move(done));
        } else {
          ledger_.LinkContactPoint(*request, deadline, std::move(done), caller);
        }
      },
      receipts_);
}

grpc::ServerUnaryReactor* ConsentService::UnlinkContactPoint(
    grpc::CallbackServerContext* ctx, const v1::UnlinkContactPointRequest* request,
    v1::UnlinkContactPointResponse* response) {
  static const RpcRule& rule = Rule(kName, "UnlinkContactPoint");
  return Write(
      ctx, *request, response, Call{guard_, metrics_, rule},
      [&](absl::Time deadline, ledger::Caller caller,
          ledger::Callback<v1::UnlinkContactPointResponse> done) {
        if (links_ != nullptr && links_->Spans(*request)) {
          links_->Unlink(*request, deadline, caller, std::move(done));
        } else {
          ledger_.UnlinkContactPoint(*request, deadline, std::move(done), caller);
        }
      },
      receipts_);
}

grpc::ServerUnaryReactor* ConsentService::SetPreferences(grpc::CallbackServerContext* ctx,
                                                         const v1::SetPreferencesRequest* request,
                                                         v1::SetPreferencesResponse* response) {
  static const RpcRule& rule = Rule(kName, "SetPreferences");
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, ledger::Caller caller,
                   ledger::Callback<v1::SetPreferencesResponse> done) {
                 ledger_.SetPreferences(*request, deadline, std::move(done), caller);
               });
}

grpc::ServerUnaryReactor* ConsentService::SuppressContactPoint(
    grpc::CallbackServerContext* ctx, const v1::SuppressContactPointRequest* request,
    v1::SuppressContactPointResponse* response) {
  static const RpcRule& rule = Rule(kName, "SuppressContactPoint");
  return Write(
      ctx, *request, response, Call{guard_, metrics_, rule},
      [&](absl::Time deadline, ledger::Caller caller,
          ledger::Callback<v1::SuppressContactPointResponse> done) {
        ledger_.SuppressContactPoint(*request, deadline, std::move(done), caller);
      },
      receipts_);
}

grpc::ServerUnaryReactor* ConsentService::GetSubjectState(grpc::CallbackServerContext* ctx,
                                                          const v1::GetSubjectStateRequest* request,
                                                          v1::SubjectState* response) {
  static const RpcRule& rule = Rule(kName, "GetSubjectState");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.GetSubjectState(*request); });
}

grpc::ServerUnaryReactor* ConsentService::GetContactPointState(
    grpc::CallbackServerContext* ctx, const v1::GetContactPointStateRequest* request,
    v1::ContactPointState* response) {
  static const RpcRule& rule = Rule(kName, "GetContactPointState");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.GetContactPointState(*request); });
}

grpc::ServerUnaryReactor* ConsentService::GetEnforcementProof(
    grpc::CallbackServerContext* ctx, const v1::GetEnforcementProofRequest* request,
    v1::GetEnforcementProofResponse* response) {
  static const RpcRule& rule = Rule(kName, "GetEnforcementProof");
  return Read(
      ctx, *request, response, Call{guard_, metrics_, rule},
      [&](const ledger::Caller&) -> absl::StatusOr<v1::GetEnforcementProofResponse> {
        if (proof_ == nullptr) {
          return absl::FailedPreconditionError(
              "enforcement.senders: no registered senders, so no proof is recorded");
        }
        ASSIGN_OR_RETURN(v1::TargetRef target, ledger_.ResolveKnownTarget(
                                                   "target", request->tenant(), request->target()));
        return ReadEnforcementProof(*store_ptr_, request->tenant(), target, request->page_size(),
                                    request->page_token(), proof_->senders());
      });
}

grpc::ServerUnaryReactor* ConsentService::ListHistory(grpc::CallbackServerContext* ctx,
                                                      const v1::ListHistoryRequest* request,
                                                      v1::ListHistoryResponse* response) {
  static const RpcRule& rule = Rule(kName, "ListHistory");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.ListHistory(*request); });
}

grpc::ServerUnaryReactor* ConsentService::ListRepermissionRequired(
    grpc::CallbackServerContext* ctx, const v1::ListRepermissionRequiredRequest* request,
    v1::ListRepermissionRequiredResponse* response) {
  static const RpcRule& rule = Rule(kName, "ListRepermissionRequired");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.ListRepermissionRequired(*request); });
}

grpc::ServerUnaryReactor* ConsentService::VerifyHistory(grpc::CallbackServerContext* ctx,
                                                        const v1::VerifyHistoryRequest* request,
                                                        v1::VerifyHistoryResponse* response) {
  static const RpcRule& rule = Rule(kName, "VerifyHistory");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.VerifyHistory(*request); });
}

grpc::ServerUnaryReactor* ConsentService::Check(grpc::CallbackServerContext* ctx,
                                                const v1::CheckRequest* request,
                                                v1::CheckResponse* response) {
  static const RpcRule& rule = Rule(kName, "Check");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.Check(*request); });
}

grpc::ServerUnaryReactor* ConsentService::BatchCheck(grpc::CallbackServerContext* ctx,
                                                     const v1::BatchCheckRequest* request,
                                                     v1::BatchCheckResponse* response) {
  static const RpcRule& rule = Rule(kName, "BatchCheck");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.BatchCheck(*request); });
}

grpc::ServerUnaryReactor* ConsentService::CreateLink(grpc::CallbackServerContext* ctx,
                                                     const v1::CreateLinkRequest* request,
                                                     v1::CreateLinkResponse* response) {
  static const RpcRule& rule = Rule(kName, "CreateLink");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.CreateLink(*request); });
}

SubjectRightsService::SubjectRightsService(ledger::Ledger& ledger, CallGuard& guard,
                                           ServiceMetrics* metrics, ErasureLog* erasure_log)
    : ledger_(ledger), guard_(guard), metrics_(metrics), erasure_log_(erasure_log) {
  RequireRules(kName);
  GuardParsing("EraseSubject", &SubjectRightsService::EraseSubject);
  GuardParsing("GetErasure", &SubjectRightsService::GetErasure);
  GuardParsing("SetLegalHold", &SubjectRightsService::SetLegalHold);
  GuardParsing("OffboardTenant", &SubjectRightsService::OffboardTenant);
  GuardParsing("GetOffboarding", &SubjectRightsService::GetOffboarding);
}

grpc::ServerUnaryReactor* SubjectRightsService::EraseSubject(grpc::CallbackServerContext* ctx,
                                                             const v1::EraseSubjectRequest* request,
                                                             v1::EraseSubjectResponse* response) {
  static const RpcRule& rule = Rule(kName, "EraseSubject");
  return Write(
      ctx, *request, response, Call{guard_, metrics_, rule},
      [&](absl::Time deadline, ledger::Caller caller,
          ledger::Callback<v1::EraseSubjectResponse> done) {
        ledger::Callback<v1::EraseSubjectResponse> then_log =
            [log = erasure_log_,
             done = std::move(done)](absl::StatusOr<v1::EraseSubjectResponse> result) mutable {
              if (!result.ok() || log == nullptr) return done(std::move(result));
              // Logged before it is acknowledged (a repeat is logged again, so an
              // erasure acknowledged once is always in the log).
              ErasureLog::Entry entry{result->erasure().tenant(), result->erasure().subject_id(),
                                      FromProto(result->erasure().erase_time())};
              log->Append(std::move(entry), [result = *std::move(result),
                                             done = std::move(done)](absl::Status logged) mutable {
                if (!logged.ok()) return done(logged);
                done(std::move(result));
              });
            };
        if (links_ != nullptr) {
          links_->Erase(*request, deadline, caller, std::move(then_log));
        } else {
          ledger_.EraseSubject(*request, deadline, std::move(then_log), caller);
        }
      });
}

grpc::ServerUnaryReactor* SubjectRightsService::GetErasure(grpc::CallbackServerContext* ctx,
                                                           const v1::GetErasureRequest* request,
                                                           v1::ErasureStub* response) {
  static const RpcRule& rule = Rule(kName, "GetErasure");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.GetErasure(*request); });
}

grpc::ServerUnaryReactor* SubjectRightsService::SetLegalHold(grpc::CallbackServerContext* ctx,
                                                             const v1::SetLegalHoldRequest* request,
                                                             v1::SetLegalHoldResponse* response) {
  static const RpcRule& rule = Rule(kName, "SetLegalHold");
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, ledger::Caller caller,
                   ledger::Callback<v1::SetLegalHoldResponse> done) {
                 ledger_.SetLegalHold(*request, deadline, std::move(done), caller);
               });
}

grpc::ServerUnaryReactor* SubjectRightsService::OffboardTenant(
    grpc::CallbackServerContext* ctx, const v1::OffboardTenantRequest* request,
    v1::OffboardingStatus* response) {
  static const RpcRule& rule = Rule(kName, "OffboardTenant");
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, ledger::Caller caller,
                   ledger::Callback<v1::OffboardingStatus> done) {
                 ledger_.OffboardTenant(*request, deadline, std::move(done), caller);
               });
}

grpc::ServerUnaryReactor* SubjectRightsService::GetOffboarding(
    grpc::CallbackServerContext* ctx, const v1::GetOffboardingRequest* request,
    v1::OffboardingStatus* response) {
  static const RpcRule& rule = Rule(kName, "GetOffboarding");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) { return ledger_.GetOffboarding(*request); });
}

AdminService::AdminService(store::Store& store, CallGuard& guard, ServiceMetrics* metrics)
    : store_(store), guard_(guard), metrics_(metrics) {
  RequireRules(kName);
  GuardParsing("CompactStore", &AdminService::CompactStore);
  GuardParsing("GetClusterStatus", &AdminService::GetClusterStatus);
  GuardParsing("ApplyContactLink", &AdminService::ApplyContactLink);
}

grpc::ServerUnaryReactor* AdminService::GetClusterStatus(grpc::CallbackServerContext* ctx,
                                                         const v1::GetClusterStatusRequest* request,
                                                         v1::ClusterStatus* response) {
  static const RpcRule& rule = Rule(kName, "GetClusterStatus");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) -> absl::StatusOr<v1::ClusterStatus> {
                v1::ClusterStatus out;
                out.set_version(ASSENT_VERSION);
                if (cluster_ == nullptr) return out;
                out.set_cluster_mode(true);
                out.set_node_id(cluster_->node_id());
                for (const cluster::Node::PartitionStatus& p : cluster_->Status()) {
                  v1::ClusterPartition* partition = out.add_partitions();
                  partition->set_partition(p.partition);
                  if (p.owner.has_value()) {
                    partition->set_owner(p.owner->node_id);
                    partition->set_owner_address(p.owner->address);
                    *partition->mutable_owned_since() = ToProto(p.owner->since);
                    partition->set_owner_version(p.owner->version);
                  }
                  partition->set_owned_here(p.owned_here);
                  partition->set_applied_offset(p.applied);
                  partition->set_end_offset(p.end);
                  partition->set_replicated_here(p.replicated_here);
                  for (const std::string& node : p.standbys) partition->add_standbys(node);
                }
                out.set_standbys(cluster_->standbys());
                out.set_replica_lag_records(cluster_->ReplicaLag());
                out.set_caught_up(cluster_->CaughtUp());
                out.set_replay_ratio(cluster_->ReplayProgress());
                return out;
              });
}

grpc::ServerUnaryReactor* AdminService::ApplyContactLink(grpc::CallbackServerContext* ctx,
                                                         const v1::ApplyContactLinkRequest* request,
                                                         v1::ApplyContactLinkResponse* response) {
  static const RpcRule& rule = Rule(kName, "ApplyContactLink");
  if (!ForwardedPrincipal(ctx).has_value()) {
    // Refused before Write, which would forward a call entering a non-owner, header and all.
    const Call call{guard_, metrics_, rule};
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::StatusOr<ledger::Caller> caller = call.Admit(ctx, *request);
    call.Finish(reactor, !caller.ok() ? caller.status()
                                      : absl::PermissionDeniedError(
                                            "ApplyContactLink is a call between the instances "
                                            "of a cluster: only a peer sends it"));
    return reactor;
  }
  return Write(ctx, *request, response, Call{guard_, metrics_, rule},
               [&](absl::Time deadline, ledger::Caller,
                   ledger::Callback<v1::ApplyContactLinkResponse> done) {
                 if (ledger_ == nullptr) {
                   return done(absl::FailedPreconditionError(
                       "ApplyContactLink is a call between the instances of a cluster; this "
                       "instance runs in single-node mode"));
                 }
                 ledger_->ApplyContactLink(*request, deadline, std::move(done));
               });
}

grpc::ServerUnaryReactor* AdminService::CompactStore(grpc::CallbackServerContext* ctx,
                                                     const v1::CompactStoreRequest* request,
                                                     v1::CompactStoreResponse* response) {
  static const RpcRule& rule = Rule(kName, "CompactStore");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller& caller) -> absl::StatusOr<v1::CompactStoreResponse> {
                spdlog::info("msg=\"store compaction started\" principal={}", caller.principal);
                const auto start = std::chrono::steady_clock::now();
                ASSIGN_OR_RETURN(store::CompactionReport report, store_.CompactAll());
                v1::CompactStoreResponse out;
                for (const store::CfCompaction& family : report.families) {
                  v1::ColumnFamilyCompaction* cf = out.add_column_families();
                  cf->set_name(family.name);
                  cf->set_sst_bytes_before(family.sst_bytes_before);
                  cf->set_sst_bytes_after(family.sst_bytes_after);
                  cf->set_memtable_bytes_before(family.memtable_bytes_before);
                }
                out.set_wal_bytes_before(report.wal_bytes_before);
                out.set_wal_bytes_after(report.wal_bytes_after);
                out.set_duration_ms(
                    static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - start)
                                              .count()));
                spdlog::info("msg=\"store compaction done\" duration_ms={}", out.duration_ms());
                return out;
              });
}

ReceiptService::ReceiptService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics,
                               const ReceiptIssuer* receipts)
    : ledger_(ledger), guard_(guard), metrics_(metrics), receipts_(receipts) {
  RequireRules(kName);
  GuardParsing("GetReceipt", &ReceiptService::GetReceipt);
  GuardParsing("GetReceiptKeys", &ReceiptService::GetReceiptKeys);
}

namespace {
absl::Status NoReceiptKeyring() {
  return FailedPrecondition(
      "receipts.keyring_file: consentd runs without a receipt keyring, so it signs no receipts");
}
}  // namespace

grpc::ServerUnaryReactor* ReceiptService::GetReceipt(grpc::CallbackServerContext* ctx,
                                                     const v1::GetReceiptRequest* request,
                                                     v1::Receipt* response) {
  static const RpcRule& rule = Rule(kName, "GetReceipt");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) -> absl::StatusOr<v1::Receipt> {
                if (receipts_ == nullptr) return NoReceiptKeyring();
                ASSIGN_OR_RETURN(
                    v1::TargetRef target,
                    ledger_.ResolveKnownTarget("target", request->tenant(), request->target()));
                if (request->sequence() == 0) return InvalidField("sequence", "must be at least 1");
                return receipts_->SignStored(request->tenant(), target, request->sequence());
              });
}

grpc::ServerUnaryReactor* ReceiptService::GetReceiptKeys(grpc::CallbackServerContext* ctx,
                                                         const v1::GetReceiptKeysRequest* request,
                                                         v1::GetReceiptKeysResponse* response) {
  static const RpcRule& rule = Rule(kName, "GetReceiptKeys");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) -> absl::StatusOr<v1::GetReceiptKeysResponse> {
                if (receipts_ == nullptr) return NoReceiptKeyring();
                return receipts_->Keys();
              });
}

ReportService::ReportService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics)
    : ledger_(ledger), guard_(guard), metrics_(metrics) {
  RequireRules(kName);
  GuardParsing("GetConsentReport", &ReportService::GetConsentReport);
}

grpc::ServerUnaryReactor* ReportService::GetConsentReport(
    grpc::CallbackServerContext* ctx, const v1::GetConsentReportRequest* request,
    v1::GetConsentReportResponse* response) {
  static const RpcRule& rule = Rule(kName, "GetConsentReport");
  return Read(ctx, *request, response, Call{guard_, metrics_, rule},
              [&](const ledger::Caller&) -> absl::StatusOr<v1::GetConsentReportResponse> {
                return ledger_.GetConsentReport(*request);
              });
}

}  // namespace assent::consentd
