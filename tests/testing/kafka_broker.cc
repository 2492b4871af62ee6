#include "testing/kafka_broker.h"

#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace assent::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string RunCommand(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    if (status != nullptr) *status = -1;
    return out;
  }
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int rc = pclose(pipe);
  if (status != nullptr) *status = rc;
  return out;
}

KafkaBroker::KafkaBroker(std::string dir, std::optional<KafkaSslListener> ssl)
    : dir_(std::move(dir)), ssl_(std::move(ssl)) {}

KafkaBroker::~KafkaBroker() { Stop(); }

bool KafkaBroker::Start() {
  if (port_ == 0) {
    port_ = FreePort();
    controller_port_ = FreePort();
    if (ssl_.has_value()) ssl_port_ = FreePort();
  }
  int status = 0;
  std::string command =
      absl::StrCat(ASSENT_SOURCE_DIR, "/tools/kafka/kafka.sh start --dir ", dir_, " --port ", port_,
                   " --controller-port ", controller_port_, " --owner-pid ", getpid());
  if (ssl_.has_value()) {
    absl::StrAppend(&command, " --ssl-port ", ssl_port_, " --ssl-keystore '", ssl_->keystore,
                    "' --ssl-truststore '", ssl_->truststore, "' --ssl-client-auth ",
                    ssl_->client_auth);
  }
  error_ = RunCommand(command + " 2>&1", &status);
  running_ = status == 0;
  bootstrap_ = absl::StrCat("127.0.0.1:", port_);
  if (ssl_.has_value()) ssl_bootstrap_ = absl::StrCat("127.0.0.1:", ssl_port_);
  return running_;
}

void KafkaBroker::Stop() {
  if (!running_) return;
  RunCommand(absl::StrCat(ASSENT_SOURCE_DIR, "/tools/kafka/kafka.sh stop --dir ", dir_, " 2>&1"),
             nullptr);
  running_ = false;
}

std::vector<KafkaRecord> ConsumeAll(
    const std::string& bootstrap, const std::string& topic, absl::Duration timeout,
    const std::function<bool(const std::vector<KafkaRecord>&)>& done) {
  std::vector<KafkaRecord> records;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", absl::StrCat("test-", getpid(), "-", rand()).c_str(), err,
                    sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
  rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) return records;
  rd_kafka_poll_set_consumer(rk);
  // Assign every partition from the beginning (metadata first).
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const absl::Time deadline = absl::Now() + timeout;
  while (rd_kafka_metadata(rk, 0, handle, &metadata, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
         metadata->topic_cnt == 0 || metadata->topics[0].partition_cnt == 0) {
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    metadata = nullptr;
    if (absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  rd_kafka_topic_destroy(handle);
  if (metadata != nullptr) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
    for (int p = 0; p < metadata->topics[0].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), metadata->topics[0].partitions[p].id)
          ->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    while (absl::Now() < deadline && !done(records)) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        KafkaRecord r;
        r.key.assign(static_cast<const char*>(m->key), m->key_len);
        r.tombstone = m->payload == nullptr;
        if (!r.tombstone) r.value.assign(static_cast<const char*>(m->payload), m->len);
        r.partition = m->partition;
        r.offset = m->offset;
        records.push_back(std::move(r));
      }
      rd_kafka_message_destroy(m);
    }
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return records;
}

bool Produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::pair<std::string, std::string>>& records,
             absl::Duration timeout, std::string* error, const std::string& message_type) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
  rd_kafka_conf_set(conf, "partitioner", "murmur2_random", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    if (error != nullptr) *error = err;
    return false;
  }
  bool ok = true;
  for (const auto& [key, value] : records) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(1);
    if (!message_type.empty()) {
      rd_kafka_header_add(headers, "message-type", -1, message_type.data(),
                          static_cast<ssize_t>(message_type.size()));
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    // On success the record owns the headers.
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ok = false;
      if (error != nullptr) *error = rd_kafka_err2str(e);
      break;
    }
    rd_kafka_poll(rk, 0);
  }
  const rd_kafka_resp_err_t flushed =
      rd_kafka_flush(rk, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR || rd_kafka_outq_len(rk) != 0) {
    ok = false;
    if (error != nullptr) *error = absl::StrCat("flush: ", rd_kafka_err2str(flushed));
  }
  rd_kafka_destroy(rk);
  return ok;
}

bool CreateTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                 std::string* error) {
  TopicOptions options;
  options.partitions = partitions;
  return CreateTopic(bootstrap, topic, options, error);
}

bool CreateTopic(const std::string& bootstrap, const std::string& topic,
                 const TopicOptions& options, std::string* error) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    if (error != nullptr) *error = err;
    return false;
  }
  rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(topic.c_str(), options.partitions,
                                                 options.replication_factor, err, sizeof(err));
  if (t == nullptr) {
    if (error != nullptr) *error = err;
    rd_kafka_destroy(rk);
    return false;
  }
  for (const auto& [name, value] : options.configs) {
    const rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(t, name.c_str(), value.c_str());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (error != nullptr) *error = absl::StrCat(name, ": ", rd_kafka_err2str(e));
      rd_kafka_NewTopic_destroy(t);
      rd_kafka_destroy(rk);
      return false;
    }
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &t, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  bool ok = false;
  if (event != nullptr) {
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        result == nullptr ? nullptr : rd_kafka_CreateTopics_result_topics(result, &n);
    ok = n == 1 &&
         (rd_kafka_topic_result_error(results[0]) == RD_KAFKA_RESP_ERR_NO_ERROR ||
          rd_kafka_topic_result_error(results[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    if (!ok && error != nullptr) {
      *error = n == 1 ? rd_kafka_topic_result_error_string(results[0]) : "no result";
    }
    rd_kafka_event_destroy(event);
  } else if (error != nullptr) {
    *error = "CreateTopics timed out";
  }
  rd_kafka_NewTopic_destroy(t);
  rd_kafka_queue_destroy(queue);
  rd_kafka_destroy(rk);
  return ok;
}

}  // namespace assent::testing
