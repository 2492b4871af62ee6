#include "consentd/proof.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "ledger/names.h"
#include "rocksdb/write_batch.h"
#include "spdlog/spdlog.h"
#include "store/keys.h"

namespace assent::consentd {
namespace {

constexpr int kDefaultProofPage = 100;
constexpr int kMaxProofPage = 1000;
// Cluster mode: how far back a partition without a proof cursor starts (FollowOwnedPartitions),
// and how often a cursor is stored when no withdrawal moves it (RecordChanges).
constexpr absl::Duration kFirstLookBack = absl::Minutes(1);
constexpr absl::Duration kCursorInterval = absl::Seconds(5);

bool Withdraws(v1::ConsentState state) { return state == v1::DENIED || state == v1::WITHDRAWN; }

void TakeEarlier(v1::WithdrawalProof& proof, const google::protobuf::Timestamp& honour_by) {
  if (honour_by.seconds() == 0 && honour_by.nanos() == 0) return;
  if (!proof.has_honour_by() || FromProto(honour_by) < FromProto(proof.honour_by())) {
    *proof.mutable_honour_by() = honour_by;
  }
}

// A delivered change's proof entry as first recorded (published `now` at its place on the topic,
// no sender has applied it), under its key; nullopt when it withdraws nothing.
struct Entry {
  std::string key;
  v1::WithdrawalProof proof;
};
std::optional<Entry> EntryOf(const events::DeliveredChange& delivered, absl::Time now,
                             const std::vector<std::string>& senders) {
  v1::ConsentChanged change;
  if (!change.ParseFromString(delivered.value)) return std::nullopt;
  std::optional<v1::WithdrawalProof> proof = WithdrawalOf(change);
  if (!proof.has_value()) return std::nullopt;
  Entry entry{
      store::ProofKey(change.tenant(), store::EntityName(change.target()), change.sequence()),
      *std::move(proof)};
  entry.proof.set_partition(delivered.partition);
  entry.proof.set_offset(delivered.offset);
  *entry.proof.mutable_published_time() =
      ToProto(delivered.timestamp_ms >= 0 ? absl::FromUnixMillis(delivered.timestamp_ms) : now);
  for (const std::string& sender : senders) entry.proof.add_senders()->set_sender(sender);
  return entry;
}

// A consumer's configuration: no offsets committed, the brokers and connection settings of
// `options`, and `settings`.
absl::StatusOr<events::ConfPtr> ConsumerConf(
    const ProofOptions& options,
    std::initializer_list<std::pair<const char*, const char*>> settings) {
  events::ConfPtr conf(rd_kafka_conf_new());
  for (auto [key, value] : std::initializer_list<std::pair<const char*, const char*>>{
           {"enable.auto.commit", "false"},
           {"enable.auto.offset.store", "false"},
           {"log_level", "4"}}) {
    RETURN_IF_ERROR(events::SetConf(conf.get(), key, value, absl::StrCat("kafka.consumer.", key)));
  }
  for (auto [key, value] : settings) {
    RETURN_IF_ERROR(events::SetConf(conf.get(), key, value, absl::StrCat("kafka.consumer.", key)));
  }
  RETURN_IF_ERROR(
      events::SetConf(conf.get(), "bootstrap.servers", options.brokers, "kafka.brokers"));
  for (const auto& [key, value] : options.connection) {
    RETURN_IF_ERROR(events::SetConf(conf.get(), key, value, absl::StrCat("kafka.producer.", key)));
  }
  return conf;
}

// Cluster mode: the next offset of the changes topic a partition's proof reads, "q" + a route key
// of the partition (route.cc routes it there) -> big-endian 64-bit offset.
std::string CursorKey(std::string_view route_key) { return absl::StrCat("q", Sv(route_key)); }

absl::Time OrInfinite(const v1::WithdrawalProof& proof) {
  return proof.has_honour_by() ? FromProto(proof.honour_by()) : absl::InfiniteFuture();
}

}  // namespace

std::optional<v1::WithdrawalProof> WithdrawalOf(const v1::ConsentChanged& change) {
  v1::WithdrawalProof proof;
  for (const v1::DecisionChange& d : change.decisions()) {
    if (!Withdraws(d.after().state())) continue;
    std::string what = d.after().purpose_id();
    if (d.after().channel() != v1::CHANNEL_UNSPECIFIED) {
      absl::StrAppend(&what, "/", v1::Channel_Name(d.after().channel()));
    }
    if (!d.after().topic().empty()) absl::StrAppend(&what, "/", d.after().topic());
    absl::StrAppend(&what, " ", v1::ConsentState_Name(d.after().state()));
    proof.add_withdrawn(std::move(what));
    // An imported withdrawal's deadline ran from its original time, in the system it came from:
    // taking it would report a withdrawal from years ago as overdue the moment it is imported.
    // Senders still have to apply it, without a deadline.
    if (!d.after().imported()) TakeEarlier(proof, d.after().honour_by());
  }
  if (change.kind() == v1::SUPPRESSION_ADDED && change.state().has_contact()) {
    for (const v1::Suppression& s : change.state().contact().suppressions()) {
      if (s.sequence() != change.sequence()) continue;
      proof.add_withdrawn(absl::StrCat(
          "suppression ",
          s.channel() == v1::CHANNEL_UNSPECIFIED ? "every channel" : v1::Channel_Name(s.channel()),
          " ", v1::Suppression::Kind_Name(s.kind())));
      TakeEarlier(proof, s.honour_by());
    }
  }
  if (proof.withdrawn_size() == 0) return std::nullopt;
  proof.set_tenant(change.tenant());
  *proof.mutable_target() = change.target();
  proof.set_sequence(change.sequence());
  proof.set_kind(change.kind());
  *proof.mutable_recorded_time() = change.recorded_time();
  return proof;
}

EnforcementProof::EnforcementProof(ProofOptions options, store::Store& store, const Clock& clock,
                                   prometheus::Registry& registry)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      auditor_(options_.auditor),
      enforced_(prometheus::BuildHistogram()
                    .Name("assent_withdrawal_enforced_seconds")
                    .Help("Time from a withdrawal's recording to its application by every live "
                          "instance of a registered sender")
                    .Register(registry)),
      unenforced_(prometheus::BuildGauge()
                      .Name("assent_withdrawals_unenforced")
                      .Help("Withdrawals a registered sender has not applied although they were "
                            "recorded longer than enforcement.alert_after ago")
                      .Register(registry)),
      oldest_(prometheus::BuildGauge()
                  .Name("assent_withdrawal_oldest_unenforced_seconds")
                  .Help("Age of the oldest withdrawal a registered sender has not applied (0: "
                        "none)")
                  .Register(registry)),
      near_honour_by_(prometheus::BuildGauge()
                          .Name("assent_withdrawals_near_honour_by")
                          .Help("Withdrawals a registered sender has not applied within "
                                "enforcement.honour_margin of their statutory honour_by")
                          .Register(registry)),
      live_(prometheus::BuildGauge()
                .Name("assent_enforcement_live_instances")
                .Help("Instances of a registered sender that published progress lately")
                .Register(registry)),
      reports_(prometheus::BuildCounter()
                   .Name("assent_enforcement_reports_total")
                   .Help("Enforcement progress reports read, by outcome")
                   .Register(registry)) {}

EnforcementProof::~EnforcementProof() { Stop(); }

absl::StatusOr<std::unique_ptr<EnforcementProof>> EnforcementProof::Start(
    ProofOptions options, store::Store& store, const Clock& clock, prometheus::Registry& registry) {
  if (options.brokers.empty()) return InvalidField("kafka.brokers", "required for enforcement");
  std::unique_ptr<EnforcementProof> proof(
      new EnforcementProof(std::move(options), store, clock, registry));
  // Cluster mode loads the pending withdrawals of the partitions it comes to own.
  if (!proof->options_.cluster.has_value()) RETURN_IF_ERROR(proof->Load());
  ASSIGN_OR_RETURN(events::ConfPtr conf,
                   ConsumerConf(proof->options_, {{"auto.offset.reset", "latest"},
                                                  {"fetch.wait.max.ms", "10"},
                                                  {"client.id", "assent-consentd-auditor"},
                                                  {"group.id", "assent-consentd-auditor"}}));
  // librdkafka's own log lines (a broker not reachable yet, ...) go to the debug log: the reports
  // are heartbeats, and the relay already says when Kafka is away.
  rd_kafka_conf_set_log_cb(
      conf.get(), [](const rd_kafka_t*, int, const char* facility, const char* message) {
        spdlog::debug("msg=\"enforcement consumer\" facility={} detail=\"{}\"", facility, message);
      });
  char errstr[512];
  proof->consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr)));
  if (proof->consumer_ == nullptr) return InvalidField("kafka.producer", errstr);
  (void)conf.release();
  for (const std::string& sender : proof->senders()) {
    proof->enforced_.Add({{"sender", sender}}, prometheus::Histogram::BucketBoundaries{
                                                   0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                   5, 10, 30, 60, 120, 300, 900, 3600});
  }
  if (proof->options_.cluster.has_value()) {
    ASSIGN_OR_RETURN(events::ConfPtr changes,
                     ConsumerConf(proof->options_, {{"auto.offset.reset", "earliest"},
                                                    {"isolation.level", "read_committed"},
                                                    {"client.id", "assent-consentd-proof"},
                                                    {"group.id", "assent-consentd-proof"}}));
    proof->changes_consumer_.reset(
        rd_kafka_new(RD_KAFKA_CONSUMER, changes.get(), errstr, sizeof(errstr)));
    if (proof->changes_consumer_ == nullptr) return InvalidField("kafka.producer", errstr);
    (void)changes.release();
    proof->following_.assign(static_cast<size_t>(proof->options_.cluster->partitions), false);
    proof->cursor_stored_.assign(static_cast<size_t>(proof->options_.cluster->partitions),
                                 absl::InfinitePast());
  }
  proof->UpdateGauges(clock.Now());
  proof->thread_ = std::thread([raw = proof.get()] { raw->Loop(); });
  return proof;
}

