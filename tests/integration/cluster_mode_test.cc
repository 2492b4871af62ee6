// Cluster mode with real processes: a 3-node KRaft Kafka cluster on this machine and three (then
// four) consentd instances in --cluster mode. Under a steady write load from many callers spread
// over every instance: killing the owner of partitions with SIGKILL, freezing one with SIGSTOP
// until its partitions move (a zombie), killing a broker, and adding an instance. Afterwards
// every acknowledged write is in every surviving instance's state and history, each subject's
// sequence is gapless and its chain verifies, every instance holds the same history, and the
// events on the changes topic are exactly the history's records.
//
// ASSENT_CLUSTER_KILLS=N makes KillOwnerUnderLoad kill N owners one after the other (the
// failover benchmark, tools/bench/cluster/run.sh); it prints each failover time.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "assent/v1/admin.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "assent/v1/events.pb.h"
#include "assent/v1/export.grpc.pb.h"
#include "assent/v1/import.grpc.pb.h"
#include "assent/v1/lifecycle.pb.h"
#include "assent/v1/report.grpc.pb.h"
#include "assent/v1/rights.grpc.pb.h"
#include "cluster/partition.h"
#include "common/time_util.h"
#include "gtest/gtest.h"
#include "ledger/events.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/kafka_cluster.h"
#include "testing/sender_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace assent {
namespace {

using testing::ConsentdProcess;
using testing::KafkaCluster;
using testing::TempDir;

constexpr int kPartitions = 6;
constexpr char kTenant[] = "acme";
constexpr char kPurpose[] = "marketing.news";

int32_t PartitionOfSubject(const std::string& subject) {
  return cluster::PartitionOf(absl::StrCat(kTenant, "/", subject), kPartitions);
}

int32_t PartitionOfContact(const v1::ContactRef& contact) {
  v1::TargetRef target;
  *target.mutable_contact() = contact;
  return cluster::PartitionOf(ledger::EventKey(kTenant, target), kPartitions);
}

v1::ContactPoint Email(const std::string& address) {
  v1::ContactPoint email;
  email.set_type(v1::CONTACT_EMAIL);
  email.set_value(address);
  return email;
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

// One consentd instance of the cluster.
struct Instance {
  std::string node_id;
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<ConsentdProcess> process;
  std::unique_ptr<v1::AdminService::Stub> admin;
  bool alive = false;
};

// What the load saw: every acknowledged write and when writes failed and succeeded.
struct LoadLog {
  std::mutex mu;
  std::map<std::string, uint64_t> acked;  // subject -> highest acknowledged sequence
  uint64_t acknowledged = 0;
  uint64_t failed = 0;
  // Per partition: when each successful write was sent and answered, and when failures were.
  std::map<int32_t, std::vector<std::pair<absl::Time, absl::Time>>> successes;
  std::map<int32_t, std::vector<absl::Time>> failures;
  std::map<std::string, int> errors;  // failure messages (start) -> count
};

class ClusterModeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kafka_dir_ = new TempDir();
    kafka_ = new KafkaCluster(kafka_dir_->path(), 3);
    const absl::Time start = absl::Now();
    // Checked in SetUp: a failed ASSERT here would only mark the tests skipped.
    kafka_started_ = kafka_->Start();
    std::printf("[cluster] 3-node Kafka cluster up in %.1f s\n",
                absl::ToDoubleSeconds(absl::Now() - start));
  }
  static void TearDownTestSuite() {
    if (kafka_ != nullptr) kafka_->Kill();
    delete kafka_;
    delete kafka_dir_;
    kafka_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(kafka_started_) << kafka_->error();
    static int run = 0;
    prefix_ = absl::StrCat("cm", ++run, ".");
    secret_ = std::make_unique<TempDir>();
    testing::WriteSecretFile(secret_->Sub("contact.secret"),
                             "cluster-test-contact-secret-0123456789abcdef\n");
  }

  void TearDown() override {
    StopLoad();
    for (auto& i : instances_) {
      if (i->alive) {
        i->process->Signal(SIGCONT);
        i->process->Kill();
      }
      if (HasFailure()) {
        std::printf("---- %s log (tail) ----\n%s\n", i->node_id.c_str(),
                    Tail(i->process->log(), 4000).c_str());
      }
    }
  }

  static std::string Tail(const std::string& text, size_t n) {
    return text.size() <= n ? text : text.substr(text.size() - n);
  }

  // Starts instance n<index>.
  Instance& StartInstance(int index) {
    auto instance = std::make_unique<Instance>();
    instance->node_id = absl::StrCat("n", index);
    instance->dir = std::make_unique<TempDir>();
    instance->process = std::make_unique<ConsentdProcess>(CONSENTD_PATH, instance->dir->Sub("data"),
                                                          instance->dir->path());
    std::vector<std::string> args = {"--kafka-brokers",
                                     kafka_->bootstrap(),
                                     "--kafka-topic-prefix",
                                     prefix_,
                                     "--kafka-partitions",
                                     absl::StrCat(kPartitions),
                                     "--kafka-replication-factor",
                                     "3",
                                     "--cluster",
                                     "--cluster-node-id",
                                     instance->node_id,
                                     "--cluster-min-insync-replicas",
                                     "2",
                                     "--cluster-session-timeout",
                                     "3s",
                                     "--cluster-heartbeat-interval",
                                     "1s",
                                     "--cluster-transaction-timeout",
                                     "5s",
                                     "--sweeper-interval",
                                     "100ms",
                                     "--contact-key-secret-file",
                                     secret_->Sub("contact.secret"),
                                     "--erasure-log-file",
                                     ErasureLogPath(*instance),
                                     "--cluster-standbys",
                                     absl::StrCat(standbys_)};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    instance->process->Start(args);
    instance->admin = v1::AdminService::NewStub(instance->process->channel());
    instance->alive = true;
    std::lock_guard<std::mutex> lock(instances_mu_);  // the load threads read the list
    instances_.push_back(std::move(instance));
    return *instances_.back();
  }

