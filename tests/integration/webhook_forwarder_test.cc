// The webhook forwarder end to end: a real Kafka broker, the real webhook_forwarder binary and a
// real HTTP receiver (cpp-httplib) in the test. Every change is delivered with a signature that
// verifies (here and with tools/webhook-verify.py), in order per subject while subjects go in
// parallel; a receiver that is down is retried until it comes up; one that answers 500 past the
// retry age, or 400 at once, puts the event on the dead-letter topic; kill -9 and a restart lose
// nothing and a duplicate carries the same webhook-id; --replay-from sends again; and a real
// consentd's changes (sealed evidence, an erasure) arrive without identifying evidence.
#include <librdkafka/rdkafka.h>
#include <sys/stat.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "assent/v1/events.pb.h"
#include "assent/v1/rights.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/sender_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"
#include "webhook_forwarder/config.h"
#include "webhook_forwarder/signer.h"

namespace assent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kMessageType[] = "assent.v1.ConsentChanged";

struct Received {
  std::string path, id, timestamp, signature, body;
};

// A local HTTP receiver: answers each POST with status_for(path) (200 by default); after
// `gate_after` answers it holds further requests until Open().
class Receiver {
 public:
  explicit Receiver(int port = 0) {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::unique_lock lock(mu_);
      Received r{req.path, req.get_header_value("webhook-id"),
                 req.get_header_value("webhook-timestamp"),
                 req.get_header_value("webhook-signature"), req.body};
      if (answered_ >= gate_after_) {
        gate_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return open_; });
      }
      ++answered_;
      const int status = status_for_ ? status_for_(req.path) : 200;
      if (status / 100 == 2) delivered_.push_back(r);
      all_.push_back(std::move(r));
      res.status = status;
    });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    Open();
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  void SetStatus(std::function<int(const std::string&)> f) {
    std::lock_guard lock(mu_);
    status_for_ = std::move(f);
  }
  void GateAfter(int n) {
    std::lock_guard lock(mu_);
    gate_after_ = n;
    open_ = false;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    gate_cv_.notify_all();
  }
  std::vector<Received> delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  std::vector<Received> all() {
    std::lock_guard lock(mu_);
    return all_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::mutex mu_;
  std::condition_variable gate_cv_;
  std::function<int(const std::string&)> status_for_;
  int gate_after_ = INT32_MAX;
  bool open_ = true;
  int answered_ = 0;
  std::vector<Received> delivered_, all_;
};

struct DeadLetter {
  std::string key, id, endpoint, last_status, attempts;
};