void EnforcementProof::Stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  if (consumer_ != nullptr) events::CloseConsumer(std::move(consumer_), absl::ZeroDuration());
  if (changes_consumer_ != nullptr) {
    events::CloseConsumer(std::move(changes_consumer_), absl::ZeroDuration());
  }
}

size_t EnforcementProof::pending() const {
  absl::MutexLock lock(&mu_);
  return auditor_.pending();
}

absl::Status EnforcementProof::Load(const std::vector<bool>* owned) {
  auto it = store_.NewIterator(store::Cf::kProof);
  size_t loaded = 0;
  const rocksdb::Slice pending_prefix(store::kProofPendingPrefix.data(),
                                      store::kProofPendingPrefix.size());
  for (it->Seek(pending_prefix); it->Valid() && it->key().starts_with(pending_prefix); it->Next()) {
    const std::string key = it->value().ToString();
    ASSIGN_OR_RETURN(std::optional<std::string> value, store_.Get(store::Cf::kProof, key));
    v1::WithdrawalProof proof;
    if (!value.has_value() || !proof.ParseFromString(*value)) return Corrupt("proof entry");
    if (owned != nullptr &&
        (proof.partition() < 0 || static_cast<size_t>(proof.partition()) >= owned->size() ||
         !(*owned)[static_cast<size_t>(proof.partition())])) {
      continue;
    }
    PendingWithdrawal w{
        key, proof.partition(), proof.offset(), FromProto(proof.recorded_time()), OrInfinite(proof),
        {}};
    w.applied.resize(senders().size());
    for (const v1::SenderApplication& a : proof.senders()) {
      std::optional<size_t> i = auditor_.SenderIndex(a.sender());
      if (i.has_value() && a.has_applied_time()) w.applied[*i] = FromProto(a.applied_time());
    }
    absl::MutexLock lock(&mu_);
    auditor_.AddPending(std::move(w));
    ++loaded;
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  if (loaded > 0) spdlog::info("msg=\"pending withdrawals loaded\" count={}", loaded);
  return absl::OkStatus();
}

void EnforcementProof::OnDelivered(const std::vector<events::DeliveredChange>& changes) {
  const absl::Time now = clock_.Now();
  rocksdb::WriteBatch batch;
  std::vector<PendingWithdrawal> added;
  for (const events::DeliveredChange& delivered : changes) {
    std::optional<Entry> entry = EntryOf(delivered, now, senders());
    if (!entry.has_value()) continue;
    const std::string& key = entry->key;
    // A record re-sent after a crash keeps the entry of its first publication.
    absl::StatusOr<std::optional<std::string>> existing = store_.Get(store::Cf::kProof, key);
    if (existing.ok() && existing->has_value()) continue;
    v1::WithdrawalProof* proof = &entry->proof;
    batch.Put(store_.Handle(store::Cf::kProof), key, proof->SerializeAsString());
    batch.Put(store_.Handle(store::Cf::kProof),
              store::ProofPendingKey(delivered.partition, delivered.offset), key);
    added.push_back({key,
                     delivered.partition,
                     delivered.offset,
                     FromProto(proof->recorded_time()),
                     OrInfinite(*proof),
                     {}});
  }
  if (added.empty()) return;
  if (absl::Status s = store_.Write(&batch); !s.ok()) {
    // Nothing to retry with: the change is published. Its proof is missing; say so loudly.
    spdlog::error(
        "msg=\"cannot record withdrawals for proof of enforcement\" count={} error=\"{}\"",
        added.size(), s.ToString());
    return;
  }
  absl::MutexLock lock(&mu_);
  for (PendingWithdrawal& w : added) auditor_.AddPending(std::move(w));
}

absl::Status EnforcementProof::SetupConsumer() {
  const std::string topic_name = events::EnforcementTopicName(options_.topic_prefix);
  rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer_.get(), topic_name.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_.get(), 0, topic, &metadata, 1000);
  rd_kafka_topic_destroy(topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(err)));
  }
  int count = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (metadata->topic_cnt == 1) {
    count = metadata->topics[0].partition_cnt;
    topic_err = metadata->topics[0].err;
  }
  rd_kafka_metadata_destroy(metadata);
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR || count == 0) {
    return absl::UnavailableError(
        absl::StrCat("topic ", topic_name, ": ", rd_kafka_err2str(topic_err)));
  }
  // From the end: reports are heartbeats, the next ones arrive within a second.
  events::PartitionListPtr list(rd_kafka_topic_partition_list_new(count));
  for (int i = 0; i < count; ++i) {
    rd_kafka_topic_partition_list_add(list.get(), topic_name.c_str(), i)->offset =
        RD_KAFKA_OFFSET_END;
  }
  err = rd_kafka_assign(consumer_.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("assign: ", rd_kafka_err2str(err)));
  }
  spdlog::info("msg=\"following enforcement reports\" topic={} partitions={}", topic_name, count);
  return absl::OkStatus();
}

