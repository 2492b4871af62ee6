// Offboarding a tenant: every subject erased (erase_ops.cc), then every data key of the tenant
// destroyed, in one resumable walk whose cursor and counters are written in the same batch as
// each round's erasures, so a crash repeats no erasure and skips none.
//
// Cluster mode: each partition's owner walks the tenant's subjects of that partition, erasing
// each as an erasure of cluster mode (its linked contact points may be in other partitions, so
// not in the round's batch: consentd/rights_runner.cc drives them), then the partition's data
// keys; the partition's cursor and counters are stored after the round's erasures, in a batch
// routed to the partition. A round cut short (a crash, the partition moving) is repeated by the
// partition's next owner: its erasures are then answered already erased, so they are not counted
// again (nor, then, at all), and nothing is skipped.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "assent/storage/v1/storage.pb.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "ledger/change.h"
#include "ledger/ledger.h"
#include "ledger/route.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr std::string_view kOffboardActor = "assent";

absl::StatusOr<std::optional<storage::v1::OffboardingJob>> LoadJob(store::Txn& txn,
                                                                   std::string_view tenant) {
  ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kRights, store::OffboardingKey(tenant)));
  if (!raw.has_value()) return std::nullopt;
  storage::v1::OffboardingJob job;
  if (!job.ParseFromString(*raw)) return Corrupt("offboarding job");
  return job;
}

// Up to `max` keys of `cf` starting with `prefix`, after `cursor` (empty: from the start).
std::vector<std::string> KeysAfter(const store::Store& store, store::Cf cf,
                                   const std::string& prefix, const std::string& cursor, int max,
                                   absl::Status& status) {
  std::vector<std::string> out;
  auto it = store.NewIterator(cf);
  it->Seek(cursor.empty() ? prefix : cursor);
  if (!cursor.empty() && it->Valid() && it->key().ToStringView() == cursor) it->Next();
  for (; it->Valid() && it->key().starts_with(prefix) && static_cast<int>(out.size()) < max;
       it->Next()) {
    out.push_back(it->key().ToString());
  }
  if (!it->status().ok()) status = StorageUnavailable(it->status().ToString());
  return out;
}

// Whether offboarding keeps the data key `key` (Cf::kKeys, of `tenant`): the key of a subject that
// still exists, or of a contact point linked to one. Past the subjects' phase a subject still
// there is under a legal hold (or was recorded since the scan), and the hold keeps its evidence,
// and its addresses' with it, readable until it is lifted; in cluster mode a contact point's
// subject may also be one another partition's walk erases later, which destroys this key itself.
// Subjects' states are shared writes, so every instance sees them (legal holds are not).
absl::StatusOr<bool> KeepsDataKey(store::Txn& txn, std::string_view tenant, std::string_view key) {
  const std::string_view entity = key.substr(std::min(key.size(), tenant.size() + 1));
  std::string subject;
  if (entity.starts_with("s:")) {
    subject = std::string(entity.substr(2));
  } else if (entity.starts_with("c:")) {
    // A contact point's state sits under the same key as its data key (store/keys.h).
    ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kContacts, key));
    if (!raw.has_value()) return false;
    v1::ContactPointState contact;
    if (!contact.ParseFromString(*raw)) return Corrupt("contact point state");
    subject = contact.linked_subject_id();
  }
  if (subject.empty()) return false;
  ASSIGN_OR_RETURN(auto state, txn.Get(store::Cf::kSubjects, store::SubjectKey(tenant, subject)));
  return state.has_value();
}

// Cluster mode: a partition's walk of a tenant's offboarding, "q" \0 route key of the partition
// \0 tenant (route.cc routes it by that route key).
std::string WalkKey(std::string_view route_key, std::string_view tenant) {
  std::string key("q");
  key.push_back('\0');
  key.append(route_key);
  key.push_back('\0');
  key.append(tenant);
  return key;
}

// A partition's walk as stored; a fresh one (running, nothing counted) when it has not started.
absl::StatusOr<storage::v1::OffboardingJob> LoadWalk(const store::Store& store,
                                                     const std::string& key,
                                                     std::string_view tenant) {
  ASSIGN_OR_RETURN(auto raw, store.Get(store::Cf::kRights, key));
  storage::v1::OffboardingJob walk;
  if (raw.has_value()) {
    if (!walk.ParseFromString(*raw)) return Corrupt("offboarding cursor");
    return walk;
  }
  walk.mutable_status()->set_tenant(std::string(tenant));
  walk.mutable_status()->set_state(v1::OffboardingStatus::RUNNING);
  return walk;
}

}  // namespace

