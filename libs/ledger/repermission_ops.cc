// Re-permission: raising a purpose's minimum notice version makes every grant given against an
// older notice insufficient (Check: REPERMISSION_REQUIRED). The raise writes a campaign record in
// its own batch; RunRepermission walks the tenant's subjects and contact points a bounded number
// at a time, publishing one RepermissionRequired notice per affected grant (a stable id, written
// with the campaign's cursor in one batch, so a crash repeats ids, never new ones) and keeping a
// list entry that ListRepermissionRequired reads, so a campaign can ask those customers again.
#include <algorithm>
#include <string>
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
  RepermissionProgress progress;
  // The oldest campaign still walking.
  std::string campaign_key;
  storage::v1::RepermissionCampaign campaign;
  {
    auto it = store_.NewIterator(store::Cf::kLifecycle);
    const std::string prefix = CampaignPrefix();
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!campaign.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return Corrupt("re-permission campaign");
      }
      if (campaign.phase() != "d") {
        campaign_key = it->key().ToString();
        break;
      }
    }
    if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  }
  if (campaign_key.empty()) {
    progress.idle = true;
    return progress;
  }
  const bool subjects = campaign.phase() == "s";
  const store::Cf cf = subjects ? store::Cf::kSubjects : store::Cf::kContacts;
  // Subject and contact keys of a tenant both start with tenant \0.
  std::string prefix = campaign.tenant();
  prefix.push_back('\0');
  std::vector<std::string> keys;
  std::string next;
  {
    auto it = store_.NewIterator(cf);
    for (it->Seek(std::max(prefix, campaign.next_key()));
         it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (static_cast<int>(keys.size()) == max_targets) {
        next = it->key().ToString();
        break;
      }
      keys.push_back(it->key().ToString());
    }
    if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  }
  int notices = 0;
  RETURN_IF_ERROR(committer_.Run([&](store::Txn& txn) -> absl::Status {
    notices = 0;
    for (const std::string& key : keys) {
      ASSIGN_OR_RETURN(auto raw, txn.Get(cf, key));
      if (!raw.has_value()) continue;
      ASSIGN_OR_RETURN(StoredDecisions state, DecodeStoredDecisions(!subjects, *raw));
      notices += Reach(txn, campaign, state);
    }
    storage::v1::RepermissionCampaign moved = campaign;
    moved.set_targets_scanned(campaign.targets_scanned() + keys.size());
    moved.set_notices(campaign.notices() + notices);
    if (!next.empty()) {
      moved.set_next_key(next);
    } else {
      moved.set_phase(subjects ? "c" : "d");
      moved.clear_next_key();
    }
    txn.Put(store::Cf::kLifecycle, campaign_key, moved.SerializeAsString());
    return absl::OkStatus();
  }));
  progress.targets = static_cast<int>(keys.size());
  progress.notices = notices;
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
  ASSIGN_OR_RETURN(auto raw, store_.Get(store::Cf::kLifecycle,
                                        CampaignKey(request.tenant(), request.purpose_id(), min)));
  storage::v1::RepermissionCampaign campaign;
  response.set_complete(!raw.has_value() ||
                        (campaign.ParseFromString(*raw) && campaign.phase() == "d"));
  return response;
}

}  // namespace assent::ledger