void EnforcementProof::Loop() {
  bool warned = false;
  absl::Time next_setup = absl::InfinitePast();
  absl::Time next_evaluate = absl::InfinitePast();
  while (!stopping_.load()) {
    if (!assigned_ && clock_.Now() >= next_setup) {
      absl::Status s = SetupConsumer();
      if (s.ok()) {
        assigned_ = true;
      } else {
        if (!warned)
          spdlog::warn("msg=\"waiting for the enforcement topic\" error=\"{}\"", s.ToString());
        warned = true;
        next_setup = clock_.Now() + absl::Milliseconds(500);
      }
    }
    if (assigned_) {
      for (int i = 0; i < 1000; ++i) {
        events::MessagePtr message(rd_kafka_consumer_poll(consumer_.get(), i == 0 ? 50 : 0));
        if (message == nullptr) break;
        if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        v1::EnforcementProgress report;
        if (!report.ParseFromArray(message->payload, static_cast<int>(message->len))) {
          reports_.Add({{"outcome", "invalid"}}).Increment();
          continue;
        }
        reports_.Add({{"outcome", "read"}}).Increment();
        absl::MutexLock lock(&mu_);
        auditor_.OnProgress(report, clock_.Now());
      }
    } else {
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (options_.cluster.has_value()) {
      FollowOwnedPartitions();
      ReadChanges();
    }
    const absl::Time now = clock_.Now();
    std::vector<Application> applied;
    {
      absl::MutexLock lock(&mu_);
      applied = auditor_.Evaluate(now);
    }
    if (!applied.empty()) Persist(applied);
    if (now >= next_evaluate || !applied.empty()) {
      UpdateGauges(now);
      next_evaluate = now + options_.evaluate_interval;
    }
  }
}

void EnforcementProof::Persist(const std::vector<Application>& applied) {
  if (options_.cluster.has_value()) {
    PersistThroughCommitter(applied);
    return;
  }
  for (const Application& a : applied) {
    Observe(a);
    absl::StatusOr<std::optional<std::string>> stored = store_.Get(store::Cf::kProof, a.key);
    if (!stored.ok() || !stored->has_value()) continue;
    v1::WithdrawalProof proof;
    if (!proof.ParseFromString(**stored)) continue;
    for (v1::SenderApplication& s : *proof.mutable_senders()) {
      if (s.sender() == senders()[a.sender]) *s.mutable_applied_time() = ToProto(a.time);
    }
    rocksdb::WriteBatch one;
    one.Put(store_.Handle(store::Cf::kProof), a.key, proof.SerializeAsString());
    if (a.complete) {
      one.Delete(store_.Handle(store::Cf::kProof),
                 store::ProofPendingKey(proof.partition(), proof.offset()));
    }
    // One write per application: the next application of the same entry reads this one.
    if (absl::Status s = store_.WriteUnsynced(&one); !s.ok()) {
      spdlog::error("msg=\"cannot record a withdrawal's application\" error=\"{}\"", s.ToString());
    }
  }
}

void EnforcementProof::Observe(const Application& a) {
  enforced_.Add({{"sender", senders()[a.sender]}}, prometheus::Histogram::BucketBoundaries{})
      .Observe(std::max(0.0, absl::ToDoubleSeconds(a.time - a.recorded_time)));
}

void EnforcementProof::PersistThroughCommitter(const std::vector<Application>& applied) {
  std::map<int32_t, std::vector<const Application*>> by_partition;
  for (const Application& a : applied) by_partition[a.partition].push_back(&a);
  for (const auto& group : by_partition) {
    // Named, not bound: a lambda below uses them (clang before 16 cannot capture a binding).
    const int32_t partition = group.first;
    const std::vector<const Application*>& applications = group.second;
    // One mutation per partition, routed with the entries' targets: refused once the partition
    // moved (its new owner's auditor records the applications from the same reports).
    absl::Status recorded = options_.cluster->run([&](store::Txn& txn) -> absl::Status {
      std::map<std::string, v1::WithdrawalProof> entries;
      std::set<std::string> complete;
      for (const Application* a : applications) {
        auto it = entries.find(a->key);
        if (it == entries.end()) {
          ASSIGN_OR_RETURN(std::optional<std::string> raw, txn.Get(store::Cf::kProof, a->key));
          v1::WithdrawalProof proof;
          if (!raw.has_value() || !proof.ParseFromString(*raw)) continue;
          it = entries.emplace(a->key, std::move(proof)).first;
        }
        for (v1::SenderApplication& s : *it->second.mutable_senders()) {
          if (s.sender() == senders()[a->sender]) *s.mutable_applied_time() = ToProto(a->time);
        }
        if (a->complete) complete.insert(a->key);
      }
      for (const auto& [key, proof] : entries) {
        txn.Put(store::Cf::kProof, key, proof.SerializeAsString());
        if (complete.contains(key)) {
          txn.Delete(store::Cf::kProof, store::ProofPendingKey(proof.partition(), proof.offset()));
        }
      }
      return absl::OkStatus();
    });
    if (!recorded.ok()) {
      spdlog::warn("msg=\"cannot record withdrawals' applications\" partition={} error=\"{}\"",
                   partition, recorded.ToString());
      refollow_ = true;  // the stored entries stay pending: load them again
      continue;
    }
    for (const Application* a : applications) Observe(*a);
  }
}

void EnforcementProof::FollowOwnedPartitions() {
  const ProofOptions::Cluster& cluster = *options_.cluster;
  std::vector<bool> owned(following_.size(), false);
  for (size_t p = 0; p < owned.size(); ++p) owned[p] = cluster.owned(static_cast<int32_t>(p));
  if (owned == following_ && !refollow_) return;
  // The pending withdrawals of the partitions owned now, and each one's changes from its cursor.
  {
    absl::MutexLock lock(&mu_);
    auditor_.ClearPending();
  }
  if (absl::Status loaded = Load(&owned); !loaded.ok()) {
    spdlog::error("msg=\"cannot load the pending withdrawals\" error=\"{}\"", loaded.ToString());
    refollow_ = true;
    return;  // again at the next turn
  }
  events::PartitionListPtr list(rd_kafka_topic_partition_list_new(cluster.partitions));
  // A partition without a cursor (proof of enforcement just turned on, or a new cluster) starts
  // with the changes of the last kFirstLookBack: those published before its owner began to follow
  // it, not the topic's whole retention. That start is stored as its cursor before it is read.
  events::PartitionListPtr by_time(rd_kafka_topic_partition_list_new(cluster.partitions));
  for (size_t p = 0; p < owned.size(); ++p) {
    if (!owned[p]) continue;
    absl::StatusOr<std::optional<std::string>> cursor =
        store_.Get(store::Cf::kProof, CursorKey(cluster.route_key(static_cast<int32_t>(p))));
    if (!cursor.ok()) {
      spdlog::error("msg=\"cannot read a proof cursor\" error=\"{}\"", cursor.status().ToString());
      refollow_ = true;
      return;
    }
    if (cursor->has_value() && (*cursor)->size() == 8) {
      rd_kafka_topic_partition_list_add(list.get(), cluster.changes_topic.c_str(),
                                        static_cast<int32_t>(p))
          ->offset = static_cast<int64_t>(store::ReadBigEndian64(**cursor));
    } else {
      rd_kafka_topic_partition_list_add(by_time.get(), cluster.changes_topic.c_str(),
                                        static_cast<int32_t>(p))
          ->offset = absl::ToUnixMillis(clock_.Now() - kFirstLookBack);
    }
  }
  if (by_time->cnt > 0) {
    if (rd_kafka_resp_err_t err =
            rd_kafka_offsets_for_times(changes_consumer_.get(), by_time.get(), 5000);
        err) {
      spdlog::warn("msg=\"cannot find where to follow the changes topic from\" error=\"{}\"",
                   rd_kafka_err2str(err));
      refollow_ = true;
      return;  // again at the next turn
    }
    // Where each starts, stored at once as its cursor: a new owner after a crash goes on from
    // there, whatever the time since.
    std::vector<std::pair<int32_t, int64_t>> starts;
    for (int i = 0; i < by_time->cnt; ++i) {
      const rd_kafka_topic_partition_t& found = by_time->elems[i];
      int64_t from = found.offset;
      if (found.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn(
            "msg=\"cannot find where to follow the changes topic from\" partition={} "
            "error=\"{}\"",
            found.partition, rd_kafka_err2str(found.err));
        refollow_ = true;
        return;
      }
      if (from < 0) {
        // No record that recent: from the end.
        int64_t low = 0;
        int64_t high = 0;
        if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                changes_consumer_.get(), found.topic, found.partition, &low, &high, 5000);
            err) {
          spdlog::warn(
              "msg=\"cannot read the end of the changes topic\" partition={} "
              "error=\"{}\"",
              found.partition, rd_kafka_err2str(err));
          refollow_ = true;
          return;
        }
        from = high;
      }
      starts.emplace_back(found.partition, from);
      rd_kafka_topic_partition_list_add(list.get(), found.topic, found.partition)->offset = from;
    }
    absl::Status stored = cluster.run([&](store::Txn& txn) -> absl::Status {
      for (const auto& [partition, from] : starts) {
        std::string value;
        store::PutBigEndian64(&value, static_cast<uint64_t>(from));
        txn.Put(store::Cf::kProof, CursorKey(cluster.route_key(partition)), value);
      }
      return absl::OkStatus();
    });
    if (!stored.ok()) {
      spdlog::warn("msg=\"cannot store where the proof starts\" error=\"{}\"", stored.ToString());
      refollow_ = true;
      return;
    }
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(changes_consumer_.get(), list.get()); err) {
    spdlog::error("msg=\"cannot follow the changes topic\" error=\"{}\"", rd_kafka_err2str(err));
    refollow_ = true;
    return;
  }
  following_ = std::move(owned);
  refollow_ = false;
}

