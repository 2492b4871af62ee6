// webhook_bench_receiver: the benchmark's local webhook endpoint. Answers every POST with 204 and
// records its arrival time and its delivery latency (arrival - the event's recordedTime); on
// SIGTERM writes "arrival_unix_ns latency_ns" per request to the output file and exits.
//   webhook_bench_receiver PORT_FILE OUTPUT_FILE
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "httplib.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: webhook_bench_receiver PORT_FILE OUTPUT_FILE\n");
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> seen;
  seen.reserve(1 << 20);
  httplib::Server server;
  server.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
    const absl::Time now = absl::Now();
    int64_t latency = -1;
    static constexpr char kField[] = "\"recordedTime\":\"";
    const size_t at = req.body.find(kField);
    if (at != std::string::npos) {
      const size_t start = at + sizeof(kField) - 1;
      const size_t end = req.body.find('"', start);
      absl::Time recorded;
      std::string error;
      if (end != std::string::npos &&
          absl::ParseTime(absl::RFC3339_full, req.body.substr(start, end - start), &recorded,
                          &error)) {
        latency = absl::ToInt64Nanoseconds(now - recorded);
      }
    }
    {
      std::lock_guard lock(mu);
      seen.emplace_back(absl::ToUnixNanos(now), latency);
    }
    res.status = 204;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) return 1;
  std::thread listener([&] { server.listen_after_bind(); });
  {
    std::ofstream(std::string(argv[1]) + ".tmp") << "127.0.0.1:" << port << "\n";
    std::rename((std::string(argv[1]) + ".tmp").c_str(), argv[1]);
  }
  int signal = 0;
  sigwait(&signals, &signal);
  server.stop();
  listener.join();
  std::ofstream out(argv[2]);
  std::lock_guard lock(mu);
  for (const auto& [arrival, latency] : seen) out << arrival << ' ' << latency << '\n';
  return 0;
}
