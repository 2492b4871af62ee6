#include "sms_sender/transport.h"

#include <openssl/evp.h>

#include "common/hex.h"
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
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  bool first = true;
  for (std::string_view part : parts) {
    if (!first) EVP_DigestUpdate(ctx.get(), "", 1);
    first = false;
    EVP_DigestUpdate(ctx.get(), part.data(), part.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &size);
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

}  // namespace assent::sms_sender
