// Reads: current state, history and its verification, and the checks.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "contact/normalize.h"
#include "core/decision.h"
#include "core/validate.h"
#include "ledger/history.h"
#include "ledger/ledger.h"
#include "ledger/names.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr int kDefaultHistoryPage = 100;
constexpr int kMaxHistoryPage = 1000;

template <typename State>
absl::StatusOr<std::optional<State>> ReadState(const store::Store& store, store::Cf cf,
                                               const std::string& key) {
  ASSIGN_OR_RETURN(auto raw, store.Get(cf, key));
  if (!raw.has_value()) return std::optional<State>();
  State state;
  if (!state.ParseFromString(*raw)) return Corrupt(store::CfName(cf));
  return std::optional<State>(std::move(state));
}

// The loaded states a check needs for one target.
struct CheckStates {
  std::optional<v1::SubjectState> subject;
  std::optional<v1::ContactPointState> contact;
};

absl::StatusOr<CheckStates> LoadForCheck(const store::Store& store, std::string_view tenant,
                                         const v1::TargetRef& target) {
  CheckStates states;
  if (target.has_contact()) {
    ASSIGN_OR_RETURN(states.contact,
                     ReadState<v1::ContactPointState>(store, store::Cf::kContacts,
                                                      store::ContactKey(tenant, target.contact())));
    if (states.contact.has_value() && !states.contact->linked_subject_id().empty()) {
      ASSIGN_OR_RETURN(states.subject,
                       ReadState<v1::SubjectState>(
                           store, store::Cf::kSubjects,
                           store::SubjectKey(tenant, states.contact->linked_subject_id())));
    }
  } else {
    ASSIGN_OR_RETURN(states.subject,
                     ReadState<v1::SubjectState>(store, store::Cf::kSubjects,
                                                 store::SubjectKey(tenant, target.subject_id())));
  }
  return states;
}

absl::StatusOr<absl::Time> CheckTime(const google::protobuf::Timestamp* ts, absl::Time now) {
  if (ts == nullptr) return now;
  RETURN_IF_ERROR(ValidateTimestamp("time", *ts));
  return FromProto(*ts);
}

}  // namespace

absl::StatusOr<v1::SubjectState> Ledger::GetSubjectState(
    const v1::GetSubjectStateRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  RETURN_IF_ERROR(core::ValidateSubjectId("subject_id", request.subject_id()));
  ASSIGN_OR_RETURN(auto state, ReadState<v1::SubjectState>(
                                   store_, store::Cf::kSubjects,
                                   store::SubjectKey(request.tenant(), request.subject_id())));
  if (!state.has_value()) return NotFound("subject", request.subject_id());
  return *std::move(state);
}

absl::StatusOr<v1::ContactPointState> Ledger::GetContactPointState(
    const v1::GetContactPointStateRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  ASSIGN_OR_RETURN(auto ref, contact::ToRef("contact_point", TenantContactKey(request.tenant()),
                                            request.contact_point()));
  ASSIGN_OR_RETURN(auto state,
                   ReadState<v1::ContactPointState>(store_, store::Cf::kContacts,
                                                    store::ContactKey(request.tenant(), ref)));
  if (!state.has_value()) return NotFound("contact point", "(given)");
  return *std::move(state);
}

absl::StatusOr<v1::ListHistoryResponse> Ledger::ListHistory(
    const v1::ListHistoryRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  ASSIGN_OR_RETURN(v1::TargetRef target,
                   ResolveTarget("target", request.tenant(), request.target()));
  ASSIGN_OR_RETURN(int page_size,
                   PageSize(request.page_size(), kDefaultHistoryPage, kMaxHistoryPage));
  uint64_t from = request.newest_first() ? UINT64_MAX : 1;
  if (!request.page_token().empty()) {
    ASSIGN_OR_RETURN(std::string position, ParsePageToken("history", request.page_token()));
    if (!absl::SimpleAtoi(position, &from)) {
      return InvalidField("page_token", "is not a token returned by this method");
    }
  }
  const std::string prefix = store::HistoryPrefix(request.tenant(), store::EntityName(target));
  auto it = store_.NewIterator(store::Cf::kHistory);
  v1::ListHistoryResponse response;
  auto in_range = [&] { return it->Valid() && it->key().starts_with(prefix); };
  if (request.newest_first()) {
    it->SeekForPrev(store::HistoryKey(request.tenant(), store::EntityName(target), from));
  } else {
    it->Seek(store::HistoryKey(request.tenant(), store::EntityName(target), from));
  }
  while (in_range()) {
    v1::HistoryRecord record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corrupt("history record");
    }
    if (response.records_size() == page_size) {
      response.set_next_page_token(MakePageToken("history", absl::StrCat(record.sequence())));
      break;
    }
    *response.add_records() = std::move(record);
    if (request.newest_first()) {
      it->Prev();
    } else {
      it->Next();
    }
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  if (response.records_size() == 0 && request.page_token().empty()) {
    return NotFound("history for target", "(given)");
  }
  return response;
}

