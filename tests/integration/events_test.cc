// Consent-change events on a real Kafka broker (started by the test with tools/kafka/kafka.sh):
// every acknowledged write appears on the changes topic in sequence order per subject, the state
// topic ends equal to the store, a broker outage delays but never loses events, kill -9 loses
// none, and the events decode with the .proto files alone.
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "assent/v1/events.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;

constexpr char kChanges[] = "assent.consent.changes.v1";
constexpr char kState[] = "assent.consent.state.v1";

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<testing::KafkaBroker>(dir_.Sub("kafka"));
    ASSERT_TRUE(broker_->Start()) << broker_->error();
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    StartServer();
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(server_->SeedCatalog("marketing.newsletter", {v1::EMAIL}));
  }

  void StartServer() {
    server_->Start({"--kafka-brokers", broker_->bootstrap(), "--kafka-partitions", "3"});
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  static v1::RecordDecisionsRequest Decision(const std::string& subject, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant("acme");
    request.mutable_target()->set_subject_id(subject);
    request.set_source("web");
    request.set_actor("test");
    auto* d = request.add_decisions();
    d->set_purpose_id("marketing.newsletter");
    d->set_state(state);
    return request;
  }

  // Writes from `clients` concurrent clients until `stop` (or `per_client` writes each); returns
  // every acknowledged (subject, sequence).
  std::set<std::pair<std::string, uint64_t>> Burst(int clients, int per_client, int subjects,
                                                   std::atomic<bool>* stop = nullptr,
                                                   std::atomic<int>* acks = nullptr) {
    std::mutex mu;
    std::set<std::pair<std::string, uint64_t>> acknowledged;
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
        auto stub = v1::ConsentService::NewStub(channel);
        for (int i = 0; i < per_client && (stop == nullptr || !*stop); ++i) {
          const std::string subject = absl::StrCat("s", (c * 13 + i) % subjects);
          v1::RecordDecisionsResponse response;
          grpc::ClientContext ctx;
          ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
          if (stub->RecordDecisions(&ctx, Decision(subject, i % 2 ? v1::GRANTED : v1::WITHDRAWN),
                                    &response)
                  .ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.insert({subject, response.sequence()});
            if (acks != nullptr) ++*acks;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    return acknowledged;
  }

  // Reads the changes topic until every acknowledged (subject, sequence) is there.
  std::map<std::string, std::vector<uint64_t>> ReadChanges(
      const std::set<std::pair<std::string, uint64_t>>& expected) {
    std::map<std::string, std::vector<uint64_t>> by_key;
    std::set<std::pair<std::string, uint64_t>> seen;
    testing::ConsumeAll(broker_->bootstrap(), kChanges, absl::Seconds(120),
                        [&](const std::vector<testing::KafkaRecord>& records) {
                          for (size_t i = consumed_; i < records.size(); ++i) {
                            v1::ConsentChanged event;
                            EXPECT_TRUE(event.ParseFromString(records[i].value));
                            EXPECT_EQ(records[i].key, "acme/" + event.target().subject_id());
                            by_key[event.target().subject_id()].push_back(event.sequence());
                            seen.insert({event.target().subject_id(), event.sequence()});
                          }
                          consumed_ = records.size();
                          for (const auto& e : expected) {
                            if (!seen.count(e)) return false;
                          }
                          return true;
                        });
    consumed_ = 0;
    return by_key;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::KafkaBroker> broker_;
  std::unique_ptr<testing::ConsentdProcess> server_;
  size_t consumed_ = 0;
};

TEST_F(EventsTest, EveryWriteOnceInOrderAndStateTopicMatchesStore) {
  const auto acknowledged = Burst(/*clients=*/16, /*per_client=*/150, /*subjects=*/40);
  ASSERT_EQ(acknowledged.size(), 16u * 150u);
  auto by_key = ReadChanges(acknowledged);
  for (const auto& [subject, sequences] : by_key) {
    // Exactly once per sequence and in order: 1, 2, 3, ... with nothing repeated or missing.
    for (size_t i = 0; i < sequences.size(); ++i) {
      ASSERT_EQ(sequences[i], i + 1) << subject;
    }
  }
  for (const auto& [subject, sequence] : acknowledged) {
    ASSERT_GE(by_key[subject].size(), sequence) << subject << " missing " << sequence;
  }

  // The latest state record per key equals what the store says.
  std::map<std::string, v1::TargetStateSnapshot> latest;
  testing::ConsumeAll(broker_->bootstrap(), kState, absl::Seconds(60),
                      [&](const std::vector<testing::KafkaRecord>& records) {
                        latest.clear();
                        for (const auto& r : records) latest[r.key].ParseFromString(r.value);
                        if (latest.size() < 40) return false;
                        for (const auto& [key, snapshot] : latest) {
                          const std::string subject = key.substr(5);
                          if (snapshot.subject().sequence() != by_key[subject].size()) return false;
                        }
                        return true;
                      });
  ASSERT_EQ(latest.size(), 40u);
  for (const auto& [key, snapshot] : latest) {
    v1::GetSubjectStateRequest get;
    get.set_tenant("acme");
    get.set_subject_id(key.substr(5));
    v1::SubjectState stored;
    ASSERT_TRUE(server_->consent().GetSubjectState(Ctx().get(), get, &stored).ok());
    EXPECT_EQ(snapshot.subject().SerializeAsString(), stored.SerializeAsString()) << key;
  }
}

// The HTTP status of /readyz.
int ReadyCode(const testing::ConsentdProcess& server) {
  int status = 0;
  const std::string out = testing::RunCommand(
      absl::StrCat("curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://",
                   server.metrics_address(), "/readyz"),
      &status);
  return std::atoi(out.c_str());
}

// Polls /readyz until it answers `code` (or 60 s pass).
bool ReadyBecomes(const testing::ConsentdProcess& server, int code) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    if (ReadyCode(server) == code) return true;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return false;
}

TEST_F(EventsTest, BrokerOutageDelaysButLosesNothing) {
  auto before = Burst(4, 20, 10);
  EXPECT_TRUE(ReadyBecomes(*server_, 200));
  broker_->Stop();
  EXPECT_TRUE(ReadyBecomes(*server_, 503)) << "readiness should report Kafka unreachable";
  // Writes keep being acknowledged while Kafka is down.
  auto during = Burst(8, 50, 10);
  EXPECT_EQ(during.size(), 400u);
  ASSERT_TRUE(broker_->Start()) << broker_->error();
  EXPECT_TRUE(ReadyBecomes(*server_, 200));
  during.insert(before.begin(), before.end());
  auto by_key = ReadChanges(during);
  for (const auto& [subject, sequence] : during) {
    const auto& seen = by_key[subject];
    EXPECT_NE(std::find(seen.begin(), seen.end(), sequence), seen.end())
        << subject << " sequence " << sequence << " never published";
  }
}

TEST_F(EventsTest, KillNineMidBurstLosesNoEvent) {
  std::atomic<bool> stop{false};
  std::atomic<int> acks{0};
  std::set<std::pair<std::string, uint64_t>> acknowledged;
  std::thread writer([&] { acknowledged = Burst(16, 100000, 30, &stop, &acks); });
  while (acks < 1500) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->Kill();
  stop = true;
  writer.join();
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  auto by_key = ReadChanges(acknowledged);
  for (const auto& [subject, sequence] : acknowledged) {
    const auto& seen = by_key[subject];
    ASSERT_NE(std::find(seen.begin(), seen.end(), sequence), seen.end())
        << subject << " sequence " << sequence << " lost";
  }
  // Duplicates, if any, repeat a sequence already seen: per key the distinct sequences are
  // exactly 1..n, and every repeat comes after its first appearance.
  for (const auto& [subject, sequences] : by_key) {
    uint64_t highest = 0;
    for (uint64_t s : sequences) {
      ASSERT_LE(s, highest + 1) << subject << " skipped to " << s;
      highest = std::max(highest, s);
    }
  }
}

TEST_F(EventsTest, EventsDecodeWithTheProtoFilesAlone) {
  v1::RecordDecisionsResponse response;
  ASSERT_TRUE(server_->consent()
                  .RecordDecisions(Ctx().get(), Decision("zoe", v1::GRANTED), &response)
                  .ok());
  ReadChanges({{"zoe", 1}});
  // As a consumer in another language would: kcat reads the raw value, protoc decodes it with
  // nothing but the schema.
  int status = 0;
  const std::string decoded = testing::RunCommand(
      absl::StrCat("kcat -b ", broker_->bootstrap(), " -C -t ", kChanges,
                   " -o beginning -c 1 -e -q -f '%s' | protoc --decode=assent.v1.ConsentChanged",
                   " -I ", ASSENT_SOURCE_DIR, "/proto ", ASSENT_SOURCE_DIR,
                   "/proto/assent/v1/events.proto"),
      &status);
  EXPECT_EQ(status, 0) << decoded;
  EXPECT_THAT(decoded, HasSubstr("event_id: \"acme/zoe/1\""));
  EXPECT_THAT(decoded, HasSubstr("purpose_id: \"marketing.newsletter\""));
  EXPECT_THAT(decoded, HasSubstr("state: GRANTED"));
  const std::string headers =
      testing::RunCommand(absl::StrCat("kcat -b ", broker_->bootstrap(), " -C -t ", kChanges,
                                       " -o beginning -c 1 -e -q -f '%h'"),
                          &status);
  EXPECT_THAT(headers, HasSubstr("content-type=application/x-protobuf"));
  EXPECT_THAT(headers, HasSubstr("message-type=assent.v1.ConsentChanged"));
}

}  // namespace
}  // namespace assent
