// assent_load: drives Check or RecordDecisions at a gRPC server with the callback client API and
// prints one line of JSON. Closed loop (--concurrency C: C calls outstanding, each completion
// issues the next) or open loop (--rate R: calls issued on a fixed schedule, at most 10000
// outstanding; latency then runs from the scheduled send time, so a stalled server is not hidden).
// Only calls completing inside the measured window (after --warmup) are counted.
//   assent_load --target HOST:PORT[,HOST:PORT...] [--method check|record|erase] [--concurrency 64 |
//   --rate R]
//               [--duration 10s] [--warmup 2s] [--connections 4] [--tenant bench]
//               [--subjects 10000] [--random-subjects] [--count N] [--server-pid PID]
//               [--evidence]
// --evidence: each RecordDecisions carries what a web form collects (IP address, user agent,
// reference), which consentd seals per subject. --method erase: EraseSubject of subject n for the
// n-th call (use --count <= --subjects over subjects recorded before).
// Subjects s0..s<subjects-1> are used round-robin, or in a fixed pseudo-random order with
// --random-subjects (so that a short run over many stored subjects does not read neighbours).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "assent/v1/consent.grpc.pb.h"
#include "assent/v1/rights.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "rpc/tls.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int64_t kMaxOutstandingOpenLoop = 10000;
constexpr auto kCallTimeout = std::chrono::seconds(10);

struct Options {
  std::string target;
  // --tls-ca, --tls-cert, --tls-key (else ASSENT_TLS_*): TLS, and mTLS with a certificate.
  assent::rpc::TlsOptions tls;
  std::string method = "check";
  int concurrency = 64;
  double rate = 0;  // > 0: open loop
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(2);
  int connections = 4;
  std::string tenant = "bench";
  int64_t subjects = 10000;
  bool random_subjects = false;
  int64_t count = 0;  // > 0: issue exactly this many calls, no warm-up, then stop
  int server_pid = 0;
  bool evidence = false;
};

// Log-linear latency histogram in microseconds: exact below 64 us, then 64 sub-buckets per power
// of two (at most ~1.6 % error). Lock-free, so completions on many threads do not contend.
class Histogram {
 public:
  void Record(int64_t us) {
    buckets_[Index(std::max<int64_t>(us, 0))].fetch_add(1, std::memory_order_relaxed);
  }
  int64_t Count() const {
    int64_t n = 0;
    for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
    return n;
  }
  // The value at quantile q (0..1): the midpoint of the bucket holding it; 0 when empty.
  double Quantile(double q) const {
    const int64_t n = Count();
    if (n == 0) return 0;
    const auto rank = static_cast<int64_t>(q * static_cast<double>(n - 1)) + 1;
    int64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank) return Midpoint(i);
    }
    return Midpoint(buckets_.size() - 1);
  }

 private:
  static constexpr int kSubBits = 6;
  static constexpr int64_t kSub = int64_t{1} << kSubBits;
  static size_t Index(int64_t v) {
    if (v < 2 * kSub) return static_cast<size_t>(v);
    const int e = 63 - __builtin_clzll(static_cast<uint64_t>(v)) - kSubBits;  // v >> e in [64,128)
    const size_t i = static_cast<size_t>(e) * kSub + static_cast<size_t>(v >> e);
    return std::min(i, kBuckets - 1);
  }
  static double Midpoint(size_t i) {
    if (i < static_cast<size_t>(2 * kSub)) return static_cast<double>(i);
    const int64_t e = static_cast<int64_t>(i) / kSub - 1;
    const int64_t sub = static_cast<int64_t>(i) - e * kSub;  // in [64,128)
    return static_cast<double>(sub << e) + static_cast<double>(int64_t{1} << e) / 2.0;
  }
  static constexpr size_t kBuckets = 48 * kSub;
  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
};