  // The sum of metric `name`'s series on instance `i`'s /metrics.
  static double Metric(Instance& i, const std::string& name) {
    int status = 0;
    const std::string text = testing::RunCommand(
        absl::StrCat("curl -s --max-time 5 'http://", i.process->metrics_address(), "/metrics'"),
        &status);
    double total = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::StartsWith(line, name + "{") && !absl::StartsWith(line, name + " ")) continue;
      double v = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += v;
    }
    return total;
  }

  static std::string FormatDay(absl::Time t) {
    return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone());
  }

  // Outside the instance's data directory, as consentd requires.
  static std::string ErasureLogPath(const Instance& i) { return i.dir->path() + "/erasure.log"; }

  std::vector<Instance*> Alive() {
    std::vector<Instance*> out;
    for (auto& i : instances_) {
      if (i->alive) out.push_back(i.get());
    }
    return out;
  }

  absl::StatusOr<v1::ClusterStatus> Status(Instance& i) {
    v1::ClusterStatus status;
    grpc::Status s = i.admin->GetClusterStatus(Context(absl::Seconds(5)).get(),
                                               v1::GetClusterStatusRequest(), &status);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    return status;
  }

  // Waits until every partition is owned by exactly one live instance and every live instance
  // agrees who. Returns partition -> owner node id (empty on timeout).
  std::map<int32_t, std::string> AwaitOwnership(absl::Duration timeout = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      std::map<int32_t, std::string> owned_here;
      std::map<int32_t, std::set<std::string>> claimed;
      bool ok = true;
      for (Instance* i : Alive()) {
        absl::StatusOr<v1::ClusterStatus> status = Status(*i);
        if (!status.ok() || status->partitions_size() != kPartitions) {
          ok = false;
          break;
        }
        for (const v1::ClusterPartition& p : status->partitions()) {
          claimed[p.partition()].insert(p.owner());
          if (p.owned_here()) {
            if (owned_here.contains(p.partition())) ok = false;
            owned_here[p.partition()] = i->node_id;
          }
        }
      }
      if (ok && owned_here.size() == kPartitions) {
        for (const auto& [p, owners] : claimed) {
          if (owners.size() != 1 || *owners.begin() != owned_here[p]) ok = false;
        }
        if (ok) return owned_here;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return {};
  }

  // AwaitOwnership once every live instance owns partitions (an instance still joining is not
  // seen by AwaitOwnership, and its join moves partitions again).
  std::map<int32_t, std::string> AwaitOwnershipByAll() {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      std::map<int32_t, std::string> owners = AwaitOwnership(deadline - absl::Now());
      std::set<std::string> owning;
      for (const auto& [p, owner] : owners) owning.insert(owner);
      if (owning.size() == Alive().size()) return owners;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return {};
  }

  // The tenant and purpose, created through the first instance, then awaited on every instance's
  // replica (catalog changes reach the others within the replica lag).
  void SeedCatalog() {
    Instance& first = *Alive().front();
    ASSERT_TRUE(first.process->SeedCatalog(kPurpose, {v1::EMAIL}));
    for (Instance* i : Alive()) {
      const bool found = testing::WaitFor(
          [&] {
            v1::GetPurposeRequest request;
            request.set_name(absl::StrCat("tenants/", kTenant, "/purposes/", kPurpose));
            v1::Purpose purpose;
            return i->process->catalog().GetPurpose(Context().get(), request, &purpose).ok();
          },
          absl::Seconds(20));
      ASSERT_TRUE(found) << "the purpose did not reach " << i->node_id;
    }
  }

  // Subjects spread so that every partition has some.
  static std::vector<std::string> Subjects(int count) {
    std::vector<std::string> out;
    for (int k = 0; k < count; ++k) out.push_back(absl::StrCat("cust-", k));
    return out;
  }

  // Writes to `subjects` from `callers` threads, each call to the next live instance in turn,
  // until StopLoad().
  void StartLoad(const std::vector<std::string>& subjects, int callers) {
    stop_load_ = false;
    for (int c = 0; c < callers; ++c) {
      load_threads_.emplace_back([this, subjects, c, callers] {
        uint64_t n = 0;
        while (!stop_load_.load()) {
          std::vector<std::shared_ptr<grpc::Channel>> channels;
          {
            std::lock_guard<std::mutex> lock(instances_mu_);
            for (Instance* i : Alive()) channels.push_back(i->process->channel());
          }
          if (channels.empty()) return;
          const std::string& subject = subjects[(c + n * callers) % subjects.size()];
          auto stub = v1::ConsentService::NewStub(channels[(c + n) % channels.size()]);
          ++n;
          v1::RecordDecisionsRequest request;
          request.set_tenant(kTenant);
          request.mutable_target()->set_subject_id(subject);
          request.set_source("cluster-test");
          request.set_actor("load");
          v1::DecisionInput* d = request.add_decisions();
          d->set_purpose_id(kPurpose);
          d->set_channel(v1::EMAIL);
          d->set_state(n % 2 == 0 ? v1::GRANTED : v1::WITHDRAWN);
          v1::RecordDecisionsResponse response;
          const absl::Time sent = absl::Now();
          grpc::Status s =
              stub->RecordDecisions(Context(absl::Seconds(20)).get(), request, &response);
          const absl::Time now = absl::Now();
          const int32_t partition = PartitionOfSubject(subject);
          std::lock_guard<std::mutex> lock(log_.mu);
          if (s.ok()) {
            log_.acknowledged++;
            log_.acked[subject] = std::max(log_.acked[subject], response.sequence());
            log_.successes[partition].emplace_back(sent, now);
          } else {
            log_.failed++;
            log_.failures[partition].push_back(now);
            log_.errors[absl::StrCat(s.error_code(), " ", s.error_message().substr(0, 90))]++;
          }
        }
      });
    }
  }

  void StopLoad() {
    stop_load_ = true;
    for (auto& t : load_threads_) t.join();
    load_threads_.clear();
    std::lock_guard<std::mutex> lock(log_.mu);
    for (const auto& [error, count] : log_.errors) {
      std::printf("[cluster]   %d x %s\n", count, error.c_str());
    }
    log_.errors.clear();
  }

  // Kills instance `i` with SIGKILL.
  void KillInstance(Instance& i) {
    std::lock_guard<std::mutex> lock(instances_mu_);
    i.process->Kill();
    i.alive = false;
  }

  // The live instance that owns the most of `owners`' partitions (the busiest: load is spread
  // evenly over subjects), and those partitions.
  Instance* BusiestOwner(const std::map<int32_t, std::string>& owners, std::set<int32_t>& owned) {
    std::map<std::string, std::set<int32_t>> by_owner;
    for (const auto& [p, owner] : owners) by_owner[owner].insert(p);
    auto busiest = std::max_element(by_owner.begin(), by_owner.end(), [](auto& a, auto& b) {
      return a.second.size() < b.second.size();
    });
    if (busiest == by_owner.end()) return nullptr;
    for (Instance* i : Alive()) {
      if (i->node_id == busiest->first) {
        owned = busiest->second;
        return i;
      }
    }
    return nullptr;
  }

  // The time from `killed` until writes to every one of `partitions` succeeded again (nullopt
  // when some did not within 30 s).
  std::optional<absl::Duration> AwaitRecovery(absl::Time killed,
                                              const std::set<int32_t>& partitions) {
    std::map<int32_t, absl::Duration> recovered;
    testing::WaitFor(
        [&] {
          recovered = RecoveryTimes(killed, partitions);
          return recovered.size() == partitions.size();
        },
        absl::Seconds(30));
    if (recovered.size() != partitions.size()) return std::nullopt;
    absl::Duration worst;
    for (const auto& [p, d] : recovered) worst = std::max(worst, d);
    return worst;
  }

  // Waits until instance `i` owns a partition (it has joined the group and claimed).
  bool AwaitOwnsAPartition(Instance& i, absl::Duration timeout) {
    return testing::WaitFor(
        [&] {
          absl::StatusOr<v1::ClusterStatus> status = Status(i);
          if (!status.ok()) return false;
          for (const v1::ClusterPartition& p : status->partitions()) {
            if (p.owned_here()) return true;
          }
          return false;
        },
        timeout);
  }

  // For each partition: the time from `since` until a write sent after `since` first succeeded
  // (a write the killed owner committed just before it died, answered after `since`, does not
  // count).
  std::map<int32_t, absl::Duration> RecoveryTimes(absl::Time since,
                                                  const std::set<int32_t>& partitions) {
    std::lock_guard<std::mutex> lock(log_.mu);
    std::map<int32_t, absl::Duration> out;
    for (int32_t p : partitions) {
      for (const auto& [sent, answered] : log_.successes[p]) {
        if (sent >= since) {
          out[p] = answered - since;
          break;
        }
      }
    }
    return out;
  }

  // The history of `subject` on instance `i`: sequence -> hash.
  std::map<uint64_t, std::string> History(Instance& i, const std::string& subject) {
    v1::Target target;
    target.set_subject_id(subject);
    return History(i, target);
  }
  std::map<uint64_t, std::string> History(Instance& i, const v1::Target& target) {
    std::map<uint64_t, std::string> out;
    auto stub = v1::ConsentService::NewStub(i.process->channel());
    std::string page_token;
    do {
      v1::ListHistoryRequest request;
      request.set_tenant(kTenant);
      *request.mutable_target() = target;
      request.set_page_size(1000);
      request.set_page_token(page_token);
      v1::ListHistoryResponse response;
      grpc::Status s = stub->ListHistory(Context().get(), request, &response);
      if (!s.ok()) {
        std::printf("[cluster] ListHistory on %s: %s\n", i.node_id.c_str(),
                    s.error_message().c_str());
        return {};
      }
      for (const v1::HistoryRecord& r : response.records()) out[r.sequence()] = r.hash();
      page_token = response.next_page_token();
    } while (!page_token.empty());
    return out;
  }

  // Checks every subject on every live instance: its history is gapless from 1, covers the
  // highest acknowledged sequence, verifies, equals every other instance's, and the changes
  // topic holds exactly its records (once each). Waits for the replicas to converge first.
  void VerifyConsistent(const std::vector<std::string>& subjects) {
    std::map<std::string, uint64_t> acked;
    {
      std::lock_guard<std::mutex> lock(log_.mu);
      acked = log_.acked;
    }
    std::map<std::string, std::map<uint64_t, std::string>> reference;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    for (const std::string& subject : subjects) {
      bool converged = false;
      std::string why;
      while (!converged && absl::Now() < deadline) {
        converged = true;
        std::optional<std::map<uint64_t, std::string>> first;
        for (Instance* i : Alive()) {
          std::map<uint64_t, std::string> h = History(*i, subject);
          if (!first.has_value()) first = h;
          if (h != *first) {
            converged = false;
            why =
                absl::StrCat(i->node_id, " differs: ", h.size(), " vs ", first->size(), " records");
          }
          if (!h.empty() && h.rbegin()->first < acked[subject]) {
            converged = false;
            why = absl::StrCat(i->node_id, " lacks acknowledged sequence ", acked[subject]);
          }
        }
        if (converged) reference[subject] = *first;
        if (!converged) absl::SleepFor(absl::Milliseconds(200));
      }
      ASSERT_TRUE(converged) << subject << ": " << why;
      const auto& h = reference[subject];
      ASSERT_GE(h.size(), acked[subject]) << subject;
      uint64_t expect = 1;
      for (const auto& [sequence, hash] : h) {
        ASSERT_EQ(sequence, expect++) << subject << ": the sequence has a gap";
      }
      for (Instance* i : Alive()) {
        auto stub = v1::ConsentService::NewStub(i->process->channel());
        v1::VerifyHistoryRequest request;
        request.set_tenant(kTenant);
        request.mutable_target()->set_subject_id(subject);
        v1::VerifyHistoryResponse response;
        grpc::Status verified = stub->VerifyHistory(Context().get(), request, &response);
        ASSERT_TRUE(verified.ok()) << i->node_id << ": " << verified.error_message();
        ASSERT_TRUE(response.valid())
            << subject << " on " << i->node_id << ": " << response.problem();
        v1::GetSubjectStateRequest state_request;
        state_request.set_tenant(kTenant);
        state_request.set_subject_id(subject);
        v1::SubjectState state;
        grpc::Status read;
        // The state is read locally, the history possibly from the owner (cluster.standbys): the
        // state may still be within the replica lag.
        testing::WaitFor(
            [&] {
              read = stub->GetSubjectState(Context().get(), state_request, &state);
              return read.ok() && state.sequence() == h.rbegin()->first;
            },
            absl::Seconds(10));
        ASSERT_TRUE(read.ok()) << i->node_id << ": " << read.error_message();
        ASSERT_EQ(state.sequence(), h.rbegin()->first) << subject << " on " << i->node_id;
      }
    }
    // The events: exactly the history's records, each once.
    size_t expected = 0;
    for (const auto& [subject, h] : reference) expected += h.size();
    std::vector<testing::KafkaRecord> records = testing::ConsumeAll(
        kafka_->bootstrap(), prefix_ + "consent.changes.v1", absl::Seconds(60),
        [&](const std::vector<testing::KafkaRecord>& r) { return r.size() >= expected; });
    std::map<std::pair<std::string, uint64_t>, int> seen;
    for (const testing::KafkaRecord& r : records) {
      v1::ConsentChanged event;
      ASSERT_TRUE(event.ParseFromString(r.value));
      seen[{event.target().subject_id(), event.sequence()}]++;
    }
    for (const auto& [subject, h] : reference) {
      for (const auto& [sequence, hash] : h) {
        EXPECT_EQ((seen[{subject, sequence}]), 1) << subject << " #" << sequence;
      }
    }
    EXPECT_EQ(records.size(), expected) << "events not in any history";
  }

  static TempDir* kafka_dir_;
  static KafkaCluster* kafka_;
  static bool kafka_started_;
  std::string prefix_;
  // cluster.standbys of the instances started (-1: every instance keeps every partition).
  int standbys_ = -1;
  // More flags for the instances started.
  std::vector<std::string> extra_args_;
  std::unique_ptr<TempDir> secret_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::mutex instances_mu_;
  std::atomic<bool> stop_load_{false};
  std::vector<std::thread> load_threads_;
  LoadLog log_;
};

