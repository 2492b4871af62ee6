// The outbox relay's error paths, driven through librdkafka's mock cluster (which can refuse
// requests and take brokers down on demand). Delivery to a real broker is tested in
// tests/integration/events_test.cc.
#include <librdkafka/rdkafka.h>
// clang-format off: the mock header must follow rdkafka.h
#include <librdkafka/rdkafka_mock.h>
// clang-format on

#include <set>

#include "absl/time/clock.h"
#include "events/relay.h"
#include "gtest/gtest.h"
#include "store/committer.h"
#include "store/keys.h"
#include "store/outbox.h"
#include "testing/fake_clock.h"
#include "testing/kafka_broker.h"
#include "testing/temp_dir.h"

namespace assent::events {
namespace {

// Polls `condition` until it holds or 30 s pass.
template <typename Fn>
bool Eventually(Fn condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ASSERT_NE(host_, nullptr) << err;
    cluster_ = rd_kafka_mock_cluster_new(host_, 1);
    ASSERT_NE(cluster_, nullptr);
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    options_.kafka.brokers = bootstrap_;
    options_.kafka.create_topics = false;  // the mock cluster has no Admin API
    options_.min_backoff = absl::Milliseconds(20);
    options_.max_backoff = absl::Milliseconds(200);
    for (auto topic : {storage::v1::TOPIC_CHANGES, storage::v1::TOPIC_STATE}) {
      ASSERT_EQ(
          rd_kafka_mock_topic_create(cluster_, TopicName(options_.kafka, topic).c_str(), 1, 1),
          RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    store::StoreOptions store_options;
    store_options.path = dir_.Sub("db");
    auto store = store::Store::Open(store_options, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    committer_ = std::make_unique<store::Committer>(*store_, clock_);
  }

  void TearDown() override {
    if (relay_) relay_->Stop();
    relay_.reset();
    committer_.reset();
    store_.reset();
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (host_ != nullptr) rd_kafka_destroy(host_);
  }

  void StartRelay() {
    relay_ = std::make_unique<OutboxRelay>(*store_, clock_, options_);
    ASSERT_TRUE(relay_->Start().ok());
    committer_->AddObserver(relay_.get());
  }

  // Commits `n` change records keyed "acme/s<i % 3>" with values "v<i>".
  void Write(int n, int first = 0) {
    for (int i = first; i < first + n; ++i) {
      ASSERT_TRUE(committer_
                      ->Run([i](store::Txn& txn) {
                        storage::v1::OutboxRecord record;
                        record.set_topic(storage::v1::TOPIC_CHANGES);
                        record.set_key("acme/s" + std::to_string(i % 3));
                        record.set_value("v" + std::to_string(i));
                        txn.Put(store::Cf::kOutbox, store::OutboxKey(txn.NextOutboxId()),
                                record.SerializeAsString());
                        return absl::OkStatus();
                      })
                      .ok());
    }
  }

  uint64_t Pending() { return *store::CountOutbox(*store_); }

  std::vector<std::string> Published(size_t at_least) {
    std::vector<std::string> values;
    testing::ConsumeAll(bootstrap_, TopicName(options_.kafka, storage::v1::TOPIC_CHANGES),
                        absl::Seconds(30), [&](const std::vector<testing::KafkaRecord>& records) {
                          values.clear();
                          for (const auto& r : records) values.push_back(r.value);
                          return values.size() >= at_least;
                        });
    return values;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
  RelayOptions options_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Committer> committer_;
  std::unique_ptr<OutboxRelay> relay_;
};

TEST_F(RelayTest, PublishesInOrderAndEmptiesTheOutbox) {
  Write(50);
  StartRelay();
  ASSERT_TRUE(Eventually([&] { return Pending() == 0; }));
  auto values = Published(50);
  ASSERT_EQ(values.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(values[i], "v" + std::to_string(i));  // one partition
  EXPECT_EQ(relay_->stats().published, 50u);
}

TEST_F(RelayTest, BrokerDownKeepsRecordsUntilItReturns) {
  StartRelay();
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  Write(20);
  // The relay has taken them in hand but nothing is acknowledged, so nothing leaves the outbox.
  ASSERT_TRUE(Eventually([&] { return relay_->stats().in_flight == 20; }));
  EXPECT_EQ(Pending(), 20u);
  EXPECT_EQ(relay_->stats().published, 0u);
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(Eventually([&] { return Pending() == 0; }));
  EXPECT_EQ(Published(20).size(), 20u);
}

TEST_F(RelayTest, RefusedRecordsAreRetriedFromTheOutboxNotLost) {
  // The broker refuses the first produce requests with a non-retriable error: the relay restarts
  // its producer and publishes again from the oldest record still in the outbox.
  constexpr int16_t kProduceApiKey = 0;  // Kafka protocol ApiKey of Produce
  rd_kafka_mock_push_request_errors(
      cluster_, kProduceApiKey, 3, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  Write(10);
  StartRelay();
  ASSERT_TRUE(Eventually([&] { return Pending() == 0; }));
  auto stats = relay_->stats();
  EXPECT_GT(stats.delivery_errors, 0u);
  EXPECT_GT(stats.producer_restarts, 0u);
  auto values = Published(10);
  std::set<std::string> distinct(values.begin(), values.end());
  EXPECT_EQ(distinct.size(), 10u);  // every record arrived (duplicates allowed)
}

TEST_F(RelayTest, FatalIdempotenceErrorRecreatesTheProducerAndLosesNothing) {
  // An out-of-order sequence number is fatal for an idempotent producer: librdkafka raises a
  // fatal error, the relay drops the producer and starts over from the outbox.
  constexpr int16_t kProduceApiKey = 0;
  rd_kafka_mock_push_request_errors(cluster_, kProduceApiKey, 1,
                                    RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  Write(10);
  StartRelay();
  ASSERT_TRUE(Eventually([&] { return Pending() == 0; }));
  auto stats = relay_->stats();
  EXPECT_GT(stats.producer_restarts, 0u);
  EXPECT_GT(stats.fatal_errors + stats.delivery_errors, 0u);
  auto values = Published(10);
  std::set<std::string> distinct(values.begin(), values.end());
  EXPECT_EQ(distinct.size(), 10u);
}

TEST_F(RelayTest, UndeliveredRecordsSurviveARelayRestart) {
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  options_.stop_flush = absl::Milliseconds(50);
  StartRelay();
  Write(5);
  ASSERT_TRUE(Eventually([&] { return relay_->stats().in_flight == 5; }));
  relay_->Stop();  // as at shutdown or a crash: nothing was acknowledged
  committer_->RemoveObserver(relay_.get());
  EXPECT_EQ(Pending(), 5u);
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  StartRelay();
  ASSERT_TRUE(Eventually([&] { return Pending() == 0; }));
  EXPECT_EQ(Published(5).size(), 5u);
}

TEST(KafkaOptionsTest, BadSettingsNameTheOption) {
  KafkaOptions options;
  options.producer_overrides["linger.ms"] = "soon";
  auto status = ValidateKafkaOptions(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()).rfind("kafka.producer.linger.ms", 0), 0u) << status;
  options.producer_overrides.clear();
  options.producer_overrides["no.such.setting"] = "1";
  EXPECT_EQ(std::string(ValidateKafkaOptions(options).message()).rfind("kafka.producer.no.such", 0),
            0u);
  options.producer_overrides.clear();
  options.topic_prefix = "bad prefix!";
  EXPECT_EQ(std::string(ValidateKafkaOptions(options).message()).rfind("kafka.topic_prefix", 0),
            0u);
  options.topic_prefix = "assent.";
  options.partitions = 0;
  EXPECT_EQ(std::string(ValidateKafkaOptions(options).message()).rfind("kafka.partitions", 0), 0u);
  options.partitions = 6;
  EXPECT_TRUE(ValidateKafkaOptions(options).ok());
  EXPECT_EQ(TopicName(options, storage::v1::TOPIC_STATE), "assent.consent.state.v1");
}

}  // namespace
}  // namespace assent::events
