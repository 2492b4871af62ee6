#include "sender/startup.h"

#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace assent::sender {

void StartLogging(const std::string& program) {
  spdlog::set_default_logger(spdlog::stderr_logger_mt(program));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l logger=%n %v",
                      spdlog::pattern_time_type::utc);
}

std::variant<Settings, int> LoadProcessSettings(const std::string& program,
                                                const std::string& env_prefix,
                                                std::vector<SettingSpec> specs,
                                                std::vector<std::string> open_prefixes, int argc,
                                                char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  auto settings =
      Settings::Load(program, env_prefix, std::move(specs), std::move(open_prefixes), args, env);
  if (settings.ok()) return *std::move(settings);
  if (settings.status().code() == absl::StatusCode::kCancelled) {
    std::cout << settings.status().message();
    return 0;
  }
  std::cerr << program << ": " << settings.status().message() << "\n";
  return 2;
}

namespace {
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}
}  // namespace

void BlockStopSignals() {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

StopSignalWaiter::StopSignalWaiter(std::function<void(int)> on_signal) {
  thread_ = std::thread([this, on_signal = std::move(on_signal)] {
    const sigset_t signals = StopSignals();
    int signal = 0;
    sigwait(&signals, &signal);
    signalled_.store(true);
    on_signal(signal);
  });
}

StopSignalWaiter::~StopSignalWaiter() {
  // The thread is blocked in sigwait unless a signal came: wake it with one.
  if (!signalled_.load()) pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

}  // namespace assent::sender
