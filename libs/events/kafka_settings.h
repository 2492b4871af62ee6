// librdkafka client settings as Assent's Kafka clients take them from configuration: which ones are
// secrets (never logged, never echoed in an error), which ones say how to reach the brokers (and
// so also apply to a topic admin), librdkafka properties files, and the last error a client
// reported (so a request that times out can say why).
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace assent::events {

// librdkafka property name -> value.
using KafkaSettings = std::map<std::string, std::string>;

// True for a setting whose value must never reach a log or an error message: any key containing
// "password" or "secret" (ssl.key.password, sasl.password, sasl.oauthbearer.client.secret), a
// private key given inline (ssl.key.pem) and sasl.oauthbearer.config.
bool IsSecretSetting(std::string_view key);

// `text` with the value of every secret setting in `settings` replaced by "<redacted>" (for
// messages built from librdkafka's errors, which may quote a value).
std::string RedactSecrets(std::string text, const KafkaSettings& settings);

// The settings that say how to reach and authenticate to the brokers, as opposed to how one kind
// of client behaves: security.protocol, ssl.*, sasl.*, enable.ssl.*, enable.sasl.*,
// broker.address.family, socket.*. A sender hands its consumer's connection settings to the topic
// admin; consentd its producer's.
KafkaSettings ConnectionSettings(const KafkaSettings& settings);

// A librdkafka properties file (as kcat -F reads it): one "key=value" per line, split at the first
// '='; blank lines and lines starting with '#' are skipped; spaces around key and value are
// trimmed. INVALID_ARGUMENT "<source>:<line>: ..." for a line that is not key=value (the line
// itself is not quoted: it may hold a secret).
absl::StatusOr<KafkaSettings> ParseKafkaProperties(std::string_view text, std::string_view source);

// Reads and parses the file at `path`. INVALID_ARGUMENT "<path>: ..." when it cannot be read.
absl::StatusOr<KafkaSettings> ReadKafkaProperties(const std::string& path);

// Remembers the last error librdkafka reported on a client through its error callback ("SSL
// handshake failed: ... certificate verify failed"), for the message of a request that failed or
// timed out. Attach() to the configuration before rd_kafka_new (it takes the configuration's
// opaque); the object must outlive the client. The callback runs when the application polls the
// client (rd_kafka_poll). Thread-safe.
class ClientErrors {
 public:
  void Attach(rd_kafka_conf_t* conf);
  // "" when nothing was reported, else " (last broker error: <reason>)".
  std::string Suffix() const;

 private:
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  mutable std::mutex mu_;
  std::string last_;
};

}  // namespace assent::events
