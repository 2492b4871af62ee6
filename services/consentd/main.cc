// consentd: Assent's consent service.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "consentd/config.h"
#include "consentd/server.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

extern char** environ;

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG, which leaves deadlock detection on for every absl::Mutex
  // (gRPC locks several per call): a lock-order graph updated on each acquisition, a debugging
  // aid that costs CPU on every RPC. consentd and noop_server both turn it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  auto config = assent::consentd::LoadConfig(args, env);
  if (!config.ok()) {
    if (config.status().code() == absl::StatusCode::kCancelled) {
      std::cout << config.status().message();
      return 0;
    }
    std::cerr << "consentd: " << config.status().message() << "\n";
    return 2;
  }

  auto log = spdlog::stderr_logger_mt("consentd");
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l logger=%n %v",
                      spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  log->info("msg=\"starting\" config=\"{}\"", assent::consentd::DescribeConfig(*config));

  // Signals are taken by a dedicated thread with sigwait, so shutdown runs in ordinary code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reload the authorization policy and the receipt keyring
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = assent::consentd::Server::Start(*config, assent::SystemClock::Get());
  if (!server.ok()) {
    log->critical("msg=\"cannot start\" error=\"{}\"", server.status().ToString());
    return 1;
  }
  log->info("msg=\"serving\" address={}", (*server)->address());
  if (!config->port_file.empty()) {
    const std::string tmp = config->port_file + ".tmp";
    // Line 1: the gRPC address; line 2: the metrics address (empty when metrics are off).
    std::ofstream(tmp) << (*server)->address() << "\n" << (*server)->metrics_address() << "\n";
    std::rename(tmp.c_str(), config->port_file.c_str());
  }

  std::thread waiter([&] {
    int signal = 0;
    while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
      log->info("msg=\"SIGHUP: reloading the authorization policy\"");
      (*server)->ReloadPolicy().IgnoreError();       // logged; the previous policy stays on error
      (*server)->ReloadReceiptKeys().IgnoreError();  // logged; the keys in use stay on error
    }
    log->info("msg=\"signal received\" signal={}", signal);
    (*server)->Shutdown(config->shutdown_delay, config->shutdown_grace);
  });
  (*server)->Wait();
  waiter.join();
  server->reset();
  log->info("msg=\"stopped\"");
  return 0;
}