// utime + stime of a process in microseconds, from /proc/PID/stat; nullopt when unreadable.
std::optional<int64_t> ProcessCpuMicros(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t paren = line.rfind(')');  // the command name may contain spaces
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  // Fields after the name start at 3 (state); utime and stime are 14 and 15.
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14 && !absl::SimpleAtoi(field, &utime)) return std::nullopt;
    if (n == 15 && !absl::SimpleAtoi(field, &stime)) return std::nullopt;
  }
  return (utime + stime) * 1'000'000 / sysconf(_SC_CLK_TCK);
}

class Load {
 public:
  explicit Load(const Options& o) : o_(o) {
    // --target a,b,c: connections go to the targets in turn (cluster mode: calls enter every
    // instance, as clients behind a load balancer would).
    const std::vector<std::string> targets = absl::StrSplit(o.target, ',');
    for (int i = 0; i < std::max<int>(o.connections, static_cast<int>(targets.size())); ++i) {
      // A distinct channel argument gives each channel its own subchannel, hence its own HTTP/2
      // connection; identical arguments would share one.
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", i);
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 8 << 20);
      auto channel = assent::rpc::Dial(targets[i % targets.size()], o.tls, args);
      if (!channel.ok()) {
        std::fprintf(stderr, "assent_load: %s\n", channel.status().ToString().c_str());
        std::exit(2);
      }
      stubs_.push_back(assent::v1::ConsentService::NewStub(*channel));
      rights_stubs_.push_back(assent::v1::SubjectRightsService::NewStub(*channel));
    }
  }

  // Runs the load and prints the JSON line. Returns false when nothing succeeded.
  bool Run() {
    const auto start = SteadyClock::now();
    const bool counted = o_.count > 0;
    measure_start_ = counted ? start : start + absl::ToChronoNanoseconds(o_.warmup);
    measure_end_ = counted ? SteadyClock::time_point::max()
                           : measure_start_ + absl::ToChronoNanoseconds(o_.duration);
    std::thread issuer;
    if (o_.rate > 0) {
      issuer = std::thread([this, start] { OpenLoop(start); });
    } else {
      for (int i = 0; i < o_.concurrency; ++i) Issue(SteadyClock::now());
    }
    std::optional<int64_t> cpu_before, cpu_after;
    SteadyClock::time_point window_end;
    if (counted) {
      WaitIdle();
      window_end = SteadyClock::now();
    } else {
      std::this_thread::sleep_until(measure_start_);
      if (o_.server_pid > 0) cpu_before = ProcessCpuMicros(o_.server_pid);
      std::this_thread::sleep_until(measure_end_);
      if (o_.server_pid > 0) cpu_after = ProcessCpuMicros(o_.server_pid);
      window_end = measure_end_;
      stop_ = true;
    }
    if (issuer.joinable()) issuer.join();
    WaitIdle();

    const double seconds = std::chrono::duration<double>(window_end - measure_start_).count();
    const int64_t ok = latency_.Count();
    const int64_t requests = ok + errors_.load();
    std::string cpu = "null";
    if (cpu_before && cpu_after && requests > 0) {
      cpu = absl::StrFormat(
          "%.1f", static_cast<double>(*cpu_after - *cpu_before) / static_cast<double>(requests));
    }
    const std::string load = o_.rate > 0 ? absl::StrFormat("\"rate\":%.0f", o_.rate)
                                         : absl::StrCat("\"concurrency\":", o_.concurrency);
    std::printf(
        "{\"method\":\"%s\",\"mode\":\"%s\",%s,\"requests\":%lld,\"errors\":%lld,"
        "\"dropped\":%lld,\"seconds\":%.3f,\"rps\":%.1f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
        "\"p999_us\":%.0f,\"server_cpu_us_per_req\":%s}\n",
        o_.method.c_str(), o_.rate > 0 ? "open" : "closed", load.c_str(),
        static_cast<long long>(requests), static_cast<long long>(errors_.load()),
        static_cast<long long>(dropped_.load()), seconds, static_cast<double>(requests) / seconds,
        latency_.Quantile(0.50), latency_.Quantile(0.99), latency_.Quantile(0.999), cpu.c_str());
    std::fflush(stdout);
    return ok > 0;
  }

 private:
  // One outstanding call; owns what the callback API needs to stay alive until completion.
  struct Call {
    grpc::ClientContext ctx;
    assent::v1::CheckRequest check_request;
    assent::v1::CheckResponse check_response;
    assent::v1::RecordDecisionsRequest record_request;
    assent::v1::RecordDecisionsResponse record_response;
    assent::v1::EraseSubjectRequest erase_request;
    assent::v1::EraseSubjectResponse erase_response;
    SteadyClock::time_point start;
  };

  // The n-th call's subject: round-robin, or scattered by a splitmix64 step of n.
  int64_t SubjectIndex(int64_t n) const {
    if (!o_.random_subjects) return n % o_.subjects;
    uint64_t z = static_cast<uint64_t>(n) + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return static_cast<int64_t>((z ^ (z >> 31)) % static_cast<uint64_t>(o_.subjects));
  }

  // Starts one call; `start` is when it was meant to start (the schedule, in open loop).
  void Issue(SteadyClock::time_point start) {
    const int64_t n = next_.fetch_add(1);
    if (o_.count > 0 && n >= o_.count) return;
    outstanding_.fetch_add(1);
    auto* call = new Call;
    call->start = start;
    call->ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    const std::string subject = absl::StrCat("s", SubjectIndex(n));
    auto* stub = stubs_[static_cast<size_t>(n) % stubs_.size()].get();
    auto done = [this, call](grpc::Status status) { Done(call, status); };
    if (o_.method == "check") {
      auto& r = call->check_request;
      r.set_tenant(o_.tenant);
      r.mutable_target()->set_subject_id(subject);
      r.set_purpose_id("marketing.newsletter");
      r.set_channel(assent::v1::EMAIL);
      stub->async()->Check(&call->ctx, &r, &call->check_response, std::move(done));
    } else if (o_.method == "erase") {
      auto& r = call->erase_request;
      r.set_tenant(o_.tenant);
      r.set_subject_id(subject);
      r.set_reason("bench");
      rights_stubs_[static_cast<size_t>(n) % rights_stubs_.size()]->async()->EraseSubject(
          &call->ctx, &r, &call->erase_response, std::move(done));
    } else {
      auto& r = call->record_request;
      r.set_tenant(o_.tenant);
      r.mutable_target()->set_subject_id(subject);
      r.set_source("bench");
      r.set_actor("assent_load");
      if (o_.evidence) {
        // What a sign-up form typically records.
        r.mutable_evidence()->set_ip_address(absl::StrCat("198.51.100.", n % 250));
        r.mutable_evidence()->set_user_agent(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36");
        r.mutable_evidence()->set_reference(absl::StrCat("form-", n));
      }
      auto* d = r.add_decisions();
      d->set_purpose_id("marketing.newsletter");
      // Each pass over the subjects flips the state, so every call changes what is stored.
      d->set_state((n / o_.subjects) % 2 == 0 ? assent::v1::GRANTED : assent::v1::WITHDRAWN);
      stub->async()->RecordDecisions(&call->ctx, &r, &call->record_response, std::move(done));
    }
  }

  void Done(Call* call, const grpc::Status& status) {
    const auto now = SteadyClock::now();
    if (now >= measure_start_ && now < measure_end_) {
      if (status.ok()) {
        latency_.Record(
            std::chrono::duration_cast<std::chrono::microseconds>(now - call->start).count());
      } else if (errors_.fetch_add(1) == 0) {
        std::fprintf(stderr, "assent_load: first error: %d %s\n",
                     static_cast<int>(status.error_code()), status.error_message().c_str());
      }
    }
    delete call;
    if (o_.rate <= 0 && !stop_.load()) Issue(SteadyClock::now());
    if (outstanding_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.notify_all();
    }
  }

  // Issues calls on a fixed schedule, catching up after a late wake-up rather than skipping.
  void OpenLoop(SteadyClock::time_point start) {
    const auto interval = std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(1.0 / o_.rate));
    auto next = start;
    while (!stop_.load()) {
      std::this_thread::sleep_until(next);
      const auto now = SteadyClock::now();
      while (next <= now && !stop_.load()) {
        if (outstanding_.load() < kMaxOutstandingOpenLoop) {
          Issue(next);
        } else if (next >= measure_start_ && next < measure_end_) {
          dropped_.fetch_add(1);
        }
        next += interval;
      }
    }
  }

  void WaitIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return outstanding_.load() == 0; });
  }

  const Options o_;
  std::vector<std::unique_ptr<assent::v1::ConsentService::Stub>> stubs_;
  std::vector<std::unique_ptr<assent::v1::SubjectRightsService::Stub>> rights_stubs_;
  SteadyClock::time_point measure_start_, measure_end_;
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> outstanding_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> dropped_{0};
  std::atomic<bool> stop_{false};
  Histogram latency_;
  std::mutex mu_;
  std::condition_variable idle_;
};