TempDir* ClusterModeTest::kafka_dir_ = nullptr;
KafkaCluster* ClusterModeTest::kafka_ = nullptr;
bool ClusterModeTest::kafka_started_ = false;

// A bulk import entering one instance records the rows of every partition: each partition's rows
// go to its owner, and the answers come back in row order. The same file again is answered
// ALREADY_IMPORTED row by row. A re-permission campaign raised through another instance is then
// walked on each partition's owner, over its own targets: every instance lists every grant below
// the new minimum and says the campaign is complete, and each grant's notice is published once.
TEST_F(ClusterModeTest, AnImportAndACampaignSpanEveryOwner) {
  for (int n = 1; n <= 3; ++n) StartInstance(n);
  ASSERT_EQ(AwaitOwnershipByAll().size(), static_cast<size_t>(kPartitions));
  SeedCatalog();
  const std::vector<std::string> subjects = Subjects(60);
  std::set<int32_t> partitions;
  for (const std::string& s : subjects) partitions.insert(PartitionOfSubject(s));
  ASSERT_EQ(partitions.size(), static_cast<size_t>(kPartitions));

  Instance& entry = *Alive()[0];
  auto import = [&](std::vector<v1::ImportRowResult>& results) {
    auto stub = v1::ImportService::NewStub(entry.process->channel());
    auto ctx = Context(absl::Seconds(60));
    auto stream = stub->ImportDecisions(ctx.get());
    for (int m = 0; m < 2; ++m) {
      v1::ImportDecisionsRequest request;
      request.set_tenant(kTenant);
      for (int k = m * 30; k < (m + 1) * 30; ++k) {
        v1::ImportRow* row = request.add_rows();
        row->set_row_key(absl::StrCat("crm.csv:", k + 1));
        row->set_line(k + 1);
        v1::RecordDecisionsRequest* d = row->mutable_decisions();
        d->mutable_target()->set_subject_id(subjects[k]);
        d->set_source("legacy-crm");
        d->set_actor("import");
        d->mutable_import()->mutable_original_effective_time()->set_seconds(
            absl::ToUnixSeconds(absl::Now() - absl::Hours(24)));
        d->mutable_import()->set_origin("legacy");
        v1::DecisionInput* decision = d->add_decisions();
        decision->set_purpose_id(kPurpose);
        decision->set_channel(v1::EMAIL);
        decision->set_state(v1::GRANTED);
      }
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    v1::ImportDecisionsResponse response;
    while (stream->Read(&response)) {
      for (const v1::ImportRowResult& r : response.results()) results.push_back(r);
    }
    return stream->Finish();
  };
  const double forwarded_before = Metric(entry, "assent_cluster_forwarded_total");
  std::vector<v1::ImportRowResult> first;
  grpc::Status imported = import(first);
  ASSERT_TRUE(imported.ok()) << imported.error_message();
  ASSERT_EQ(first.size(), subjects.size());
  for (size_t k = 0; k < first.size(); ++k) {
    EXPECT_EQ(first[k].line(), k + 1);
    EXPECT_EQ(first[k].outcome(), v1::ImportRowResult::IMPORTED)
        << "row " << k + 1 << ": " << first[k].code() << " " << first[k].message();
    EXPECT_EQ(first[k].sequence(), 1u);
  }
  // The rows of the partitions other instances own went there: at least one call per message
  // and other owner.
  EXPECT_GE(Metric(entry, "assent_cluster_forwarded_total") - forwarded_before, 4);
  std::vector<v1::ImportRowResult> again;
  imported = import(again);
  ASSERT_TRUE(imported.ok()) << imported.error_message();
  ASSERT_EQ(again.size(), subjects.size());
  for (const v1::ImportRowResult& r : again) {
    EXPECT_EQ(r.outcome(), v1::ImportRowResult::ALREADY_IMPORTED) << "line " << r.line();
  }
  // Every instance holds every imported grant.
  for (Instance* i : Alive()) {
    auto stub = v1::ConsentService::NewStub(i->process->channel());
    for (const std::string& subject : subjects) {
      v1::GetSubjectStateRequest request;
      request.set_tenant(kTenant);
      request.set_subject_id(subject);
      v1::SubjectState state;
      ASSERT_TRUE(testing::WaitFor(
          [&] {
            return stub->GetSubjectState(Context().get(), request, &state).ok() &&
                   state.sequence() == 1;
          },
          absl::Seconds(10)))
          << subject << " on " << i->node_id;
    }
  }

  // Notice version 2 becomes the minimum, through the second instance.
  Instance& other = *Alive()[1];
  v1::GetPurposeRequest get;
  get.set_name(absl::StrCat("tenants/", kTenant, "/purposes/", kPurpose));
  v1::Purpose purpose;
  ASSERT_TRUE(other.process->catalog().GetPurpose(Context().get(), get, &purpose).ok());
  purpose.set_notice_version(2);
  purpose.set_min_notice_version(2);
  v1::UpdatePurposeRequest update;
  *update.mutable_purpose() = purpose;
  grpc::Status raised = other.process->catalog().UpdatePurpose(Context().get(), update, &purpose);
  ASSERT_TRUE(raised.ok()) << raised.error_message();
  for (Instance* i : Alive()) {
    v1::ListRepermissionRequiredRequest list;
    list.set_tenant(kTenant);
    list.set_purpose_id(kPurpose);
    list.set_page_size(1000);
    v1::ListRepermissionRequiredResponse listed;
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          listed.Clear();
          return i->process->consent()
                     .ListRepermissionRequired(Context().get(), list, &listed)
                     .ok() &&
                 listed.complete() && listed.entries_size() == static_cast<int>(subjects.size());
        },
        absl::Seconds(60)))
        << i->node_id << " lists " << listed.entries_size() << ", complete " << listed.complete();
  }
  std::map<std::string, int> notices;  // event id -> times published
  testing::ConsumeAll(kafka_->bootstrap(), prefix_ + "consent.lifecycle.v1", absl::Seconds(8),
                      [&](const std::vector<testing::KafkaRecord>& records) {
                        notices.clear();
                        for (const testing::KafkaRecord& r : records) {
                          v1::RepermissionRequired notice;
                          if (notice.ParseFromString(r.value) &&
                              absl::StrContains(notice.event_id(), "/repermission/")) {
                            notices[notice.event_id()]++;
                          }
                        }
                        // Every notice is committed with its partition's cursor, so all are
                        // there once every instance says complete: read them all (a repeat
                        // would come after the first of each).
                        return false;
                      });
  EXPECT_EQ(notices.size(), subjects.size());
  for (const auto& [id, times] : notices) EXPECT_EQ(times, 1) << id;
}

// Tenant offboarding started through one instance: each partition's owner erases its own
// partitions' subjects (those with addresses in other partitions through the erasure of cluster
// mode), skips the one under a legal hold, then destroys its partitions' data keys. Every
// instance then reports the same summed progress, DONE, and shows every subject but the held one
// erased, with its addresses suppressed.
TEST_F(ClusterModeTest, OffboardingErasesEveryPartitionOnItsOwner) {
  for (int n = 1; n <= 3; ++n) StartInstance(n);
  ASSERT_EQ(AwaitOwnershipByAll().size(), static_cast<size_t>(kPartitions));
  SeedCatalog();
  constexpr int kSubjects = 24;
  constexpr int kLinked = 6;
  std::vector<std::string> subjects;
  for (int k = 0; k < kSubjects; ++k) subjects.push_back(absl::StrCat("leaving-", k));
  const std::string held = subjects[5];
  auto consent = [&](int n) { return v1::ConsentService::NewStub(Alive()[n]->process->channel()); };
  auto rights = [&](int n) {
    return v1::SubjectRightsService::NewStub(Alive()[n]->process->channel());
  };
  int over_two_owners = 0;
  const std::map<int32_t, std::string> owners = AwaitOwnership();
  for (int k = 0; k < kSubjects; ++k) {
    v1::RecordDecisionsRequest request;
    request.set_tenant(kTenant);
    request.mutable_target()->set_subject_id(subjects[k]);
    request.set_source("cluster-test");
    request.set_actor("signup");
    v1::DecisionInput* d = request.add_decisions();
    d->set_purpose_id(kPurpose);
    d->set_channel(v1::EMAIL);
    d->set_state(v1::GRANTED);
    v1::RecordDecisionsResponse response;
    grpc::Status s =
        consent(k % 3)->RecordDecisions(Context(absl::Seconds(20)).get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (k < kLinked) {
      v1::LinkContactPointRequest link;
      link.set_tenant(kTenant);
      link.set_subject_id(subjects[k]);
      *link.mutable_contact_point() = Email(absl::StrCat(subjects[k], "@example.com"));
      link.set_actor("crm");
      link.set_source("cluster-test");
      v1::LinkContactPointResponse linked;
      s = consent(k % 3)->LinkContactPoint(Context(absl::Seconds(20)).get(), link, &linked);
      ASSERT_TRUE(s.ok()) << s.error_message();
      over_two_owners += owners.at(PartitionOfSubject(subjects[k])) !=
                         owners.at(PartitionOfContact(linked.contact()));
    }
  }
  EXPECT_GT(over_two_owners, 0) << "no subject's address is on another owner";
  {
    v1::SetLegalHoldRequest hold;
    hold.set_tenant(kTenant);
    hold.set_subject_id(held);
    hold.set_hold(true);
    hold.set_reason("litigation 12");
    v1::SetLegalHoldResponse response;
    grpc::Status s = rights(0)->SetLegalHold(Context().get(), hold, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  v1::OffboardTenantRequest offboard;
  offboard.set_tenant(kTenant);
  offboard.set_confirm_tenant(kTenant);
  offboard.set_reason("contract ended");
  v1::OffboardingStatus started;
  grpc::Status s = rights(2)->OffboardTenant(Context().get(), offboard, &started);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(started.state(), v1::OffboardingStatus::RUNNING);

  for (int n = 0; n < 3; ++n) {
    v1::GetOffboardingRequest get;
    get.set_tenant(kTenant);
    v1::OffboardingStatus status;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          status.Clear();
          return rights(n)->GetOffboarding(Context().get(), get, &status).ok() &&
                 status.state() == v1::OffboardingStatus::DONE;
        },
        absl::Seconds(60)))
        << Alive()[n]->node_id << ": " << status.ShortDebugString();
    EXPECT_EQ(status.subjects_scanned(), static_cast<uint64_t>(kSubjects)) << Alive()[n]->node_id;
    EXPECT_EQ(status.subjects_erased(), static_cast<uint64_t>(kSubjects - 1));
    EXPECT_EQ(status.subjects_held(), 1u);
    EXPECT_EQ(status.reason(), "contract ended");
  }
  for (int n = 0; n < 3; ++n) {
    for (int k = 0; k < kSubjects; ++k) {
      v1::GetErasureRequest get;
      get.set_tenant(kTenant);
      get.set_subject_id(subjects[k]);
      v1::ErasureStub erasure;
      const bool erased = testing::WaitFor(
          [&] { return rights(n)->GetErasure(Context().get(), get, &erasure).ok(); },
          absl::Seconds(subjects[k] == held ? 1 : 20));
      EXPECT_EQ(erased, subjects[k] != held) << subjects[k] << " on " << Alive()[n]->node_id;
      if (k >= kLinked || subjects[k] == held) continue;
      v1::GetContactPointStateRequest cr;
      cr.set_tenant(kTenant);
      *cr.mutable_contact_point() = Email(absl::StrCat(subjects[k], "@example.com"));
      v1::ContactPointState contact;
      EXPECT_TRUE(testing::WaitFor(
          [&] {
            return consent(n)->GetContactPointState(Context().get(), cr, &contact).ok() &&
                   contact.linked_subject_id().empty() && contact.suppressions_size() == 1 &&
                   contact.suppressions(0).kind() == v1::Suppression::ERASED;
          },
          absl::Seconds(20)))
          << subjects[k] << "'s address on " << Alive()[n]->node_id;
    }
  }
}

