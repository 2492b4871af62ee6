// Event latency benchmark: time from a write being acknowledged by consentd to its ConsentChanged
// event reaching a Kafka consumer, next to a bare producer -> consumer pipe through the same broker
// with the same producer settings, measured in the same run and alternated.
//
//   event_latency --consentd HOST:PORT --brokers HOST:PORT [--writes 10000] [--rounds 2]
//                 [--warmup 2000] [--concurrency 4] [--kafka-config FILE]
//
// --kafka-config: a librdkafka properties file (key=value lines) whose connection settings
// (security.protocol, ssl.*, sasl.*) every Kafka client here uses, e.g. for a TLS listener.
//
// Prints a Markdown table (p50, p90, p99, max in ms per round and overall).
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "assent/v1/events.pb.h"
#include "bench/bench_catalog.h"
#include "events/kafka.h"
#include "events/kafka_settings.h"
#include "grpcpp/grpcpp.h"
#include "rpc/tls.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string consentd;
  std::string brokers;
  int writes = 10000;
  int warmup = 2000;
  int rounds = 2;
  int concurrency = 4;
  // Connection settings from --kafka-config, for every client.
  assent::events::KafkaSettings kafka;
};

void Set(rd_kafka_conf_t* conf, const char* key, const char* value) {
  char err[256];
  if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "config %s: %s\n", key, err);
    std::exit(2);
  }
}

// Applies the --kafka-config settings (errors never show a secret value).
void SetConnection(rd_kafka_conf_t* conf, const Options& o) {
  for (const auto& [key, value] : o.kafka) {
    absl::Status s =
        assent::events::SetConf(conf, key, value, absl::StrCat("--kafka-config ", key));
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      std::exit(2);
    }
  }
}

// The relay's producer settings (libs/events/kafka.cc), so the pipe is the same path minus Assent.
rd_kafka_t* NewProducer(const Options& o) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", o.brokers.c_str());
  SetConnection(conf, o);
  Set(conf, "enable.idempotence", "true");
  Set(conf, "acks", "all");
  Set(conf, "linger.ms", "1");
  Set(conf, "compression.type", "lz4");
  Set(conf, "partitioner", "murmur2_random");
  char err[256];
  return rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
}

// A consumer assigned to every partition of `topic` at its end (only new records).
rd_kafka_t* NewConsumer(const Options& o, const std::string& topic) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", o.brokers.c_str());
  SetConnection(conf, o);
  Set(conf, "group.id", "assent-bench");
  Set(conf, "enable.auto.commit", "false");
  Set(conf, "fetch.wait.max.ms", "10");
  Set(conf, "fetch.min.bytes", "1");
  char err[256];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  for (int i = 0; i < 50; ++i) {
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topics[0].partition_cnt > 0) {
      break;
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    md = nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  rd_kafka_topic_destroy(t);
  if (md == nullptr) {
    std::fprintf(stderr, "no metadata for %s\n", topic.c_str());
    std::exit(1);
  }
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
  for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), md->topics[0].partitions[p].id)
        ->offset = RD_KAFKA_OFFSET_END;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  return rk;
}

// Records when each id was started (sent/acknowledged) and received.
class Tracker {
 public:
  void Started(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    start_[id] = Clock::now();
    start_wall_ms_[id] = WallMs();
    auto it = early_.find(id);  // the event can arrive before the ack is recorded
    if (it != early_.end()) {
      latencies_.push_back(0.0);
      early_.erase(it);
    }
  }
  // `produced_ms` is the record's Kafka timestamp (set by the producer when it took the record).
  void Received(const std::string& id, int64_t produced_ms = -1) {
    const auto now = Clock::now();
    const double now_wall = WallMs();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = start_.find(id);
    if (it == start_.end()) {
      early_[id] = now;
      return;
    }
    if (produced_ms >= 0) {
      pickup_.push_back(static_cast<double>(produced_ms) - start_wall_ms_[id]);
      transit_.push_back(now_wall - static_cast<double>(produced_ms));
    }
    latencies_.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
    start_.erase(it);
  }
  size_t received() {
    std::lock_guard<std::mutex> lock(mu_);
    return latencies_.size();
  }
  std::vector<double> latencies() {
    std::lock_guard<std::mutex> lock(mu_);
    return latencies_;
  }
  std::vector<double> pickup() {
    std::lock_guard<std::mutex> lock(mu_);
    return pickup_;
  }
  std::vector<double> transit() {
    std::lock_guard<std::mutex> lock(mu_);
    return transit_;
  }
  static double WallMs() {
    return std::chrono::duration<double, std::milli>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

 private:
  std::mutex mu_;
  std::map<std::string, Clock::time_point> start_;
  std::map<std::string, Clock::time_point> early_;
  std::vector<double> latencies_;
  std::map<std::string, double> start_wall_ms_;
  std::vector<double> pickup_;   // ack -> relay hands the record to the producer (ms, wall clock)
  std::vector<double> transit_;  // producer -> consumer (ms, wall clock, 1 ms resolution)
};

void Consume(rd_kafka_t* consumer, Tracker& tracker, std::atomic<bool>& stop, bool assent) {
  while (!stop) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (assent) {
        assent::v1::ConsentChanged event;
        if (event.ParseFromArray(m->payload, static_cast<int>(m->len))) {
          rd_kafka_timestamp_type_t type;
          const int64_t produced = rd_kafka_message_timestamp(m, &type);
          tracker.Received(absl::StrCat(event.target().subject_id(), "/", event.sequence()),
                           produced);
        }
      } else {
        tracker.Received(std::string(static_cast<const char*>(m->payload), m->len));
      }
    }
    rd_kafka_message_destroy(m);
  }
}

