// Re-permission: raising a purpose's minimum notice version makes every grant given against an
// older notice insufficient (Check: REPERMISSION_REQUIRED). The raise writes a campaign record in
// its own batch; RunRepermission walks the tenant's subjects and contact points a bounded number
// at a time, publishing one RepermissionRequired notice per affected grant (a stable id, written
// with the campaign's cursor in one batch, so a crash repeats ids, never new ones) and keeping a
// list entry that ListRepermissionRequired reads, so a campaign can ask those customers again.
#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/lifecycle.pb.h"
#include "common/errors.h"
#include "common/hex.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "core/validate.h"
#include "ledger/change.h"
#include "ledger/events.h"
#include "ledger/ledger.h"
#include "ledger/names.h"
#include "ledger/route.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr int kDefaultPage = 100;
constexpr int kMaxPage = 1000;

std::string Join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) {
    if (!out.empty()) out.push_back('\0');
    out.append(p);
  }
  return out;
}

std::string CampaignPrefix() { return std::string("r\0", 2); }
std::string CampaignKey(std::string_view tenant, std::string_view purpose, uint32_t min_version) {
  std::string key = Join({"r", tenant, purpose});
  key.push_back('\0');
  store::PutBigEndian32(&key, min_version);
  return key;
}
std::string ListPrefix(std::string_view tenant, std::string_view purpose) {
  std::string key = Join({"l", tenant, purpose});
  key.push_back('\0');
  return key;
}

// Cluster mode: a campaign's walk of one partition, "p" \0 route key of the partition \0 the
// campaign's key after its "r" \0 (route.cc routes it by that route key).
std::string PartitionCursorKey(std::string_view route_key, std::string_view campaign_key) {
  std::string key = Join({"p", route_key});
  key.push_back('\0');
  key.append(campaign_key.substr(2));
  return key;
}

// Every campaign, oldest key first.
absl::StatusOr<std::vector<std::pair<std::string, storage::v1::RepermissionCampaign>>> Campaigns(
    const store::Store& store) {
  std::vector<std::pair<std::string, storage::v1::RepermissionCampaign>> out;
  auto it = store.NewIterator(store::Cf::kLifecycle);
  const std::string prefix = CampaignPrefix();
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    storage::v1::RepermissionCampaign campaign;
    if (!campaign.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corrupt("re-permission campaign");
    }
    out.emplace_back(it->key().ToString(), std::move(campaign));
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  return out;
}

// The walk of `campaign_key` in the partition whose route key is `route_key`; phase "s" with no
// cursor when it has not started. A cursor of an earlier campaign under the same key (the
// minimum lowered, then raised to the same version again: StartRepermission wrote a new campaign
// record) counts as not started.
absl::StatusOr<storage::v1::RepermissionCampaign> PartitionWalk(
    const store::Store& store, const std::string& route_key, const std::string& campaign_key,
    const storage::v1::RepermissionCampaign& campaign) {
  ASSIGN_OR_RETURN(auto raw,
                   store.Get(store::Cf::kLifecycle, PartitionCursorKey(route_key, campaign_key)));
  storage::v1::RepermissionCampaign walk;
  if (raw.has_value()) {
    if (!walk.ParseFromString(*raw)) return Corrupt("re-permission campaign cursor");
    if (walk.purpose_version() == campaign.purpose_version() &&
        FromProto(walk.create_time()) == FromProto(campaign.create_time())) {
      return walk;
    }
  }
  walk = campaign;
  walk.set_phase("s");
  walk.clear_next_key();
  walk.set_targets_scanned(0);
  walk.set_notices(0);
  return walk;
}

uint32_t EffectiveMin(const v1::Purpose& purpose) {
  return std::max<uint32_t>(purpose.min_notice_version(), 1);
}

// The notices of one target's grants below the campaign's minimum, with their list entries.
int Reach(store::Txn& txn, const storage::v1::RepermissionCampaign& campaign,
          const StoredDecisions& state) {
  const v1::TargetRef& target = state.target;
  int notices = 0;
  for (const v1::ConsentRecord& record : state.decisions) {
    if (record.purpose_id() != campaign.purpose_id() || record.state() != v1::GRANTED ||
        record.evidence().notice_version() >= campaign.min_notice_version()) {
      continue;
    }
    v1::RepermissionRequired notice;
    notice.set_event_id(absl::StrCat(EventKey(state.tenant, target), "/", record.record_id(),
                                     "/repermission/", campaign.min_notice_version()));
    notice.set_tenant(state.tenant);
    *notice.mutable_target() = target;
    *notice.mutable_record() = record;
    notice.set_min_notice_version(campaign.min_notice_version());
    notice.set_purpose_version(campaign.purpose_version());
    *notice.mutable_notice_time() = ToProto(txn.now());
    txn.PutNew(store::Cf::kOutbox, store::OutboxKey(txn.NextOutboxId()),
               BuildNoticeRecord(state.tenant, target, notice, txn.now()).SerializeAsString());
    txn.Put(store::Cf::kLifecycle,
            ListPrefix(state.tenant, campaign.purpose_id()) +
                Join({store::EntityName(target), record.record_id()}),
            notice.SerializeAsString());
    ++notices;
  }
  return notices;
}

