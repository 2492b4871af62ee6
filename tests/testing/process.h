// Runs a real binary as a child process for integration tests (no mocks of the service).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace assent::testing {

class ChildProcess {
 public:
  // Starts `path` with `args`; stdout and stderr go to `log_path` (appended).
  ChildProcess(const std::string& path, const std::vector<std::string>& args,
               const std::string& log_path);
  ~ChildProcess();  // SIGKILLs the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends a signal.
  void Signal(int sig);
  // Waits for exit; returns the exit status as from waitpid (or -1 on timeout).
  int Wait(absl::Duration timeout);
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

// Polls until `path` exists and is non-empty, then returns its first line (or "" on timeout).
std::string WaitForFile(const std::string& path, absl::Duration timeout);

// Whole contents of a file ("" if missing).
std::string ReadFile(const std::string& path);

}  // namespace assent::testing
