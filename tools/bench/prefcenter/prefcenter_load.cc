// prefcenter_load: drives the preference center (HTTP) or consentd (gRPC) from N caller threads,
// each making one request at a time (closed loop) for a duration after a warm-up, and prints one
// line of JSON: requests/s, p50/p99/p99.9 latency, errors, and the CPU each named process spent
// per request. Only requests completing inside the measured window are counted.
//
//   prefcenter_load seed --consentd HOST:PORT [--page-subjects 1000]
//   prefcenter_load run --scenario S --target HOST:PORT [--callers 16] [--duration 10s]
//       [--warmup 2s] [--keyring FILE] [--subject-prefix oc-] [--tokens N]
//       [--page-subjects 1000] [--pid NAME=PID]...
//
// Scenarios (the target is prefcenter's HTTP address, or consentd's gRPC address for direct):
//   static-post  POST /__bench/static, body as one-click's   static-get  GET /__bench/static
//   one-click    POST /u/{token} List-Unsubscribe=One-Click, a distinct subject each
//   direct       RecordDecisions to consentd as prefcenter sends it for a one-click, a distinct
//                subject each
//   page         GET /p/{token} over the seeded page subjects, round-robin
//   mix          page and one-click alternately (the soak)
// HTTP callers keep one connection each (keep-alive; reopened whenever the server closes it, and
// counted in "connections"); direct callers share one channel, as prefcenter's own calls to
// consentd do. One-click tokens are minted before the clock starts (--tokens, by
// default enough for 20,000 requests/s); past those they are minted as needed ("minted_in_run").
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "bench/bench_catalog.h"
#include "bench/prefcenter/seed.h"
#include "bench/prefcenter/stats.h"
#include "grpcpp/grpcpp.h"
#include "httplib.h"
#include "links/keyring.h"
#include "links/token.h"
#include "rpc/tls.h"

namespace {

using assent::bench::Histogram;
using SteadyClock = std::chrono::steady_clock;

constexpr char kUserAgent[] = "Mozilla/5.0 (prefcenter_load)";
constexpr char kOneClickBody[] = "List-Unsubscribe=One-Click";
constexpr char kFormType[] = "application/x-www-form-urlencoded";
constexpr auto kCallTimeout = std::chrono::seconds(10);
constexpr double kDefaultTokenRate = 20000;
constexpr int64_t kMaxPreminted = 500000;

enum Kind { kStaticPost, kStaticGet, kOneClick, kDirect, kPage, kKinds };
constexpr const char* kKindNames[kKinds] = {"static-post", "static-get", "one-click", "direct",
                                            "page"};

struct Options {
  std::string scenario;
  std::string target;
  int callers = 16;
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(2);
  std::string keyring_file;
  std::string subject_prefix = "oc-";
  int64_t tokens = -1;  // -1: kDefaultTokenRate x (warm-up + duration)
  int64_t page_subjects = 1000;
  std::vector<std::pair<std::string, int>> pids;  // name, pid
};

// `s` as the inside of a JSON string.
std::string JsonEscape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out;
}

class Load {
 public:
  explicit Load(const Options& o) : o_(o) {
    if (o.scenario == "mix") {
      kinds_ = {kPage, kOneClick};
    } else {
      for (int k = 0; k < kKinds; ++k) {
        if (o.scenario == kKindNames[k]) kinds_ = {static_cast<Kind>(k)};
      }
    }
  }