void WaitAll(Tracker& tracker, size_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (tracker.received() < n && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Creates the pipe's topic like consentd creates its own (6 partitions, replication 1).
void CreatePipeTopic(const Options& o, const std::string& topic) {
  absl::Status s = assent::events::CreateTopics({o.brokers, o.kafka, "--kafka-config "},
                                                {{topic, 6, 1, {}}}, absl::Seconds(15));
  if (!s.ok()) {
    std::fprintf(stderr, "creating %s: %s\n", topic.c_str(), std::string(s.message()).c_str());
    std::exit(1);
  }
}

std::vector<double> RunPipe(const Options& o, int round, int writes) {
  const std::string topic = "assent-bench.pipe";
  CreatePipeTopic(o, topic);
  rd_kafka_t* producer = NewProducer(o);
  rd_kafka_t* consumer = NewConsumer(o, topic);
  Tracker tracker;
  std::atomic<bool> stop{false};
  std::thread reader([&] { Consume(consumer, tracker, stop, false); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the assignment settle
  std::vector<std::thread> writers;
  for (int w = 0; w < o.concurrency; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < writes; i += o.concurrency) {
        const std::string id = absl::StrCat(round, "-", i);
        const std::string key = absl::StrCat("bench/s", i % 1000);
        tracker.Started(id);
        rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(id.data()), id.size()), RD_KAFKA_V_END);
        // Pace like the Assent run: the next send waits for this one to be delivered to the
        // producer's queue and acknowledged (closed loop per writer).
        rd_kafka_flush(producer, 5000);
      }
    });
  }
  for (auto& t : writers) t.join();
  WaitAll(tracker, writes);
  stop = true;
  reader.join();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  return tracker.latencies();
}

std::vector<double> last_pickup, last_transit;

std::vector<double> RunAssent(const Options& o, int round, int writes) {
  auto channel = assent::rpc::DialFromEnvironmentOrDie(o.consentd);
  auto stub = assent::v1::ConsentService::NewStub(channel);
  rd_kafka_t* consumer = NewConsumer(o, "assent.consent.changes.v1");
  Tracker tracker;
  std::atomic<bool> stop{false};
  std::thread reader([&] { Consume(consumer, tracker, stop, true); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<std::thread> writers;
  for (int w = 0; w < o.concurrency; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < writes; i += o.concurrency) {
        assent::v1::RecordDecisionsRequest request;
        request.set_tenant("bench");
        const std::string subject = absl::StrCat("r", round, "-s", i % 1000);
        request.mutable_target()->set_subject_id(subject);
        request.set_source("bench");
        request.set_actor("bench");
        auto* d = request.add_decisions();
        d->set_purpose_id("marketing.newsletter");
        d->set_state(i % 2 ? assent::v1::GRANTED : assent::v1::WITHDRAWN);
        assent::v1::RecordDecisionsResponse response;
        grpc::ClientContext ctx;
        grpc::Status s = stub->RecordDecisions(&ctx, request, &response);
        if (!s.ok()) {
          std::fprintf(stderr, "write failed: %s\n", s.error_message().c_str());
          // Other writer threads are still running: exit without running static destructors
          // under them (std::exit here crashed with a segfault).
          std::_Exit(1);
        }
        tracker.Started(absl::StrCat(subject, "/", response.sequence()));
      }
    });
  }
  for (auto& t : writers) t.join();
  WaitAll(tracker, writes);
  stop = true;
  reader.join();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  last_pickup = tracker.pickup();
  last_transit = tracker.transit();
  return tracker.latencies();
}