void EnforcementProof::ReadChanges() {
  std::map<int32_t, std::vector<events::DeliveredChange>> read;
  for (int i = 0; i < 1000; ++i) {
    events::MessagePtr message(rd_kafka_consumer_poll(changes_consumer_.get(), 0));
    if (message == nullptr) break;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const int64_t timestamp = rd_kafka_message_timestamp(message.get(), &type);
    read[message->partition].push_back(
        {std::string(static_cast<const char*>(message->payload), message->len), message->partition,
         message->offset, type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : timestamp});
  }
  for (const auto& [partition, changes] : read) {
    if (absl::Status s = RecordChanges(partition, changes); !s.ok()) {
      // Refused (the partition moved) or failed: follow again from the stored cursors.
      spdlog::warn(
          "msg=\"cannot record withdrawals for proof of enforcement; reading again\" "
          "partition={} error=\"{}\"",
          partition, s.ToString());
      refollow_ = true;
      return;
    }
  }
}

absl::Status EnforcementProof::RecordChanges(int32_t partition,
                                             const std::vector<events::DeliveredChange>& changes) {
  const ProofOptions::Cluster& cluster = *options_.cluster;
  // A batch without a withdrawal only moves the cursor: stored every kCursorInterval, not at
  // every turn (each store is a write of the partition's changelog). A new owner then reads a few
  // seconds of changes again; their entries exist already and are kept.
  const bool withdraws = std::any_of(changes.begin(), changes.end(), [](const auto& delivered) {
    v1::ConsentChanged change;
    return change.ParseFromString(delivered.value) && WithdrawalOf(change).has_value();
  });
  const absl::Time now = clock_.Now();
  absl::Time& stored = cursor_stored_[static_cast<size_t>(partition)];
  if (!withdraws && now - stored < kCursorInterval) return absl::OkStatus();
  std::vector<PendingWithdrawal> added;
  RETURN_IF_ERROR(cluster.run([&](store::Txn& txn) -> absl::Status {
    added.clear();
    for (const events::DeliveredChange& delivered : changes) {
      std::optional<Entry> entry = EntryOf(delivered, txn.now(), senders());
      if (!entry.has_value()) continue;
      const std::string& key = entry->key;
      ASSIGN_OR_RETURN(std::optional<std::string> existing, txn.Get(store::Cf::kProof, key));
      if (existing.has_value()) continue;
      v1::WithdrawalProof* proof = &entry->proof;
      txn.Put(store::Cf::kProof, key, proof->SerializeAsString());
      txn.Put(store::Cf::kProof, store::ProofPendingKey(delivered.partition, delivered.offset),
              key);
      added.push_back({key,
                       delivered.partition,
                       delivered.offset,
                       FromProto(proof->recorded_time()),
                       OrInfinite(*proof),
                       {}});
    }
    // The partition's cursor, routed to it: the whole mutation is refused once it moved.
    std::string next;
    store::PutBigEndian64(&next, static_cast<uint64_t>(changes.back().offset + 1));
    txn.Put(store::Cf::kProof, CursorKey(cluster.route_key(partition)), next);
    return absl::OkStatus();
  }));
  stored = now;
  absl::MutexLock lock(&mu_);
  for (PendingWithdrawal& w : added) auditor_.AddPending(std::move(w));
  return absl::OkStatus();
}