  // Loads the keyring, opens the channel and mints the links; the first error.
  absl::Status Prepare() {
    if (kinds_.empty()) return absl::InvalidArgumentError("unknown scenario " + o_.scenario);
    if (Uses(kOneClick) || Uses(kPage)) {
      auto keyring = assent::links::KeyRing::Load(o_.keyring_file);
      if (!keyring.ok()) return keyring.status();
      keyring_ = *std::move(keyring);
    }
    if (Uses(kDirect)) {
      channel_ = assent::rpc::DialFromEnvironmentOrDie(o_.target);
      stub_ = assent::v1::ConsentService::NewStub(channel_);
    }
    // Minted before the clock starts, so that the load generator's CPU goes to requests.
    if (Uses(kPage)) {
      for (int64_t i = 0; i < o_.page_subjects; ++i) {
        auto token =
            Mint(assent::v1::PREFERENCE_CENTER, absl::StrCat(assent::bench::kPageSubjectPrefix, i));
        if (!token.ok()) return token.status();
        page_tokens_.push_back(*std::move(token));
      }
    }
    if (Uses(kOneClick)) {
      int64_t n = o_.tokens;
      if (n < 0) {
        n = std::min<int64_t>(kMaxPreminted,
                              static_cast<int64_t>(kDefaultTokenRate *
                                                   absl::ToDoubleSeconds(o_.warmup + o_.duration)));
      }
      one_click_tokens_.reserve(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        auto token = Mint(assent::v1::ONE_CLICK_UNSUBSCRIBE, OneClickSubject(i));
        if (!token.ok()) return token.status();
        one_click_tokens_.push_back(*std::move(token));
      }
    }
    return absl::OkStatus();
  }

  void Run() {
    const auto start = SteadyClock::now();
    measure_start_ = start + absl::ToChronoNanoseconds(o_.warmup);
    measure_end_ = measure_start_ + absl::ToChronoNanoseconds(o_.duration);
    std::vector<std::thread> callers;
    for (int i = 0; i < o_.callers; ++i) callers.emplace_back([this, i] { Caller(i); });
    std::this_thread::sleep_until(measure_start_);
    const auto before = SampleCpu();
    std::this_thread::sleep_until(measure_end_);
    const auto after = SampleCpu();
    stop_ = true;
    for (std::thread& t : callers) t.join();
    Print(before, after);
  }

 private:
  struct Stats {
    Histogram latency;
    std::atomic<int64_t> errors{0};
    std::atomic<int64_t> body_bytes{0};
  };
  struct CpuSample {
    std::map<std::string, std::optional<int64_t>> processes;
    std::optional<assent::bench::MachineCpu> machine;
  };

  bool Uses(Kind k) const { return std::find(kinds_.begin(), kinds_.end(), k) != kinds_.end(); }

  std::string OneClickSubject(int64_t i) const { return absl::StrCat(o_.subject_prefix, i); }

  absl::StatusOr<std::string> Mint(assent::v1::LinkKind kind, const std::string& subject) const {
    assent::links::LinkClaims claims;
    claims.tenant = assent::bench::kTenant;
    claims.kind = kind;
    claims.target.set_subject_id(subject);
    if (kind == assent::v1::ONE_CLICK_UNSUBSCRIBE) {
      claims.purpose_id = assent::bench::kPurpose;
      claims.channel = assent::v1::EMAIL;
    }
    claims.expire_time = absl::Now() + absl::Hours(24 * 7);
    return assent::links::MintLink(keyring_, claims);
  }

  // The i-th one-click link: pre-minted, or minted now past those (an empty token fails).
  std::string OneClickToken(int64_t i) {
    if (i < static_cast<int64_t>(one_click_tokens_.size())) {
      return one_click_tokens_[static_cast<size_t>(i)];
    }
    minted_in_run_.fetch_add(1, std::memory_order_relaxed);
    return Mint(assent::v1::ONE_CLICK_UNSUBSCRIBE, OneClickSubject(i)).value_or("");
  }

  std::unique_ptr<httplib::Client> HttpClient() {
    auto client = std::make_unique<httplib::Client>(absl::StrCat("http://", o_.target));
    client->set_keep_alive(true);
    // The client's own requests leave in two writes (headers, body): without TCP_NODELAY the
    // body could wait for the server's delayed ACK, which is the client's delay, not the server's.
    client->set_tcp_nodelay(true);
    client->set_connection_timeout(10, 0);
    client->set_read_timeout(10, 0);
    client->set_write_timeout(10, 0);
    client->set_socket_options(
        [this](socket_t) { connections_.fetch_add(1, std::memory_order_relaxed); });
    return client;
  }

