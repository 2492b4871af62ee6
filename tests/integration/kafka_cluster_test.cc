// The 3-node KRaft cluster that cluster mode (issue 18) is tested and benchmarked on, held to the
// guarantees the committer relies on: transactions keep committing while a broker is SIGKILLed
// (the transaction coordinator, which also leads some of the topic's partitions), a read_committed
// reader sees every committed record exactly once and nothing of an aborted transaction, the
// killed node comes back and catches up; and a second producer with the same transactional.id
// fences the first, whose later writes never become visible.
#include "testing/kafka_cluster.h"

#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/kafka_broker.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace assent {
namespace {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct RdKafkaErrorDeleter {
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
};
using Client = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;
using Error = std::unique_ptr<rd_kafka_error_t, RdKafkaErrorDeleter>;

constexpr int kTxnTimeoutMs = 30000;
constexpr int kCallTimeoutMs = 10000;

std::string Describe(const Error& error) {
  if (error == nullptr) return "ok";
  return absl::StrCat(rd_kafka_error_name(error.get()), " (", rd_kafka_error_string(error.get()),
                      ")", rd_kafka_error_is_fatal(error.get()) ? " fatal" : "",
                      rd_kafka_error_is_retriable(error.get()) ? " retriable" : "",
                      rd_kafka_error_txn_requires_abort(error.get()) ? " requires-abort" : "");
}

// A client of `type` with `settings` (all of which librdkafka must accept); null on failure.
Client NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& settings) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : settings) {
    EXPECT_EQ(rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)),
              RD_KAFKA_CONF_OK)
        << name << ": " << err;
  }
  Client client(rd_kafka_new(type, conf, err, sizeof(err)));
  EXPECT_NE(client, nullptr) << err;
  return client;
}

// A transactional producer (acks=all and idempotence are implied) that has run init_transactions.
Client NewTransactionalProducer(const std::string& bootstrap, const std::string& id,
                                const std::map<std::string, std::string>& extra = {}) {
  std::map<std::string, std::string> settings = {
      {"bootstrap.servers", bootstrap},
      {"transactional.id", id},
      {"acks", "all"},
      {"linger.ms", "1"},
      {"transaction.timeout.ms", std::to_string(kTxnTimeoutMs)},
      {"log_level", "3"},
  };
  for (const auto& [name, value] : extra) settings[name] = value;
  Client producer = NewClient(RD_KAFKA_PRODUCER, settings);
  if (producer == nullptr) return producer;
  // init_transactions is retriable (e.g. while the transaction state topic is being created).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (;;) {
    Error error(rd_kafka_init_transactions(producer.get(), kCallTimeoutMs));
    if (error == nullptr) break;
    if (!rd_kafka_error_is_retriable(error.get()) || absl::Now() > deadline) {
      ADD_FAILURE() << "init_transactions: " << Describe(error);
      return nullptr;
    }
  }
  return producer;
}

// Queues `keys` (value = key) for the open transaction; the error of the first that fails.
Error ProduceKeys(rd_kafka_t* producer, const std::string& topic,
                  const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    rd_kafka_vu_t fields[4];
    fields[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    fields[0].u.cstr = topic.c_str();
    fields[1].vtype = RD_KAFKA_VTYPE_KEY;
    fields[1].u.mem.ptr = const_cast<char*>(key.data());
    fields[1].u.mem.size = key.size();
    fields[2].vtype = RD_KAFKA_VTYPE_VALUE;
    fields[2].u.mem = fields[1].u.mem;
    fields[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    fields[3].u.i = RD_KAFKA_MSG_F_COPY;
    rd_kafka_error_t* error = rd_kafka_produceva(producer, fields, 4);
    if (error != nullptr) return Error(error);
  }
  return nullptr;
}

// The outcome of one transaction attempt.
enum class Outcome { kCommitted, kAborted, kFatal };

// Commits, retrying retriable errors (a coordinator or leader that moved) for up to 60 s; aborts
// when the transaction can only be aborted.
Outcome CommitOrAbort(rd_kafka_t* producer, std::string* log) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (;;) {
    Error error(rd_kafka_commit_transaction(producer, kCallTimeoutMs));
    if (error == nullptr) return Outcome::kCommitted;
    absl::StrAppend(log, " commit: ", Describe(error), ";");
    if (rd_kafka_error_is_fatal(error.get())) return Outcome::kFatal;
    if (rd_kafka_error_txn_requires_abort(error.get())) break;
    if (!rd_kafka_error_is_retriable(error.get()) || absl::Now() > deadline) break;
  }
  for (;;) {
    Error error(rd_kafka_abort_transaction(producer, kCallTimeoutMs));
    if (error == nullptr) return Outcome::kAborted;
    absl::StrAppend(log, " abort: ", Describe(error), ";");
    if (!rd_kafka_error_is_retriable(error.get()) || absl::Now() > deadline) {
      return Outcome::kFatal;
    }
  }
}