// Proof of enforcement: each instance proves the withdrawals of the partitions it owns, from the
// changes topic. Withdrawals written through every instance are shown applied by the SMS sender
// on every instance. Then, with the sender stopped, a withdrawal stays pending on its owner; the
// owner is killed (SIGKILL); once the sender runs again, the partition's new owner records the
// application from the pending entry it took over.
TEST_F(ClusterModeTest, WithdrawalsAreProvenEnforcedAcrossOwnersAndAFailover) {
  extra_args_ = {"--enforcement-senders",          "sms", "--enforcement-alert-after", "2s",
                 "--enforcement-instance-timeout", "3s"};
  for (int n = 1; n <= 3; ++n) StartInstance(n);
  ASSERT_EQ(AwaitOwnershipByAll().size(), static_cast<size_t>(kPartitions));
  SeedCatalog();
  TempDir sender_dir;
  auto start_sender = [&](testing::SenderProcess& sender) {
    sender.Start({"--kafka-brokers", kafka_->bootstrap(), "--kafka-topic-prefix", prefix_,
                  "--service", Alive().front()->process->address(), "--contact-key-secret-file",
                  secret_->Sub("contact.secret"), "--sms-spool-dir", sender_dir.Sub("spool"),
                  "--enforcement-report-interval", "250ms"});
  };
  auto sms = std::make_unique<testing::SenderProcess>(SMS_SENDER_PATH, sender_dir.path(), "sms");
  ASSERT_NO_FATAL_FAILURE(start_sender(*sms));
  auto record = [&](int n, const std::string& subject, v1::ConsentState state) {
    v1::RecordDecisionsRequest request;
    request.set_tenant(kTenant);
    request.mutable_target()->set_subject_id(subject);
    request.set_source("cluster-test");
    request.set_actor("prefs");
    v1::DecisionInput* d = request.add_decisions();
    d->set_purpose_id(kPurpose);
    d->set_channel(v1::EMAIL);
    d->set_state(state);
    v1::RecordDecisionsResponse response;
    auto stub = v1::ConsentService::NewStub(Alive()[n % Alive().size()]->process->channel());
    grpc::Status s = stub->RecordDecisions(Context(absl::Seconds(20)).get(), request, &response);
    EXPECT_TRUE(s.ok()) << subject << ": " << s.error_message();
  };
  // The subject's withdrawal as `i` shows it: applied by sms, or (`applied` false) pending.
  auto proven = [&](Instance& i, const std::string& subject, bool applied) {
    auto stub = v1::ConsentService::NewStub(i.process->channel());
    v1::GetEnforcementProofRequest request;
    request.set_tenant(kTenant);
    request.mutable_target()->set_subject_id(subject);
    v1::GetEnforcementProofResponse response;
    if (!stub->GetEnforcementProof(Context().get(), request, &response).ok()) return false;
    if (response.withdrawals_size() != 1) return false;
    const v1::WithdrawalProof& w = response.withdrawals(0);
    return w.senders_size() == 1 && w.senders(0).sender() == "sms" &&
           w.senders(0).has_applied_time() == applied;
  };
  const std::vector<std::string> subjects = Subjects(12);
  for (size_t k = 0; k < subjects.size(); ++k) {
    record(static_cast<int>(k), subjects[k], v1::GRANTED);
    record(static_cast<int>(k + 1), subjects[k], v1::WITHDRAWN);
  }
  for (Instance* i : Alive()) {
    for (const std::string& subject : subjects) {
      EXPECT_TRUE(testing::WaitFor([&] { return proven(*i, subject, true); }, absl::Seconds(30)))
          << subject << " on " << i->node_id;
    }
  }
  double enforced = 0;
  for (Instance* i : Alive()) {
    enforced += Metric(*i, "assent_withdrawal_enforced_seconds_count");
    EXPECT_EQ(Metric(*i, "assent_withdrawals_unenforced"), 0) << i->node_id;
  }
  EXPECT_EQ(enforced, static_cast<double>(subjects.size())) << "each applied once, by its owner";

  // The sender stops; a withdrawal is left pending on its owner, which is then killed.
  EXPECT_EQ(sms->Stop(), 0) << sms->log();
  const std::string late = "cust-late";
  record(0, late, v1::GRANTED);
  record(1, late, v1::WITHDRAWN);
  const std::map<int32_t, std::string> owners = AwaitOwnership();
  Instance* owner = nullptr;
  for (Instance* i : Alive()) {
    if (i->node_id == owners.at(PartitionOfSubject(late))) owner = i;
  }
  ASSERT_NE(owner, nullptr);
  ASSERT_TRUE(testing::WaitFor([&] { return proven(*owner, late, false); }, absl::Seconds(30)))
      << "the late withdrawal is not pending on its owner " << owner->node_id;
  KillInstance(*owner);
  ASSERT_EQ(AwaitOwnership().size(), static_cast<size_t>(kPartitions));
  sms = std::make_unique<testing::SenderProcess>(SMS_SENDER_PATH, sender_dir.path(), "sms2");
  ASSERT_NO_FATAL_FAILURE(start_sender(*sms));
  for (Instance* i : Alive()) {
    EXPECT_TRUE(testing::WaitFor([&] { return proven(*i, late, true); }, absl::Seconds(30)))
        << "the late withdrawal on " << i->node_id;
  }
  EXPECT_EQ(sms->Stop(), 0) << sms->log();
}

TEST_F(ClusterModeTest, KillOwnerUnderLoadLosesNoAcknowledgedWrite) {
  const char* env = std::getenv("ASSENT_CLUSTER_KILLS");
  const int kills = env != nullptr ? std::max(1, std::atoi(env)) : 2;
  for (int i = 1; i <= 3; ++i) StartInstance(i);
  ASSERT_FALSE(AwaitOwnership().empty());
  SeedCatalog();
  const std::vector<std::string> subjects = Subjects(48);
  StartLoad(subjects, 12);
  absl::SleepFor(absl::Seconds(2));
  std::vector<double> failovers;
  int next_index = 4;
  for (int k = 0; k < kills; ++k) {
    std::map<int32_t, std::string> owners = AwaitOwnership();
    ASSERT_FALSE(owners.empty()) << "no stable ownership before kill " << k;
    std::set<int32_t> moved;
    Instance* victim = BusiestOwner(owners, moved);
    ASSERT_NE(victim, nullptr);
    const uint64_t acked_before = [&] {
      std::lock_guard<std::mutex> lock(log_.mu);
      return log_.acknowledged;
    }();
    const absl::Time killed = absl::Now();
    KillInstance(*victim);
    // Writes to the moved partitions fail (or wait) only until a survivor owns them.
    std::optional<absl::Duration> worst = AwaitRecovery(killed, moved);
    ASSERT_TRUE(worst.has_value()) << "writes did not resume within 30 s";
    failovers.push_back(absl::ToDoubleSeconds(*worst));
    std::printf("[cluster] kill %d of %s (%zu partitions): writes to them resumed after %.2f s\n",
                k + 1, victim->node_id.c_str(), moved.size(), absl::ToDoubleSeconds(*worst));
    {
      std::lock_guard<std::mutex> lock(log_.mu);
      EXPECT_GT(log_.acknowledged, acked_before);
    }
    // Back to three instances for the next kill, once the new one has joined the group (it
    // joins after replaying the changelog; joining during the next failover would add a
    // rebalance to it).
    if (k + 1 < kills) {
      Instance& added = StartInstance(next_index++);
      ASSERT_TRUE(AwaitOwnsAPartition(added, absl::Seconds(60)))
          << added.node_id << " took no partition";
    }
  }
  absl::SleepFor(absl::Seconds(1));
  StopLoad();
  std::sort(failovers.begin(), failovers.end());
  std::printf(
      "[cluster] failover over %zu kills: p50 %.2f s, max %.2f s; %llu writes "
      "acknowledged, %llu failed\n",
      failovers.size(), failovers[failovers.size() / 2], failovers.back(),
      static_cast<unsigned long long>(log_.acknowledged),
      static_cast<unsigned long long>(log_.failed));
  VerifyConsistent(subjects);
}

