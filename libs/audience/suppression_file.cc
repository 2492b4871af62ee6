#include "audience/suppression_file.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/hex.h"
#include "common/strings.h"

namespace assent::audience {
namespace {

constexpr size_t kHashLength = 64;
// E.164: at most 15 digits after '+'; the shortest country code plus subscriber number is 2.
constexpr size_t kMinE164Digits = 2;
constexpr size_t kMaxE164Digits = 15;
// Writes go out in chunks of this size, so a large set is not copied into one buffer.
constexpr size_t kWriteChunk = 64 * 1024;

bool IsE164(std::string_view value) {
  if (value.size() < 1 + kMinE164Digits || value.size() > 1 + kMaxE164Digits) return false;
  if (value.front() != '+' || value[1] == '0') return false;
  for (char c : value.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

absl::Status FileError(const std::string& path, int err) {
  // GNU strerror_r (g++ defines _GNU_SOURCE): thread-safe, returns the message, not an int.
  char buf[256];
  const char* message = strerror_r(err, buf, sizeof(buf));
  return absl::UnavailableError(absl::StrCat("suppression file: ", path, ": ", message));
}

// Owns a file descriptor; closes it (ignoring errors) unless Close() was called.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  // Closes and returns 0, or the errno of a failed close (which may report a failed write-back).
  int Close() {
    int fd = std::exchange(fd_, -1);
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Writes all of `data`; 0 or an errno.
int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// Writes the set to a fresh file at `tmp_path`, fsync'ed and closed; 0 or an errno.
int WriteTemporary(const std::string& tmp_path, const SuppressionSet& set) {
  Fd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.ok()) return errno;
  std::string chunk;
  chunk.reserve(kWriteChunk + kHashLength + 1);
  for (const std::string& hash : set.hashes()) {
    chunk.append(hash);
    chunk.push_back('\n');
    if (chunk.size() >= kWriteChunk) {
      if (int err = WriteAll(fd.get(), chunk)) return err;
      chunk.clear();
    }
  }
  if (int err = WriteAll(fd.get(), chunk)) return err;
  // Without fsync before rename, a crash could leave `path` naming an empty or partial file.
  if (::fsync(fd.get()) != 0) return errno;
  return fd.Close();
}

// Makes the rename durable; 0 or an errno.
int SyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok()) return errno;
  if (::fsync(fd.get()) != 0) return errno;
  return fd.Close();
}

}  // namespace

absl::StatusOr<std::string> AdPlatformHash(AdPlatform platform, v1::ContactType type,
                                           std::string_view normalized_value) {
  std::string_view value = StdSv(absl::StripAsciiWhitespace(Sv(normalized_value)));
  switch (type) {
    case v1::CONTACT_EMAIL:
      if (value.empty()) return InvalidField("contact.value", "must not be empty");
      return Sha256Hex(absl::AsciiStrToLower(Sv(value)));
    case v1::CONTACT_PHONE:
      if (!IsE164(value)) {
        return InvalidField(
            "contact.value",
            "must be a phone number in E.164 ('+' and 2..15 digits, the first not 0)");
      }
      return Sha256Hex(platform == AdPlatform::kMeta ? value.substr(1) : value);
    default:
      return InvalidField("contact.type", "ad platforms match only email and phone contacts");
  }
}

bool IsAdPlatformHash(std::string_view hash) {
  if (hash.size() != kHashLength) return false;
  for (char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool SuppressionSet::Add(std::string_view hash) {
  if (!IsAdPlatformHash(hash)) {
    std::fprintf(stderr, "SuppressionSet::Add: not an ad-platform hash (%zu bytes)\n", hash.size());
    std::abort();
  }
  bool inserted = hashes_.emplace(hash).second;
  dirty_ |= inserted;
  return inserted;
}

bool SuppressionSet::Remove(std::string_view hash) {
  auto it = hashes_.find(hash);
  if (it == hashes_.end()) return false;
  hashes_.erase(it);
  dirty_ = true;
  return true;
}

bool SuppressionSet::contains(std::string_view hash) const { return hashes_.contains(hash); }

absl::Status WriteSuppressionFile(const std::string& path, const SuppressionSet& set) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp_path = absl::StrCat(slash == std::string::npos ? "" : path.substr(0, slash + 1),
                                      ".", name, ".tmp-", ::getpid());

  int err = WriteTemporary(tmp_path, set);
  if (err == 0 && ::rename(tmp_path.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp_path.c_str());  // Best effort: it may not exist, and the first error matters.
    return FileError(path, err);
  }
  if (int dir_err = SyncDirectory(dir)) return FileError(path, dir_err);
  return absl::OkStatus();
}

absl::StatusOr<SuppressionSet> ReadSuppressionFile(const std::string& path) {
  SuppressionSet set;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) {
    if (errno == ENOENT) return set;
    return FileError(path, errno);
  }
  std::string data;
  char buf[kWriteChunk];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError(path, errno);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }

  std::string_view rest = data;
  for (size_t line = 1; !rest.empty(); ++line) {
    size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) {
      return absl::DataLossError(absl::StrCat("suppression file: ", path, ": line ", line,
                                              ": does not end in a newline (truncated?)"));
    }
    std::string_view hash = rest.substr(0, newline);
    if (!IsAdPlatformHash(hash)) {
      return absl::DataLossError(absl::StrCat("suppression file: ", path, ": line ", line,
                                              ": not a hash (64 lower-case hex digits), ",
                                              hash.size(), " bytes"));
    }
    set.Add(hash);
    rest.remove_prefix(newline + 1);
  }
  set.MarkClean();
  return set;
}

}  // namespace assent::audience
