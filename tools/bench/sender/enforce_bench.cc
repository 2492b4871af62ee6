// Benchmarks of the enforcement library over a real local broker and a real consentd:
//
//   enforce_bench withdrawal --consentd H:P --brokers H:P --secret-file F [--count 2000]
//       For each of `count` subjects that hold a grant, records a withdrawal over gRPC and times
//       acknowledgement -> the library's local Check says DENY (polled every 20 us). Baseline in
//       the same run: acknowledgement -> the same change event reaching a bare consumer of the
//       changes topic (no library), so the ratio is the library's own share.
//   enforce_bench bootstrap --brokers H:P [--subjects 1000000]
//       Produces `subjects` subject states (3 decisions each, the state topic's format) to the
//       state topic, then times a fresh library from start to caught up and reports its resident
//       memory; baseline: a bare consumer reading the same records from the beginning to the end.
//
// Prints a Markdown table; tools/bench/sender/run.sh writes it into KAFKA_RESULTS.md.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "assent/v1/events.pb.h"
#include "common/clock.h"
#include "enforce/enforcer.h"
#include "grpcpp/grpcpp.h"
#include "rpc/tls.h"
#include "spdlog/spdlog.h"
#include "tools/bench/micro/fixtures.h"

namespace assent::bench {
namespace {

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

size_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 2; i + 1 < argc; i += 2) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

// A consumer of every partition of `topic` from its end (or beginning), on its own thread.
class BareConsumer {
 public:
  BareConsumer(const std::string& brokers, const std::string& topic, bool from_beginning,
               std::function<void(const rd_kafka_message_t&)> on_message)
      : on_message_(std::move(on_message)) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "enforce-bench-baseline", err, sizeof(err));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    while (rd_kafka_metadata(rk_, 0, t, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    }
    rd_kafka_topic_destroy(t);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
    partitions_ = md->topics[0].partition_cnt;
    for (int p = 0; p < partitions_; ++p) {
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset =
          from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_assign(rk_, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    thread_ = std::thread([this] {
      while (!stop_) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
        if (m == nullptr) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          ++eofs_;
        } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          on_message_(*m);
        }
        rd_kafka_message_destroy(m);
      }
    });
  }
  ~BareConsumer() {
    stop_ = true;
    thread_.join();
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
  // Every partition reported its end at least once.
  bool AtEnd() const { return eofs_.load() >= partitions_; }

 private:
  std::function<void(const rd_kafka_message_t&)> on_message_;
  rd_kafka_t* rk_ = nullptr;
  int partitions_ = 0;
  std::atomic<int> eofs_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

v1::RecordDecisionsRequest Decision(const std::string& subject, v1::ConsentState state) {
  v1::RecordDecisionsRequest r;
  r.set_tenant("bench");
  r.mutable_target()->set_subject_id(subject);
  r.set_source("bench");
  r.set_actor("enforce-bench");
  auto* d = r.add_decisions();
  d->set_purpose_id("marketing.newsletter");
  d->set_state(state);
  return r;
}

int Withdrawal(int argc, char** argv) {
  const std::string consentd = Flag(argc, argv, "consentd", "");
  const std::string brokers = Flag(argc, argv, "brokers", "");
  const int count = std::stoi(Flag(argc, argv, "count", "2000"));
  std::ifstream secret_in(Flag(argc, argv, "secret-file", ""));
  std::string secret;
  std::getline(secret_in, secret);
  auto channel = assent::rpc::DialFromEnvironmentOrDie(consentd);
  auto catalog = v1::CatalogService::NewStub(channel);
  auto consent = v1::ConsentService::NewStub(channel);
  {
    v1::CreateTenantRequest t;
    t.mutable_tenant()->set_tenant_id("bench");
    t.mutable_tenant()->set_display_name("Bench");
    v1::Tenant out;
    catalog->CreateTenant(Ctx().get(), t, &out);
    v1::CreatePurposeRequest p;
    p.set_parent("tenants/bench");
    *p.mutable_purpose() = CheckedPurpose();
    p.mutable_purpose()->clear_name();
    p.mutable_purpose()->clear_version();
    p.mutable_purpose()->set_min_notice_version(1);
    v1::Purpose created;
    grpc::Status s = catalog->CreatePurpose(Ctx().get(), p, &created);
    if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      std::cerr << "CreatePurpose: " << s.error_message() << "\n";
      return 1;
    }
  }
  // Grants first (they also warm the broker, the relay and the library up).
  for (int i = 0; i < count; ++i) {
    v1::RecordDecisionsResponse r;
    grpc::Status s =
        consent->RecordDecisions(Ctx().get(), Decision(absl::StrCat("s", i), v1::GRANTED), &r);
    if (!s.ok()) {
      std::cerr << "RecordDecisions: " << s.error_message() << "\n";
      return 1;
    }
  }
  enforce::EnforcerOptions options;
  options.follower.brokers = brokers;
  options.service_address = consentd;
  options.contact_key_secret = secret;
  auto enforcer = enforce::Enforcer::Start(options, SystemClock::Get());
  if (!enforcer.ok()) {
    std::cerr << enforcer.status() << "\n";
    return 1;
  }
  v1::CheckRequest check;
  check.set_tenant("bench");
  check.set_purpose_id("marketing.newsletter");
  check.set_channel(v1::EMAIL);
  auto verdict_of = [&](int i) {
    check.mutable_target()->set_subject_id(absl::StrCat("s", i));
    auto v = (*enforcer)->Check(check);
    return v.ok() ? v->response.verdict() : v1::VERDICT_UNSPECIFIED;
  };
  // Wait until the library is fresh and holds every grant.
  const absl::Time ready_by = absl::Now() + absl::Minutes(2);
  while (!((*enforcer)->Fresh() && verdict_of(count - 1) == v1::ALLOW)) {
    if (absl::Now() > ready_by) {
      std::cerr << "the library did not catch up\n";
      return 1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  // Baseline: the same change events at a bare consumer.
  absl::Mutex mu;
  std::map<std::string, absl::Time> seen;  // subject -> arrival of its withdrawal event
  BareConsumer bare(brokers, "assent.consent.changes.v1", false, [&](const rd_kafka_message_t& m) {
    const absl::Time now = absl::Now();
    v1::ConsentChanged e;
    if (!e.ParseFromArray(m.payload, static_cast<int>(m.len))) return;
    if (e.sequence() < 2) return;
    absl::MutexLock lock(&mu);
    seen.emplace(e.target().subject_id(), now);
  });
  absl::SleepFor(absl::Milliseconds(500));  // let the bare consumer's assignment settle
  std::vector<double> library_ms, bare_ms;
  std::vector<absl::Time> acked(count);
  size_t sources_local = 0;
  for (int i = 0; i < count; ++i) {
    v1::RecordDecisionsResponse r;
    grpc::Status s =
        consent->RecordDecisions(Ctx().get(), Decision(absl::StrCat("s", i), v1::WITHDRAWN), &r);
    acked[i] = absl::Now();
    if (!s.ok()) continue;
    const absl::Time give_up = acked[i] + absl::Seconds(10);
    while (absl::Now() < give_up) {
      check.mutable_target()->set_subject_id(absl::StrCat("s", i));
      auto v = (*enforcer)->Check(check);
      if (v.ok() && v->response.verdict() == v1::DENY) {
        library_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - acked[i]));
        if (v->source == sender::v1::LOCAL_VIEW) ++sources_local;
        break;
      }
      absl::SleepFor(absl::Microseconds(20));
    }
  }
  absl::SleepFor(absl::Seconds(1));
  {
    absl::MutexLock lock(&mu);
    for (int i = 0; i < count; ++i) {
      auto it = seen.find(absl::StrCat("s", i));
      if (it != seen.end()) bare_ms.push_back(absl::ToDoubleMilliseconds(it->second - acked[i]));
    }
  }
  auto row = [&](const std::string& name, const std::vector<double>& v) {
    return absl::StrFormat("| %s | %d/%d | %.2f | %.2f | %.2f | %.2f |\n", name, v.size(), count,
                           Percentile(v, 0.5), Percentile(v, 0.9), Percentile(v, 0.99),
                           Percentile(v, 1.0));
  };
  std::cout << "| path | measured | p50 ms | p90 ms | p99 ms | max ms |\n"
            << "|---|---|---|---|---|---|\n"
            << row("withdrawal acknowledged -> library's Check says DENY", library_ms)
            << row("baseline: withdrawal acknowledged -> event at a bare consumer", bare_ms) << "\n"
            << absl::StrFormat(
                   "Ratio library / baseline: p50 %.2f, p99 %.2f. Verdicts from the local view: "
                   "%d of %d.\n",
                   Percentile(library_ms, 0.5) / std::max(1e-9, Percentile(bare_ms, 0.5)),
                   Percentile(library_ms, 0.99) / std::max(1e-9, Percentile(bare_ms, 0.99)),
                   sources_local, library_ms.size());
  return 0;
}

