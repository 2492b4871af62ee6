// The enforcement library's local view: the latest state of every target (subject or contact
// point) as the events on Kafka describe it, trimmed to what the decision rule reads, keyed like
// the events ("tenant/subject" or "tenant/c:<type>:<hash>").
//
// Applying is idempotent and order-tolerant: a state is applied only when its sequence is higher
// than the one held, so a re-sent event, or a state-topic record older than a change already
// applied, changes nothing. An erasure (tombstone or SUBJECT_ERASED change) replaces the target's
// state by a marker that denies.
//
// Memory: each target holds its state trimmed to what the rule reads (core/check_state.h: no
// evidence but the notice version, no hash-chain head, sources or actors) and *serialized*: about
// 200 bytes for a subject with three decisions, against ~2 KB as a parsed message tree, so
// millions of targets fit. A check parses the bytes into a per-thread message it reuses (no
// allocation), which costs less than the cache misses of walking a parsed tree in a large view
// (tools/bench/sender/RESULTS.md).
// MemoryBytes() estimates the heap held; the benchmark measures resident memory.
//
// Thread safety: all methods may be called from any thread. Readers take a shard's shared lock
// only while they look at a target; writers lock one shard at a time.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "assent/v1/events.pb.h"
#include "assent/v1/types.pb.h"

namespace assent::enforce {

// One target's state in the view.
struct ViewEntry {
  // kErased: a subject erased (EraseSubject) and not recorded since; `state` is empty and every
  // consent-governed check of it denies (reason ERASED).
  enum class Kind : uint8_t { kSubject, kContact, kErased };
  uint64_t sequence = 0;
  Kind kind = Kind::kSubject;
  // The trimmed SubjectState or ContactPointState, serialized.
  std::string state;
  // For a contact point: the subject it is linked to (empty: none), kept apart so that following
  // the link needs no parse.
  std::string linked_subject_id;
  // A contact point with no decisions or suppressions of its own (only a link): the rule needs
  // nothing from its bytes, so checks skip the parse.
  bool bare_contact = false;

  // Parse `state` into `out` (reusing its allocations). False when the entry is of the other
  // kind or the bytes do not parse (cannot happen: the view wrote them).
  bool ParseSubject(v1::SubjectState& out) const;
  bool ParseContact(v1::ContactPointState& out) const;
};

// What Apply did.
enum class ApplyResult { kApplied, kStale, kErased, kInvalid };

class ConsentView {
 public:
  ConsentView() = default;
  ConsentView(const ConsentView&) = delete;
  ConsentView& operator=(const ConsentView&) = delete;

  // Applies a target's full state if its sequence is above the held one. kInvalid when `state`
  // has neither a subject nor a contact point.
  ApplyResult Apply(std::string_view key, v1::TargetStateSnapshot state);
  // The target was erased (a tombstone on the state topic, or the SUBJECT_ERASED change at
  // `sequence`): its state is dropped and only a small marker stays, so checks of it deny until
  // a later state (the subject recorded again, at a higher sequence) replaces it. kStale when a
  // higher sequence is held already.
  ApplyResult Erase(std::string_view key, uint64_t sequence = 0);

  // Calls `fn(entry)` with the target's entry (nullptr when unknown) under the shard's shared
  // lock. `fn` must not call back into the view for the same shard with a write.
  void Read(std::string_view key, const std::function<void(const ViewEntry*)>& fn) const;
  // Same, without std::function, for the hot path.
  template <typename Fn>
  void ReadWith(std::string_view key, Fn&& fn) const {
    const Shard& shard = shards_[ShardOf(key)];
    std::shared_lock lock(shard.mu);
    auto it = shard.entries.find(absl::string_view(key.data(), key.size()));
    fn(it == shard.entries.end() ? static_cast<const ViewEntry*>(nullptr) : it->second.get());
  }

  // For a contact point: calls `fn(contact, subject)` with the contact point's entry and the entry
  // of the subject it is linked to ("<tenant>/<linked_subject_id>"; nullptr when not linked or
  // unknown), both under their shards' shared locks (one lock when they share a shard).
  template <typename Fn>
  void ReadLinked(std::string_view contact_key, std::string_view tenant, Fn&& fn) const {
    const size_t first = ShardOf(contact_key);
    std::shared_lock lock(shards_[first].mu);
    const ViewEntry* contact = Find(shards_[first], contact_key);
    if (contact == nullptr || contact->linked_subject_id.empty()) {
      fn(contact, static_cast<const ViewEntry*>(nullptr));
      return;
    }
    thread_local std::string subject_key;  // keeps its buffer: no allocation per check
    subject_key.assign(tenant);
    subject_key.push_back('/');
    subject_key.append(contact->linked_subject_id);
    const size_t second = ShardOf(subject_key);
    if (second == first) {
      fn(contact, Find(shards_[first], subject_key));
      return;
    }
    // Readers never wait on each other, and writers hold one shard at a time: no deadlock.
    std::shared_lock lock2(shards_[second].mu);
    fn(contact, Find(shards_[second], subject_key));
  }

  // The sequence held for a target, 0 when unknown.
  uint64_t Sequence(std::string_view key) const;
  // Number of targets held.
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  // Estimated heap bytes held (see the header comment). Walks every entry: not for a hot path.
  size_t MemoryBytes() const;

  // The view keeps only the fields the decision rule reads, those core::ParseForCheck decodes
  // (core/check_state.h); exposed for tests and benchmarks.
  static void Trim(v1::SubjectState& state);
  static void Trim(v1::ContactPointState& state);

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    mutable std::shared_mutex mu;
    absl::flat_hash_map<std::string, std::unique_ptr<ViewEntry>> entries;
  };
  static size_t ShardOf(std::string_view key);
  static const ViewEntry* Find(const Shard& shard, std::string_view key) {
    auto it = shard.entries.find(absl::string_view(key.data(), key.size()));
    return it == shard.entries.end() ? nullptr : it->second.get();
  }

  std::array<Shard, kShards> shards_;
  std::atomic<size_t> size_{0};
};

// The topic a Kafka record came from.
enum class RecordTopic { kState, kChanges };

// Applies one record as read from Kafka to `view`, the way the follower does: a state-topic
// record's value is a TargetStateSnapshot, and a null value (`payload` nullptr) is a tombstone
// (the target was erased); a changes-topic record's value is a ConsentChanged, whose state is
// applied. `key` is the record's key. kInvalid for a value that does not parse, a snapshot
// with neither a subject nor a contact point, or a null value on the changes topic.
ApplyResult ApplyRecord(ConsentView& view, RecordTopic topic, std::string_view key,
                        const void* payload, size_t len);

}  // namespace assent::enforce
