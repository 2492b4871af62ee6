// Reads: current state, history and its verification, and the checks.
#include <algorithm>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "contact/normalize.h"
#include "core/check_state.h"
#include "core/decision.h"
#include "core/validate.h"
#include "google/protobuf/arena.h"
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

// An arena whose first block is `initial` (memory the caller keeps), then blocks of
// `start_block` bytes doubling up to 1 MiB.
google::protobuf::ArenaOptions ArenaIn(char* initial, size_t initial_size, size_t start_block) {
  google::protobuf::ArenaOptions options;
  options.initial_block = initial;
  options.initial_block_size = initial_size;
  options.start_block_size = start_block;
  options.max_block_size = 1 << 20;
  return options;
}

// A check decodes only what the decision rule reads (core::ParseForCheck), which costs a fraction
// of parsing the evidence, sources and actors of every stored decision, into an arena: its fields
// then cost no heap allocation each.
template <typename State>
absl::StatusOr<const State*> ReadCheckState(const store::Store& store, store::Cf cf,
                                            const std::string& key,
                                            google::protobuf::Arena& arena) {
  ASSIGN_OR_RETURN(auto raw, store.Get(cf, key));
  if (!raw.has_value()) return nullptr;
  State* state = google::protobuf::Arena::CreateMessage<State>(&arena);
  if (!core::ParseForCheck(*raw, *state)) return Corrupt(store::CfName(cf));
  return state;
}

// Whether a subject with no state was erased (only such subjects pay this read).
absl::StatusOr<bool> IsErased(const store::Store& store, std::string_view tenant,
                              std::string_view subject_id) {
  ASSIGN_OR_RETURN(auto stub,
                   store.Get(store::Cf::kRights, store::ErasureStubKey(tenant, subject_id)));
  return stub.has_value();
}

// The states a check needs for one target, nullptr when nothing is stored. The arena starts in a
// buffer inside this struct (on the caller's stack), which holds a typical target's states.
struct CheckStates {
  CheckStates() : arena(ArenaIn(initial, sizeof(initial), 8 << 10)) {}
  alignas(16) char initial[2048];
  google::protobuf::Arena arena;
  const v1::SubjectState* subject = nullptr;
  const v1::ContactPointState* contact = nullptr;
};

absl::Status LoadForCheck(const store::Store& store, std::string_view tenant,
                          const v1::TargetRef& target, CheckStates& states) {
  if (target.has_contact()) {
    ASSIGN_OR_RETURN(states.contact,
                     ReadCheckState<v1::ContactPointState>(
                         store, store::Cf::kContacts, store::ContactKey(tenant, target.contact()),
                         states.arena));
    if (states.contact != nullptr && !states.contact->linked_subject_id().empty()) {
      ASSIGN_OR_RETURN(
          states.subject,
          ReadCheckState<v1::SubjectState>(
              store, store::Cf::kSubjects,
              store::SubjectKey(tenant, states.contact->linked_subject_id()), states.arena));
    }
  } else {
    ASSIGN_OR_RETURN(states.subject,
                     ReadCheckState<v1::SubjectState>(
                         store, store::Cf::kSubjects,
                         store::SubjectKey(tenant, target.subject_id()), states.arena));
  }
  return absl::OkStatus();
}

// Memory that a thread's batches start their arena in, kept between batches. A batch decodes up
// to 10,000 states (megabytes); arena blocks fresh from the allocator every time would cost a page
// fault per 4 KiB touched, about a tenth of the batch. It grows to what the largest batch on the
// thread used, up to kMaxBytes (beyond that the arena adds blocks of its own).
class KeptArenaMemory {
 public:
  static constexpr size_t kMaxBytes = 16u << 20;
  char* data() const { return block_.get(); }
  size_t size() const { return size_; }
  // After a batch whose arena allocated `used` bytes in all (not while an arena uses the block).
  void GrowTo(size_t used) {
    used = std::min(used, kMaxBytes);
    if (used <= size_) return;
    block_.reset(new char[used]);  // uninitialised: the next batch writes what it uses
    size_ = used;
  }

 private:
  std::unique_ptr<char[]> block_;
  size_t size_ = 0;
};

// The loaded states of a whole batch, decoded into one arena. Each distinct stored state is
// decoded once; entry i of `subject_of` and `contact_of` is what targets[i] is judged by, nullptr
// when nothing is stored.
struct BatchStates {
  explicit BatchStates(KeptArenaMemory& memory)
      : arena(ArenaIn(memory.data(), memory.size(), 64 << 10)) {}
  google::protobuf::Arena arena;
  std::vector<const v1::SubjectState*> subject_of;
  std::vector<const v1::ContactPointState*> contact_of;
};