absl::StatusOr<v1::OffboardingStatus> Ledger::OffboardingStatusOf(
    const storage::v1::OffboardingJob& job) const {
  v1::OffboardingStatus status = job.status();
  if (partitions_ == nullptr) return status;
  bool done = true;
  absl::Time finished = absl::InfinitePast();
  for (int32_t p = 0; p < partitions_->count; ++p) {
    ASSIGN_OR_RETURN(
        storage::v1::OffboardingJob walk,
        LoadWalk(store_, WalkKey(partitions_->route_key(p), status.tenant()), status.tenant()));
    status.set_subjects_scanned(status.subjects_scanned() + walk.status().subjects_scanned());
    status.set_subjects_erased(status.subjects_erased() + walk.status().subjects_erased());
    status.set_subjects_held(status.subjects_held() + walk.status().subjects_held());
    if (walk.status().state() != v1::OffboardingStatus::DONE) {
      done = false;
    } else {
      finished = std::max(finished, FromProto(walk.status().finish_time()));
    }
  }
  if (done && status.state() == v1::OffboardingStatus::RUNNING) {
    status.set_state(v1::OffboardingStatus::DONE);
    *status.mutable_finish_time() = ToProto(finished);
  }
  return status;
}

absl::StatusOr<std::optional<OffboardStep>> Ledger::NextOffboardStep(int max_subjects) const {
  if (partitions_ == nullptr) {
    return absl::FailedPreconditionError("offboarding steps are for cluster mode");
  }
  std::vector<storage::v1::OffboardingJob> running;
  {
    const std::string jobs_prefix = store::OffboardingKey("");
    auto it = store_.NewIterator(store::Cf::kRights);
    for (it->Seek(jobs_prefix); it->Valid() && it->key().starts_with(jobs_prefix); it->Next()) {
      storage::v1::OffboardingJob job;
      if (!job.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return Corrupt("offboarding job");
      }
      if (job.status().state() == v1::OffboardingStatus::RUNNING) running.push_back(job);
    }
    if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  }
  for (const storage::v1::OffboardingJob& job : running) {
    const std::string& tenant = job.status().tenant();
    for (int32_t p = 0; p < partitions_->count; ++p) {
      if (!partitions_->owned(p)) continue;
      OffboardStep step;
      step.cursor_key = WalkKey(partitions_->route_key(p), tenant);
      ASSIGN_OR_RETURN(storage::v1::OffboardingJob walk, LoadWalk(store_, step.cursor_key, tenant));
      if (walk.status().state() != v1::OffboardingStatus::RUNNING) continue;
      step.tenant = tenant;
      step.actor = job.status().actor();
      step.reason = job.status().reason();
      step.partition = p;
      step.keys_phase = walk.keys_phase();
      step.start_cursor = walk.cursor();
      const store::Cf cf = step.keys_phase ? store::Cf::kKeys : store::Cf::kSubjects;
      const std::string prefix =
          step.keys_phase ? store::DataKeyPrefix(tenant) : store::SubjectKey(tenant, "");
      auto it = store_.NewIterator(cf);
      it->Seek(walk.cursor().empty() ? prefix : walk.cursor());
      if (!walk.cursor().empty() && it->Valid() && it->key().ToStringView() == walk.cursor()) {
        it->Next();
      }
      int looked = 0;
      int taken = 0;
      step.last = true;
      for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
        if (taken == max_subjects ||
            looked == max_subjects * std::max(kMaxPassedOverPerTarget, partitions_->count)) {
          step.last = false;
          break;
        }
        ++looked;
        step.next_cursor = it->key().ToString();
        std::optional<std::string> route = RouteOfWrite(cf, step.next_cursor);
        if (!route.has_value() || partitions_->of(*route) != p) continue;
        ++taken;
        if (step.keys_phase) {
          step.data_keys.push_back(step.next_cursor);
        } else {
          step.subjects.push_back(step.next_cursor.substr(prefix.size()));
        }
      }
      if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
      return step;
    }
  }
  return std::nullopt;
}