// Every record of `topic` with its webhook headers, until `want` or the timeout.
std::vector<DeadLetter> ReadDeadLetters(const std::string& bootstrap, const std::string& topic,
                                        size_t want, absl::Duration timeout) {
  std::vector<DeadLetter> out;
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", absl::StrCat("dl-", absl::ToUnixNanos(absl::Now())).c_str(),
                    errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) return out;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  auto header = [](rd_kafka_message_t* m, const char* name) {
    rd_kafka_headers_t* h = nullptr;
    const void* v = nullptr;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &n))
      return std::string();
    return std::string(static_cast<const char*>(v), n);
  };
  const absl::Time deadline = absl::Now() + timeout;
  while (out.size() < want && absl::Now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.push_back({std::string(static_cast<const char*>(m->key), m->key_len),
                     header(m, "webhook-id"), header(m, "webhook-endpoint"),
                     header(m, "webhook-last-status"), header(m, "webhook-attempts")});
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

class WebhookForwarderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    broker_ = new testing::KafkaBroker(dir_->Sub("kafka"));
    if (!broker_->Start()) {
      FAIL() << broker_->error();
    }
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete dir_;
  }

  void SetUp() override {
    static int counter = 0;
    prefix_ = absl::StrCat("t", ++counter, ".");
    work_ = dir_->Sub(prefix_ + "work");
    ::mkdir(work_.c_str(), 0700);
    secret_file_ = work_ + "/crm.secret";
    std::ofstream(secret_file_) << kSecret << "\n";
    ::chmod(secret_file_.c_str(), 0600);
    auto keys = webhooks::ParseSecrets("secret", kSecret);
    ASSERT_TRUE(keys.ok());
    key_ = keys->front();
  }
  void TearDown() override {
    if (forwarder_ != nullptr && forwarder_->running()) {
      EXPECT_EQ(forwarder_->Stop(), 0) << forwarder_->log();
    }
  }

  std::string changes() const { return prefix_ + "consent.changes.v1"; }
  std::string deadletters() const { return prefix_ + "webhooks.deadletter.v1"; }

  // Writes the forwarder's config with `endpoints` (YAML under "endpoints:") and starts it.
  void StartForwarder(const std::string& endpoints, std::vector<std::string> extra = {},
                      bool create_topic = true) {
    std::string error;
    if (create_topic) {
      ASSERT_TRUE(testing::CreateTopic(broker_->bootstrap(), changes(), 3, &error)) << error;
    }
    const std::string config = work_ + "/webhooks.yaml";
    std::ofstream(config)
        << "kafka:\n  brokers: '" << broker_->bootstrap() << "'\n  topic_prefix: '" << prefix_
        << "'\n  group_id: 'webhooks-" << prefix_
        << "'\n  consumer: {session.timeout.ms: 6000}\nlog_level: debug\nendpoints:\n"
        << endpoints;
    std::vector<std::string> args = {"--config", config};
    args.insert(args.end(), extra.begin(), extra.end());
    forwarder_ = std::make_unique<testing::SenderProcess>(WEBHOOK_FORWARDER_PATH, work_,
                                                          absl::StrCat("forwarder", ++starts_));
    forwarder_->Start(args);
  }
  std::string Endpoint(const std::string& name, const std::string& url,
                       const std::string& more = "") const {
    return absl::StrCat("  ", name, ":\n    url: '", url, "'\n    allow_insecure_http: true\n",
                        "    secret_file: '", secret_file_, "'\n", more);
  }

  static v1::ConsentChanged Change(const std::string& subject, int sequence) {
    v1::ConsentChanged e;
    e.set_event_id(absl::StrCat("acme/", subject, "/", sequence));
    e.set_tenant("acme");
    e.mutable_target()->set_subject_id(subject);
    e.set_sequence(sequence);
    e.set_kind(v1::DECISIONS_RECORDED);
    const absl::Time now = absl::Now();
    e.mutable_recorded_time()->set_seconds(absl::ToUnixSeconds(now));
    e.mutable_effective_time()->set_seconds(absl::ToUnixSeconds(now));
    auto* after = e.add_decisions()->mutable_after();
    after->set_purpose_id("newsletter");
    after->set_state(sequence % 2 == 1 ? v1::GRANTED : v1::WITHDRAWN);
    return e;
  }
  // `per_subject` changes for each of `subjects` subjects, interleaved; returns the event ids.
  std::set<std::string> ProduceChanges(int subjects, int per_subject, int first_sequence = 1) {
    std::vector<std::pair<std::string, std::string>> records;
    std::set<std::string> ids;
    for (int seq = first_sequence; seq < first_sequence + per_subject; ++seq) {
      for (int s = 0; s < subjects; ++s) {
        const std::string subject = absl::StrCat("s", s);
        v1::ConsentChanged e = Change(subject, seq);
        ids.insert(e.event_id());
        records.emplace_back("acme/" + subject, e.SerializeAsString());
      }
    }
    std::string error;
    EXPECT_TRUE(testing::Produce(broker_->bootstrap(), changes(), records, absl::Seconds(30),
                                 &error, kMessageType))
        << error;
    return ids;
  }

  double Metric(const std::string& prefix) const {
    double total = 0;
    for (absl::string_view line : absl::StrSplit(forwarder_->Metrics(), '\n')) {
      if (!absl::StartsWith(line, prefix)) continue;
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += v;
    }
    return total;
  }

  static std::set<std::string> Ids(const std::vector<Received>& received) {
    std::set<std::string> ids;
    for (const Received& r : received) ids.insert(r.id);
    return ids;
  }
  bool Verifies(const Received& r) const {
    int64_t ts = 0;
    return absl::SimpleAtoi(r.timestamp, &ts) &&
           webhooks::VerifySignature(key_, r.id, ts, r.body, r.signature);
  }

  // Phases of the tests below (each test starts its own broker, so related checks share one).
  void DeliversEveryChangeSignedInOrderPerSubject();
  void FiltersByTenantPurposeAndKind();
  void RetriesUntilTheReceiverComesUp();
  void DeadLettersAfterTheRetryAgeOrAtOnceFor4xx();
  // Stops the forwarder and moves to fresh topics and group.
  void NextPhase() {
    if (forwarder_ != nullptr && forwarder_->running()) {
      EXPECT_EQ(forwarder_->Stop(), 0) << forwarder_->log();
    }
    prefix_ = absl::StrCat(prefix_, "n.");
  }

  static testing::TempDir* dir_;
  static testing::KafkaBroker* broker_;
  std::string prefix_, work_, secret_file_, key_;
  int starts_ = 0;
  std::unique_ptr<testing::SenderProcess> forwarder_;
};

