#include "enforce/view.h"

#include <algorithm>
#include <mutex>

#include "absl/hash/hash.h"
#include "core/check_state.h"

namespace assent::enforce {
namespace {

// The view keeps exactly what the service's checks decode from the store (core::ParseForCheck, the
// one list of what the rule reads): the state is re-encoded and decoded through it. The trimmed
// message is fresh, so what was dropped is freed, not kept for reuse.
template <typename State>
void TrimToCheck(State& state) {
  State trimmed;
  // Cannot fail: the bytes were just serialized from a message of the same type.
  if (!core::ParseForCheck(state.SerializeAsString(), trimmed)) return;
  state.Swap(&trimmed);
}

}  // namespace

void ConsentView::Trim(v1::SubjectState& state) { TrimToCheck(state); }

void ConsentView::Trim(v1::ContactPointState& state) { TrimToCheck(state); }

size_t ConsentView::ShardOf(std::string_view key) { return absl::HashOf(key) % kShards; }

bool ViewEntry::ParseSubject(v1::SubjectState& out) const {
  return kind == Kind::kSubject && out.ParseFromString(state);
}

bool ViewEntry::ParseContact(v1::ContactPointState& out) const {
  return kind == Kind::kContact && out.ParseFromString(state);
}

ApplyResult ConsentView::Apply(std::string_view key, v1::TargetStateSnapshot state) {
  auto entry = std::make_unique<ViewEntry>();
  if (state.has_subject()) {
    entry->sequence = state.subject().sequence();
    entry->kind = ViewEntry::Kind::kSubject;
    Trim(*state.mutable_subject());
    state.subject().SerializeToString(&entry->state);
  } else if (state.has_contact()) {
    entry->sequence = state.contact().sequence();
    entry->kind = ViewEntry::Kind::kContact;
    entry->linked_subject_id = state.contact().linked_subject_id();
    entry->bare_contact =
        state.contact().decisions_size() == 0 && state.contact().suppressions_size() == 0;
    Trim(*state.mutable_contact());
    state.contact().SerializeToString(&entry->state);
  } else {
    return ApplyResult::kInvalid;
  }
  entry->state.shrink_to_fit();
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

ApplyResult ConsentView::Erase(std::string_view key, uint64_t sequence) {
  Shard& shard = shards_[ShardOf(key)];
  std::unique_ptr<ViewEntry> old;  // freed outside the lock
  std::unique_lock lock(shard.mu);
  auto [it, inserted] = shard.entries.try_emplace(std::string(key));
  if (!inserted) {
    // A tombstone carries no sequence: it erases whatever is held.
    if (sequence != 0 && it->second->sequence > sequence) return ApplyResult::kStale;
    if (it->second->kind == ViewEntry::Kind::kErased && it->second->sequence >= sequence) {
      return ApplyResult::kStale;
    }
    sequence = std::max(sequence, it->second->sequence);
    old = std::move(it->second);
  } else {
    size_.fetch_add(1, std::memory_order_relaxed);
  }
  auto marker = std::make_unique<ViewEntry>();
  marker->kind = ViewEntry::Kind::kErased;
  marker->sequence = sequence;
  it->second = std::move(marker);
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
      if (entry->state.size() > 15) total += entry->state.capacity() + 1;
      if (entry->linked_subject_id.size() > 15) total += entry->linked_subject_id.capacity() + 1;
    }
  }
  return total;
}

ApplyResult ApplyRecord(ConsentView& view, RecordTopic topic, std::string_view key,
                        const void* payload, size_t len) {
  if (payload == nullptr) {
    // Only the state topic carries tombstones (an erased target).
    return topic == RecordTopic::kState ? view.Erase(key) : ApplyResult::kInvalid;
  }
  if (topic == RecordTopic::kState) {
    v1::TargetStateSnapshot state;
    if (!state.ParseFromArray(payload, static_cast<int>(len))) return ApplyResult::kInvalid;
    return view.Apply(key, std::move(state));
  }
  v1::ConsentChanged change;
  if (!change.ParseFromArray(payload, static_cast<int>(len))) return ApplyResult::kInvalid;
  if (change.kind() == v1::SUBJECT_ERASED) return view.Erase(key, change.sequence());
  return view.Apply(key, std::move(*change.mutable_state()));
}

}  // namespace assent::enforce