// Reads `keys` with one MultiGet and decodes each present value into `arena`; out[i] becomes the
// state of keys[i], or nullptr when absent.
template <typename State>
absl::Status MultiRead(const store::Store& store, store::Cf cf,
                       const std::vector<std::string>& keys, google::protobuf::Arena& arena,
                       std::vector<const State*>& out) {
  // Duplicates (the same subject named twice, or directly and through a contact point) are read
  // and decoded once: a batch usually names distinct targets, so this costs a hash lookup per key.
  absl::flat_hash_map<std::string_view, int> unique_index;
  unique_index.reserve(keys.size());
  std::vector<std::string_view> unique;
  unique.reserve(keys.size());
  std::vector<int> unique_of(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto [it, inserted] = unique_index.try_emplace(keys[i], static_cast<int>(unique.size()));
    if (inserted) unique.push_back(keys[i]);
    unique_of[i] = it->second;
  }
  std::vector<const State*> parsed(unique.size(), nullptr);
  RETURN_IF_ERROR(store.MultiGetEach(cf, unique, [&](size_t u, std::string_view bytes) {
    State* state = google::protobuf::Arena::CreateMessage<State>(&arena);
    if (!core::ParseForCheck(bytes, *state)) {
      return Corrupt(store::CfName(cf));
    }
    parsed[u] = state;
    return absl::OkStatus();
  }));
  out.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) out[i] = parsed[unique_of[i]];
  return absl::OkStatus();
}

// What LoadForCheck loads, for every target of a batch: one MultiGet of the contact points, then
// one MultiGet of all subjects (named directly or linked from a contact point).
absl::Status LoadForBatch(const store::Store& store, std::string_view tenant,
                          const std::vector<v1::TargetRef>& targets, BatchStates& states) {
  const size_t n = targets.size();
  std::vector<std::string> contact_keys;
  for (const v1::TargetRef& target : targets) {
    if (target.has_contact()) contact_keys.push_back(store::ContactKey(tenant, target.contact()));
  }
  std::vector<const v1::ContactPointState*> contacts;
  if (!contact_keys.empty()) {
    RETURN_IF_ERROR(MultiRead(store, store::Cf::kContacts, contact_keys, states.arena, contacts));
  }
  states.contact_of.assign(n, nullptr);
  std::vector<std::string> subject_keys;
  std::vector<size_t> subject_target;  // subject_keys[j] belongs to targets[subject_target[j]]
  subject_keys.reserve(n);
  subject_target.reserve(n);
  for (size_t i = 0, j = 0; i < n; ++i) {
    if (targets[i].has_contact()) {
      const v1::ContactPointState* contact = contacts[j++];
      states.contact_of[i] = contact;
      if (contact == nullptr || contact->linked_subject_id().empty()) continue;
      subject_keys.push_back(store::SubjectKey(tenant, contact->linked_subject_id()));
    } else {
      subject_keys.push_back(store::SubjectKey(tenant, targets[i].subject_id()));
    }
    subject_target.push_back(i);
  }
  std::vector<const v1::SubjectState*> subjects;
  if (!subject_keys.empty()) {
    RETURN_IF_ERROR(MultiRead(store, store::Cf::kSubjects, subject_keys, states.arena, subjects));
  }
  states.subject_of.assign(n, nullptr);
  for (size_t j = 0; j < subject_keys.size(); ++j)
    states.subject_of[subject_target[j]] = subjects[j];
  return absl::OkStatus();
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
  v1::TargetRef target;
  target.set_subject_id(request.subject_id());
  RETURN_IF_ERROR(Reveal(request.tenant(), target, *state->mutable_decisions()));
  return *std::move(state);
}