absl::Status Ledger::FinishOffboardStep(const OffboardStep& step, uint64_t erased, uint64_t held,
                                        uint64_t beyond) {
  return committer_.Run([&](store::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto job, LoadJob(txn, step.tenant));
    if (!job.has_value()) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kRights, step.cursor_key));
    storage::v1::OffboardingJob walk;
    if (raw.has_value()) {
      if (!walk.ParseFromString(*raw)) return Corrupt("offboarding cursor");
    } else {
      walk.mutable_status()->set_tenant(step.tenant);
      walk.mutable_status()->set_state(v1::OffboardingStatus::RUNNING);
    }
    if (walk.status().state() != v1::OffboardingStatus::RUNNING ||
        walk.keys_phase() != step.keys_phase || walk.cursor() != step.start_cursor) {
      return absl::OkStatus();  // stored by another round meanwhile (the partition moved back)
    }
    v1::OffboardingStatus& status = *walk.mutable_status();
    if (step.keys_phase) {
      // Data keys left after every subject of the partition went: contact points' (evidence),
      // unless a legal hold keeps them.
      for (const std::string& key : step.data_keys) {
        ASSIGN_OR_RETURN(bool keep, KeepsDataKey(txn, step.tenant, key));
        if (!keep) txn.Delete(store::Cf::kKeys, key);
      }
    } else {
      status.set_subjects_scanned(status.subjects_scanned() + step.subjects.size() + beyond);
      status.set_subjects_erased(status.subjects_erased() + erased);
      status.set_subjects_held(status.subjects_held() + held);
    }
    if (!step.next_cursor.empty()) walk.set_cursor(step.next_cursor);
    if (step.last) {
      if (!walk.keys_phase()) {
        walk.set_keys_phase(true);
        walk.clear_cursor();
      } else {
        status.set_state(v1::OffboardingStatus::DONE);
        *status.mutable_finish_time() = ToProto(txn.now());
      }
    }
    // Routed to the step's partition: refused (nothing written) once it is not owned here.
    txn.Put(store::Cf::kRights, step.cursor_key, walk.SerializeAsString());
    return absl::OkStatus();
  });
}

void Ledger::OffboardTenant(const v1::OffboardTenantRequest& request, absl::Time deadline,
                            Callback<v1::OffboardingStatus> done, const Caller& caller) {
  absl::Status valid = RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant());
  if (valid.ok() && request.confirm_tenant() != request.tenant()) {
    valid = InvalidField("confirm_tenant",
                         "must repeat the tenant: offboarding erases every subject of the tenant");
  }
  if (valid.ok() && request.reason().size() > 256) {
    valid = InvalidField("reason", "must be at most 256 characters");
  }
  if (!valid.ok()) return done(valid);
  SubmitWrite<v1::OffboardingStatus>(
      committer_, deadline, std::move(done),
      [this, request,
       actor = caller.principal](store::Txn& txn) -> absl::StatusOr<v1::OffboardingStatus> {
        ASSIGN_OR_RETURN(auto job, LoadJob(txn, request.tenant()));
        if (job.has_value()) return OffboardingStatusOf(*job);  // started before: its progress
        storage::v1::OffboardingJob fresh;
        v1::OffboardingStatus& status = *fresh.mutable_status();
        status.set_tenant(request.tenant());
        status.set_state(v1::OffboardingStatus::RUNNING);
        *status.mutable_start_time() = ToProto(txn.now());
        status.set_actor(actor);
        status.set_reason(request.reason());
        txn.Put(store::Cf::kRights, store::OffboardingKey(request.tenant()),
                fresh.SerializeAsString());
        return status;
      });
}

absl::StatusOr<v1::OffboardingStatus> Ledger::GetOffboarding(
    const v1::GetOffboardingRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  ASSIGN_OR_RETURN(auto raw,
                   store_.Get(store::Cf::kRights, store::OffboardingKey(request.tenant())));
  if (!raw.has_value()) return NotFound("offboarding of tenant", request.tenant());
  storage::v1::OffboardingJob job;
  if (!job.ParseFromString(*raw)) return Corrupt("offboarding job");
  return OffboardingStatusOf(job);
}

