#include "events/kafka_settings.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/strings.h"

namespace assent::events {

bool IsSecretSetting(std::string_view key) {
  const std::string lower = absl::AsciiStrToLower(Sv(key));
  return lower.find("password") != std::string::npos || lower.find("secret") != std::string::npos ||
         lower == "ssl.key.pem" || lower == "sasl.oauthbearer.config";
}

std::string RedactSecrets(std::string text, const KafkaSettings& settings) {
  for (const auto& [key, value] : settings) {
    if (!value.empty() && IsSecretSetting(key)) {
      text = absl::StrReplaceAll(text, {{value, "<redacted>"}});
    }
  }
  return text;
}

KafkaSettings ConnectionSettings(const KafkaSettings& settings) {
  static constexpr std::string_view kPrefixes[] = {"ssl.", "sasl.", "enable.ssl.", "enable.sasl.",
                                                   "socket."};
  KafkaSettings out;
  for (const auto& [key, value] : settings) {
    bool connection = key == "security.protocol" || key == "broker.address.family";
    for (std::string_view prefix : kPrefixes) connection = connection || key.starts_with(prefix);
    if (connection) out[key] = value;
  }
  return out;
}

absl::StatusOr<KafkaSettings> ParseKafkaProperties(std::string_view text, std::string_view source) {
  KafkaSettings out;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(Sv(text), '\n')) {
    ++number;
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    if (eq == absl::string_view::npos || key.empty()) {
      return InvalidField(absl::StrCat(Sv(source), ":", number),
                          "expected key=value (or a # comment)");
    }
    out[std::string(key)] = std::string(absl::StripAsciiWhitespace(line.substr(eq + 1)));
  }
  return out;
}

absl::StatusOr<KafkaSettings> ReadKafkaProperties(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidField(path, absl::StrCat("cannot read: ", std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return InvalidField(path, "cannot read");
  return ParseKafkaProperties(text.str(), path);
}

void ClientErrors::Attach(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_error_cb(conf, &ClientErrors::OnError);
}

std::string ClientErrors::Suffix() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_.empty() ? "" : absl::StrCat(" (last broker error: ", last_, ")");
}

void ClientErrors::OnError(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  // "1/1 brokers are down" follows every connection failure and would hide its cause.
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || opaque == nullptr) return;
  auto* self = static_cast<ClientErrors*>(opaque);
  std::lock_guard<std::mutex> lock(self->mu_);
  self->last_ =
      reason != nullptr ? reason : rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err));
}

}  // namespace assent::events