testing::TempDir* WebhookForwarderTest::dir_ = nullptr;
testing::KafkaBroker* WebhookForwarderTest::broker_ = nullptr;

void WebhookForwarderTest::DeliversEveryChangeSignedInOrderPerSubject() {
  Receiver receiver;
  ASSERT_GT(receiver.port(), 0);
  StartForwarder(Endpoint("crm", receiver.Url(), "    max_in_flight: 4\n"));
  const std::set<std::string> ids = ProduceChanges(/*subjects=*/12, /*per_subject=*/15);
  ASSERT_TRUE(testing::WaitFor([&] { return Ids(receiver.delivered()) == ids; }, absl::Seconds(60)))
      << Ids(receiver.delivered()).size() << " of " << ids.size() << "\n"
      << forwarder_->log();
  const std::vector<Received> got = receiver.delivered();
  EXPECT_EQ(got.size(), ids.size()) << "nothing sent twice without a failure";
  std::map<std::string, int64_t> last;  // subject -> sequence
  for (const Received& r : got) {
    EXPECT_TRUE(Verifies(r)) << r.id;
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["eventId"], r.id);
    const std::string subject = body["target"]["subjectId"];
    const int64_t sequence = std::stoll(body["sequence"].get<std::string>());
    EXPECT_GT(sequence, last[subject]) << "out of order for " << subject;
    last[subject] = sequence;
  }
  EXPECT_EQ(Metric("assent_webhook_delivered_total{endpoint=\"crm\"}"), double(ids.size()));
  EXPECT_THAT(forwarder_->Metrics(), HasSubstr("assent_webhook_delivery_latency_seconds_count"));
  EXPECT_THAT(forwarder_->Metrics(), Not(HasSubstr(receiver.Url())));
  EXPECT_THAT(forwarder_->log(), Not(HasSubstr(receiver.Url())));

  // tools/webhook-verify.py accepts a captured request and refuses a tampered one.
  nlohmann::json capture = {{"headers",
                             {{"webhook-id", got[0].id},
                              {"webhook-timestamp", got[0].timestamp},
                              {"webhook-signature", got[0].signature}}},
                            {"body", got[0].body}};
  std::ofstream(work_ + "/capture.json") << capture.dump();
  capture["body"] = got[0].body + " ";
  std::ofstream(work_ + "/tampered.json") << capture.dump();
  int status = -1;
  const std::string script = std::string(SOURCE_DIR) + "/tools/webhook-verify.py";
  testing::RunCommand(absl::StrCat("python3 ", script, " ", secret_file_, " ", work_,
                                   "/capture.json --tolerance 0 >/dev/null 2>&1"),
                      &status);
  EXPECT_EQ(status, 0);
  testing::RunCommand(absl::StrCat("python3 ", script, " ", secret_file_, " ", work_,
                                   "/tampered.json --tolerance 0 >/dev/null 2>&1"),
                      &status);
  EXPECT_NE(status, 0);
}

void WebhookForwarderTest::FiltersByTenantPurposeAndKind() {
  Receiver receiver;
  StartForwarder(Endpoint("news", receiver.Url("/news"), "    purposes: newsletter\n") +
                 Endpoint("erasures", receiver.Url("/erasures"), "    kinds: SUBJECT_ERASED\n") +
                 Endpoint("other", receiver.Url("/other"), "    tenants: other\n"));
  v1::ConsentChanged news = Change("a", 1);
  v1::ConsentChanged sms = Change("b", 1);
  sms.mutable_decisions(0)->mutable_after()->set_purpose_id("sms");
  v1::ConsentChanged erased = Change("a", 2);
  erased.clear_decisions();
  erased.set_kind(v1::SUBJECT_ERASED);
  std::string error;
  ASSERT_TRUE(testing::Produce(broker_->bootstrap(), changes(),
                               {{"acme/a", news.SerializeAsString()},
                                {"acme/b", sms.SerializeAsString()},
                                {"acme/a", erased.SerializeAsString()},
                                {"acme/c", "not a ConsentChanged"}},
                               absl::Seconds(30), &error, kMessageType))
      << error;
  ASSERT_TRUE(testing::Produce(broker_->bootstrap(), changes(), {{"acme/d", "other type"}},
                               absl::Seconds(30), &error, "assent.v1.Something"))
      << error;
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.delivered().size() >= 3; }, absl::Seconds(60)))
      << forwarder_->log();
  std::multiset<std::string> got;
  for (const Received& r : receiver.delivered()) got.insert(r.path + " " + r.id);
  EXPECT_EQ(got,
            (std::multiset<std::string>{"/news acme/a/1", "/news acme/a/2", "/erasures acme/a/2"}));
  EXPECT_TRUE(testing::WaitFor([&] { return Metric("assent_webhook_unknown_records_total") == 2; },
                               absl::Seconds(10)));
}

