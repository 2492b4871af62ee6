#include "sms_sender/transport.h"

#include "common/digest.h"
#include "nlohmann/json.hpp"

namespace assent::sms_sender {

absl::Status SpoolTransport::Send(std::string_view name, const OutgoingSms& sms) {
  const nlohmann::json file = {{"message_id", sms.message_id},
                               {"tenant", sms.tenant},
                               {"to", sms.to},
                               {"body", sms.body},
                               {"request_id", sms.request_id}};
  return spool_.Write(name, file.dump()).status();
}

std::string Sha256Hex(std::initializer_list<std::string_view> parts) {
  std::string joined;
  for (auto it = parts.begin(); it != parts.end(); ++it) {
    if (it != parts.begin()) joined.push_back('\0');
    joined.append(*it);
  }
  return assent::Sha256Hex(joined);
}

}  // namespace assent::sms_sender