absl::StatusOr<v1::VerifyHistoryResponse> Ledger::VerifyHistory(
    const v1::VerifyHistoryRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  ASSIGN_OR_RETURN(v1::TargetRef target,
                   ResolveTarget("target", request.tenant(), request.target()));
  uint64_t sequence = 0;
  std::string head;
  if (target.has_contact()) {
    ASSIGN_OR_RETURN(auto state, ReadState<v1::ContactPointState>(
                                     store_, store::Cf::kContacts,
                                     store::ContactKey(request.tenant(), target.contact())));
    if (!state.has_value()) return NotFound("contact point", "(given)");
    sequence = state->sequence();
    head = state->chain_head();
  } else {
    ASSIGN_OR_RETURN(auto state, ReadState<v1::SubjectState>(
                                     store_, store::Cf::kSubjects,
                                     store::SubjectKey(request.tenant(), target.subject_id())));
    if (!state.has_value()) return NotFound("subject", target.subject_id());
    sequence = state->sequence();
    head = state->chain_head();
  }
  return VerifyChain(store_, request.tenant(), store::EntityName(target), sequence, head);
}

absl::StatusOr<core::CheckInput> Ledger::PrepareCheck(
    const Catalog& catalog, std::string_view tenant, std::string_view purpose_id, int channel,
    std::string_view topic, const google::protobuf::Timestamp* time) const {
  RETURN_IF_ERROR(RequireTenant(catalog, "tenant", tenant));
  RETURN_IF_ERROR(core::ValidatePurposeId("purpose_id", purpose_id));
  const v1::Purpose* purpose = catalog.FindPurpose(tenant, purpose_id);
  if (purpose == nullptr) {
    return absl::NotFoundError(absl::StrCat("purpose_id: purpose not found: ", Sv(purpose_id)));
  }
  RETURN_IF_ERROR(core::ValidateChannel("channel", channel, false));
  RETURN_IF_ERROR(core::ValidateTopic("topic", topic));
  core::CheckInput input;
  ASSIGN_OR_RETURN(input.now, CheckTime(time, clock_.Now()));
  input.purpose = purpose;
  input.policy = &catalog.FindTenant(tenant)->policy;
  input.channel = static_cast<v1::Channel>(channel);
  input.topic = topic;
  return input;
}

absl::StatusOr<v1::CheckResponse> Ledger::Check(const v1::CheckRequest& request) const {
  auto catalog = catalog_.Snapshot();
  ASSIGN_OR_RETURN(core::CheckInput input,
                   PrepareCheck(*catalog, request.tenant(), request.purpose_id(), request.channel(),
                                request.topic(), request.has_time() ? &request.time() : nullptr));
  ASSIGN_OR_RETURN(v1::TargetRef target,
                   ResolveTarget("target", request.tenant(), request.target()));
  RETURN_IF_ERROR(core::ValidateJurisdiction("jurisdiction", request.jurisdiction()));
  ASSIGN_OR_RETURN(CheckStates states, LoadForCheck(store_, request.tenant(), target));
  input.jurisdiction = request.jurisdiction();
  input.subject = states.subject.has_value() ? &*states.subject : nullptr;
  input.contact = states.contact.has_value() ? &*states.contact : nullptr;
  auto verdict = core::Decide(input);
  if (verdict.ok() && observer_ != nullptr)
    observer_->OnChecked(verdict->verdict(), verdict->reason());
  return verdict;
}

absl::StatusOr<v1::BatchCheckResponse> Ledger::BatchCheck(
    const v1::BatchCheckRequest& request) const {
  auto catalog = catalog_.Snapshot();
  ASSIGN_OR_RETURN(core::CheckInput input,
                   PrepareCheck(*catalog, request.tenant(), request.purpose_id(), request.channel(),
                                request.topic(), request.has_time() ? &request.time() : nullptr));
  if (request.targets_size() == 0) return InvalidField("targets", "must not be empty");
  if (request.targets_size() > options_.max_batch_check) {
    return InvalidField("targets", absl::StrCat("must contain at most ", options_.max_batch_check,
                                                " targets (got ", request.targets_size(), ")"));
  }
  // Resolve every target first so a bad one fails the batch before any work is done.
  std::vector<v1::TargetRef> targets(request.targets_size());
  for (int i = 0; i < request.targets_size(); ++i) {
    ASSIGN_OR_RETURN(targets[i], ResolveTarget(absl::StrCat("targets[", i, "]"), request.tenant(),
                                               request.targets(i)));
  }
  v1::BatchCheckResponse response;
  response.mutable_results()->Reserve(request.targets_size());
  for (const v1::TargetRef& target : targets) {
    ASSIGN_OR_RETURN(CheckStates states, LoadForCheck(store_, request.tenant(), target));
    input.subject = states.subject.has_value() ? &*states.subject : nullptr;
    input.contact = states.contact.has_value() ? &*states.contact : nullptr;
    ASSIGN_OR_RETURN(*response.add_results(), core::Decide(input));
  }
  if (observer_ != nullptr) {
    for (const auto& r : response.results()) observer_->OnChecked(r.verdict(), r.reason());
  }
  return response;
}

}  // namespace assent::ledger
