#include "assentctl/actions.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "assentctl/format.h"
#include "assentctl/requests.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace assent::ctl {
namespace {

using CatalogStub = v1::CatalogService::StubInterface;
using ConsentStub = v1::ConsentService::StubInterface;

constexpr int32_t kListPageSize = 1000;

// Prints `message` as JSON, or its human form.
void Show(Session& session, const google::protobuf::Message& message, const std::string& human) {
  if (session.options().json) {
    session.PrintJson(message);
  } else {
    session.Print(human);
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::stringstream content;
  if (path == "-") {
    content << std::cin.rdbuf();
    return content.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  content << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return content.str();
}

namespace {

// Every --notice-file, read.
absl::StatusOr<std::vector<NoticeFile>> ReadNoticeFiles(const Args& args) {
  ASSIGN_OR_RETURN(std::vector<NoticeFile> files, ParseNoticeFiles(args));
  for (NoticeFile& file : files) {
    ASSIGN_OR_RETURN(file.text, ReadFile(file.path));
  }
  return files;
}

// Follows page tokens: `call(page_token, &response)` fetches one page; `take(response)` adds its
// items. Stops at the last page.
template <typename Response, typename Call, typename Take>
absl::Status AllPages(Call call, Take take) {
  std::string token;
  do {
    Response response;
    RETURN_IF_ERROR(call(token, &response));
    take(response);
    token = response.next_page_token();
  } while (!token.empty());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> TenantCreate(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(v1::CreateTenantRequest request, BuildCreateTenant(args));
  v1::Tenant tenant;
  RETURN_IF_ERROR(session.Call(session.catalog(), &CatalogStub::CreateTenant, request, &tenant));
  Show(session, tenant, FormatTenant(tenant));
  return kExitOk;
}

absl::StatusOr<int> TenantGet(Session& session, const Args& args) {
  std::string id;
  if (args.positional.empty()) {
    ASSIGN_OR_RETURN(id, RequireTenant(session.options()));
  } else {
    ASSIGN_OR_RETURN(id, SingleOperand(args, "tenant id"));
  }
  v1::GetTenantRequest request;
  request.set_name(TenantName(id));
  v1::Tenant tenant;
  RETURN_IF_ERROR(session.Call(session.catalog(), &CatalogStub::GetTenant, request, &tenant));
  Show(session, tenant, FormatTenant(tenant));
  return kExitOk;
}

absl::StatusOr<int> TenantList(Session& session, const Args& /*args*/) {
  std::vector<v1::Tenant> tenants;
  RETURN_IF_ERROR(AllPages<v1::ListTenantsResponse>(
      [&](const std::string& token, v1::ListTenantsResponse* response) {
        v1::ListTenantsRequest request;
        request.set_page_size(kListPageSize);
        request.set_page_token(token);
        return session.Call(session.catalog(), &CatalogStub::ListTenants, request, response);
      },
      [&](const v1::ListTenantsResponse& response) {
        tenants.insert(tenants.end(), response.tenants().begin(), response.tenants().end());
      }));
  if (session.options().json) {
    for (const v1::Tenant& tenant : tenants) session.PrintJson(tenant);
  } else {
    session.Print(FormatTenants(tenants));
  }
  return kExitOk;
}

absl::StatusOr<int> PurposeCreate(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(std::vector<NoticeFile> notices, ReadNoticeFiles(args));
  ASSIGN_OR_RETURN(v1::CreatePurposeRequest request, BuildCreatePurpose(args, tenant, notices));
  v1::Purpose purpose;
  RETURN_IF_ERROR(session.Call(session.catalog(), &CatalogStub::CreatePurpose, request, &purpose));
  Show(session, purpose, FormatPurpose(purpose));
  return kExitOk;
}

absl::StatusOr<int> PurposeUpdate(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(std::string id, SingleOperand(args, "purpose id"));
  // Check the flags before reading, so a typo is a usage error, not a call.
  RETURN_IF_ERROR(BuildUpdatePurpose(args, v1::Purpose(), {}).status());
  ASSIGN_OR_RETURN(std::vector<NoticeFile> notices, ReadNoticeFiles(args));
  // An update replaces the whole purpose: read the current version and change only what was given.
  v1::GetPurposeRequest get;
  get.set_name(PurposeName(tenant, id));
  v1::Purpose current;
  RETURN_IF_ERROR(session.Call(session.catalog(), &CatalogStub::GetPurpose, get, &current));
  ASSIGN_OR_RETURN(v1::UpdatePurposeRequest request, BuildUpdatePurpose(args, current, notices));
  v1::Purpose purpose;
  RETURN_IF_ERROR(session.Call(session.catalog(), &CatalogStub::UpdatePurpose, request, &purpose));
  Show(session, purpose, FormatPurpose(purpose));
  return kExitOk;
}

absl::StatusOr<int> PurposeGet(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::GetPurposeRequest request, BuildGetPurpose(args, tenant));
  v1::Purpose purpose;
  RETURN_IF_ERROR(session.Call(session.catalog(), &CatalogStub::GetPurpose, request, &purpose));
  Show(session, purpose, FormatPurpose(purpose));
  return kExitOk;
}

absl::StatusOr<int> PurposeList(Session& session, const Args& /*args*/) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  std::vector<v1::Purpose> purposes;
  RETURN_IF_ERROR(AllPages<v1::ListPurposesResponse>(
      [&](const std::string& token, v1::ListPurposesResponse* response) {
        v1::ListPurposesRequest request;
        request.set_parent(TenantName(tenant));
        request.set_page_size(kListPageSize);
        request.set_page_token(token);
        return session.Call(session.catalog(), &CatalogStub::ListPurposes, request, response);
      },
      [&](const v1::ListPurposesResponse& response) {
        purposes.insert(purposes.end(), response.purposes().begin(), response.purposes().end());
      }));
  if (session.options().json) {
    for (const v1::Purpose& purpose : purposes) session.PrintJson(purpose);
  } else {
    session.Print(FormatPurposes(purposes));
  }
  return kExitOk;
}

absl::StatusOr<int> RepermissionList(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  std::optional<std::string> purpose = args.Get("purpose");
  if (!purpose.has_value()) {
    return absl::InvalidArgumentError("repermission list: --purpose is required");
  }
  std::vector<v1::RepermissionEntry> entries;
  bool complete = true;
  RETURN_IF_ERROR(AllPages<v1::ListRepermissionRequiredResponse>(
      [&](const std::string& token, v1::ListRepermissionRequiredResponse* response) {
        v1::ListRepermissionRequiredRequest request;
        request.set_tenant(tenant);
        request.set_purpose_id(*purpose);
        request.set_page_size(kListPageSize);
        request.set_page_token(token);
        return session.Call(session.consent(), &ConsentStub::ListRepermissionRequired, request,
                            response);
      },
      [&](const v1::ListRepermissionRequiredResponse& response) {
        entries.insert(entries.end(), response.entries().begin(), response.entries().end());
        complete = complete && response.complete();
      }));
  if (session.options().json) {
    for (const v1::RepermissionEntry& entry : entries) session.PrintJson(entry);
    return kExitOk;
  }
  std::string out;
  for (const v1::RepermissionEntry& entry : entries) {
    absl::StrAppend(&out, FormatTargetRef(entry.target()), "  record ", entry.record().record_id(),
                    "  notice v", entry.record().evidence().notice_version(), " < v",
                    entry.min_notice_version(), "\n");
  }
  absl::StrAppend(&out, entries.size(), " grant(s) need re-permission",
                  complete ? "" : " so far (the campaign is still walking the targets)", "\n");
  session.Print(out);
  return kExitOk;
}

absl::StatusOr<int> PolicySet(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::SetDefaultPolicyRequest request, BuildSetPolicy(args, tenant));
  v1::DefaultPolicy policy;
  RETURN_IF_ERROR(
      session.Call(session.catalog(), &CatalogStub::SetDefaultPolicy, request, &policy));
  Show(session, policy, FormatPolicy(policy));
  return kExitOk;
}

absl::StatusOr<int> PolicyGet(Session& session, const Args& /*args*/) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::GetDefaultPolicyRequest request;
  request.set_name(PolicyName(tenant));
  v1::DefaultPolicy policy;
  RETURN_IF_ERROR(
      session.Call(session.catalog(), &CatalogStub::GetDefaultPolicy, request, &policy));
  Show(session, policy, FormatPolicy(policy));
  return kExitOk;
}

absl::StatusOr<int> Record(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::RecordDecisionsRequest request, BuildRecord(args, tenant));
  v1::RecordDecisionsResponse response;
  RETURN_IF_ERROR(
      session.Call(session.consent(), &ConsentStub::RecordDecisions, request, &response));
  Show(session, response, FormatRecorded(response));
  return kExitOk;
}