  void Caller(int id) {
    std::unique_ptr<httplib::Client> http;
    if (!Uses(kDirect)) http = HttpClient();
    // In the mix, each caller alternates, starting with a different kind from its neighbour.
    for (size_t i = static_cast<size_t>(id); !stop_.load(std::memory_order_relaxed); ++i) {
      const Kind kind = kinds_[i % kinds_.size()];
      const auto t0 = SteadyClock::now();
      const absl::StatusOr<int64_t> bytes = Request(kind, http.get());
      const auto t1 = SteadyClock::now();
      if (t1 < measure_start_ || t1 >= measure_end_) continue;
      Stats& s = stats_[kind];
      if (bytes.ok()) {
        s.latency.Record(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
        s.body_bytes.fetch_add(*bytes, std::memory_order_relaxed);
      } else if (s.errors.fetch_add(1) == 0) {
        std::lock_guard<std::mutex> lock(mu_);
        if (first_error_.empty()) {
          first_error_ = absl::StrCat(kKindNames[kind], ": ", bytes.status().message());
        }
      }
    }
  }

  // One request; the response body's size, or why it failed.
  absl::StatusOr<int64_t> Request(Kind kind, httplib::Client* http) {
    if (kind == kDirect) return Direct(next_subject_.fetch_add(1));
    const httplib::Headers headers = {{"User-Agent", kUserAgent}};
    httplib::Result res = [&] {
      switch (kind) {
        case kStaticPost:
          return http->Post("/__bench/static", headers, kOneClickBody, kFormType);
        case kStaticGet:
          return http->Get("/__bench/static", headers);
        case kOneClick:
          return http->Post(absl::StrCat("/u/", OneClickToken(next_subject_.fetch_add(1))), headers,
                            kOneClickBody, kFormType);
        default: {
          const int64_t i = next_page_.fetch_add(1) % static_cast<int64_t>(page_tokens_.size());
          return http->Get(absl::StrCat("/p/", page_tokens_[static_cast<size_t>(i)]), headers);
        }
      }
    }();
    if (!res) return absl::UnavailableError("transport: " + httplib::to_string(res.error()));
    if (res->status != 200) {
      return absl::UnknownError(absl::StrCat("HTTP ", res->status, ": ", res->body.substr(0, 200)));
    }
    return static_cast<int64_t>(res->body.size());
  }

  // The request PostUnsubscribe makes for a one-click link of channel EMAIL.
  absl::StatusOr<int64_t> Direct(int64_t n) {
    assent::v1::RecordDecisionsRequest r;
    r.set_tenant(assent::bench::kTenant);
    r.mutable_target()->set_subject_id(OneClickSubject(n));
    r.set_source("email-one-click");
    r.set_actor("prefcenter");
    r.set_idempotency_key(absl::StrFormat("oc-%016x%016x", prefix_hash_, n));  // 32 hex, as there
    r.mutable_evidence()->set_ip_address("127.0.0.1");
    r.mutable_evidence()->set_user_agent(kUserAgent);
    assent::v1::DecisionInput* d = r.add_decisions();
    d->set_purpose_id(assent::bench::kPurpose);
    d->set_channel(assent::v1::EMAIL);
    d->set_state(assent::v1::WITHDRAWN);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    assent::v1::RecordDecisionsResponse response;
    const grpc::Status status = stub_->RecordDecisions(&ctx, r, &response);
    if (!status.ok()) {
      return absl::UnknownError(
          absl::StrCat("gRPC ", status.error_code(), ": ", status.error_message()));
    }
    if (response.replayed()) return absl::UnknownError("replayed: subjects are not distinct");
    return 0;
  }

  CpuSample SampleCpu() const {
    CpuSample s;
    for (const auto& [name, pid] : o_.pids) {
      s.processes[name] = assent::bench::ProcessCpuMicros(pid);
    }
    s.processes["load"] = assent::bench::ProcessCpuMicros(0);
    s.machine = assent::bench::ReadMachineCpu();
    return s;
  }

  static std::string Figures(const Histogram& h, int64_t errors, double seconds) {
    const int64_t ok = h.Count();
    return absl::StrFormat(
        "\"requests\":%d,\"errors\":%d,\"rps\":%.1f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
        "\"p999_us\":%.0f",
        ok + errors, errors, static_cast<double>(ok + errors) / seconds, h.Quantile(0.50),
        h.Quantile(0.99), h.Quantile(0.999));
  }

  void Print(const CpuSample& before, const CpuSample& after) const {
    const double seconds = absl::ToDoubleSeconds(o_.duration);
    Histogram all;
    int64_t errors = 0, bytes = 0;
    std::string by_kind;
    for (Kind k : kinds_) {
      const Stats& s = stats_[k];
      all.Add(s.latency);
      errors += s.errors.load();
      bytes += s.body_bytes.load();
      if (kinds_.size() > 1) {
        absl::StrAppend(&by_kind, by_kind.empty() ? "" : ",", "\"", kKindNames[k], "\":{",
                        Figures(s.latency, s.errors.load(), seconds), "}");
      }
    }
    const int64_t requests = all.Count() + errors;
    // CPU per request of each process, and what the rest of the machine (other work) used.
    std::string cpu;
    int64_t ours = 0;
    for (const auto& [name, b] : before.processes) {
      const auto& a = after.processes.at(name);
      std::string value = "null";
      if (a && b && requests > 0) {
        ours += *a - *b;
        value =
            absl::StrFormat("%.1f", static_cast<double>(*a - *b) / static_cast<double>(requests));
      }
      absl::StrAppend(&cpu, cpu.empty() ? "" : ",", "\"", name, "\":", value);
    }
    std::string machine = "\"machine_busy_pct\":null,\"others_pct\":null";
    if (before.machine && after.machine && after.machine->total_us > before.machine->total_us) {
      const double total = static_cast<double>(after.machine->total_us - before.machine->total_us);
      const double busy = static_cast<double>(after.machine->busy_us - before.machine->busy_us);
      machine = absl::StrFormat("\"machine_busy_pct\":%.1f,\"others_pct\":%.1f", 100 * busy / total,
                                std::max(0.0, 100 * (busy - static_cast<double>(ours)) / total));
    }
    absl::PrintF(
        "{\"scenario\":\"%s\",\"callers\":%d,\"seconds\":%.3f,%s,\"avg_body_bytes\":%.0f,"
        "\"connections\":%d,\"minted_in_run\":%d,\"cpu_us_per_req\":{%s},%s%s%s%s,"
        "\"first_error\":\"%s\"}\n",
        o_.scenario, o_.callers, seconds, Figures(all, errors, seconds),
        all.Count() > 0 ? static_cast<double>(bytes) / static_cast<double>(all.Count()) : 0.0,
        connections_.load(), minted_in_run_.load(), cpu, machine,
        by_kind.empty() ? "" : ",\"by_kind\":{", by_kind, by_kind.empty() ? "" : "}",
        JsonEscape(first_error_));
    std::fflush(stdout);
  }

  const Options o_;
  std::vector<Kind> kinds_;
  assent::links::KeyRing keyring_;
  std::vector<std::string> page_tokens_;
  std::vector<std::string> one_click_tokens_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<assent::v1::ConsentService::Stub> stub_;
  const uint64_t prefix_hash_ = std::hash<std::string>{}(o_.subject_prefix);
  SteadyClock::time_point measure_start_, measure_end_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_subject_{0};
  std::atomic<int64_t> next_page_{0};
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> minted_in_run_{0};
  Stats stats_[kKinds];
  mutable std::mutex mu_;
  std::string first_error_;
};

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "prefcenter_load: %s\nusage:\n"
               "  prefcenter_load seed --consentd HOST:PORT [--page-subjects 1000]\n"
               "  prefcenter_load run --scenario static-post|static-get|one-click|direct|page|mix\n"
               "      --target HOST:PORT [--callers 16] [--duration 10s] [--warmup 2s]\n"
               "      [--keyring FILE] [--subject-prefix oc-] [--tokens N] [--page-subjects 1000]\n"
               "      [--pid NAME=PID]...\n",
               why.c_str());
  return 2;
}