// A consumer in `group` subscribed to `topic`, with the short session cluster mode uses: 3 s,
// heartbeat 1 s (brokers refuse a session below group.min.session.timeout.ms, 6 s by default).
Client NewGroupConsumer(const std::string& bootstrap, const std::string& group,
                        const std::string& topic) {
  const std::map<std::string, std::string> settings = {
      {"bootstrap.servers", bootstrap},
      {"group.id", group},
      {"session.timeout.ms", "3000"},
      {"heartbeat.interval.ms", "1000"},
      {"partition.assignment.strategy", "range"},
      {"enable.auto.commit", "false"},
      {"log_level", "3"},
  };
  Client consumer = NewClient(RD_KAFKA_CONSUMER, settings);
  if (consumer == nullptr) return consumer;
  rd_kafka_poll_set_consumer(consumer.get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  EXPECT_EQ(rd_kafka_subscribe(consumer.get(), topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);
  return consumer;
}

// How many partitions `consumer` is assigned now.
int AssignedPartitions(rd_kafka_t* consumer) {
  rd_kafka_topic_partition_list_t* assignment = nullptr;
  if (rd_kafka_assignment(consumer, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  const int count = assignment->cnt;
  rd_kafka_topic_partition_list_destroy(assignment);
  return count;
}

// Serves `consumers` (rebalances happen in poll) until `done` holds or `timeout` passes.
bool PollUntil(const std::vector<rd_kafka_t*>& consumers, const std::function<bool()>& done,
               absl::Duration timeout) {
  return testing::WaitFor(
      [&] {
        for (rd_kafka_t* consumer : consumers) {
          rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
          if (m != nullptr) rd_kafka_message_destroy(m);
        }
        return done();
      },
      timeout);
}

std::vector<std::string> Keys(const std::string& prefix, int count) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) keys.push_back(absl::StrCat(prefix, "-", i));
  return keys;
}

class KafkaClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    cluster_ = new testing::KafkaCluster(dir_->Sub("cluster"), 3);
    const absl::Time start = absl::Now();
    // No ASSERT here: gtest would report every test as skipped, which ctest counts as passed.
    started_ = cluster_->Start();
    std::printf("3-node cluster started in %.1f s\n", absl::ToDoubleSeconds(absl::Now() - start));
  }
  static void TearDownTestSuite() {
    // The data goes with dir_: no controlled shutdown needed.
    if (cluster_ != nullptr) cluster_->Kill();
    delete cluster_;
    cluster_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_) << cluster_->error(); }

  static void CreateReplicatedTopic(const std::string& topic, int partitions) {
    testing::TopicOptions options;
    options.partitions = partitions;
    options.replication_factor = 3;
    options.configs = {{"min.insync.replicas", "2"}};
    std::string error;
    ASSERT_TRUE(testing::CreateTopic(cluster_->bootstrap(), topic, options, &error)) << error;
  }

  // The node leading partition 0 of `topic`, once there is one.
  static int LeaderOf(const std::string& topic) {
    int leader = -1;
    testing::WaitFor(
        [&] {
          auto partitions = testing::DescribeTopic(cluster_->bootstrap(), topic, absl::Seconds(5));
          if (partitions.ok() && !partitions->empty()) leader = (*partitions)[0].leader;
          return leader > 0;
        },
        absl::Seconds(30));
    return leader;
  }

  // Waits until every partition of `topic` has `replicas` in-sync replicas.
  static bool WaitForIsr(const std::string& topic, size_t replicas) {
    return testing::WaitFor(
        [&] {
          auto partitions = testing::DescribeTopic(cluster_->bootstrap(), topic, absl::Seconds(5));
          if (!partitions.ok() || partitions->empty()) return false;
          for (const testing::PartitionState& p : *partitions) {
            if (p.isr.size() != replicas) return false;
          }
          return true;
        },
        absl::Seconds(30));
  }

  static testing::TempDir* dir_;
  static testing::KafkaCluster* cluster_;
  static bool started_;
};

