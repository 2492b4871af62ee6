#include "store/committer.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "store/keys.h"

namespace assent::store {

namespace {
constexpr char kNotAppliedPayload[] = "assent.dev/not-applied";
}  // namespace

absl::Status NotApplied(absl::Status status) {
  status.SetPayload(kNotAppliedPayload, absl::Cord("1"));
  return status;
}

bool IsNotApplied(const absl::Status& status) {
  return status.GetPayload(kNotAppliedPayload).has_value();
}

std::string Txn::OverlayKey(Cf cf, std::string_view key) {
  std::string out(1, static_cast<char>(cf));
  out.append(key);
  return out;
}

absl::StatusOr<std::optional<std::string>> Txn::Get(Cf cf, std::string_view key) {
  const std::string k = OverlayKey(cf, key);
  if (auto it = local_.find(k); it != local_.end()) return it->second;
  if (auto it = group_.find(k); it != group_.end()) return it->second;
  for (auto group = in_flight_.rbegin(); group != in_flight_.rend(); ++group) {
    const Overlay& writes = *group->second;
    if (auto it = writes.find(k); it != writes.end()) return it->second;
  }
  return store_.Get(cf, key);
}

void Txn::Put(Cf cf, std::string_view key, std::string value) {
  local_[OverlayKey(cf, key)] = value;
  ops_.push_back(Op{cf, std::string(key), std::move(value)});
}

void Txn::PutNew(Cf cf, std::string_view key, std::string value) {
  ops_.push_back(Op{cf, std::string(key), std::move(value)});
}

void Txn::Delete(Cf cf, std::string_view key) {
  local_[OverlayKey(cf, key)] = std::nullopt;
  ops_.push_back(Op{cf, std::string(key), std::nullopt});
}

void Txn::Merge(Cf cf, std::string_view key, std::string operand) {
  ops_.push_back(Op{cf, std::string(key), std::move(operand), true});
}

uint64_t Txn::NextOutboxId() {
  const uint64_t id = committer_.next_outbox_id_++;
  committer_.last_outbox_id_.store(id, std::memory_order_relaxed);
  return id;
}

Committer::Committer(Store& store, const Clock& clock, CommitterOptions options)
    : store_(store), clock_(clock), options_(options) {
  // Outbox ids continue after the newest record still in the outbox. When the outbox is empty
  // they restart at 1, which is fine: ids only order records that are waiting together.
  auto it = store_.NewIterator(Cf::kOutbox);
  it->SeekToLast();
  if (it->Valid() && it->key().size() == 8) {
    next_outbox_id_ = ReadBigEndian64(std::string_view(it->key().data(), 8)) + 1;
    last_outbox_id_ = next_outbox_id_ - 1;
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "committer");
    Loop();
  });
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "commit-writer");
    WriterLoop();
  });
}

Committer::~Committer() { Stop(); }

void Committer::Submit(Mutation mutation, Done done, absl::Time deadline) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("shutting down");
    } else if (queue_.size() >= options_.max_queue) {
      refused = Exhausted("write queue is full; retry with backoff");
      stats_.rejected_queue_full++;
    } else {
      queue_.push_back(Item{std::move(mutation), std::move(done), deadline});
      return;
    }
  }
  done(std::move(refused));
}

