#include "sender/send_loop.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace assent::sender {
namespace {

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

absl::Status Configure(rd_kafka_conf_t* conf,
                       std::initializer_list<std::pair<const char*, std::string>> defaults,
                       const std::map<std::string, std::string>& overrides,
                       const std::string& prefix) {
  for (const auto& [key, value] : defaults) {
    RETURN_IF_ERROR(events::SetConf(conf, key, value, absl::StrCat(prefix, key)));
  }
  for (const auto& [key, value] : overrides) {
    RETURN_IF_ERROR(events::SetConf(conf, key, value, absl::StrCat(prefix, key)));
  }
  return absl::OkStatus();
}

using TopicPartition = std::pair<std::string, int32_t>;

}  // namespace

SendLoop::SendLoop(SendLoopOptions options, Handler handler, const Clock& clock)
    : options_(std::move(options)), handler_(std::move(handler)), clock_(clock) {}

SendLoop::~SendLoop() {
  // Leave the group promptly when the brokers answer; never hang on shutdown when they do not.
  events::CloseConsumer(std::move(consumer_), absl::Seconds(5));
}

absl::Status SendLoop::Start(absl::Duration timeout) {
  if (options_.brokers.empty()) return absl::InvalidArgumentError("kafka.brokers: required");
  if (options_.group_id.empty()) return absl::InvalidArgumentError("kafka.group_id: required");
  if (options_.topics.empty()) return absl::InvalidArgumentError("topics: at least one required");
  char errstr[512];
  events::ConfPtr cconf(rd_kafka_conf_new());
  RETURN_IF_ERROR(Configure(cconf.get(),
                            {{"bootstrap.servers", options_.brokers},
                             {"group.id", options_.group_id},
                             {"enable.auto.commit", "false"},
                             {"auto.offset.reset", "earliest"},
                             // Only what committed transactions published (outcomes of other
                             // senders, requeued requests).
                             {"isolation.level", "read_committed"},
                             {"fetch.wait.max.ms", "10"},
                             {"socket.nagle.disable", "true"}},
                            options_.consumer_overrides, "kafka.consumer."));
  // rd_kafka_new takes a configuration only when it succeeds; on failure it stays ours.
  consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, cconf.get(), errstr, sizeof(errstr)));
  if (consumer_ != nullptr) (void)cconf.release();
  if (consumer_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka: ", errstr));
  rd_kafka_poll_set_consumer(consumer_.get());

  events::ConfPtr pconf(rd_kafka_conf_new());
  RETURN_IF_ERROR(Configure(pconf.get(),
                            {{"bootstrap.servers", options_.brokers},
                             {"transactional.id", options_.transactional_id},
                             {"enable.idempotence", "true"},
                             {"acks", "all"},
                             {"linger.ms", "1"},
                             {"socket.nagle.disable", "true"}},
                            options_.producer_overrides, "kafka.producer."));
  producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, pconf.get(), errstr, sizeof(errstr)));
  if (producer_ != nullptr) (void)pconf.release();
  if (producer_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka: ", errstr));
  ErrorPtr error(rd_kafka_init_transactions(producer_.get(),
                                            static_cast<int>(absl::ToInt64Milliseconds(timeout))));
  if (error != nullptr) {
    return absl::UnavailableError(
        absl::StrCat("kafka: init transactions: ", rd_kafka_error_string(error.get())));
  }
  events::PartitionListPtr topics(
      rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())));
  for (const std::string& t : options_.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("kafka: subscribe: ", rd_kafka_err2str(err)));
  }
  spdlog::info("msg=\"consuming\" topics={} group={}", absl::StrJoin(options_.topics, ","),
               options_.group_id);
  return absl::OkStatus();
}

absl::Status SendLoop::Run() {
  {
    absl::MutexLock lock(&mu_);
    stats_.running = true;
  }
  absl::Status status;
  while (!stopping_.load() && status.ok()) status = RunBatch();
  absl::MutexLock lock(&mu_);
  stats_.running = false;
  return status;
}

