#include "consentd/erasure_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace assent::consentd {

absl::StatusOr<std::unique_ptr<ErasureLog>> ErasureLog::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("erasure.log_file: cannot open ", path, ": ", std::strerror(errno)));
  }
  std::unique_ptr<ErasureLog> log(new ErasureLog(fd));
  log->thread_ = std::thread([raw = log.get()] { raw->Run(); });
  return log;
}

absl::StatusOr<std::vector<ErasureLog::Entry>> ErasureLog::ReadAll(const std::string& path) {
  std::vector<Entry> out;
  std::ifstream in(path);
  if (!in) return out;
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  int line_number = 0;
  while (start < content.size()) {
    ++line_number;
    const size_t end = content.find('\n', start);
    // No newline: the last append was cut short and never acknowledged.
    if (end == std::string::npos) break;
    const std::string line = content.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j["tenant"].is_string() || !j["subject_id"].is_string() ||
        !j["erase_time_us"].is_number_integer()) {
      return absl::InternalError(
          absl::StrCat("erasure.log_file: line ", line_number, " is not an erasure entry"));
    }
    out.push_back(Entry{j["tenant"].get<std::string>(), j["subject_id"].get<std::string>(),
                        absl::FromUnixMicros(j["erase_time_us"].get<int64_t>())});
  }
  return out;
}

ErasureLog::~ErasureLog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void ErasureLog::Append(Entry entry, absl::AnyInvocable<void(absl::Status)> done) {
  nlohmann::json j = {{"tenant", entry.tenant},
                      {"subject_id", entry.subject_id},
                      {"erase_time_us", absl::ToUnixMicros(entry.erase_time)}};
  std::string line = j.dump();
  line.push_back('\n');
  absl::MutexLock lock(&mu_);
  queue_.push_back(Pending{std::move(line), std::move(done)});
}

void ErasureLog::Run() {
  for (;;) {
    std::deque<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ErasureLog* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stop_ || !self->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping with nothing left
      batch.swap(queue_);
    }
    std::string bytes;
    for (const Pending& p : batch) bytes += p.line;
    absl::Status status;
    size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        status = absl::UnavailableError(
            absl::StrCat("erasure.log_file: write failed: ", std::strerror(errno)));
        break;
      }
      written += static_cast<size_t>(n);
    }
    if (status.ok() && ::fdatasync(fd_) != 0) {
      status = absl::UnavailableError(
          absl::StrCat("erasure.log_file: fsync failed: ", std::strerror(errno)));
    }
    for (Pending& p : batch) p.done(status);
  }
}

}  // namespace assent::consentd