absl::StatusOr<OffboardProgress> Ledger::RunOffboarding(int max_subjects) {
  OffboardProgress progress;
  // The first unfinished job.
  const std::string jobs_prefix = store::OffboardingKey("");
  auto it = store_.NewIterator(store::Cf::kRights);
  std::optional<storage::v1::OffboardingJob> job;
  for (it->Seek(jobs_prefix); it->Valid() && it->key().starts_with(jobs_prefix); it->Next()) {
    storage::v1::OffboardingJob candidate;
    if (!candidate.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corrupt("offboarding job");
    }
    if (candidate.status().state() == v1::OffboardingStatus::RUNNING) {
      job = std::move(candidate);
      break;
    }
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  if (!job.has_value()) {
    progress.idle = true;
    return progress;
  }
  const std::string tenant = job->status().tenant();
  progress.tenant = tenant;
  absl::Status scan;
  const std::string prefix =
      job->keys_phase() ? store::DataKeyPrefix(tenant) : store::SubjectKey(tenant, "");
  std::vector<std::string> keys =
      KeysAfter(store_, job->keys_phase() ? store::Cf::kKeys : store::Cf::kSubjects, prefix,
                job->cursor(), max_subjects, scan);
  RETURN_IF_ERROR(scan);
  const bool last_round = static_cast<int>(keys.size()) < max_subjects;
  RETURN_IF_ERROR(committer_.Run([&](store::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto current, LoadJob(txn, tenant));
    if (!current.has_value() || current->status().state() != v1::OffboardingStatus::RUNNING) {
      return absl::OkStatus();
    }
    v1::OffboardingStatus& status = *current->mutable_status();
    for (const std::string& key : keys) {
      if (current->keys_phase()) {
        // Data keys left after every subject went: contact points' (their evidence), unless a
        // legal hold keeps them.
        ASSIGN_OR_RETURN(bool keep, KeepsDataKey(txn, tenant, key));
        if (!keep) txn.Delete(store::Cf::kKeys, key);
        continue;
      }
      const std::string subject_id = key.substr(prefix.size());
      status.set_subjects_scanned(status.subjects_scanned() + 1);
      ErasureOrder order{tenant,
                         subject_id,
                         std::string(kOffboardActor),
                         status.actor(),
                         absl::StrCat("tenant offboarding: ", status.reason()),
                         false,
                         {}};
      absl::StatusOr<v1::EraseSubjectResponse> erased = EraseInTxn(txn, order);
      if (absl::IsFailedPrecondition(erased.status())) {
        status.set_subjects_held(status.subjects_held() + 1);
      } else if (absl::IsNotFound(erased.status())) {
        // Erased by someone else since the scan.
      } else if (!erased.ok()) {
        return erased.status();
      } else if (!erased->already_erased()) {
        status.set_subjects_erased(status.subjects_erased() + 1);
        progress.erased_subjects.push_back(subject_id);
      }
    }
    if (!keys.empty()) current->set_cursor(keys.back());
    if (last_round) {
      if (!current->keys_phase()) {
        current->set_keys_phase(true);
        current->clear_cursor();
      } else {
        status.set_state(v1::OffboardingStatus::DONE);
        *status.mutable_finish_time() = ToProto(txn.now());
      }
    }
    progress.status = status;
    txn.Put(store::Cf::kRights, store::OffboardingKey(tenant), current->SerializeAsString());
    return absl::OkStatus();
  }));
  return progress;
}

absl::StatusOr<RewrapProgress> Ledger::RewrapDataKeys(const std::string& cursor, int max_keys,
                                                      const KeyFilter& handled_here) {
  RewrapProgress progress;
  if (vault_ == nullptr) return progress;
  // Scanned outside the committer; Rewrap reads each key again inside the mutation.
  std::vector<std::string> names;
  auto it = store_.NewIterator(store::Cf::kKeys);
  if (cursor.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(cursor);
    if (it->Valid() && it->key().ToStringView() == cursor) it->Next();
  }
  int seen = 0;
  for (; it->Valid() && seen < max_keys; it->Next(), ++seen) {
    progress.cursor = it->key().ToString();
    if (vault_->NeedsRewrap(it->value().ToStringView()) &&
        (!handled_here || handled_here(progress.cursor))) {
      names.push_back(progress.cursor);
    }
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  if (!it->Valid()) progress.cursor.clear();
  if (names.empty()) return progress;
  RETURN_IF_ERROR(committer_.Run([&](store::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(progress.rewrapped, vault_->Rewrap(txn, names));
    return absl::OkStatus();
  }));
  return progress;
}

}  // namespace assent::ledger