void SendLoop::ResumeDue() {
  const absl::Time now = clock_.Now();
  for (auto it = paused_.begin(); it != paused_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    events::PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), it->first.first.c_str(), it->first.second);
    rd_kafka_resume_partitions(consumer_.get(), list.get());
    it = paused_.erase(it);
  }
}

void SendLoop::UpdateLag() {
  const absl::Time now = clock_.Now();
  if (now < next_lag_update_) return;
  next_lag_update_ = now + absl::Seconds(1);
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  events::PartitionListPtr assignment(raw);
  rd_kafka_position(consumer_.get(), assignment.get());
  std::map<std::string, int64_t> lag;
  for (const std::string& t : options_.topics) lag[t] = 0;
  for (int i = 0; i < assignment->cnt; ++i) {
    const auto& p = assignment->elems[i];
    int64_t low = 0;
    int64_t high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), p.topic, p.partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    const int64_t position = p.offset >= 0 ? p.offset : low;
    lag[p.topic] += std::max<int64_t>(0, high - position);
  }
  absl::MutexLock lock(&mu_);
  stats_.lag = std::move(lag);
}

absl::Status SendLoop::Abort(const std::vector<rd_kafka_topic_partition_t>& rewind) {
  ErrorPtr error(rd_kafka_abort_transaction(producer_.get(), 30000));
  if (error != nullptr && rd_kafka_error_is_fatal(error.get())) {
    return absl::InternalError(
        absl::StrCat("kafka: abort transaction: ", rd_kafka_error_string(error.get())));
  }
  // Back to the first record of the batch in each partition, so the batch is handled again.
  events::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(rewind.size())));
  for (const auto& p : rewind) {
    rd_kafka_topic_partition_list_add(list.get(), p.topic, p.partition)->offset = p.offset;
  }
  ErrorPtr seek(rd_kafka_seek_partitions(consumer_.get(), list.get(), 5000));
  if (seek != nullptr)
    spdlog::warn("msg=\"rewind failed\" error=\"{}\"", rd_kafka_error_string(seek.get()));
  absl::MutexLock lock(&mu_);
  ++stats_.aborts;
  return absl::OkStatus();
}