int Bootstrap(int argc, char** argv) {
  const std::string brokers = Flag(argc, argv, "brokers", "");
  const int subjects = std::stoi(Flag(argc, argv, "subjects", "1000000"));
  const std::string topic = "assent.consent.state.v1";
  // Produce the states (as consentd's relay would: key "tenant/subject", value the snapshot).
  {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof(err));
    rd_kafka_conf_set(conf, "compression.type", "lz4", err, sizeof(err));
    rd_kafka_conf_set(conf, "partitioner", "murmur2_random", err, sizeof(err));
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err));
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    v1::TargetStateSnapshot snapshot;
    *snapshot.mutable_subject() = Subject(3, false);
    snapshot.mutable_subject()->set_tenant("bench");
    for (int i = 0; i < subjects; ++i) {
      const std::string id = absl::StrCat("cust-", 100000000 + i);
      snapshot.mutable_subject()->set_subject_id(id);
      snapshot.mutable_subject()->set_sequence(3);
      const std::string key = absl::StrCat("bench/", id);
      const std::string value = snapshot.SerializeAsString();
      while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                               RD_KAFKA_V_KEY(key.data(), key.size()),
                               RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 10);
      }
      rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    rd_kafka_destroy(rk);
  }
  // Baseline: read everything with a bare consumer.
  absl::Time bare_start = absl::Now();
  std::atomic<int64_t> bare_records{0};
  absl::Duration bare_time;
  {
    BareConsumer bare(brokers, topic, true, [&](const rd_kafka_message_t&) { ++bare_records; });
    while (!bare.AtEnd()) absl::SleepFor(absl::Milliseconds(5));
    bare_time = absl::Now() - bare_start;
  }
  // The library, from start to caught up (no service: bootstrap needs none).
  const size_t rss_before = ResidentBytes();
  enforce::EnforcerOptions options;
  options.follower.brokers = brokers;
  const absl::Time start = absl::Now();
  auto enforcer = enforce::Enforcer::Start(options, SystemClock::Get());
  if (!enforcer.ok()) {
    std::cerr << enforcer.status() << "\n";
    return 1;
  }
  while (!(*enforcer)->status().follower.caught_up) absl::SleepFor(absl::Milliseconds(5));
  const absl::Duration library_time = absl::Now() - start;
  const size_t rss_after = ResidentBytes();
  const size_t held = (*enforcer)->view().size();
  std::cout << "| path | records | time s | records/s | resident MiB (growth) | bytes/subject |\n"
            << "|---|---|---|---|---|---|\n"
            << absl::StrFormat(
                   "| library: start -> caught up | %d | %.2f | %.0f | %.0f | %.0f |\n", held,
                   absl::ToDoubleSeconds(library_time), held / absl::ToDoubleSeconds(library_time),
                   (rss_after - rss_before) / 1048576.0,
                   static_cast<double>(rss_after - rss_before) / std::max<size_t>(held, 1))
            << absl::StrFormat(
                   "| baseline: bare consumer, beginning -> end | %d | %.2f | %.0f | - | - |\n",
                   bare_records.load(), absl::ToDoubleSeconds(bare_time),
                   bare_records.load() / absl::ToDoubleSeconds(bare_time))
            << "\n"
            << absl::StrFormat(
                   "Ratio library / baseline time: %.2f.\n",
                   absl::ToDoubleSeconds(library_time) / absl::ToDoubleSeconds(bare_time));
  return 0;
}

}  // namespace
}  // namespace assent::bench

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // keep the library's progress lines out of the table
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "withdrawal") return assent::bench::Withdrawal(argc, argv);
  if (mode == "bootstrap") return assent::bench::Bootstrap(argc, argv);
  std::cerr << "usage: enforce_bench withdrawal|bootstrap [--flag value ...] (see the source)\n";
  return 2;
}