void WebhookForwarderTest::RetriesUntilTheReceiverComesUp() {
  const int port = testing::FreePort();
  StartForwarder(Endpoint("crm", absl::StrCat("http://127.0.0.1:", port, "/hook"),
                          "    retry_initial: 50ms\n    retry_max_delay: 400ms\n"
                          "    retry_max_age: 120s\n"));
  const std::set<std::string> ids = ProduceChanges(4, 2);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return Metric("assent_webhook_failures_total{class=\"network\",endpoint=\"crm\"}") >= 3;
      },
      absl::Seconds(60)))
      << forwarder_->Metrics();
  EXPECT_GE(Metric("assent_webhook_backlog{endpoint=\"crm\"}"), 1);
  Receiver receiver(port);
  ASSERT_EQ(receiver.port(), port);
  ASSERT_TRUE(testing::WaitFor([&] { return Ids(receiver.delivered()) == ids; }, absl::Seconds(60)))
      << forwarder_->log();
  for (const Received& r : receiver.delivered()) EXPECT_TRUE(Verifies(r));
  EXPECT_TRUE(testing::WaitFor(
      [&] { return Metric("assent_webhook_backlog{endpoint=\"crm\"}") == 0; }, absl::Seconds(10)));
  EXPECT_EQ(Metric("assent_webhook_dead_lettered_total"), 0);
}

void WebhookForwarderTest::DeadLettersAfterTheRetryAgeOrAtOnceFor4xx() {
  Receiver receiver;
  receiver.SetStatus([](const std::string& path) { return path == "/fail" ? 500 : 400; });
  StartForwarder(Endpoint("flaky", receiver.Url("/fail"),
                          "    retry_initial: 50ms\n    retry_max_delay: 200ms\n"
                          "    retry_max_age: 1s\n") +
                 Endpoint("strict", receiver.Url("/refuse"), "    retry_max_age: 1h\n"));
  const std::set<std::string> ids = ProduceChanges(2, 1);
  const std::vector<DeadLetter> dead =
      ReadDeadLetters(broker_->bootstrap(), deadletters(), 4, absl::Seconds(60));
  ASSERT_EQ(dead.size(), 4u) << forwarder_->log();
  std::map<std::string, std::set<std::string>> by_endpoint;
  for (const DeadLetter& d : dead) {
    by_endpoint[d.endpoint].insert(d.id);
    EXPECT_TRUE(absl::StartsWith(d.key, "acme/s"));
    if (d.endpoint == "flaky") {
      EXPECT_EQ(d.last_status, "500");
      EXPECT_GE(std::stoi(d.attempts), 2);
    } else {
      EXPECT_EQ(d.last_status, "400");
      EXPECT_EQ(d.attempts, "1");
    }
  }
  EXPECT_EQ(by_endpoint["flaky"], ids);
  EXPECT_EQ(by_endpoint["strict"], ids);
  int refused = 0;
  for (const Received& r : receiver.all()) refused += r.path == "/refuse";
  EXPECT_EQ(refused, 2) << "a 400 is not retried";
  EXPECT_TRUE(testing::WaitFor([&] { return Metric("assent_webhook_dead_lettered_total") == 4; },
                               absl::Seconds(10)));
  EXPECT_GE(Metric("assent_webhook_failures_total{class=\"server_error\",endpoint=\"flaky\"}"), 4);
}

TEST_F(WebhookForwarderTest, DeliversSignedInOrderAndFilters) {
  ASSERT_NO_FATAL_FAILURE(DeliversEveryChangeSignedInOrderPerSubject());
  NextPhase();
  ASSERT_NO_FATAL_FAILURE(FiltersByTenantPurposeAndKind());
}

TEST_F(WebhookForwarderTest, RetriesThenDeadLetters) {
  ASSERT_NO_FATAL_FAILURE(RetriesUntilTheReceiverComesUp());
  NextPhase();
  ASSERT_NO_FATAL_FAILURE(DeadLettersAfterTheRetryAgeOrAtOnceFor4xx());
}