void SetUpCatalog(const Options& o) {
  auto channel = assent::rpc::DialFromEnvironmentOrDie(o.consentd);
  auto catalog = assent::v1::CatalogService::NewStub(channel);
  assent::v1::Tenant t;
  grpc::ClientContext c1;
  // ALREADY_EXISTS on a second run is fine.
  catalog->CreateTenant(&c1, assent::bench::BenchTenantRequest(), &t);
  assent::v1::Purpose out;
  grpc::ClientContext c2;
  catalog->CreatePurpose(&c2, assent::bench::BenchPurposeRequest(), &out);
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

std::string Row(const std::string& name, const std::vector<double>& v, size_t expected) {
  return absl::StrFormat("| %s | %d/%d | %.2f | %.2f | %.2f | %.2f |", name, v.size(), expected,
                         Percentile(v, 0.50), Percentile(v, 0.90), Percentile(v, 0.99),
                         Percentile(v, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--consentd") {
      o.consentd = value;
    } else if (flag == "--brokers") {
      o.brokers = value;
    } else if (flag == "--writes") {
      (void)absl::SimpleAtoi(value, &o.writes);
    } else if (flag == "--warmup") {
      (void)absl::SimpleAtoi(value, &o.warmup);
    } else if (flag == "--rounds") {
      (void)absl::SimpleAtoi(value, &o.rounds);
    } else if (flag == "--concurrency") {
      (void)absl::SimpleAtoi(value, &o.concurrency);
    } else if (flag == "--kafka-config") {
      auto settings = assent::events::ReadKafkaProperties(value);
      if (!settings.ok()) {
        std::fprintf(stderr, "--kafka-config: %s\n",
                     std::string(settings.status().message()).c_str());
        return 2;
      }
      o.kafka = assent::events::ConnectionSettings(*settings);
    }
  }
  if (o.consentd.empty() || o.brokers.empty()) {
    std::fprintf(
        stderr,
        "usage: event_latency --consentd HOST:PORT --brokers HOST:PORT "
        "[--writes N] [--warmup N] [--rounds N] [--concurrency N] [--kafka-config FILE]\n");
    return 2;
  }
  SetUpCatalog(o);
  std::vector<double> pipe_all, assent_all;
  std::vector<std::string> rows;
  if (o.warmup > 0) {
    // A freshly started broker and producer are slow for their first seconds (JIT, coordinator
    // loading); both paths get the same warm-up, reported apart from the measured rounds.
    auto pipe = RunPipe(o, 100, o.warmup);
    rows.push_back(Row("bare producer -> consumer, warm-up (not in totals)", pipe, o.warmup));
    auto assent = RunAssent(o, 100, o.warmup);
    rows.push_back(Row("Assent write ack -> consumer, warm-up (not in totals)", assent, o.warmup));
  }
  for (int round = 0; round < o.rounds; ++round) {
    auto pipe = RunPipe(o, round, o.writes);
    rows.push_back(
        Row(absl::StrCat("bare producer -> consumer, round ", round + 1), pipe, o.writes));
    pipe_all.insert(pipe_all.end(), pipe.begin(), pipe.end());
    auto assent = RunAssent(o, round, o.writes);
    rows.push_back(
        Row(absl::StrCat("Assent write ack -> consumer, round ", round + 1), assent, o.writes));
    assent_all.insert(assent_all.end(), assent.begin(), assent.end());
    rows.push_back(Row(absl::StrCat("  of which ack -> relay produce, round ", round + 1),
                       last_pickup, o.writes));
    rows.push_back(Row(absl::StrCat("  of which produce -> consumer, round ", round + 1),
                       last_transit, o.writes));
  }
  std::printf(
      "| run | received | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n");
  for (const auto& r : rows) std::printf("%s\n", r.c_str());
  std::printf("%s\n", Row("**bare pipe, all rounds**", pipe_all, o.writes * o.rounds).c_str());
  std::printf("%s\n", Row("**Assent, all rounds**", assent_all, o.writes * o.rounds).c_str());
  std::printf("\nAssent p50 / pipe p50 = %.2f; Assent p99 / pipe p99 = %.2f\n",
              Percentile(assent_all, 0.5) / std::max(1e-9, Percentile(pipe_all, 0.5)),
              Percentile(assent_all, 0.99) / std::max(1e-9, Percentile(pipe_all, 0.99)));
  const bool complete = assent_all.size() == static_cast<size_t>(o.writes * o.rounds) &&
                        pipe_all.size() == static_cast<size_t>(o.writes * o.rounds);
  return complete ? 0 : 1;
}