int Usage(const std::string& why) {
  std::fprintf(
      stderr,
      "assent_load: %s\nusage: assent_load --target HOST:PORT [--method check|record|erase]\n"
      "  [--concurrency 64 | --rate R] [--duration 10s] [--warmup 2s] [--connections 4]\n"
      "  [--tenant bench] [--subjects 10000] [--random-subjects] [--count N]\n"
      "  [--server-pid PID] [--evidence] [--tls-ca F [--tls-cert F --tls-key F]]\n",
      why.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--random-subjects") {
      o.random_subjects = true;
      continue;
    }
    if (flag == "--evidence") {
      o.evidence = true;
      continue;
    }
    if (i + 1 >= argc) return Usage("missing value for " + flag);
    const std::string value = argv[++i];
    bool ok = true;
    if (flag == "--target") {
      o.target = value;
    } else if (flag == "--method") {
      o.method = value;
      ok = value == "check" || value == "record" || value == "erase";
    } else if (flag == "--concurrency") {
      ok = absl::SimpleAtoi(value, &o.concurrency) && o.concurrency > 0;
    } else if (flag == "--rate") {
      ok = absl::SimpleAtod(value, &o.rate) && o.rate > 0;
    } else if (flag == "--duration") {
      ok = absl::ParseDuration(value, &o.duration) && o.duration > absl::ZeroDuration();
    } else if (flag == "--warmup") {
      ok = absl::ParseDuration(value, &o.warmup) && o.warmup >= absl::ZeroDuration();
    } else if (flag == "--connections") {
      ok = absl::SimpleAtoi(value, &o.connections) && o.connections > 0;
    } else if (flag == "--tls-ca") {
      o.tls.ca_file = value;
    } else if (flag == "--tls-cert") {
      o.tls.cert_file = value;
    } else if (flag == "--tls-key") {
      o.tls.key_file = value;
    } else if (flag == "--tenant") {
      o.tenant = value;
    } else if (flag == "--subjects") {
      ok = absl::SimpleAtoi(value, &o.subjects) && o.subjects > 0;
    } else if (flag == "--count") {
      ok = absl::SimpleAtoi(value, &o.count) && o.count > 0;
    } else if (flag == "--server-pid") {
      ok = absl::SimpleAtoi(value, &o.server_pid) && o.server_pid > 0;
    } else {
      return Usage("unknown flag " + flag);
    }
    if (!ok) return Usage("bad value for " + flag + ": " + value);
  }
  if (o.target.empty()) return Usage("--target is required");
  assent::rpc::ApplyTlsEnvironment(o.tls);
  if (o.count > 0 && o.rate > 0) return Usage("--count works with --concurrency only");
  return Load(o).Run() ? 0 : 1;
}