absl::StatusOr<int> Link(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::LinkContactPointRequest request, BuildLink(args, tenant));
  v1::LinkContactPointResponse response;
  RETURN_IF_ERROR(
      session.Call(session.consent(), &ConsentStub::LinkContactPoint, request, &response));
  Show(session, response, FormatLinked(request, response));
  return kExitOk;
}

absl::StatusOr<int> Unlink(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::UnlinkContactPointRequest request, BuildUnlink(args, tenant));
  v1::UnlinkContactPointResponse response;
  RETURN_IF_ERROR(
      session.Call(session.consent(), &ConsentStub::UnlinkContactPoint, request, &response));
  Show(session, response, FormatUnlinked(request, response));
  return kExitOk;
}

absl::StatusOr<int> PrefsSet(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::SetPreferencesRequest request, BuildSetPreferences(args, tenant));
  v1::SetPreferencesResponse response;
  RETURN_IF_ERROR(
      session.Call(session.consent(), &ConsentStub::SetPreferences, request, &response));
  Show(session, response, FormatPreferencesSet(response));
  return kExitOk;
}

absl::StatusOr<int> Suppress(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::SuppressContactPointRequest request, BuildSuppress(args, tenant));
  v1::SuppressContactPointResponse response;
  RETURN_IF_ERROR(
      session.Call(session.consent(), &ConsentStub::SuppressContactPoint, request, &response));
  Show(session, response, FormatSuppressed(request, response));
  return kExitOk;
}