int Seed(const std::string& consentd, int64_t page_subjects) {
  auto channel = assent::rpc::DialFromEnvironmentOrDie(consentd);
  auto catalog = assent::v1::CatalogService::NewStub(channel);
  auto consent = assent::v1::ConsentService::NewStub(channel);
  const auto start = SteadyClock::now();
  absl::Status s = assent::bench::SeedCatalog(*catalog);
  if (s.ok()) s = assent::bench::SeedPageSubjects(*catalog, *consent, page_subjects, 16);
  if (!s.ok()) {
    std::fprintf(stderr, "prefcenter_load seed: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("{\"page_subjects\":%lld,\"writes\":%lld,\"seconds\":%.2f}\n",
              static_cast<long long>(page_subjects),
              static_cast<long long>(page_subjects * assent::bench::kWritesPerPageSubject),
              std::chrono::duration<double>(SteadyClock::now() - start).count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("missing command");
  const std::string command = argv[1];
  Options o;
  std::string consentd;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage("missing value for " + flag);
    const std::string value = argv[++i];
    bool ok = true;
    if (flag == "--scenario") {
      o.scenario = value;
    } else if (flag == "--target") {
      o.target = value;
    } else if (flag == "--consentd") {
      consentd = value;
    } else if (flag == "--callers") {
      ok = absl::SimpleAtoi(value, &o.callers) && o.callers > 0;
    } else if (flag == "--duration") {
      ok = absl::ParseDuration(value, &o.duration) && o.duration > absl::ZeroDuration();
    } else if (flag == "--warmup") {
      ok = absl::ParseDuration(value, &o.warmup) && o.warmup >= absl::ZeroDuration();
    } else if (flag == "--keyring") {
      o.keyring_file = value;
    } else if (flag == "--subject-prefix") {
      o.subject_prefix = value;
    } else if (flag == "--tokens") {
      ok = absl::SimpleAtoi(value, &o.tokens) && o.tokens >= 0;
    } else if (flag == "--page-subjects") {
      ok = absl::SimpleAtoi(value, &o.page_subjects) && o.page_subjects > 0;
    } else if (flag == "--pid") {
      std::pair<std::string, std::string> kv = absl::StrSplit(value, absl::MaxSplits('=', 1));
      int pid = 0;
      ok = !kv.first.empty() && absl::SimpleAtoi(kv.second, &pid) && pid > 0;
      o.pids.emplace_back(kv.first, pid);
    } else {
      return Usage("unknown flag " + flag);
    }
    if (!ok) return Usage("bad value for " + flag + ": " + value);
  }
  if (command == "seed") {
    if (consentd.empty()) return Usage("seed needs --consentd");
    return Seed(consentd, o.page_subjects);
  }
  if (command != "run") return Usage("unknown command " + command);
  if (o.target.empty() || o.scenario.empty()) return Usage("run needs --target and --scenario");
  Load load(o);
  if (absl::Status s = load.Prepare(); !s.ok()) {
    std::fprintf(stderr, "prefcenter_load: %s\n", s.ToString().c_str());
    return 1;
  }
  load.Run();
  return 0;
}