testing::TempDir* KafkaClusterTest::dir_ = nullptr;
testing::KafkaCluster* KafkaClusterTest::cluster_ = nullptr;
bool KafkaClusterTest::started_ = false;

TEST_F(KafkaClusterTest, TransactionsKeepCommittingWhileTheCoordinatorIsKilled) {
  const std::string topic = "orders";
  CreateReplicatedTopic(topic, 6);
  // (Each test is a process of its own under ctest, with a cluster of its own: the checks of the
  // topic's shape are here rather than in a test that would cost a cluster start.)
  ASSERT_TRUE(WaitForIsr(topic, 3));
  auto partitions = testing::DescribeTopic(cluster_->bootstrap(), topic, absl::Seconds(5));
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  ASSERT_EQ(partitions->size(), 6u);
  std::set<int> leaders;
  for (const testing::PartitionState& p : *partitions) {
    EXPECT_EQ(p.replicas.size(), 3u) << "partition " << p.partition;
    leaders.insert(p.leader);
  }
  // Leadership is spread, so the node killed below leads some of the partitions written to.
  EXPECT_EQ(leaders.size(), 3u);
  testing::TopicOptions four;
  four.replication_factor = 4;
  std::string error_text;
  EXPECT_FALSE(testing::CreateTopic(cluster_->bootstrap(), "four-replicas", four, &error_text));
  EXPECT_NE(error_text.find("replication factor"), std::string::npos) << error_text;

  Client producer = NewTransactionalProducer(cluster_->bootstrap(), "kafka-cluster-survivor");
  ASSERT_NE(producer, nullptr);
  // One partition of __transaction_state, so its leader coordinates every transaction.
  const int coordinator = LeaderOf("__transaction_state");
  ASSERT_GT(coordinator, 0);

  constexpr int kTransactions = 24;
  constexpr int kRecordsPerTransaction = 20;
  constexpr int kKillAt = 8;
  constexpr int kRestartAt = 16;
  std::set<std::string> committed;
  std::set<std::string> aborted;
  std::string log;
  absl::Duration slowest_commit;
  for (int t = 0; t < kTransactions; ++t) {
    // Every fourth transaction is aborted on purpose; any other is retried until one commits.
    const bool abort_on_purpose = t % 4 == 3;
    for (int attempt = 0;; ++attempt) {
      ASSERT_LT(attempt, 5) << "transaction " << t << ":" << log;
      Error error(rd_kafka_begin_transaction(producer.get()));
      ASSERT_EQ(error, nullptr) << Describe(error);
      const std::vector<std::string> keys =
          Keys(absl::StrCat("t", t, "a", attempt), kRecordsPerTransaction);
      const std::vector<std::string> first(keys.begin(), keys.begin() + kRecordsPerTransaction / 2);
      const std::vector<std::string> second(keys.begin() + kRecordsPerTransaction / 2, keys.end());
      Outcome outcome = Outcome::kAborted;
      error = ProduceKeys(producer.get(), topic, first);
      if (error == nullptr && t == kKillAt && attempt == 0) {
        // Mid-transaction: half of its records queued (and maybe sent), the rest after the kill.
        rd_kafka_flush(producer.get(), kCallTimeoutMs);
        ASSERT_TRUE(cluster_->KillNode(coordinator)) << cluster_->error();
      }
      if (t == kRestartAt && attempt == 0) {
        ASSERT_TRUE(cluster_->StartNode(coordinator)) << cluster_->error();
      }
      if (error == nullptr) error = ProduceKeys(producer.get(), topic, second);
      const absl::Time commit_start = absl::Now();
      if (error != nullptr) {
        absl::StrAppend(&log, " produce: ", Describe(error), ";");
        ASSERT_FALSE(rd_kafka_error_is_fatal(error.get())) << log;
        Error abort(rd_kafka_abort_transaction(producer.get(), 60000));
        ASSERT_EQ(abort, nullptr) << Describe(abort);
      } else if (abort_on_purpose) {
        // Wait for the records first: librdkafka 2.0.2 sends EndTxn as soon as AddPartitionsToTxn
        // is sent, not answered, so aborting right after producing can reach the coordinator
        // while the transaction is still Empty: a fatal INVALID_TXN_STATE (librdkafka#4849).
        ASSERT_EQ(rd_kafka_flush(producer.get(), 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
        Error abort(rd_kafka_abort_transaction(producer.get(), 60000));
        ASSERT_EQ(abort, nullptr) << Describe(abort) << log;
      } else {
        outcome = CommitOrAbort(producer.get(), &log);
        ASSERT_NE(outcome, Outcome::kFatal) << log;
      }
      slowest_commit = std::max(slowest_commit, absl::Now() - commit_start);
      (outcome == Outcome::kCommitted ? committed : aborted).insert(keys.begin(), keys.end());
      if (outcome == Outcome::kCommitted || abort_on_purpose) break;
    }
  }
  std::printf("killed node %d (coordinator); slowest commit %.1f s; retries:%s\n", coordinator,
              absl::ToDoubleSeconds(slowest_commit), log.empty() ? " none" : log.c_str());
  EXPECT_EQ(committed.size(),
            static_cast<size_t>((kTransactions - kTransactions / 4) * kRecordsPerTransaction));

  const std::map<std::string, int> seen =
      testing::ReadCommittedKeys(cluster_->bootstrap(), topic, committed.size(), absl::Seconds(30));
  size_t missing = 0;
  for (const std::string& key : committed) {
    auto it = seen.find(key);
    if (it == seen.end()) {
      ++missing;
    } else {
      EXPECT_EQ(it->second, 1) << key << " read more than once";
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << committed.size() << " committed records";
  for (const auto& [key, count] : seen) {
    EXPECT_TRUE(committed.contains(key)) << key << (aborted.contains(key) ? " (aborted)" : "");
  }

  // The restarted node catches up: every partition, and the transaction log, in sync on 3 again.
  EXPECT_TRUE(WaitForIsr(topic, 3)) << topic << " did not get back to 3 in-sync replicas";
  EXPECT_TRUE(WaitForIsr("__transaction_state", 3));
}

TEST_F(KafkaClusterTest, NoCommitWhileFewerReplicasThanMinInsyncAreInSync) {
  // Two replicas and min.insync.replicas 2: losing the follower leaves the leader alone in sync.
  const std::string topic = "two-replicas";
  testing::TopicOptions options;
  options.partitions = 1;
  options.replication_factor = 2;
  options.configs = {{"min.insync.replicas", "2"}};
  std::string error_text;
  ASSERT_TRUE(testing::CreateTopic(cluster_->bootstrap(), topic, options, &error_text))
      << error_text;
  ASSERT_TRUE(WaitForIsr(topic, 2));
  auto partitions = testing::DescribeTopic(cluster_->bootstrap(), topic, absl::Seconds(5));
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  const testing::PartitionState partition = partitions->at(0);
  const int follower =
      partition.replicas[0] == partition.leader ? partition.replicas[1] : partition.replicas[0];

  // A record that cannot reach min.insync.replicas fails after message.timeout.ms.
  Client producer = NewTransactionalProducer(cluster_->bootstrap(), "kafka-cluster-thin",
                                             {{"message.timeout.ms", "3000"}});
  ASSERT_NE(producer, nullptr);
  auto commit_one = [&](const std::string& key) {
    Error error(rd_kafka_begin_transaction(producer.get()));
    if (error == nullptr) error = ProduceKeys(producer.get(), topic, {key});
    if (error == nullptr) error.reset(rd_kafka_commit_transaction(producer.get(), kCallTimeoutMs));
    return error;
  };
  Error error = commit_one("before");
  ASSERT_EQ(error, nullptr) << Describe(error);

  ASSERT_TRUE(cluster_->KillNode(follower)) << cluster_->error();
  ASSERT_TRUE(WaitForIsr(topic, 1)) << "node " << follower << " never left the ISR";
  error = commit_one("during");
  std::string log = Describe(error);
  // A timeout is retriable: commit again until the records have failed.
  while (error != nullptr && rd_kafka_error_is_retriable(error.get()) &&
         !rd_kafka_error_txn_requires_abort(error.get())) {
    error.reset(rd_kafka_commit_transaction(producer.get(), kCallTimeoutMs));
    absl::StrAppend(&log, "; then ", Describe(error));
  }
  ASSERT_NE(error, nullptr) << "committed with one in-sync replica";
  EXPECT_FALSE(rd_kafka_error_is_fatal(error.get())) << log;
  EXPECT_TRUE(rd_kafka_error_txn_requires_abort(error.get())) << log;

  // Nor can it be aborted: the abort markers need min.insync.replicas too, so the coordinator
  // holds the transaction in PrepareAbort and the abort times out (retriable) until the ISR grows.
  error.reset(rd_kafka_abort_transaction(producer.get(), 2000));
  absl::StrAppend(&log, "; abort: ", Describe(error));
  std::printf("with ISR 1 < min.insync.replicas 2: commit %s\n", log.c_str());
  ASSERT_NE(error, nullptr) << "aborted with one in-sync replica";
  EXPECT_TRUE(rd_kafka_error_is_retriable(error.get())) << log;

  // Back to two in sync, the abort completes and the same producer commits again; or, about one
  // time in five, the resumed abort fails with a fatal INVALID_TXN_STATE (librdkafka 2.0.2: the
  // epoch bump that follows timed-out records already ended the transaction on the coordinator),
  // and a new producer with the same transactional.id takes over. Either way "during" is gone.
  ASSERT_TRUE(cluster_->StartNode(follower)) << cluster_->error();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    error.reset(rd_kafka_abort_transaction(producer.get(), kCallTimeoutMs));
  } while (error != nullptr && rd_kafka_error_is_retriable(error.get()) && absl::Now() < deadline);
  if (error != nullptr) {
    std::printf("resumed abort: %s; rebuilding the producer\n", Describe(error).c_str());
    ASSERT_TRUE(rd_kafka_error_is_fatal(error.get())) << Describe(error);
    ASSERT_EQ(rd_kafka_error_code(error.get()), RD_KAFKA_RESP_ERR_INVALID_TXN_STATE)
        << Describe(error);
    producer.reset();
    producer = NewTransactionalProducer(cluster_->bootstrap(), "kafka-cluster-thin");
    ASSERT_NE(producer, nullptr);
  }
  error = commit_one("after");
  ASSERT_EQ(error, nullptr) << Describe(error);
  const std::map<std::string, int> seen =
      testing::ReadCommittedKeys(cluster_->bootstrap(), topic, 2, absl::Seconds(30));
  const std::map<std::string, int> expected = {{"after", 1}, {"before", 1}};
  EXPECT_EQ(seen, expected);
  // The next test starts from a whole cluster.
  EXPECT_TRUE(WaitForIsr("__transaction_state", 3));
}

TEST_F(KafkaClusterTest, ASecondProducerWithTheSameTransactionalIdFencesTheFirst) {
  const std::string topic = "fencing";
  CreateReplicatedTopic(topic, 3);
  const std::string id = "kafka-cluster-fenced";
  Client first = NewTransactionalProducer(cluster_->bootstrap(), id);
  ASSERT_NE(first, nullptr);
  Error error(rd_kafka_begin_transaction(first.get()));
  ASSERT_EQ(error, nullptr) << Describe(error);
  ASSERT_EQ(ProduceKeys(first.get(), topic, {"first-committed"}), nullptr);
  error.reset(rd_kafka_commit_transaction(first.get(), kCallTimeoutMs));
  ASSERT_EQ(error, nullptr) << Describe(error);

  // An open transaction, written to the log, when the second producer appears.
  error.reset(rd_kafka_begin_transaction(first.get()));
  ASSERT_EQ(error, nullptr) << Describe(error);
  ASSERT_EQ(ProduceKeys(first.get(), topic, {"first-open"}), nullptr);
  ASSERT_EQ(rd_kafka_flush(first.get(), kCallTimeoutMs), RD_KAFKA_RESP_ERR_NO_ERROR);

  Client second = NewTransactionalProducer(cluster_->bootstrap(), id);
  ASSERT_NE(second, nullptr);

  // The first producer is a zombie now: whatever it sends and its commit fail, fatally.
  Error produced = ProduceKeys(first.get(), topic, {"first-after-fencing"});
  error.reset(rd_kafka_commit_transaction(first.get(), kCallTimeoutMs));
  ASSERT_NE(error, nullptr) << "the fenced producer committed";
  std::printf("fenced producer: produce %s; commit %s\n", Describe(produced).c_str(),
              Describe(error).c_str());
  EXPECT_TRUE(rd_kafka_error_is_fatal(error.get())) << Describe(error);
  EXPECT_EQ(rd_kafka_error_code(error.get()), RD_KAFKA_RESP_ERR__FENCED) << Describe(error);
  char reason[256];
  EXPECT_EQ(rd_kafka_fatal_error(first.get(), reason, sizeof(reason)), RD_KAFKA_RESP_ERR__FENCED)
      << reason;
  // A fatal error cannot be aborted away either.
  Error abort(rd_kafka_abort_transaction(first.get(), kCallTimeoutMs));
  EXPECT_NE(abort, nullptr);

  error.reset(rd_kafka_begin_transaction(second.get()));
  ASSERT_EQ(error, nullptr) << Describe(error);
  ASSERT_EQ(ProduceKeys(second.get(), topic, {"second-committed"}), nullptr);
  error.reset(rd_kafka_commit_transaction(second.get(), kCallTimeoutMs));
  ASSERT_EQ(error, nullptr) << Describe(error);

  const std::map<std::string, int> seen =
      testing::ReadCommittedKeys(cluster_->bootstrap(), topic, 2, absl::Seconds(30));
  const std::map<std::string, int> expected = {{"first-committed", 1}, {"second-committed", 1}};
  EXPECT_EQ(seen, expected);
}

TEST_F(KafkaClusterTest, AConsumerThatDiesLosesItsPartitionsAfterTheShortSession) {
  const std::string topic = "failover";
  CreateReplicatedTopic(topic, 6);
  Client first = NewGroupConsumer(cluster_->bootstrap(), "failover-group", topic);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(PollUntil(
      {first.get()}, [&] { return AssignedPartitions(first.get()) == 6; }, absl::Seconds(30)))
      << "the broker did not take session.timeout.ms=3000";
  Client second = NewGroupConsumer(cluster_->bootstrap(), "failover-group", topic);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(PollUntil(
      {first.get(), second.get()},
      [&] { return AssignedPartitions(first.get()) == 3 && AssignedPartitions(second.get()) == 3; },
      absl::Seconds(30)));

  // The first dies without leaving the group: only its missing heartbeats tell the coordinator.
  rd_kafka_destroy_flags(first.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  const absl::Time died = absl::Now();
  ASSERT_TRUE(PollUntil(
      {second.get()}, [&] { return AssignedPartitions(second.get()) == 6; }, absl::Seconds(30)));
  std::printf("a dead member's partitions moved after %.1f s (session.timeout.ms 3000)\n",
              absl::ToDoubleSeconds(absl::Now() - died));
  rd_kafka_consumer_close(second.get());
}

}  // namespace
}  // namespace assent