absl::StatusOr<int> State(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::Target target, TargetFromArgs(args));
  if (target.has_subject_id()) {
    v1::GetSubjectStateRequest request;
    request.set_tenant(tenant);
    request.set_subject_id(target.subject_id());
    v1::SubjectState state;
    RETURN_IF_ERROR(
        session.Call(session.consent(), &ConsentStub::GetSubjectState, request, &state));
    Show(session, state, FormatSubjectState(state));
  } else {
    v1::GetContactPointStateRequest request;
    request.set_tenant(tenant);
    if (target.has_contact_ref()) {
      *request.mutable_contact_ref() = target.contact_ref();
    } else {
      *request.mutable_contact_point() = target.contact_point();
    }
    v1::ContactPointState state;
    RETURN_IF_ERROR(
        session.Call(session.consent(), &ConsentStub::GetContactPointState, request, &state));
    Show(session, state, FormatContactState(state));
  }
  return kExitOk;
}

absl::StatusOr<int> Check(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::CheckRequest request, BuildCheck(args, tenant));
  v1::CheckResponse response;
  RETURN_IF_ERROR(session.Call(session.consent(), &ConsentStub::Check, request, &response));
  Show(session, response, FormatCheckLine(response, request.target()));
  return response.verdict() == v1::ALLOW ? kExitOk : kExitNegative;
}

absl::StatusOr<int> Url(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::CreateLinkRequest request, BuildCreateLink(args, tenant));
  v1::CreateLinkResponse response;
  RETURN_IF_ERROR(session.Call(session.consent(), &ConsentStub::CreateLink, request, &response));
  Show(session, response, FormatLink(response));
  return kExitOk;
}

absl::StatusOr<int> ResendConfirmation(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::ResendConfirmationRequest request, BuildResendConfirmation(args, tenant));
  v1::ResendConfirmationResponse response;
  RETURN_IF_ERROR(
      session.Call(session.consent(), &ConsentStub::ResendConfirmation, request, &response));
  Show(session, response,
       absl::StrCat("event    ", response.event_id(), "\nexpires  ",
                    FormatTimestamp(response.expire_time(), response.has_expire_time()), "\n"));
  return kExitOk;
}

