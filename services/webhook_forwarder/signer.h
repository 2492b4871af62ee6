// Standard Webhooks signatures (https://www.standardwebhooks.com/): the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", signed with HMAC-SHA256 under each of the endpoint's
// keys; the webhook-signature header lists "v1,<base64 signature>" per key, space-separated.
//
// Thread-safe and pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace assent::webhooks {

// "v1,<base64>" for one key.
std::string SignOne(std::string_view key, std::string_view id, int64_t timestamp,
                    std::string_view body);
// The webhook-signature header value: SignOne for each key, space-separated.
std::string SignatureHeader(const std::vector<std::string>& keys, std::string_view id,
                            int64_t timestamp, std::string_view body);
// True when one of the header's v1 signatures matches `key` (constant-time compare).
bool VerifySignature(std::string_view key, std::string_view id, int64_t timestamp,
                     std::string_view body, std::string_view header);

}  // namespace assent::webhooks
