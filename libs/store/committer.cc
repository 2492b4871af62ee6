#include "store/committer.h"

#include <algorithm>
#include <utility>

#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "store/keys.h"

namespace assent::store {

std::string Txn::OverlayKey(Cf cf, std::string_view key) {
  std::string out(1, static_cast<char>(cf));
  out.append(key);
  return out;
}

absl::StatusOr<std::optional<std::string>> Txn::Get(Cf cf, std::string_view key) {
  const std::string k = OverlayKey(cf, key);
  if (auto it = local_.find(k); it != local_.end()) return it->second;
  if (auto it = group_.find(k); it != group_.end()) return it->second;
  return store_.Get(cf, key);
}

void Txn::Put(Cf cf, std::string_view key, std::string value) {
  local_[OverlayKey(cf, key)] = value;
  ops_.push_back(Op{cf, std::string(key), std::move(value)});
}

void Txn::Delete(Cf cf, std::string_view key) {
  local_[OverlayKey(cf, key)] = std::nullopt;
  ops_.push_back(Op{cf, std::string(key), std::nullopt});
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
  thread_ = std::thread([this] { Loop(); });
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
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && items.size() < options_.max_group) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunGroup(items);
    items.clear();
  }
}

void Committer::RunGroup(std::vector<Item>& items) {
  Txn::Overlay group;
  rocksdb::WriteBatch batch;
  std::vector<absl::Status> results;
  std::vector<absl::AnyInvocable<void()>> on_commit;
  results.reserve(items.size());
  for (Item& item : items) {
    const absl::Time now = clock_.Now();
    if (now > item.deadline) {
      results.push_back(absl::DeadlineExceededError("deadline passed before the write ran"));
      absl::MutexLock lock(&mu_);
      stats_.rejected_deadline++;
      continue;
    }
    Txn txn(store_, *this, group, now);
    absl::Status s = item.mutation(txn);
    if (s.ok()) {
      for (Txn::Op& op : txn.ops_) {
        if (op.value.has_value()) {
          batch.Put(store_.Handle(op.cf), op.key, *op.value);
        } else {
          batch.Delete(store_.Handle(op.cf), op.key);
        }
      }
      for (auto& [k, v] : txn.local_) group[k] = std::move(v);
      for (auto& fn : txn.on_commit_) on_commit.push_back(std::move(fn));
    }
    results.push_back(std::move(s));
  }
  bool write_failed = false;
  absl::Duration write_latency;
  if (batch.Count() > 0) {
    const absl::Time start = clock_.Now();
    absl::Status written = store_.Write(&batch);
    write_latency = clock_.Now() - start;
    if (!written.ok()) {
      write_failed = true;
      for (absl::Status& s : results) {
        if (s.ok()) s = written;
      }
    }
  }
  if (!write_failed) {
    for (auto& fn : on_commit) fn();
  }
  size_t succeeded = 0;
  for (const absl::Status& s : results) succeeded += s.ok() ? 1 : 0;
  {
    absl::MutexLock lock(&mu_);
    stats_.groups++;
    stats_.mutations += items.size();
    if (write_failed) stats_.failed_writes++;
    if (!write_failed && batch.Count() > 0) {
      for (CommitObserver* o : observers_)
        o->OnGroupCommitted(succeeded, batch.GetDataSize(), write_latency);
    }
  }
  for (size_t i = 0; i < items.size(); ++i) items[i].done(std::move(results[i]));
}

}  // namespace assent::store