absl::Status Committer::Run(Mutation mutation) {
  absl::Notification finished;
  absl::Status result;
  Submit(std::move(mutation), [&](absl::Status s) {
    result = std::move(s);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

void Committer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (writer_.joinable()) writer_.join();
}

void Committer::AddObserver(CommitObserver* observer) {
  absl::MutexLock lock(&mu_);
  observers_.push_back(observer);
}

void Committer::RemoveObserver(CommitObserver* observer) {
  absl::MutexLock lock(&mu_);
  observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
}

size_t Committer::queue_depth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

CommitterStats Committer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Committer::Loop() {
  std::vector<Item> items;
  Txn::InFlight in_flight;
  uint64_t number = 0;
  while (true) {
    uint64_t finished = 0;
    {
      absl::MutexLock lock(&mu_);
      // Waits for work and for room in the pipeline; mutations that arrive meanwhile join the
      // next group.
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return (stopping_ || !queue_.empty()) && prepared_.empty() &&
               (options_.sink == nullptr || !writing_);
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) {  // stopping and drained; the writer finishes what it holds
        committer_done_ = true;
        return;
      }
      while (!queue_.empty() && items.size() < options_.max_group) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      finished = finished_through_;
    }
    while (!in_flight.empty() && in_flight.front().first <= finished) in_flight.pop_front();
    auto overlay = std::make_shared<Txn::Overlay>();
    std::unique_ptr<Group> group = Prepare(items, ++number, finished + 1, *overlay, in_flight);
    items.clear();
    if (!overlay->empty()) in_flight.emplace_back(number, std::move(overlay));
    absl::MutexLock lock(&mu_);
    prepared_.push_back(std::move(group));
  }
}

std::unique_ptr<Committer::Group> Committer::Prepare(std::vector<Item>& items, uint64_t number,
                                                     uint64_t base, Txn::Overlay& overlay,
                                                     const Txn::InFlight& in_flight) {
  auto group = std::make_unique<Group>();
  group->number = number;
  group->base = base;
  group->results.reserve(items.size());
  group->done.reserve(items.size());
  for (Item& item : items) {
    group->done.push_back(std::move(item.done));
    const absl::Time now = clock_.Now();
    if (now > item.deadline) {
      group->results.push_back(absl::DeadlineExceededError("deadline passed before the write ran"));
      absl::MutexLock lock(&mu_);
      stats_.rejected_deadline++;
      continue;
    }
    Txn txn(store_, *this, overlay, in_flight, now);
    absl::Status s = item.mutation(txn);
    uint64_t stamp = 0;
    if (s.ok() && options_.sink != nullptr && !txn.ops_.empty()) {
      absl::StatusOr<uint64_t> admitted = options_.sink->Admit(txn.ops_);
      if (admitted.ok()) {
        stamp = *admitted;
      } else {
        s = admitted.status();
      }
    }
    if (s.ok() && options_.sink != nullptr) {
      for (const Txn::Op& op : txn.ops_) {
        group->write_bytes += op.key.size() + (op.value.has_value() ? op.value->size() : 0);
      }
      if (!txn.ops_.empty()) group->writes.push_back({std::move(txn.ops_), stamp});
      for (auto& [k, v] : txn.local_) overlay[k] = std::move(v);
      for (auto& fn : txn.on_commit_) group->on_commit.push_back(std::move(fn));
    } else if (s.ok()) {
      for (Txn::Op& op : txn.ops_) {
        if (op.merge) {
          group->batch.Merge(store_.Handle(op.cf), op.key, *op.value);
        } else if (op.value.has_value()) {
          group->batch.Put(store_.Handle(op.cf), op.key, *op.value);
        } else {
          group->batch.Delete(store_.Handle(op.cf), op.key);
        }
      }
      for (auto& [k, v] : txn.local_) overlay[k] = std::move(v);
      for (auto& fn : txn.on_commit_) group->on_commit.push_back(std::move(fn));
    }
    group->results.push_back(std::move(s));
  }
  return group;
}

void Committer::WriterLoop() {
  while (true) {
    std::unique_ptr<Group> group;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return committer_done_ || !prepared_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (prepared_.empty()) return;  // the committer stopped and everything is written
      group = std::move(prepared_.front());
      prepared_.pop_front();
      writing_ = true;
    }
    Finish(*group);
  }
}

void Committer::Finish(Group& group) {
  absl::Status written;
  absl::Duration write_latency;
  if (group.base <= last_failed_) {
    // Its mutations read the writes of a group that never reached the store.
    written = NotApplied(
        absl::UnavailableError("an earlier write failed; nothing of this one was applied"));
  } else if (!group.writes.empty()) {
    const absl::Time start = clock_.Now();
    written = options_.sink->Commit(group.writes);
    write_latency = clock_.Now() - start;
  } else if (group.batch.Count() > 0) {
    const absl::Time start = clock_.Now();
    written = store_.Write(&group.batch);
    write_latency = clock_.Now() - start;
  }
  const bool write_failed = !written.ok();
  if (write_failed) {
    last_failed_ = group.number;
    for (absl::Status& s : group.results) {
      if (s.ok()) s = written;
    }
  } else {
    for (auto& fn : group.on_commit) fn();
  }
  size_t succeeded = 0;
  for (const absl::Status& s : group.results) succeeded += s.ok() ? 1 : 0;
  {
    absl::MutexLock lock(&mu_);
    finished_through_ = group.number;
    writing_ = false;
    stats_.groups++;
    stats_.mutations += group.results.size();
    if (write_failed) stats_.failed_writes++;
    if (!write_failed && (group.batch.Count() > 0 || !group.writes.empty())) {
      const size_t bytes = group.writes.empty() ? group.batch.GetDataSize() : group.write_bytes;
      for (CommitObserver* o : observers_) o->OnGroupCommitted(succeeded, bytes, write_latency);
    }
  }
  for (size_t i = 0; i < group.done.size(); ++i) group.done[i](std::move(group.results[i]));
}

}  // namespace assent::store
