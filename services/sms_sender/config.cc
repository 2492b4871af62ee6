#include "sms_sender/config.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "sender/runtime.h"
#include "sms/gsm7.h"
#include "sms/keywords.h"

namespace assent::sms_sender {

std::vector<sender::SettingSpec> SmsSpecs() {
  std::vector<sender::SettingSpec> specs = sender::CommonSpecs("sms");
  const std::vector<sender::SettingSpec> own = {
      {"sms.requests_topic", "assent.sms.requests.v1", "topic of SendRequests"},
      {"sms.retry_topic", "assent.sms.retry.v1", "topic of requests deferred by quiet hours"},
      {"sms.inbound_topic", "assent.sms.inbound.v1", "topic of InboundSms from the gateway"},
      {"sms.outcomes_topic", "assent.sms.outcomes.v1", "topic of SendOutcomes"},
      {"sms.topic_partitions", "3", "partitions of the topics created when missing"},
      {"sms.spool_dir", "", "spool directory of outgoing messages (one JSON file each); required"},
      {"sms.brand", "Assent", "program name in the STOP, START and HELP replies"},
      {"sms.help_contact", "support@example.com", "contact named in the HELP reply"},
      {"sms.actor", "sms-sender", "actor of the opt-outs recorded for inbound keywords"},
      {"sms.write_deadline", "5s", "deadline of each call to the service for an inbound keyword"},
  };
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

absl::StatusOr<SmsConfig> ReadSmsConfig(const sender::Settings& s) {
  SmsConfig c;
  c.requests_topic = s.String("sms.requests_topic");
  c.retry_topic = s.String("sms.retry_topic");
  c.inbound_topic = s.String("sms.inbound_topic");
  c.outcomes_topic = s.String("sms.outcomes_topic");
  for (const auto& [key, value] : {std::pair{"sms.requests_topic", c.requests_topic},
                                   {"sms.retry_topic", c.retry_topic},
                                   {"sms.inbound_topic", c.inbound_topic},
                                   {"sms.outcomes_topic", c.outcomes_topic}}) {
    if (value.empty()) return InvalidField(key, "required");
  }
  ASSIGN_OR_RETURN(int64_t partitions, s.Int("sms.topic_partitions", 1, 1000));
  c.topic_partitions = static_cast<int>(partitions);
  c.spool_dir = s.String("sms.spool_dir");
  if (c.spool_dir.empty()) return InvalidField("sms.spool_dir", "required");
  c.brand = s.String("sms.brand");
  c.help_contact = s.String("sms.help_contact");
  // The replies fit one SMS segment only with short GSM 7-bit values (sms/keywords.h).
  auto septets = [](const std::string& v) { return sms::Gsm7Septets(v); };
  auto brand = septets(c.brand);
  if (c.brand.empty() || !brand.has_value() || *brand > sms::kMaxBrandSeptets) {
    return InvalidField("sms.brand", absl::StrCat("must be 1..", sms::kMaxBrandSeptets,
                                                  " characters of the GSM 7-bit alphabet"));
  }
  auto contact = septets(c.help_contact);
  if (c.help_contact.empty() || !contact.has_value() || *contact > sms::kMaxHelpContactSeptets) {
    return InvalidField("sms.help_contact", absl::StrCat("must be 1..", sms::kMaxHelpContactSeptets,
                                                         " characters of the GSM 7-bit alphabet"));
  }
  c.actor = s.String("sms.actor");
  if (c.actor.empty()) return InvalidField("sms.actor", "required");
  ASSIGN_OR_RETURN(c.write_deadline, s.Duration("sms.write_deadline", absl::Milliseconds(10)));
  return c;
}

}  // namespace assent::sms_sender
