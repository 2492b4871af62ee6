// A real sender process (email_sender, sms_sender, ads_sync) for integration tests: started with
// its flags, a port file for its metrics address, and a wait until /readyz says ready.
#pragma once

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/kafka_broker.h"
#include "testing/process.h"

namespace assent::testing {

class SenderProcess {
 public:
  // `binary` is the sender's path; `work_dir` holds its log and port file.
  SenderProcess(std::string binary, std::string work_dir, std::string name)
      : binary_(std::move(binary)), work_dir_(std::move(work_dir)), name_(std::move(name)) {}

  // Starts the sender with `args` plus --metrics-listen 127.0.0.1:0 and --port-file, and waits
  // until /readyz answers 200 (view caught up, consuming) when `wait_ready`.
  void Start(const std::vector<std::string>& args, bool wait_ready = true) {
    const std::string port_file = absl::StrCat(work_dir_, "/", name_, ".port");
    std::remove(port_file.c_str());
    std::vector<std::string> all = args;
    all.insert(all.end(), {"--metrics-listen", "127.0.0.1:0", "--port-file", port_file});
    process_ = std::make_unique<ChildProcess>(binary_, all, log_path());
    metrics_address_ = WaitForFile(port_file, absl::Seconds(30));
    ASSERT_FALSE(metrics_address_.empty()) << name_ << " did not start; log:\n" << log();
    if (wait_ready) {
      ASSERT_TRUE(WaitReady(absl::Seconds(60))) << name_ << " not ready; log:\n" << log();
    }
  }
  bool WaitReady(absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (HttpStatus("/readyz") == 200) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }
  // The HTTP status of GET `path` on the metrics address (0 when unreachable).
  int HttpStatus(const std::string& path) const {
    int status = 0;
    const std::string out =
        RunCommand(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' --max-time 5 'http://",
                                metrics_address_, path, "'"),
                   &status);
    return std::atoi(out.c_str());
  }
  std::string Metrics() const {
    int status = 0;
    return RunCommand(absl::StrCat("curl -s --max-time 5 'http://", metrics_address_, "/metrics'"),
                      &status);
  }
  int Stop() {
    process_->Signal(SIGTERM);
    return process_->Wait(absl::Seconds(30));
  }
  void Kill() {
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(30));
  }
  bool running() const { return process_ != nullptr && process_->running(); }
  pid_t pid() const { return process_->pid(); }
  std::string log_path() const { return absl::StrCat(work_dir_, "/", name_, ".log"); }
  std::string log() const { return ReadFile(log_path()); }
  const std::string& metrics_address() const { return metrics_address_; }

 private:
  std::string binary_, work_dir_, name_, metrics_address_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace assent::testing