TEST_F(WebhookForwarderTest, KillNineAndRestartLoseNothingAndReplayResends) {
  Receiver receiver;
  receiver.GateAfter(20);  // then hold requests: some are in flight when the forwarder dies
  StartForwarder(Endpoint("crm", receiver.Url(), "    max_in_flight: 4\n"));
  const absl::Time before = absl::Now() - absl::Seconds(1);
  const std::set<std::string> ids = ProduceChanges(10, 8);
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.all().size() >= 20; }, absl::Seconds(60)))
      << forwarder_->log();
  forwarder_->Kill();
  receiver.Open();
  StartForwarder(Endpoint("crm", receiver.Url(), "    max_in_flight: 4\n"), {}, false);
  ASSERT_TRUE(testing::WaitFor([&] { return Ids(receiver.delivered()) == ids; }, absl::Seconds(60)))
      << Ids(receiver.delivered()).size() << " of " << ids.size() << "\n"
      << forwarder_->log();
  // Duplicates (sent again after the restart) carry the same id and the same body.
  std::map<std::string, std::string> body_of;
  for (const Received& r : receiver.all()) {
    EXPECT_TRUE(Verifies(r));
    auto [it, inserted] = body_of.emplace(r.id, r.body);
    if (!inserted) {
      EXPECT_EQ(it->second, r.body) << r.id;
    }
  }
  EXPECT_GT(receiver.all().size(), 20u);

  // Replay from before the first event: everything once more, same ids.
  ASSERT_EQ(forwarder_->Stop(), 0) << forwarder_->log();
  const size_t delivered = receiver.delivered().size();
  StartForwarder(
      Endpoint("crm", receiver.Url(), "    max_in_flight: 4\n"),
      {"--replay-from", absl::FormatTime(absl::RFC3339_full, before, absl::UTCTimeZone())}, false);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return receiver.delivered().size() >= delivered + ids.size(); }, absl::Seconds(60)))
      << forwarder_->log();
  std::vector<Received> replayed = receiver.delivered();
  replayed.erase(replayed.begin(), replayed.begin() + static_cast<long>(delivered));
  EXPECT_EQ(Ids(replayed), ids);
}

TEST_F(WebhookForwarderTest, RealConsentdChangesWithoutIdentifyingEvidenceAndErasures) {
  std::string error;
  const std::string key_file = work_ + "/contact-key";
  testing::WriteSecretFile(key_file, "integration-test-contact-key-secret-0123456789\n");
  testing::ConsentdProcess server(CONSENTD_PATH, work_ + "/data", work_);
  server.Start({"--kafka-brokers", broker_->bootstrap(), "--kafka-topic-prefix", prefix_,
                "--kafka-partitions", "3", "--contact-key-secret-file", key_file});
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(server.SeedCatalog("newsletter", {v1::EMAIL}));
  Receiver receiver;
  // consentd created the changes topic.
  StartForwarder(Endpoint("crm", receiver.Url()), {}, false);
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return c;
  };
  for (int i = 0; i < 3; ++i) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(absl::StrCat("person-", i));
    request.set_source("web");
    request.set_actor("test");
    request.mutable_evidence()->set_ip_address("203.0.113.77");
    request.mutable_evidence()->set_user_agent("SecretBrowser/1.0");
    request.mutable_evidence()->set_language("en-GB");
    auto* d = request.add_decisions();
    d->set_purpose_id("newsletter");
    d->set_channel(v1::EMAIL);
    d->set_state(v1::GRANTED);
    v1::RecordDecisionsResponse response;
    grpc::Status s = server.consent().RecordDecisions(ctx().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto rights = v1::SubjectRightsService::NewStub(server.channel());
  v1::EraseSubjectRequest erase;
  erase.set_tenant("acme");
  erase.set_subject_id("person-0");
  erase.set_reason("GDPR Art. 17 request");
  v1::EraseSubjectResponse erased;
  grpc::Status s = rights->EraseSubject(ctx().get(), erase, &erased);
  ASSERT_TRUE(s.ok()) << s.error_message();

  ASSERT_TRUE(testing::WaitFor(
      [&] {
        for (const Received& r : receiver.delivered()) {
          if (absl::StrContains(r.body, "SUBJECT_ERASED")) return receiver.delivered().size() >= 4;
        }
        return false;
      },
      absl::Seconds(60)))
      << receiver.delivered().size() << "\n"
      << forwarder_->log();
  int grants = 0;
  for (const Received& r : receiver.delivered()) {
    EXPECT_TRUE(Verifies(r));
    EXPECT_THAT(r.body, Not(HasSubstr("203.0.113.77")));
    EXPECT_THAT(r.body, Not(HasSubstr("SecretBrowser")));
    EXPECT_THAT(r.body, Not(HasSubstr("sealed")));
    grants += absl::StrContains(r.body, "\"GRANTED\"");
  }
  EXPECT_GE(grants, 3);
  EXPECT_THAT(receiver.delivered()[0].body, HasSubstr("\"language\":\"en-GB\""));
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace assent