void EnforcementProof::UpdateGauges(absl::Time now) {
  std::vector<SenderAudit> audit;
  {
    absl::MutexLock lock(&mu_);
    audit = auditor_.Audit(now);
  }
  for (size_t i = 0; i < audit.size(); ++i) {
    const std::map<std::string, std::string> labels = {{"sender", senders()[i]}};
    unenforced_.Add(labels).Set(static_cast<double>(audit[i].unenforced));
    oldest_.Add(labels).Set(absl::ToDoubleSeconds(audit[i].oldest_unenforced));
    near_honour_by_.Add(labels).Set(static_cast<double>(audit[i].near_honour_by));
    live_.Add(labels).Set(audit[i].live_instances);
  }
}

absl::StatusOr<v1::GetEnforcementProofResponse> ReadEnforcementProof(
    const store::Store& store, std::string_view tenant, const v1::TargetRef& target, int page_size,
    std::string_view page_token, const std::vector<std::string>& senders) {
  ASSIGN_OR_RETURN(int size, ledger::PageSize(page_size, kDefaultProofPage, kMaxProofPage));
  uint64_t from = UINT64_MAX;
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(std::string position, ledger::ParsePageToken("proof", page_token));
    if (!absl::SimpleAtoi(position, &from)) {
      return InvalidField("page_token", "is not a token returned by this method");
    }
  }
  const std::string entity = store::EntityName(target);
  const std::string prefix = store::ProofPrefix(tenant, entity);
  v1::GetEnforcementProofResponse response;
  for (const std::string& s : senders) response.add_senders(s);
  auto it = store.NewIterator(store::Cf::kProof);
  for (it->SeekForPrev(store::ProofKey(tenant, entity, from));
       it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    v1::WithdrawalProof proof;
    if (!proof.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corrupt("proof entry");
    }
    if (response.withdrawals_size() == size) {
      response.set_next_page_token(ledger::MakePageToken("proof", absl::StrCat(proof.sequence())));
      break;
    }
    *response.add_withdrawals() = std::move(proof);
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  return response;
}

}  // namespace assent::consentd