absl::Status SendLoop::RunBatch() {
  ResumeDue();
  UpdateLag();
  std::vector<events::MessagePtr> batch;
  {
    events::MessagePtr first(rd_kafka_consumer_poll(consumer_.get(), 100));
    if (first == nullptr) return absl::OkStatus();
    batch.push_back(std::move(first));
    const absl::Time until = clock_.Now() + options_.batch_wait;
    while (static_cast<int>(batch.size()) < options_.max_batch) {
      const int64_t left = absl::ToInt64Milliseconds(until - clock_.Now());
      events::MessagePtr more(rd_kafka_consumer_poll(consumer_.get(), left > 0 ? int(left) : 0));
      if (more == nullptr) break;
      batch.push_back(std::move(more));
    }
  }
  // The first offset of each partition in the batch (where an abort rewinds to) and the next
  // offset to commit.
  std::map<TopicPartition, int64_t> first_offset;
  std::map<TopicPartition, int64_t> next_offset;
  std::set<TopicPartition> held;  // paused in this batch: skip the rest of their records
  ErrorPtr begun(rd_kafka_begin_transaction(producer_.get()));
  if (begun != nullptr) {
    return absl::InternalError(
        absl::StrCat("kafka: begin transaction: ", rd_kafka_error_string(begun.get())));
  }
  uint64_t handled = 0;
  uint64_t deferred = 0;
  auto rewind_list = [&] {
    std::vector<rd_kafka_topic_partition_t> out;
    for (const auto& [tp, offset] : first_offset) {
      rd_kafka_topic_partition_t p{};
      p.topic = const_cast<char*>(tp.first.c_str());
      p.partition = tp.second;
      p.offset = offset;
      out.push_back(p);
    }
    return out;
  };
  for (const events::MessagePtr& m : batch) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("msg=\"consumer error\" error=\"{}\"", rd_kafka_message_errstr(m.get()));
      }
      continue;
    }
    const TopicPartition tp{rd_kafka_topic_name(m->rkt), m->partition};
    if (held.count(tp) != 0) continue;
    first_offset.try_emplace(tp, m->offset);
    HandleResult result = handler_(*m);
    if (result.kind == HandleResult::kRetry) {
      spdlog::warn("msg=\"batch aborted\" retry_in={} error=\"{}\"",
                   absl::FormatDuration(options_.retry_backoff), result.why);
      RETURN_IF_ERROR(Abort(rewind_list()));
      absl::SleepFor(options_.retry_backoff);
      return absl::OkStatus();
    }
    if (result.kind == HandleResult::kNotYet) {
      held.insert(tp);
      events::PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset =
          m->offset;
      rd_kafka_pause_partitions(consumer_.get(), list.get());
      ErrorPtr seek(rd_kafka_seek_partitions(consumer_.get(), list.get(), 5000));
      if (seek != nullptr)
        spdlog::warn("msg=\"seek failed\" error=\"{}\"", rd_kafka_error_string(seek.get()));
      paused_[tp] = result.not_before;
      ++deferred;
      continue;
    }
    for (OutRecord& r : result.records) {
      rd_kafka_resp_err_t err =
          rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(r.topic.c_str()),
                            RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                            RD_KAFKA_V_VALUE(r.value.data(), r.value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("msg=\"produce failed\" topic={} error=\"{}\"", r.topic,
                     rd_kafka_err2str(err));
        RETURN_IF_ERROR(Abort(rewind_list()));
        absl::SleepFor(options_.retry_backoff);
        return absl::OkStatus();
      }
    }
    next_offset[tp] = m->offset + 1;
    ++handled;
  }
  if (!next_offset.empty()) {
    events::PartitionListPtr offsets(
        rd_kafka_topic_partition_list_new(static_cast<int>(next_offset.size())));
    for (const auto& [tp, offset] : next_offset) {
      rd_kafka_topic_partition_list_add(offsets.get(), tp.first.c_str(), tp.second)->offset =
          offset;
    }
    rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata(consumer_.get());
    ErrorPtr error(rd_kafka_send_offsets_to_transaction(producer_.get(), offsets.get(), cgmd, -1));
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    if (error != nullptr) {
      if (rd_kafka_error_is_fatal(error.get())) {
        return absl::InternalError(
            absl::StrCat("kafka: send offsets: ", rd_kafka_error_string(error.get())));
      }
      spdlog::warn("msg=\"send offsets failed\" error=\"{}\"", rd_kafka_error_string(error.get()));
      RETURN_IF_ERROR(Abort(rewind_list()));
      return absl::OkStatus();
    }
  }
  while (true) {
    ErrorPtr error(rd_kafka_commit_transaction(producer_.get(), -1));
    if (error == nullptr) break;
    if (rd_kafka_error_is_fatal(error.get())) {
      return absl::InternalError(
          absl::StrCat("kafka: commit transaction: ", rd_kafka_error_string(error.get())));
    }
    if (rd_kafka_error_txn_requires_abort(error.get())) {
      spdlog::warn("msg=\"commit failed\" error=\"{}\"", rd_kafka_error_string(error.get()));
      RETURN_IF_ERROR(Abort(rewind_list()));
      return absl::OkStatus();
    }
    // Retriable: try the commit again.
  }
  absl::MutexLock lock(&mu_);
  stats_.records += handled;
  stats_.deferred += deferred;
  ++stats_.commits;
  return absl::OkStatus();
}

SendLoopStats SendLoop::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace assent::sender