TEST_F(ClusterModeTest, FencedFormerOwnerWritesNothing) {
  for (int i = 1; i <= 3; ++i) StartInstance(i);
  std::map<int32_t, std::string> owners = AwaitOwnership();
  ASSERT_FALSE(owners.empty());
  SeedCatalog();
  // A subject of a partition owned by n1.
  Instance& zombie = *instances_[0];
  std::string subject;
  for (int k = 0; subject.empty(); ++k) {
    const std::string s = absl::StrCat("zombie-", k);
    if (owners[PartitionOfSubject(s)] == zombie.node_id) subject = s;
  }
  const int32_t partition = PartitionOfSubject(subject);
  auto record = [&](Instance& at, v1::ConsentState state, absl::Duration timeout) {
    v1::RecordDecisionsRequest request;
    request.set_tenant(kTenant);
    request.mutable_target()->set_subject_id(subject);
    request.set_source("cluster-test");
    request.set_actor("fence");
    v1::DecisionInput* d = request.add_decisions();
    d->set_purpose_id(kPurpose);
    d->set_channel(v1::EMAIL);
    d->set_state(state);
    v1::RecordDecisionsResponse response;
    auto stub = v1::ConsentService::NewStub(at.process->channel());
    return stub->RecordDecisions(Context(timeout).get(), request, &response);
  };
  ASSERT_TRUE(record(zombie, v1::GRANTED, absl::Seconds(10)).ok());

  // Freeze the owner with writes on their way to it.
  zombie.process->Signal(SIGSTOP);
  std::vector<std::thread> pending;
  std::atomic<int> pending_ok{0};
  std::atomic<int> pending_failed{0};
  for (int k = 0; k < 4; ++k) {
    pending.emplace_back([&] {
      if (record(zombie, v1::WITHDRAWN, absl::Seconds(40)).ok()) {
        pending_ok++;
      } else {
        pending_failed++;
      }
    });
  }
  // The survivors take its partitions.
  Instance& survivor = *instances_[1];
  const bool moved = testing::WaitFor(
      [&] {
        for (Instance* i : {instances_[1].get(), instances_[2].get()}) {
          absl::StatusOr<v1::ClusterStatus> status = Status(*i);
          if (status.ok() && status->partitions(partition).owned_here()) return true;
        }
        return false;
      },
      absl::Seconds(30));
  ASSERT_TRUE(moved) << "the frozen owner's partition did not move";
  // The instance that claimed it, finding the former owner gone from the group, ended its
  // transactions (fenced its transactional ids) instead of waiting for the transaction timeout.
  const std::string fenced =
      absl::StrCat("ended the transactions of a departed owner\" node_id=", zombie.node_id);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        for (Instance* i : {instances_[1].get(), instances_[2].get()}) {
          if (absl::StrContains(i->process->log(), fenced)) return true;
        }
        return false;
      },
      absl::Seconds(10)))
      << "no survivor logged: " << fenced;
  // The new owner extends the history.
  ASSERT_TRUE(record(survivor, v1::GRANTED, absl::Seconds(20)).ok());
  const auto before_resume = History(survivor, subject);
  zombie.process->Signal(SIGCONT);
  for (auto& t : pending) t.join();
  std::printf(
      "[cluster] writes pending at the frozen owner: %d failed, %d succeeded through the "
      "new owner\n",
      pending_failed.load(), pending_ok.load());
  // Whatever the former owner did after it resumed, the history is one chain on every instance,
  // holding the new owner's record at the sequence it was given, and the events match it.
  VerifyConsistent({subject});
  const auto after = History(survivor, subject);
  for (const auto& [sequence, hash] : before_resume) {
    EXPECT_EQ(after.at(sequence), hash) << "record " << sequence << " was rewritten";
  }
  EXPECT_EQ(after.size(), before_resume.size() + pending_ok.load());
}

TEST_F(ClusterModeTest, BrokerKilledDuringLoadLosesNothing) {
  for (int i = 1; i <= 3; ++i) StartInstance(i);
  ASSERT_FALSE(AwaitOwnership().empty());
  SeedCatalog();
  const std::vector<std::string> subjects = Subjects(24);
  StartLoad(subjects, 8);
  absl::SleepFor(absl::Seconds(2));
  ASSERT_TRUE(kafka_->KillNode(2)) << kafka_->error();
  const absl::Time killed = absl::Now();
  // Writes stall while the broker's partition leaderships (and coordinators, if it held them)
  // move, then go on with two brokers.
  std::set<int32_t> all;
  for (int32_t p = 0; p < kPartitions; ++p) all.insert(p);
  std::map<int32_t, absl::Duration> resumed;
  testing::WaitFor(
      [&] {
        resumed = RecoveryTimes(killed + absl::Seconds(1), all);
        return resumed.size() == all.size();
      },
      absl::Seconds(40));
  EXPECT_EQ(resumed.size(), all.size()) << "writes to some partitions did not resume";
  absl::Duration worst;
  for (const auto& [p, d] : resumed) worst = std::max(worst, d + absl::Seconds(1));
  std::printf("[cluster] broker 2 killed: writes to every partition again after %.2f s\n",
              absl::ToDoubleSeconds(worst));
  absl::SleepFor(absl::Seconds(2));
  StopLoad();
  ASSERT_TRUE(kafka_->StartNode(2)) << kafka_->error();
  VerifyConsistent(subjects);
}

TEST_F(ClusterModeTest, FourthInstanceTakesPartitions) {
  for (int i = 1; i <= 3; ++i) StartInstance(i);
  ASSERT_FALSE(AwaitOwnership().empty());
  SeedCatalog();
  const std::vector<std::string> subjects = Subjects(24);
  StartLoad(subjects, 8);
  absl::SleepFor(absl::Seconds(2));
  uint64_t failed_before = 0;
  {
    std::lock_guard<std::mutex> lock(log_.mu);
    failed_before = log_.failed;
  }
  Instance& fourth = StartInstance(4);
  // n4 joins the group once its replica has caught up; then the partitions are spread anew.
  (void)AwaitOwnsAPartition(fourth, absl::Seconds(40));
  std::map<int32_t, std::string> owners = AwaitOwnership();
  ASSERT_FALSE(owners.empty());
  int owned_by_fourth = 0;
  for (const auto& [p, owner] : owners) owned_by_fourth += owner == "n4" ? 1 : 0;
  EXPECT_GT(owned_by_fourth, 0) << "the fourth instance owns nothing";
  absl::SleepFor(absl::Seconds(2));
  StopLoad();
  std::printf(
      "[cluster] adding n4 (%d partitions moved to it): %llu writes failed during the "
      "handover\n",
      owned_by_fourth, static_cast<unsigned long long>(log_.failed - failed_before));
  // A handover answers UNAVAILABLE only when a call waited longer than cluster.forward_timeout.
  EXPECT_EQ(log_.failed, failed_before);
  VerifyConsistent(subjects);
}

