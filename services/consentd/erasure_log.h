// The erasure log: an append-only file, outside the data directory, of every erasure consentd
// acknowledged (JSON Lines: tenant, subject_id, erase_time). A store restored from a backup
// taken before an erasure would bring the erased subject back; at start consentd re-applies
// every erasure the log lists (ledger::Ledger::ReapplyErasure) before it serves, so an erasure,
// once acknowledged, survives any restore.
//
// The log holds subject ids (the caller's pseudonymous ids, no evidence): it is created mode
// 0600. Appends are group-committed by the log's own thread (one fsync for every entry queued
// while the previous fsync ran), so erasures never wait on each other's fsync one by one and
// never block the committer.
//
// Thread safety: Append may be called from any thread, including the committer's.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace assent::consentd {

class ErasureLog {
 public:
  struct Entry {
    std::string tenant;
    std::string subject_id;
    absl::Time erase_time;
  };

  // Opens (creating, mode 0600) the log for appending. UNAVAILABLE naming the path on failure.
  static absl::StatusOr<std::unique_ptr<ErasureLog>> Open(const std::string& path);
  // Every entry of the file at `path` in order (none when it does not exist). A last line cut
  // short by a crash mid-append is skipped: its erasure was never acknowledged. INTERNAL
  // naming the line for any other malformed line.
  static absl::StatusOr<std::vector<Entry>> ReadAll(const std::string& path);

  // Completes the queued appends and closes the file.
  ~ErasureLog();

  // Appends `entry`; `done` runs on the log's thread once it is on disk (or with the error).
  void Append(Entry entry, absl::AnyInvocable<void(absl::Status)> done);

 private:
  explicit ErasureLog(int fd) : fd_(fd) {}
  void Run();

  const int fd_;
  absl::Mutex mu_;
  struct Pending {
    std::string line;
    absl::AnyInvocable<void(absl::Status)> done;
  };
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace assent::consentd
