// Where an allowed SMS goes. The reference transport is a spool directory that an SMS gateway
// connector picks up from; a real gateway client implements the same interface.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "mail/spool.h"

namespace assent::sms_sender {

struct OutgoingSms {
  // Deterministic per message: a redelivered request or inbound message yields the same id.
  std::string message_id;
  std::string tenant;
  // E.164.
  std::string to;
  std::string body;
  // The SendRequest's id, or "inbound/<message id>/reply" for a reply.
  std::string request_id;
};

class SmsTransport {
 public:
  virtual ~SmsTransport() = default;
  // Hands `sms` over under `name` ([A-Za-z0-9._-], 1..200 characters). Idempotent per name:
  // sending the same name again replaces, never duplicates. UNAVAILABLE when the transport cannot
  // take it now (the caller retries); INVALID_ARGUMENT for a bad name.
  virtual absl::Status Send(std::string_view name, const OutgoingSms& sms) = 0;
};

// One JSON file per message in a spool directory ({"message_id", "tenant", "to", "body",
// "request_id"}), written atomically (mail::SpoolDirectory). Thread-safe.
class SpoolTransport final : public SmsTransport {
 public:
  explicit SpoolTransport(std::string dir) : spool_(std::move(dir)) {}
  // Creates the directory. UNAVAILABLE when it cannot.
  absl::Status Init() { return spool_.Init(); }
  absl::Status Send(std::string_view name, const OutgoingSms& sms) override;

 private:
  mail::SpoolDirectory spool_;
};

// Lower-case hex SHA-256 of `parts` joined with NUL bytes (so ("a", "bc") != ("ab", "c")).
std::string Sha256Hex(std::initializer_list<std::string_view> parts);

}  // namespace assent::sms_sender
