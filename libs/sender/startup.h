// What a sender's main does first: log to stderr in the house format, and load its settings from
// the command line, the environment and --config (sender/settings.h).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "sender/settings.h"

namespace assent::sender {

// Makes `program` the default spdlog logger: stderr, UTC timestamps, logfmt-style lines.
void StartLogging(const std::string& program);

// The settings, or the status main should exit with: 0 after printing the usage for --help, 2
// after printing why the settings are refused ("<program>: <key>: ...").
std::variant<Settings, int> LoadProcessSettings(const std::string& program,
                                                const std::string& env_prefix,
                                                std::vector<SettingSpec> specs,
                                                std::vector<std::string> open_prefixes, int argc,
                                                char** argv);

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts afterwards, so that
// only a StopSignalWaiter takes them. Call first thing in main, before any thread starts.
void BlockStopSignals();

// Waits on its own thread for SIGTERM or SIGINT (blocked by BlockStopSignals) and calls `on_signal`
// once, so shutdown runs in ordinary code. The destructor wakes and joins the thread when no
// signal came.
class StopSignalWaiter {
 public:
  explicit StopSignalWaiter(std::function<void(int)> on_signal);
  ~StopSignalWaiter();
  StopSignalWaiter(const StopSignalWaiter&) = delete;
  StopSignalWaiter& operator=(const StopSignalWaiter&) = delete;

 private:
  std::atomic<bool> signalled_{false};
  std::thread thread_;
};

}  // namespace assent::sender