absl::StatusOr<int> BatchCheck(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(v1::BatchCheckRequest request, BuildBatchCheck(args, tenant));
  const std::string path = *args.Get("file");
  ASSIGN_OR_RETURN(std::string content, ReadFile(path));
  ASSIGN_OR_RETURN(
      std::vector<TargetEntry> targets,
      ParseTargetFile(content, path == "-" ? "<stdin>" : path, args.GetOr("region", "")));
  if (targets.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no targets"));

  std::vector<v1::CheckResponse> results;
  results.reserve(targets.size());
  for (size_t begin = 0; begin < targets.size(); begin += kMaxBatchTargets) {
    const size_t end = std::min(targets.size(), begin + kMaxBatchTargets);
    request.clear_targets();
    for (size_t i = begin; i < end; ++i) *request.add_targets() = targets[i].target;
    v1::BatchCheckResponse response;
    RETURN_IF_ERROR(session.Call(session.consent(), &ConsentStub::BatchCheck, request, &response));
    if (static_cast<size_t>(response.results_size()) != end - begin) {
      return absl::InternalError(absl::StrCat("the server answered ", response.results_size(),
                                              " results for ", end - begin, " targets"));
    }
    results.insert(results.end(), response.results().begin(), response.results().end());
  }

  if (session.options().json) {
    // One object per target: its label first, then the check response's fields.
    for (size_t i = 0; i < targets.size(); ++i) {
      const nlohmann::ordered_json result = nlohmann::ordered_json::parse(ToJson(results[i]));
      nlohmann::ordered_json line = nlohmann::ordered_json::object();
      line["target"] = targets[i].label;
      line.update(result);
      session.Print(line.dump() + "\n");
    }
  } else {
    session.Print(FormatBatch(targets, results));
  }
  for (const v1::CheckResponse& result : results) {
    if (result.verdict() != v1::ALLOW) return kExitNegative;
  }
  return kExitOk;
}

absl::StatusOr<int> History(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  ASSIGN_OR_RETURN(HistoryQuery query, BuildHistory(args, tenant));
  std::vector<v1::HistoryRecord> records;
  auto want_more = [&] { return query.limit == 0 || records.size() < query.limit; };
  std::string token;
  do {
    v1::ListHistoryRequest request = query.request;
    request.set_page_token(token);
    v1::ListHistoryResponse response;
    RETURN_IF_ERROR(session.Call(session.consent(), &ConsentStub::ListHistory, request, &response));
    for (v1::HistoryRecord& record : *response.mutable_records()) {
      if (!want_more()) break;
      records.push_back(std::move(record));
    }
    token = response.next_page_token();
  } while (!token.empty() && want_more());

  if (session.options().json) {
    for (const v1::HistoryRecord& record : records) session.PrintJson(record);
  } else {
    session.Print(FormatHistory(records));
  }
  return kExitOk;
}

absl::StatusOr<int> Proof(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::GetEnforcementProofRequest request;
  request.set_tenant(tenant);
  ASSIGN_OR_RETURN(*request.mutable_target(), TargetFromArgs(args));
  uint32_t limit = 0;
  if (auto value = args.Get("limit")) {
    ASSIGN_OR_RETURN(limit, ParseUint32("limit", *value));
  }
  v1::GetEnforcementProofResponse all;
  std::string token;
  do {
    request.set_page_token(token);
    request.set_page_size(static_cast<int32_t>(limit == 0 ? 1000 : std::min(limit, 1000u)));
    v1::GetEnforcementProofResponse response;
    RETURN_IF_ERROR(
        session.Call(session.consent(), &ConsentStub::GetEnforcementProof, request, &response));
    *all.mutable_senders() = response.senders();
    for (v1::WithdrawalProof& w : *response.mutable_withdrawals()) {
      if (limit != 0 && static_cast<uint32_t>(all.withdrawals_size()) >= limit) break;
      *all.add_withdrawals() = std::move(w);
    }
    token = response.next_page_token();
  } while (!token.empty() && (limit == 0 || static_cast<uint32_t>(all.withdrawals_size()) < limit));
  Show(session, all, FormatProof(all, absl::Now()));
  for (const v1::WithdrawalProof& w : all.withdrawals()) {
    for (const v1::SenderApplication& s : w.senders()) {
      if (!s.has_applied_time()) return kExitNegative;
    }
  }
  return kExitOk;
}

absl::StatusOr<int> Verify(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::VerifyHistoryRequest request;
  request.set_tenant(tenant);
  ASSIGN_OR_RETURN(*request.mutable_target(), TargetFromArgs(args));
  v1::VerifyHistoryResponse response;
  RETURN_IF_ERROR(session.Call(session.consent(), &ConsentStub::VerifyHistory, request, &response));
  Show(session, response, FormatVerify(response));
  return response.valid() ? kExitOk : kExitNegative;
}

namespace {

using RightsStub = v1::SubjectRightsService::StubInterface;

absl::StatusOr<std::string> RequireSubject(const Args& args) {
  std::optional<std::string> subject = args.Get("subject");
  if (!subject.has_value() || subject->empty()) {
    return absl::InvalidArgumentError("--subject: is required");
  }
  return *subject;
}

std::string FormatErasure(const v1::ErasureStub& stub, bool already) {
  std::string out =
      absl::StrCat(already ? "already erased" : "erased", " ", stub.subject_id(), " at ",
                   FormatTimestamp(stub.erase_time()), " (sequence ", stub.sequence(), ")\n");
  for (const v1::DecisionStub& d : stub.decisions()) {
    absl::StrAppend(
        &out, "  kept: ", d.purpose_id(),
        d.channel() == v1::CHANNEL_UNSPECIFIED ? std::string()
                                               : absl::StrCat("/", v1::Channel_Name(d.channel())),
        " ", v1::ConsentState_Name(d.state()), " effective ", FormatTimestamp(d.effective_time()),
        " notice v", d.notice_version(), " source ", d.source(), "\n");
  }
  for (const v1::ContactRef& c : stub.suppressed_contacts()) {
    absl::StrAppend(&out, "  suppressed: ", v1::ContactType_Name(c.type()), " ", c.hash(), "\n");
  }
  return out;
}

std::string FormatOffboarding(const v1::OffboardingStatus& s) {
  return absl::StrCat("tenant ", s.tenant(), ": ", v1::OffboardingStatus::State_Name(s.state()),
                      ", scanned ", s.subjects_scanned(), ", erased ", s.subjects_erased(),
                      ", held ", s.subjects_held(), "\n");
}

}  // namespace

absl::StatusOr<int> Erase(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::EraseSubjectRequest request;
  request.set_tenant(tenant);
  ASSIGN_OR_RETURN(*request.mutable_subject_id(), RequireSubject(args));
  request.set_reason(args.Get("reason").value_or(""));
  request.set_actor(args.Get("actor").value_or(""));
  v1::EraseSubjectResponse response;
  RETURN_IF_ERROR(session.Call(session.rights(), &RightsStub::EraseSubject, request, &response));
  Show(session, response, FormatErasure(response.erasure(), response.already_erased()));
  return kExitOk;
}

absl::StatusOr<int> ErasureGet(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::GetErasureRequest request;
  request.set_tenant(tenant);
  ASSIGN_OR_RETURN(*request.mutable_subject_id(), RequireSubject(args));
  v1::ErasureStub response;
  RETURN_IF_ERROR(session.Call(session.rights(), &RightsStub::GetErasure, request, &response));
  Show(session, response, FormatErasure(response, false));
  return kExitOk;
}

absl::StatusOr<int> HoldSet(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::SetLegalHoldRequest request;
  request.set_tenant(tenant);
  ASSIGN_OR_RETURN(*request.mutable_subject_id(), RequireSubject(args));
  request.set_hold(true);
  request.set_reason(args.Get("reason").value_or(""));
  v1::SetLegalHoldResponse response;
  RETURN_IF_ERROR(session.Call(session.rights(), &RightsStub::SetLegalHold, request, &response));
  Show(session, response,
       absl::StrCat("legal hold set on ", request.subject_id(), ": ", response.hold().reason(),
                    "\n"));
  return kExitOk;
}

absl::StatusOr<int> HoldLift(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::SetLegalHoldRequest request;
  request.set_tenant(tenant);
  ASSIGN_OR_RETURN(*request.mutable_subject_id(), RequireSubject(args));
  v1::SetLegalHoldResponse response;
  RETURN_IF_ERROR(session.Call(session.rights(), &RightsStub::SetLegalHold, request, &response));
  Show(session, response, absl::StrCat("legal hold lifted on ", request.subject_id(), "\n"));
  return kExitOk;
}

absl::StatusOr<int> OffboardStart(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::OffboardTenantRequest request;
  request.set_tenant(tenant);
  request.set_confirm_tenant(args.Get("confirm-tenant").value_or(""));
  request.set_reason(args.Get("reason").value_or(""));
  v1::OffboardingStatus response;
  RETURN_IF_ERROR(session.Call(session.rights(), &RightsStub::OffboardTenant, request, &response));
  Show(session, response, FormatOffboarding(response));
  return kExitOk;
}

absl::StatusOr<int> OffboardStatus(Session& session, const Args&) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::GetOffboardingRequest request;
  request.set_tenant(tenant);
  v1::OffboardingStatus response;
  RETURN_IF_ERROR(session.Call(session.rights(), &RightsStub::GetOffboarding, request, &response));
  Show(session, response, FormatOffboarding(response));
  return kExitOk;
}

absl::StatusOr<int> AdminCompact(Session& session, const Args& /*args*/) {
  v1::CompactStoreRequest request;
  v1::CompactStoreResponse response;
  RETURN_IF_ERROR(session.Call(session.admin(), &v1::AdminService::StubInterface::CompactStore,
                               request, &response));
  Show(session, response, FormatCompaction(response));
  return kExitOk;
}

}  // namespace assent::ctl
