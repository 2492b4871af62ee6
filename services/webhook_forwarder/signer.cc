#include "webhook_forwarder/signer.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "crypto/hmac.h"

namespace assent::webhooks {
namespace {

std::string Mac(std::string_view key, std::string_view id, int64_t timestamp,
                std::string_view body) {
  return crypto::HmacSha256(key, absl::StrCat(Sv(id), ".", timestamp, ".", Sv(body)));
}

}  // namespace

std::string SignOne(std::string_view key, std::string_view id, int64_t timestamp,
                    std::string_view body) {
  return absl::StrCat("v1,", absl::Base64Escape(Mac(key, id, timestamp, body)));
}

std::string SignatureHeader(const std::vector<std::string>& keys, std::string_view id,
                            int64_t timestamp, std::string_view body) {
  std::string out;
  for (const std::string& key : keys) {
    if (!out.empty()) out += ' ';
    out += SignOne(key, id, timestamp, body);
  }
  return out;
}

bool VerifySignature(std::string_view key, std::string_view id, int64_t timestamp,
                     std::string_view body, std::string_view header) {
  const std::string expected = Mac(key, id, timestamp, body);
  bool ok = false;
  for (absl::string_view part : absl::StrSplit(Sv(header), ' ', absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&part, "v1,")) continue;
    std::string mac;
    if (!absl::Base64Unescape(part, &mac)) continue;
    ok = crypto::ConstantTimeEquals(mac, expected) || ok;
  }
  return ok;
}

}  // namespace assent::webhooks