// cluster.standbys 1: each partition is kept in full by its owner and one standby, the instance
// the range assignor gives it to next; the others keep only its states. Reads of a subject's
// history (ListHistory, VerifyHistory, ExportSubject) through an instance that does not keep it
// are answered by the owner. Killing the busiest owner under load moves each of its partitions to
// its standby (no replay from the changelog's start), and a fourth instance replays the
// partitions it will own before it joins; afterwards every acknowledged write is there, through
// every instance.
TEST_F(ClusterModeTest, StandbysKeepThePartitionsTheAssignorMovesAndServeTheirHistory) {
  standbys_ = 1;
  for (int i = 1; i <= 3; ++i) StartInstance(i);
  ASSERT_FALSE(AwaitOwnership().empty());
  // Placed once the group settles: every partition kept in full by its owner and one standby
  // (the range assignor makes a middle instance the standby of both its neighbours' partitions,
  // so the copies are not spread evenly), every instance agreeing on the placement.
  std::map<std::string, v1::ClusterStatus> placed;
  auto await_placed = [&](size_t instances) {
    return testing::WaitFor(
        [&] {
          placed.clear();
          int copies = 0;
          std::optional<std::vector<std::string>> agreed;
          for (Instance* i : Alive()) {
            absl::StatusOr<v1::ClusterStatus> status = Status(*i);
            if (!status.ok() || status->standbys() != 1) return false;
            std::vector<std::string> placement;
            for (const v1::ClusterPartition& p : status->partitions()) {
              if (p.standbys_size() != 1 || p.standbys(0) == p.owner()) return false;
              const bool keeps = p.owner() == i->node_id || p.standbys(0) == i->node_id;
              if (p.replicated_here() != keeps) return false;
              copies += keeps ? 1 : 0;
              placement.push_back(p.owner() + "+" + p.standbys(0));
            }
            if (agreed.has_value() && placement != *agreed) return false;
            agreed = placement;
            placed[i->node_id] = *status;
          }
          return placed.size() == instances && copies == 2 * kPartitions;
        },
        absl::Seconds(60));
  };
  ASSERT_TRUE(await_placed(3)) << "standbys not placed";
  SeedCatalog();
  const std::vector<std::string> subjects = Subjects(48);
  StartLoad(subjects, 12);
  absl::SleepFor(absl::Seconds(3));

  // A subject whose partition the entry instance does not keep: its history comes from the owner.
  Instance* outsider = nullptr;
  std::string subject;
  for (const std::string& s : subjects) {
    for (Instance* i : Alive()) {
      if (!placed[i->node_id].partitions(PartitionOfSubject(s)).replicated_here()) {
        outsider = i;
        subject = s;
      }
    }
  }
  ASSERT_NE(outsider, nullptr);
  const std::string owner =
      placed[outsider->node_id].partitions(PartitionOfSubject(subject)).owner();
  Instance* owner_instance = nullptr;
  for (Instance* i : Alive()) {
    if (i->node_id == owner) owner_instance = i;
  }
  ASSERT_NE(owner_instance, nullptr);
  StopLoad();
  // More history for it, written through the outsider (forwarded to the owner).
  auto outsider_stub = v1::ConsentService::NewStub(outsider->process->channel());
  for (int k = 0; k < 6; ++k) {
    v1::RecordDecisionsRequest request;
    request.set_tenant(kTenant);
    request.mutable_target()->set_subject_id(subject);
    request.set_source("cluster-test");
    request.set_actor("standbys");
    // Identifying evidence, sealed under the subject's data key (kept by every instance).
    request.mutable_evidence()->set_ip_address("203.0.113.7");
    v1::DecisionInput* d = request.add_decisions();
    d->set_purpose_id(kPurpose);
    d->set_channel(v1::EMAIL);
    d->set_state(k % 2 == 0 ? v1::GRANTED : v1::WITHDRAWN);
    v1::RecordDecisionsResponse response;
    grpc::Status s = outsider_stub->RecordDecisions(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::lock_guard<std::mutex> lock(log_.mu);
    log_.acked[subject] = std::max(log_.acked[subject], response.sequence());
  }
  // Its state, read where its history is not kept, reveals the evidence (the data key is there).
  v1::GetSubjectStateRequest state_request;
  state_request.set_tenant(kTenant);
  state_request.set_subject_id(subject);
  v1::SubjectState state;
  // Within the replica lag: the last write was acknowledged by the owner.
  testing::WaitFor(
      [&] {
        state.Clear();
        return outsider_stub->GetSubjectState(Context().get(), state_request, &state).ok() &&
               state.sequence() == log_.acked[subject];
      },
      absl::Seconds(10));
  ASSERT_EQ(state.sequence(), log_.acked[subject]);
  ASSERT_EQ(state.decisions_size(), 1);
  EXPECT_EQ(state.decisions(0).evidence().ip_address(), "203.0.113.7");
  EXPECT_FALSE(state.decisions(0).evidence().shredded());
  // Its history, read through the outsider, is the owner's answer (forwarded: the outsider's
  // forward counter moves; the owner's own read forwards nothing).
  const double forwarded_before = Metric(*outsider, "assent_cluster_forwarded_total");
  const double owner_forwarded_before = Metric(*owner_instance, "assent_cluster_forwarded_total");
  std::map<uint64_t, std::string> through_outsider = History(*outsider, subject);
  ASSERT_FALSE(through_outsider.empty()) << subject << " through " << outsider->node_id;
  EXPECT_GT(Metric(*outsider, "assent_cluster_forwarded_total"), forwarded_before);
  EXPECT_EQ(through_outsider, History(*owner_instance, subject));
  EXPECT_EQ(Metric(*owner_instance, "assent_cluster_forwarded_total"), owner_forwarded_before);
  auto export_through = [&](Instance& i, std::vector<v1::ExportChunk>& chunks) {
    auto stub = v1::ExportService::NewStub(i.process->channel());
    v1::ExportSubjectRequest request;
    request.set_tenant(kTenant);
    request.set_subject_id(subject);
    request.set_page_size(2);  // several chunks, each read from the owner under flow control
    auto ctx = Context();
    auto reader = stub->ExportSubject(ctx.get(), request);
    v1::ExportChunk chunk;
    while (reader->Read(&chunk)) chunks.push_back(chunk);
    return reader->Finish();
  };
  std::vector<v1::ExportChunk> exported;
  grpc::Status export_status = export_through(*outsider, exported);
  ASSERT_TRUE(export_status.ok()) << export_status.error_message();
  ASSERT_GE(exported.size(), 5u);
  EXPECT_TRUE(exported.front().has_header());
  EXPECT_TRUE(exported.back().has_trailer());
  size_t exported_records = 0;
  for (const v1::ExportChunk& c : exported) exported_records += c.history().records_size();
  EXPECT_EQ(exported_records, through_outsider.size());
  std::printf("[cluster] %s through %s (not kept there): %zu history records, %zu export chunks\n",
              subject.c_str(), outsider->node_id.c_str(), through_outsider.size(), exported.size());

  // Kill the owner of the most partitions: each goes to the instance placed as its standby.
  StartLoad(subjects, 12);
  absl::SleepFor(absl::Seconds(1));
  std::map<int32_t, std::string> owners = AwaitOwnership();
  ASSERT_FALSE(owners.empty());
  std::set<int32_t> moved;
  Instance* victim = BusiestOwner(owners, moved);
  ASSERT_NE(victim, nullptr);
  std::map<int32_t, std::string> standby_of;
  for (int32_t p : moved) standby_of[p] = placed[victim->node_id].partitions(p).standbys(0);
  const absl::Time killed = absl::Now();
  KillInstance(*victim);
  std::optional<absl::Duration> worst = AwaitRecovery(killed, moved);
  ASSERT_TRUE(worst.has_value()) << "writes did not resume within 30 s";
  std::printf(
      "[cluster] kill of %s with standbys 1: writes to its %zu partitions resumed after "
      "%.2f s\n",
      victim->node_id.c_str(), moved.size(), absl::ToDoubleSeconds(*worst));
  owners = AwaitOwnership();
  ASSERT_FALSE(owners.empty());
  for (const auto& [p, standby] : standby_of) {
    EXPECT_EQ(owners[p], standby) << "partition " << p << " went to an instance that was not its "
                                  << "standby";
  }
  // Two instances left: each keeps everything.
  ASSERT_TRUE(await_placed(2)) << "standbys not placed again";

  // A fourth instance replays the partitions it will own, then joins.
  Instance& added = StartInstance(4);
  ASSERT_TRUE(AwaitOwnsAPartition(added, absl::Seconds(60))) << "n4 took no partition";
  ASSERT_TRUE(await_placed(3)) << "standbys not placed with n4";
  EXPECT_TRUE(absl::StrContains(added.process->log(),
                                "replaying the partitions this instance will own before joining"));
  absl::SleepFor(absl::Seconds(1));
  StopLoad();
  std::printf("[cluster] standbys 1: %llu writes acknowledged, %llu failed\n",
              static_cast<unsigned long long>(log_.acknowledged),
              static_cast<unsigned long long>(log_.failed));
  // Through every instance, the history of every subject (forwarded where not kept).
  VerifyConsistent(subjects);
  // The report aggregates (applied from every partition by every instance, each record's once)
  // agree everywhere, once every replica has applied everything (within the replica lag).
  auto report_of = [&](Instance& i, v1::GetConsentReportResponse& response) {
    auto stub = v1::ReportService::NewStub(i.process->channel());
    v1::GetConsentReportRequest request;
    request.set_tenant(kTenant);
    request.set_start_day(FormatDay(absl::Now() - absl::Hours(48)));
    request.set_end_day(FormatDay(absl::Now() + absl::Hours(48)));
    grpc::Status s = stub->GetConsentReport(Context().get(), request, &response);
    response.clear_rows_read();
    return s;
  };
  std::map<std::string, v1::GetConsentReportResponse> reports;
  const bool agreed = testing::WaitFor(
      [&] {
        reports.clear();
        for (Instance* i : Alive()) {
          if (!report_of(*i, reports[i->node_id]).ok()) return false;
        }
        for (const auto& [node, response] : reports) {
          if (response.SerializeAsString() != reports.begin()->second.SerializeAsString()) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(20));
  for (const auto& [node, response] : reports) {
    EXPECT_GT(response.total().grants() + response.total().withdrawals(), 0) << node;
  }
  EXPECT_TRUE(agreed) << "the instances' reports differ";
  for (const auto& [node, response] : reports) {
    EXPECT_EQ(response.total().ShortDebugString(),
              reports.begin()->second.total().ShortDebugString())
        << node;
  }
}

// The sweeper runs on every instance over the partitions it owns: grants expire once each, on the
// owner of their subject's partition, also for the partitions of an owner killed before they
// were due.
TEST_F(ClusterModeTest, GrantsExpireOnceEachOnTheirPartitionsOwner) {
  for (int i = 1; i <= 3; ++i) StartInstance(i);
  std::map<int32_t, std::string> owners = AwaitOwnership();
  ASSERT_FALSE(owners.empty());
  SeedCatalog();
  const std::vector<std::string> subjects = Subjects(18);
  // Each subject's first write (the first transaction over a partition and topic is slow) is a
  // grant without expiry, the second one expiring some seconds later.
  absl::Time first_due = absl::InfiniteFuture();
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < subjects.size(); ++k) {
      Instance& entry = *instances_[k % instances_.size()];
      v1::RecordDecisionsRequest request;
      request.set_tenant(kTenant);
      request.mutable_target()->set_subject_id(subjects[k]);
      request.set_source("cluster-test");
      request.set_actor("sweep");
      v1::DecisionInput* d = request.add_decisions();
      d->set_purpose_id(kPurpose);
      d->set_channel(v1::EMAIL);
      d->set_state(v1::GRANTED);
      if (pass == 1) {
        // Far enough ahead for the 18 writes and the kill on two busy cores.
        const absl::Time due = absl::Now() + absl::Seconds(8);
        first_due = std::min(first_due, due);
        *d->mutable_expire_time() = ToProto(due);
      }
      v1::RecordDecisionsResponse response;
      auto stub = v1::ConsentService::NewStub(entry.process->channel());
      grpc::Status s = stub->RecordDecisions(Context(absl::Seconds(20)).get(), request, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      std::lock_guard<std::mutex> lock(log_.mu);
      log_.acked[subjects[k]] = 3;  // two grants, then the expiry of the second
    }
  }
  // The owner of the most partitions dies before anything is due: its entries are swept by the
  // instances that take its partitions.
  std::map<std::string, int> owned;
  for (const auto& [p, owner] : owners) owned[owner]++;
  std::string victim = owned.begin()->first;
  for (const auto& [node, n] : owned) {
    if (n > owned[victim]) victim = node;
  }
  for (auto& i : instances_) {
    if (i->node_id == victim) KillInstance(*i);
  }
  ASSERT_LT(absl::Now(), first_due) << "a grant was due before the owner was killed";
  // Every history on every survivor: the grants and one DECISIONS_EXPIRED by the sweeper; the
  // events match the histories, once each.
  VerifyConsistent(subjects);
  for (const std::string& subject : subjects) {
    auto stub = v1::ConsentService::NewStub(Alive().front()->process->channel());
    v1::ListHistoryRequest request;
    request.set_tenant(kTenant);
    request.mutable_target()->set_subject_id(subject);
    v1::ListHistoryResponse response;
    ASSERT_TRUE(stub->ListHistory(Context().get(), request, &response).ok());
    ASSERT_EQ(response.records_size(), 3) << subject;
    EXPECT_EQ(response.records(2).kind(), v1::DECISIONS_EXPIRED) << subject;
    EXPECT_EQ(response.records(2).actor(), "assent") << subject;
  }
}

// Links whose subject and contact point are in partitions of different owners run as an intent
// on the subject's owner, the contact point's half on its owner, and the subject's half
// (docs/SCALING.md). Through every instance, concurrently: each link and unlink is whole on every
// instance (both records, both histories verify and agree, the events match them), two subjects
// racing for one address cannot both have it, and a link whose contact point's owner froze
// mid-call is finished by the subject partition's owner once the partition has moved.
TEST_F(ClusterModeTest, LinksOverTwoOwnersAreWholeOnEveryInstanceAndRecover) {
  for (int i = 1; i <= 3; ++i) StartInstance(i);
  std::map<int32_t, std::string> owners = AwaitOwnershipByAll();
  ASSERT_FALSE(owners.empty());
  SeedCatalog();

  constexpr int kPairs = 12;
  struct Pair {
    std::string subject;
    std::string address;
    v1::ContactRef contact;
    bool linked = false;
  };
  std::vector<Pair> pairs(kPairs);
  for (int k = 0; k < kPairs; ++k) {
    pairs[k].subject = absl::StrCat("linker-", k);
    pairs[k].address = absl::StrCat("linker-", k, "@example.com");
  }
  auto consent = [&](int n) { return v1::ConsentService::NewStub(Alive()[n]->process->channel()); };
  auto link_request = [](const Pair& pair, const std::string& key) {
    v1::LinkContactPointRequest request;
    request.set_tenant(kTenant);
    request.set_subject_id(pair.subject);
    *request.mutable_contact_point() = Email(pair.address);
    request.set_actor("crm");
    request.set_source("cluster-test");
    request.set_idempotency_key(key);
    return request;
  };
  // Each pair through another instance, all at once.
  auto run_all = [&](auto call) {
    std::vector<std::thread> threads;
    std::vector<grpc::Status> statuses(kPairs);
    for (int k = 0; k < kPairs; ++k) {
      threads.emplace_back([&, k] { statuses[k] = call(k, consent(k % 3)); });
    }
    for (auto& t : threads) t.join();
    for (int k = 0; k < kPairs; ++k) {
      EXPECT_TRUE(statuses[k].ok()) << pairs[k].subject << ": " << statuses[k].error_message();
    }
  };
  run_all([&](int k, auto stub) {
    v1::LinkContactPointResponse response;
    grpc::Status s = stub->LinkContactPoint(Context(absl::Seconds(20)).get(),
                                            link_request(pairs[k], ""), &response);
    pairs[k].contact = response.contact();
    pairs[k].linked = s.ok();
    return s;
  });
  int over_two_owners = 0;
  for (const Pair& pair : pairs) {
    over_two_owners +=
        owners[PartitionOfSubject(pair.subject)] != owners[PartitionOfContact(pair.contact)];
  }
  std::printf("[cluster] %d of %d links had subject and contact point on different owners\n",
              over_two_owners, kPairs);
  ASSERT_GT(over_two_owners, 0) << "no pair spans two owners: the test proves nothing";

  // Every instance: both sides of every pair agree with what was acknowledged, both histories
  // verify, are gapless and the same everywhere, and the changes topic holds each record once.
  auto verify = [&] {
    std::map<std::string, std::map<uint64_t, std::string>> histories;  // by target
    for (const Pair& pair : pairs) {
      for (Instance* i : Alive()) {
        auto stub = v1::ConsentService::NewStub(i->process->channel());
        const bool agrees = testing::WaitFor(
            [&] {
              v1::GetSubjectStateRequest sr;
              sr.set_tenant(kTenant);
              sr.set_subject_id(pair.subject);
              v1::SubjectState subject;
              v1::GetContactPointStateRequest cr;
              cr.set_tenant(kTenant);
              *cr.mutable_contact_point() = Email(pair.address);
              v1::ContactPointState contact;
              if (!stub->GetSubjectState(Context().get(), sr, &subject).ok() ||
                  !stub->GetContactPointState(Context().get(), cr, &contact).ok()) {
                return false;
              }
              const bool listed =
                  subject.contacts_size() == 1 && subject.contacts(0).hash() == pair.contact.hash();
              return listed == pair.linked && subject.contacts_size() == (pair.linked ? 1 : 0) &&
                     (contact.linked_subject_id() == pair.subject) == pair.linked &&
                     (pair.linked || contact.linked_subject_id().empty());
            },
            absl::Seconds(20));
        ASSERT_TRUE(agrees) << pair.subject << " on " << i->node_id << " (linked " << pair.linked
                            << ")";
        for (bool on_contact : {false, true}) {
          v1::Target target;
          if (on_contact) {
            *target.mutable_contact_point() = Email(pair.address);
          } else {
            target.set_subject_id(pair.subject);
          }
          v1::VerifyHistoryRequest request;
          request.set_tenant(kTenant);
          *request.mutable_target() = target;
          v1::VerifyHistoryResponse response;
          ASSERT_TRUE(stub->VerifyHistory(Context().get(), request, &response).ok());
          ASSERT_TRUE(response.valid())
              << pair.subject << " on " << i->node_id << ": " << response.problem();
          const std::string name = on_contact ? pair.contact.hash() : pair.subject;
          std::map<uint64_t, std::string> h = History(*i, target);
          uint64_t expect = 1;
          for (const auto& [sequence, hash] : h) ASSERT_EQ(sequence, expect++) << name;
          if (histories.contains(name)) {
            ASSERT_EQ(h, histories[name]) << name << " differs on " << i->node_id;
          }
          histories[name] = h;
        }
      }
    }
    size_t expected = 0;
    for (const auto& [name, h] : histories) expected += h.size();
    // The topic holds other targets' events too (the racers'): read until every record's is in.
    std::map<std::pair<std::string, uint64_t>, int> seen;
    auto count = [&](const std::vector<testing::KafkaRecord>& records) {
      seen.clear();
      for (const testing::KafkaRecord& r : records) {
        v1::ConsentChanged event;
        if (!event.ParseFromString(r.value)) continue;
        const std::string name = event.target().has_contact() ? event.target().contact().hash()
                                                              : event.target().subject_id();
        if (histories.contains(name)) seen[{name, event.sequence()}]++;
      }
      return seen.size();
    };
    count(testing::ConsumeAll(
        kafka_->bootstrap(), prefix_ + "consent.changes.v1", absl::Seconds(60),
        [&](const std::vector<testing::KafkaRecord>& r) { return count(r) >= expected; }));
    for (const auto& [name, h] : histories) {
      for (const auto& [sequence, hash] : h) {
        EXPECT_EQ((seen[{name, sequence}]), 1) << name << " #" << sequence;
      }
    }
  };
  verify();

  // Every other pair unlinked, again through every instance at once.
  run_all([&](int k, auto stub) {
    if (k % 2 == 1) return grpc::Status::OK;
    v1::UnlinkContactPointRequest request;
    request.set_tenant(kTenant);
    request.set_subject_id(pairs[k].subject);
    *request.mutable_contact_point() = Email(pairs[k].address);
    request.set_actor("crm");
    request.set_source("cluster-test");
    v1::UnlinkContactPointResponse response;
    grpc::Status s = stub->UnlinkContactPoint(Context(absl::Seconds(20)).get(), request, &response);
    if (s.ok()) pairs[k].linked = false;
    return s;
  });
  verify();

  // Two subjects racing for one address: one gets it, the other is refused, nothing half-done.
  {
    // An address of an unlinked pair, and two subjects of other partitions than its own.
    const Pair& free_pair = pairs[0];
    const int32_t contested = PartitionOfContact(free_pair.contact);
    std::vector<std::string> racers;
    for (int k = 0; racers.size() < 2; ++k) {
      const std::string racer = absl::StrCat("racer-", k);
      if (PartitionOfSubject(racer) != contested) racers.push_back(racer);
    }
    Pair a{racers[0], free_pair.address, {}, false};
    Pair b{racers[1], free_pair.address, {}, false};
    grpc::Status sa;
    grpc::Status sb;
    std::thread ta([&] {
      v1::LinkContactPointResponse r;
      sa = consent(0)->LinkContactPoint(Context(absl::Seconds(20)).get(), link_request(a, ""), &r);
    });
    std::thread tb([&] {
      v1::LinkContactPointResponse r;
      sb = consent(1)->LinkContactPoint(Context(absl::Seconds(20)).get(), link_request(b, ""), &r);
    });
    ta.join();
    tb.join();
    EXPECT_NE(sa.ok(), sb.ok()) << sa.error_message() << " / " << sb.error_message();
    const grpc::Status& refused = sa.ok() ? sb : sa;
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << refused.error_message();
    const std::string winner = sa.ok() ? a.subject : b.subject;
    const std::string loser = sa.ok() ? b.subject : a.subject;
    for (Instance* i : Alive()) {
      auto stub = v1::ConsentService::NewStub(i->process->channel());
      EXPECT_TRUE(testing::WaitFor(
          [&] {
            v1::GetContactPointStateRequest request;
            request.set_tenant(kTenant);
            *request.mutable_contact_point() = Email(free_pair.address);
            v1::ContactPointState state;
            return stub->GetContactPointState(Context().get(), request, &state).ok() &&
                   state.linked_subject_id() == winner;
          },
          absl::Seconds(20)))
          << i->node_id;
      v1::GetSubjectStateRequest request;
      request.set_tenant(kTenant);
      request.set_subject_id(loser);
      v1::SubjectState state;
      grpc::Status read = stub->GetSubjectState(Context().get(), request, &state);
      EXPECT_TRUE(!read.ok() || state.contacts_size() == 0) << loser << " on " << i->node_id;
    }
    // The winner lets go of it again (the pair's checks below expect it free).
    v1::UnlinkContactPointRequest unlink;
    unlink.set_tenant(kTenant);
    unlink.set_subject_id(winner);
    *unlink.mutable_contact_point() = Email(free_pair.address);
    unlink.set_actor("crm");
    unlink.set_source("cluster-test");
    v1::UnlinkContactPointResponse unlinked;
    grpc::Status s =
        consent(2)->UnlinkContactPoint(Context(absl::Seconds(20)).get(), unlink, &unlinked);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // On every instance: the erased subject's stub lists every one of `addresses`, each is unlinked
  // and suppressed (ERASED), and each one's chain verifies.
  auto expect_erased = [&](const std::string& subject, const std::vector<std::string>& addresses) {
    for (Instance* i : Alive()) {
      auto rights = v1::SubjectRightsService::NewStub(i->process->channel());
      auto stub = v1::ConsentService::NewStub(i->process->channel());
      EXPECT_TRUE(testing::WaitFor(
          [&] {
            v1::GetErasureRequest get;
            get.set_tenant(kTenant);
            get.set_subject_id(subject);
            v1::ErasureStub erasure;
            return rights->GetErasure(Context().get(), get, &erasure).ok() &&
                   erasure.suppressed_contacts_size() == static_cast<int>(addresses.size());
          },
          absl::Seconds(20)))
          << subject << " on " << i->node_id;
      for (const std::string& address : addresses) {
        EXPECT_TRUE(testing::WaitFor(
            [&] {
              v1::GetContactPointStateRequest cr;
              cr.set_tenant(kTenant);
              *cr.mutable_contact_point() = Email(address);
              v1::ContactPointState contact;
              return stub->GetContactPointState(Context().get(), cr, &contact).ok() &&
                     contact.linked_subject_id().empty() && contact.suppressions_size() == 1 &&
                     contact.suppressions(0).kind() == v1::Suppression::ERASED;
            },
            absl::Seconds(20)))
            << address << " on " << i->node_id;
        v1::VerifyHistoryRequest chain;
        chain.set_tenant(kTenant);
        *chain.mutable_target()->mutable_contact_point() = Email(address);
        v1::VerifyHistoryResponse verified;
        ASSERT_TRUE(stub->VerifyHistory(Context().get(), chain, &verified).ok());
        EXPECT_TRUE(verified.valid()) << address << " on " << i->node_id;
      }
    }
  };

  // An erasure of a subject whose addresses are in other partitions: every address's part on its
  // owner, then the subject's; on every instance the stub lists them all, each is unlinked and
  // suppressed (ERASED), and every chain verifies.
  {
    const std::string eraser = "eraser-1";
    std::vector<std::string> addresses;
    int elsewhere = 0;
    for (int k = 0; k < 3; ++k) {
      addresses.push_back(absl::StrCat("eraser-1-", k, "@example.com"));
      Pair pair{eraser, addresses.back(), {}, false};
      v1::LinkContactPointResponse response;
      grpc::Status s = consent(k % 3)->LinkContactPoint(Context(absl::Seconds(20)).get(),
                                                        link_request(pair, ""), &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      elsewhere += PartitionOfContact(response.contact()) != PartitionOfSubject(eraser);
    }
    ASSERT_GT(elsewhere, 0) << "no address in another partition: the test proves nothing";
    v1::EraseSubjectRequest request;
    request.set_tenant(kTenant);
    request.set_subject_id(eraser);
    request.set_reason("cluster test");
    v1::EraseSubjectResponse erased;
    grpc::Status s = v1::SubjectRightsService::NewStub(Alive()[1]->process->channel())
                         ->EraseSubject(Context(absl::Seconds(20)).get(), request, &erased);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(erased.erasure().suppressed_contacts_size(), 3);
    expect_erased(eraser, addresses);
  }

  // The contact point's owner freezes while a link waits for it: the call fails at its deadline
  // leaving the intent; once the frozen owner's partitions move, the subject partition's owner
  // finishes it, and the caller's retry with its key reads the outcome.
  owners = AwaitOwnershipByAll();
  ASSERT_FALSE(owners.empty());
  Pair* frozen_pair = nullptr;
  for (Pair& pair : pairs) {
    if (!pair.linked &&
        owners[PartitionOfSubject(pair.subject)] != owners[PartitionOfContact(pair.contact)]) {
      frozen_pair = &pair;
      break;
    }
  }
  ASSERT_NE(frozen_pair, nullptr) << "no unlinked pair over two owners";
  Instance* contact_owner = nullptr;
  Instance* subject_owner = nullptr;
  for (Instance* i : Alive()) {
    if (i->node_id == owners[PartitionOfContact(frozen_pair->contact)]) contact_owner = i;
    if (i->node_id == owners[PartitionOfSubject(frozen_pair->subject)]) subject_owner = i;
  }
  ASSERT_NE(contact_owner, nullptr);
  ASSERT_NE(subject_owner, nullptr);
  contact_owner->process->Signal(SIGSTOP);
  const v1::LinkContactPointRequest request = link_request(*frozen_pair, "frozen-owner-link");
  {
    v1::LinkContactPointResponse response;
    grpc::Status s =
        v1::ConsentService::NewStub(subject_owner->process->channel())
            ->LinkContactPoint(Context(absl::Milliseconds(1500)).get(), request, &response);
    EXPECT_FALSE(s.ok()) << "answered although the contact point's owner is frozen";
  }
  frozen_pair->linked = true;
  const absl::Time frozen_at = absl::Now();
  std::vector<Instance*> survivors;
  for (Instance* i : Alive()) {
    if (i != contact_owner) survivors.push_back(i);
  }
  const bool finished = testing::WaitFor(
      [&] {
        for (Instance* i : survivors) {
          if (absl::StrContains(i->process->log(),
                                "finished a pending link intent\" kind=link outcome=completed")) {
            return true;
          }
        }
        return false;
      },
      absl::Seconds(45));
  std::printf("[cluster] pending link intent finished %.1f s after the call failed\n",
              absl::ToDoubleSeconds(absl::Now() - frozen_at));
  contact_owner->process->Signal(SIGCONT);
  ASSERT_TRUE(finished) << "no survivor finished the pending link intent";
  {
    v1::LinkContactPointResponse response;
    grpc::Status s = v1::ConsentService::NewStub(survivors[0]->process->channel())
                         ->LinkContactPoint(Context(absl::Seconds(20)).get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(response.replayed());
  }
  // The resumed former owner was fenced; whatever it does, every instance agrees.
  AwaitOwnership();
  verify();

  // An erasure while the owner of one of the subject's addresses is frozen: the call fails at
  // its deadline leaving the erasure intent; once the frozen owner's partitions moved, the
  // subject partition's owner finishes it and appends it to its erasure log (so that a restore
  // re-applies it although no caller was told it was done); every instance then shows it whole.
  {
    owners = AwaitOwnershipByAll();
    ASSERT_FALSE(owners.empty());
    const std::string subject = "eraser-2";
    const std::string subject_owner_id = owners[PartitionOfSubject(subject)];
    std::string frozen_id;
    std::vector<std::string> addresses;
    for (int k = 0; k < 12 && frozen_id.empty(); ++k) {
      addresses.push_back(absl::StrCat(subject, "-", k, "@example.com"));
      Pair pair{subject, addresses.back(), {}, false};
      v1::LinkContactPointResponse response;
      grpc::Status s = consent(k % 3)->LinkContactPoint(Context(absl::Seconds(20)).get(),
                                                        link_request(pair, ""), &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      const std::string& owner = owners[PartitionOfContact(response.contact())];
      if (owner != subject_owner_id) frozen_id = owner;
    }
    ASSERT_FALSE(frozen_id.empty()) << "no address of the subject on another owner";
    Instance* frozen = nullptr;
    Instance* eraser = nullptr;
    for (Instance* i : Alive()) {
      if (i->node_id == frozen_id) frozen = i;
      if (i->node_id == subject_owner_id) eraser = i;
    }
    ASSERT_NE(frozen, nullptr);
    ASSERT_NE(eraser, nullptr);
    frozen->process->Signal(SIGSTOP);
    v1::EraseSubjectRequest erase;
    erase.set_tenant(kTenant);
    erase.set_subject_id(subject);
    erase.set_reason("cluster test, owner frozen");
    v1::EraseSubjectResponse erased;
    grpc::Status s = v1::SubjectRightsService::NewStub(eraser->process->channel())
                         ->EraseSubject(Context(absl::Milliseconds(1500)).get(), erase, &erased);
    EXPECT_FALSE(s.ok()) << "answered although a contact point's owner is frozen";
    const absl::Time failed_at = absl::Now();
    // The subject's partition may have moved in the rebalance too: any survivor may finish it.
    Instance* finisher = nullptr;
    const bool erasure_finished = testing::WaitFor(
        [&] {
          for (Instance* i : Alive()) {
            if (i != frozen &&
                absl::StrContains(
                    i->process->log(),
                    "finished a pending link intent\" kind=erasure outcome=completed")) {
              finisher = i;
              return true;
            }
          }
          return false;
        },
        absl::Seconds(45));
    std::printf("[cluster] pending erasure finished %.1f s after the call failed\n",
                absl::ToDoubleSeconds(absl::Now() - failed_at));
    frozen->process->Signal(SIGCONT);
    ASSERT_TRUE(erasure_finished) << "no survivor finished the pending erasure";
    // In the erasure log of the instance that finished it (appended after the intent completed).
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          std::ifstream in(ErasureLogPath(*finisher));
          const std::string log((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
          return absl::StrContains(log, absl::StrCat("\"subject_id\":\"", subject, "\""));
        },
        absl::Seconds(10)))
        << "the recovered erasure is not in " << ErasureLogPath(*finisher);
    AwaitOwnership();
    expect_erased(subject, addresses);
  }
}

}  // namespace
}  // namespace assent
