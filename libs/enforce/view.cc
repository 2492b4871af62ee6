#include "enforce/view.h"

#include <mutex>

#include "absl/hash/hash.h"

namespace assent::enforce {
namespace {

void TrimRecord(v1::ConsentRecord& record) {
  const uint32_t notice = record.evidence().notice_version();
  record.clear_evidence();
  if (notice != 0) record.mutable_evidence()->set_notice_version(notice);
  record.clear_recorded_time();
  record.clear_jurisdiction();
  record.clear_source();
  record.clear_actor();
  record.clear_imported();
  record.clear_import_origin();
  record.clear_purpose_version();
}

}  // namespace

void ConsentView::Trim(v1::SubjectState& state) {
  state.clear_tenant();
  state.clear_chain_head();
  state.clear_contacts();
  state.clear_update_time();
  for (v1::ConsentRecord& record : *state.mutable_decisions()) TrimRecord(record);
  if (state.has_preferences()) state.mutable_preferences()->clear_preferred_language();
}

void ConsentView::Trim(v1::ContactPointState& state) {
  state.clear_tenant();
  state.clear_chain_head();
  state.clear_update_time();
  for (v1::ConsentRecord& record : *state.mutable_decisions()) TrimRecord(record);
  for (v1::Suppression& s : *state.mutable_suppressions()) {
    s.clear_source();
    s.clear_effective_time();
  }
}

size_t ConsentView::ShardOf(std::string_view key) { return absl::HashOf(key) % kShards; }

ApplyResult ConsentView::Apply(std::string_view key, const v1::TargetStateSnapshot& state) {
  auto entry = std::make_unique<ViewEntry>();
  if (state.has_subject()) {
    entry->sequence = state.subject().sequence();
    entry->subject = std::make_unique<v1::SubjectState>(state.subject());
    Trim(*entry->subject);
  } else if (state.has_contact()) {
    entry->sequence = state.contact().sequence();
    entry->contact = std::make_unique<v1::ContactPointState>(state.contact());
    Trim(*entry->contact);
  } else {
    return ApplyResult::kInvalid;
  }
  Shard& shard = shards_[ShardOf(key)];
  std::unique_ptr<ViewEntry> old;  // freed outside the lock
  {
    std::unique_lock lock(shard.mu);
    auto [it, inserted] = shard.entries.try_emplace(std::string(key));
    if (!inserted && it->second->sequence >= entry->sequence) return ApplyResult::kStale;
    old = std::move(it->second);
    it->second = std::move(entry);
    if (inserted) size_.fetch_add(1, std::memory_order_relaxed);
  }
  return ApplyResult::kApplied;
}

ApplyResult ConsentView::Erase(std::string_view key) {
  Shard& shard = shards_[ShardOf(key)];
  std::unique_ptr<ViewEntry> old;
  std::unique_lock lock(shard.mu);
  auto it = shard.entries.find(absl::string_view(key.data(), key.size()));
  if (it == shard.entries.end()) return ApplyResult::kStale;
  old = std::move(it->second);
  shard.entries.erase(it);
  size_.fetch_sub(1, std::memory_order_relaxed);
  return ApplyResult::kErased;
}

void ConsentView::Read(std::string_view key,
                       const std::function<void(const ViewEntry*)>& fn) const {
  ReadWith(key, fn);
}

uint64_t ConsentView::Sequence(std::string_view key) const {
  uint64_t sequence = 0;
  ReadWith(key, [&](const ViewEntry* e) { sequence = e == nullptr ? 0 : e->sequence; });
  return sequence;
}

size_t ConsentView::MemoryBytes() const {
  size_t total = sizeof(*this);
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mu);
    // Slots of the open-addressing table: key string, pointer, control byte.
    total += shard.entries.capacity() * (sizeof(std::string) + sizeof(void*) + 1);
    for (const auto& [key, entry] : shard.entries) {
      if (key.size() > 15) total += key.capacity() + 1;
      total += sizeof(ViewEntry);
      if (entry->subject) total += entry->subject->SpaceUsedLong();
      if (entry->contact) total += entry->contact->SpaceUsedLong();
    }
  }
  return total;
}

}  // namespace assent::enforce