absl::StatusOr<v1::ContactPointState> Ledger::GetContactPointState(
    const v1::GetContactPointStateRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  v1::ContactRef ref;
  if (request.has_contact_ref()) {
    if (request.has_contact_point()) {
      return InvalidField("contact_ref", "must not be set together with contact_point");
    }
    RETURN_IF_ERROR(contact::ValidateRef("contact_ref", request.contact_ref()));
    ref = request.contact_ref();
  } else {
    ASSIGN_OR_RETURN(ref, contact::ToRef("contact_point", TenantContactKey(request.tenant()),
                                         request.contact_point()));
  }
  ASSIGN_OR_RETURN(auto state,
                   ReadState<v1::ContactPointState>(store_, store::Cf::kContacts,
                                                    store::ContactKey(request.tenant(), ref)));
  if (!state.has_value()) return NotFound("contact point", "(given)");
  v1::TargetRef target;
  *target.mutable_contact() = ref;
  RETURN_IF_ERROR(Reveal(request.tenant(), target, *state->mutable_decisions()));
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
    RETURN_IF_ERROR(Reveal(record));
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

absl::StatusOr<std::optional<EvidenceVault::Sealing>> Ledger::SealEvidence(
    std::string_view tenant, const v1::TargetRef& target, const v1::Evidence& evidence) const {
  if (vault_ == nullptr) return std::nullopt;
  return vault_->Prepare(store_, tenant, store::EntityName(target), evidence);
}

absl::Status Ledger::Reveal(std::string_view tenant, const v1::TargetRef& target,
                            google::protobuf::RepeatedPtrField<v1::ConsentRecord>& records) const {
  if (vault_ == nullptr) return absl::OkStatus();
  const std::string entity = store::EntityName(target);
  for (v1::ConsentRecord& r : records) {
    RETURN_IF_ERROR(vault_->Reveal(store_, tenant, entity, *r.mutable_evidence()));
  }
  return absl::OkStatus();
}

absl::Status Ledger::Reveal(v1::HistoryRecord& record) const {
  if (vault_ == nullptr) return absl::OkStatus();
  const std::string entity = store::EntityName(record.target());
  for (v1::DecisionChange& change : *record.mutable_decisions()) {
    if (change.has_before()) {
      RETURN_IF_ERROR(vault_->Reveal(store_, record.tenant(), entity,
                                     *change.mutable_before()->mutable_evidence()));
    }
    if (change.has_after()) {
      RETURN_IF_ERROR(vault_->Reveal(store_, record.tenant(), entity,
                                     *change.mutable_after()->mutable_evidence()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::TargetRef> Ledger::ResolveKnownTarget(std::string_view field,
                                                         std::string_view tenant,
                                                         const v1::Target& target) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", tenant));
  return ResolveTarget(field, tenant, target);
}

absl::StatusOr<v1::VerifyHistoryResponse> Ledger::VerifyHistory(
    const v1::VerifyHistoryRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  ASSIGN_OR_RETURN(v1::TargetRef target,
                   ResolveTarget("target", request.tenant(), request.target()));
  uint64_t sequence = 0;
  std::string head;
  absl::Time last_activity = absl::UnixEpoch();
  if (target.has_contact()) {
    ASSIGN_OR_RETURN(auto state, ReadState<v1::ContactPointState>(
                                     store_, store::Cf::kContacts,
                                     store::ContactKey(request.tenant(), target.contact())));
    if (!state.has_value()) return NotFound("contact point", "(given)");
    sequence = state->sequence();
    head = state->chain_head();
    last_activity = FromProto(state->update_time());
  } else {
    ASSIGN_OR_RETURN(auto state, ReadState<v1::SubjectState>(
                                     store_, store::Cf::kSubjects,
                                     store::SubjectKey(request.tenant(), target.subject_id())));
    if (state.has_value()) {
      sequence = state->sequence();
      head = state->chain_head();
      last_activity = FromProto(state->update_time());
    } else {
      // An erased subject's chain ends at its erasure record, which its stub names.
      ASSIGN_OR_RETURN(
          auto stub,
          ReadState<v1::ErasureStub>(store_, store::Cf::kRights,
                                     store::ErasureStubKey(request.tenant(), target.subject_id())));
      if (!stub.has_value()) return NotFound("subject", target.subject_id());
      sequence = stub->sequence();
      head = stub->chain_head();
      last_activity = FromProto(stub->erase_time());
    }
  }
  // Retention removes a target's old history (store/retention.h); VerifyChain tells that apart.
  const ledger::PruneRule prune{store_.retention().HistoryFor(request.tenant()), clock_.Now(),
                                last_activity};
  return VerifyChain(store_, request.tenant(), store::EntityName(target), sequence, head, prune);
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
  CheckStates states;
  RETURN_IF_ERROR(LoadForCheck(store_, request.tenant(), target, states));
  input.jurisdiction = request.jurisdiction();
  input.subject = states.subject;
  input.contact = states.contact;
  if (states.subject == nullptr && !target.has_contact()) {
    ASSIGN_OR_RETURN(input.subject_erased, IsErased(store_, request.tenant(), target.subject_id()));
    input.erased_subject_id = target.subject_id();
  }
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
  // One MultiGet per column family instead of a point read per target: RocksDB batches the
  // block-cache and bloom-filter work of the whole batch.
  thread_local KeptArenaMemory arena_memory;
  v1::BatchCheckResponse response;
  size_t arena_used = 0;
  {
    BatchStates states(arena_memory);
    RETURN_IF_ERROR(LoadForBatch(store_, request.tenant(), targets, states));
    response.mutable_results()->Reserve(request.targets_size());
    for (size_t i = 0; i < targets.size(); ++i) {
      input.subject = states.subject_of[i];
      input.contact = states.contact_of[i];
      input.subject_erased = false;
      if (input.subject == nullptr && !targets[i].has_contact()) {
        ASSIGN_OR_RETURN(input.subject_erased,
                         IsErased(store_, request.tenant(), targets[i].subject_id()));
        input.erased_subject_id = targets[i].subject_id();
      }
      ASSIGN_OR_RETURN(*response.add_results(), core::Decide(input));
    }
    arena_used = states.arena.SpaceAllocated();
  }
  arena_memory.GrowTo(arena_used);
  if (observer_ != nullptr) {
    for (const auto& r : response.results()) observer_->OnChecked(r.verdict(), r.reason());
  }
  return response;
}

}  // namespace assent::ledger
