// A fresh temporary directory per test, removed when the object goes away.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace assent::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The regular files under `dir` (recursively) whose bytes contain `needle`: what a test that
// proves something is not stored (a plain address, shredded evidence) greps the data directory
// for, WAL included.
std::vector<std::string> FilesContaining(const std::string& dir, std::string_view needle);

}  // namespace assent::testing