// One round of a campaign's walk from `walk`'s phase and cursor: looks at up to `max_looked` of
// the tenant's keys, takes those `take` says (all without it) up to `max_targets`, publishes their
// notices and list entries, and stores the walk moved on under `cursor_key` in the same batch.
absl::StatusOr<RepermissionProgress> WalkRound(
    const store::Store& store, store::Committer& committer,
    const storage::v1::RepermissionCampaign& campaign,
    const storage::v1::RepermissionCampaign& walk, const std::string& cursor_key,
    const std::function<bool(store::Cf, std::string_view)>& take, int max_targets, int max_looked) {
  const bool subjects = walk.phase() == "s";
  const store::Cf cf = subjects ? store::Cf::kSubjects : store::Cf::kContacts;
  // Subject and contact keys of a tenant both start with tenant \0.
  std::string prefix = campaign.tenant();
  prefix.push_back('\0');
  std::vector<std::string> keys;
  std::string next;
  {
    auto it = store.NewIterator(cf);
    int looked = 0;
    for (it->Seek(std::max(prefix, walk.next_key())); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      if (static_cast<int>(keys.size()) == max_targets || looked == max_looked) {
        next = it->key().ToString();
        break;
      }
      ++looked;
      if (!take || take(cf, it->key().ToStringView())) keys.push_back(it->key().ToString());
    }
    if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  }
  int notices = 0;
  RETURN_IF_ERROR(committer.Run([&](store::Txn& txn) -> absl::Status {
    notices = 0;
    for (const std::string& key : keys) {
      ASSIGN_OR_RETURN(auto raw, txn.Get(cf, key));
      if (!raw.has_value()) continue;
      ASSIGN_OR_RETURN(StoredDecisions state, DecodeStoredDecisions(!subjects, *raw));
      notices += Reach(txn, campaign, state);
    }
    storage::v1::RepermissionCampaign moved = walk;
    moved.set_targets_scanned(walk.targets_scanned() + keys.size());
    moved.set_notices(walk.notices() + notices);
    if (!next.empty()) {
      moved.set_next_key(next);
    } else {
      moved.set_phase(subjects ? "c" : "d");
      moved.clear_next_key();
    }
    // Cluster mode: a partition's cursor routes the batch to that partition, refused (nothing
    // written) once it is no longer owned here.
    txn.Put(store::Cf::kLifecycle, cursor_key, moved.SerializeAsString());
    return absl::OkStatus();
  }));
  RepermissionProgress progress;
  progress.targets = static_cast<int>(keys.size());
  progress.notices = notices;
  return progress;
}

}  // namespace

void StartRepermission(store::Txn& txn, std::string_view tenant, const v1::Purpose& previous,
                       const v1::Purpose& updated) {
  if (EffectiveMin(updated) <= EffectiveMin(previous)) return;
  storage::v1::RepermissionCampaign campaign;
  campaign.set_tenant(std::string(tenant));
  campaign.set_purpose_id(updated.purpose_id());
  campaign.set_min_notice_version(EffectiveMin(updated));
  campaign.set_purpose_version(updated.version());
  campaign.set_phase("s");
  *campaign.mutable_create_time() = ToProto(txn.now());
  txn.Put(store::Cf::kLifecycle,
          CampaignKey(tenant, updated.purpose_id(), campaign.min_notice_version()),
          campaign.SerializeAsString());
}

absl::StatusOr<RepermissionProgress> Ledger::RunRepermission(int max_targets) {
  if (partitions_ != nullptr) return RunRepermissionPerPartition(max_targets);
  ASSIGN_OR_RETURN(auto campaigns, Campaigns(store_));
  // The oldest campaign still walking.
  for (const auto& [campaign_key, campaign] : campaigns) {
    if (campaign.phase() == "d") continue;
    return WalkRound(store_, committer_, campaign, campaign, campaign_key, nullptr, max_targets,
                     max_targets);
  }
  RepermissionProgress progress;
  progress.idle = true;
  return progress;
}

