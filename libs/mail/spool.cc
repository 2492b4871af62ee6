#include "mail/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/strings.h"

namespace assent::mail {
namespace {

constexpr size_t kMaxNameLength = 200;

// std::error_code's message is thread-safe, unlike strerror.
absl::Status IoError(std::string_view path, int error) {
  return absl::UnavailableError(absl::StrCat(
      "spool: ", Sv(path), ": ", std::error_code(error, std::generic_category()).message()));
}

absl::Status CheckName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return InvalidField("name", absl::StrCat("must be 1..", kMaxNameLength, " characters long"));
  }
  if (name.front() == '.') return InvalidField("name", "must not start with '.'");
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return InvalidField("name", "must contain only [A-Za-z0-9._-]");
  }
  return absl::OkStatus();
}

// Owns a file descriptor; Close() reports the error that a destructor would have to drop.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // 0 or an errno value.
  int Close() {
    int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, std::string_view path, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FsyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return IoError(dir, errno);
  if (::fsync(fd.get()) != 0) return IoError(dir, errno);
  if (int error = fd.Close(); error != 0) return IoError(dir, error);
  return absl::OkStatus();
}

// Writes and syncs the temporary file; the caller removes it on error.
absl::Status WriteTemp(int raw_fd, const std::string& path, std::string_view contents) {
  Fd fd(raw_fd);
  if (absl::Status s = WriteAll(fd.get(), path, contents); !s.ok()) return s;
  if (::fsync(fd.get()) != 0) return IoError(path, errno);
  // close() can report a deferred write error (NFS); the data is not safe until it returns 0.
  if (int error = fd.Close(); error != 0) return IoError(path, error);
  return absl::OkStatus();
}

}  // namespace

SpoolDirectory::SpoolDirectory(std::string dir) : dir_(std::move(dir)) {}

absl::Status SpoolDirectory::Init() {
  if (dir_.empty()) return InvalidField("dir", "must not be empty");
  // Each missing component is created in turn, so parents get mode 0700 too (not umask defaults).
  for (size_t pos = dir_.find('/', 1);; pos = dir_.find('/', pos + 1)) {
    std::string prefix = dir_.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return IoError(prefix, errno);
    if (pos == std::string::npos) break;
  }
  struct stat st;
  if (::stat(dir_.c_str(), &st) != 0) return IoError(dir_, errno);
  if (!S_ISDIR(st.st_mode)) return IoError(dir_, ENOTDIR);
  return absl::OkStatus();
}

absl::StatusOr<std::string> SpoolDirectory::Write(std::string_view name,
                                                  std::string_view contents) {
  if (absl::Status s = CheckName(name); !s.ok()) return s;
  static std::atomic<uint64_t> counter{0};
  std::string final_path = absl::StrCat(dir_, "/", Sv(name));
  std::string temp_path;
  int fd = -1;
  // The pid keeps processes sharing the directory apart and the counter keeps threads apart; a
  // leftover from an earlier process with the same pid makes O_EXCL fail, and the next number is
  // tried.
  for (int attempt = 0; fd < 0; ++attempt) {
    temp_path = absl::StrCat(dir_, "/.", Sv(name), ".tmp-", ::getpid(), "-", counter++);
    fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && (errno != EEXIST || attempt >= 100)) return IoError(temp_path, errno);
  }
  absl::Status status = WriteTemp(fd, temp_path, contents);
  if (status.ok() && ::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    status = IoError(final_path, errno);
  }
  if (!status.ok()) {
    ::unlink(temp_path.c_str());
    return status;
  }
  // The rename is durable only once the directory entry is on disk.
  if (absl::Status s = FsyncDirectory(dir_); !s.ok()) return s;
  return final_path;
}

}  // namespace assent::mail