absl::StatusOr<RepermissionProgress> Ledger::RunRepermissionPerPartition(int max_targets) {
  ASSIGN_OR_RETURN(auto campaigns, Campaigns(store_));
  for (const auto& [campaign_key, campaign] : campaigns) {
    for (int32_t p = 0; p < partitions_->count; ++p) {
      if (!partitions_->owned(p)) continue;
      const std::string route_key = partitions_->route_key(p);
      ASSIGN_OR_RETURN(storage::v1::RepermissionCampaign walk,
                       PartitionWalk(store_, route_key, campaign_key, campaign));
      if (walk.phase() == "d") continue;
      return WalkRound(
          store_, committer_, campaign, walk, PartitionCursorKey(route_key, campaign_key),
          [&](store::Cf cf, std::string_view key) {
            std::optional<std::string> route = RouteOfWrite(cf, key);
            return route.has_value() && partitions_->of(*route) == p;
          },
          max_targets, max_targets * std::max(kMaxPassedOverPerTarget, partitions_->count));
    }
  }
  RepermissionProgress progress;
  progress.idle = true;
  return progress;
}

absl::StatusOr<v1::ListRepermissionRequiredResponse> Ledger::ListRepermissionRequired(
    const v1::ListRepermissionRequiredRequest& request) const {
  auto catalog = catalog_.Snapshot();
  RETURN_IF_ERROR(RequireTenant(*catalog, "tenant", request.tenant()));
  RETURN_IF_ERROR(core::ValidatePurposeId("purpose_id", request.purpose_id()));
  const v1::Purpose* purpose = catalog->FindPurpose(request.tenant(), request.purpose_id());
  if (purpose == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("purpose_id: purpose not found: ", request.purpose_id()));
  }
  const uint32_t min = EffectiveMin(*purpose);
  ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size(), kDefaultPage, kMaxPage));
  const std::string prefix = ListPrefix(request.tenant(), request.purpose_id());
  std::string from = prefix;
  if (!request.page_token().empty()) {
    ASSIGN_OR_RETURN(std::string position, ParsePageToken("repermission", request.page_token()));
    std::optional<std::string> key = FromHex(position);
    if (!key.has_value() || !key->starts_with(prefix)) {
      return InvalidField("page_token", "is not a token returned by this method");
    }
    from = *key;
  }
  v1::ListRepermissionRequiredResponse response;
  auto it = store_.NewIterator(store::Cf::kLifecycle);
  for (it->Seek(from); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (response.entries_size() == page_size) {
      response.set_next_page_token(MakePageToken("repermission", ToHex(it->key().ToString())));
      break;
    }
    v1::RepermissionRequired notice;
    if (!notice.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corrupt("re-permission entry");
    }
    // Listed only while the grant is still the target's decision and still short of the
    // purpose's current minimum (a new grant under the new notice ends it).
    const v1::TargetRef& target = notice.target();
    ASSIGN_OR_RETURN(auto raw,
                     store_.Get(target.has_contact() ? store::Cf::kContacts : store::Cf::kSubjects,
                                target.has_contact()
                                    ? store::ContactKey(request.tenant(), target.contact())
                                    : store::SubjectKey(request.tenant(), target.subject_id())));
    if (!raw.has_value()) continue;
    ASSIGN_OR_RETURN(StoredDecisions stored, DecodeStoredDecisions(target.has_contact(), *raw));
    for (const v1::ConsentRecord& record : stored.decisions) {
      if (record.record_id() != notice.record().record_id()) continue;
      if (record.state() == v1::GRANTED && record.evidence().notice_version() < min) {
        v1::RepermissionEntry* entry = response.add_entries();
        *entry->mutable_target() = target;
        *entry->mutable_record() = record;
        entry->set_min_notice_version(min);
      }
      break;
    }
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  // Complete once the campaign of the current minimum (if there was one) is done.
  const std::string campaign_key = CampaignKey(request.tenant(), request.purpose_id(), min);
  ASSIGN_OR_RETURN(auto raw, store_.Get(store::Cf::kLifecycle, campaign_key));
  storage::v1::RepermissionCampaign campaign;
  if (!raw.has_value()) {
    response.set_complete(true);
  } else if (!campaign.ParseFromString(*raw)) {
    return Corrupt("re-permission campaign");
  } else if (partitions_ == nullptr) {
    response.set_complete(campaign.phase() == "d");
  } else {
    // Cluster mode: once every partition's walk is done (the cursors reach every instance).
    bool complete = true;
    for (int32_t p = 0; p < partitions_->count && complete; ++p) {
      ASSIGN_OR_RETURN(storage::v1::RepermissionCampaign walk,
                       PartitionWalk(store_, partitions_->route_key(p), campaign_key, campaign));
      complete = walk.phase() == "d";
    }
    response.set_complete(complete);
  }
  return response;
}

}  // namespace assent::ledger
