// "Send me a new link": the preference center holds no addresses and sends no mail itself; it
// hands a SendRequest (proto/assent/sender/v1) with the fresh link to the email sender's requests
// topic, and the email sender checks consent for the configured transactional purpose and renders
// its template ({{link}}). The address travels only inside that request, as every send request's
// does.
//
// Thread safety: Send() may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "events/kafka.h"

namespace assent::prefcenter {

class LinkMailer {
 public:
  virtual ~LinkMailer() = default;
  // Queues the email; the error when the request could not be handed to Kafka.
  virtual absl::Status Send(const std::string& tenant, const std::string& email,
                            const std::string& url) = 0;
};

// The real mailer: an idempotent Kafka producer. Created with the brokers, the topic, and the
// SendRequest's purpose and template ids.
class KafkaLinkMailer final : public LinkMailer {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaLinkMailer>> Create(const std::string& brokers,
                                                                 std::string topic,
                                                                 std::string purpose_id,
                                                                 std::string template_id);
  ~KafkaLinkMailer() override;
  absl::Status Send(const std::string& tenant, const std::string& email,
                    const std::string& url) override;

 private:
  KafkaLinkMailer() = default;
  events::KafkaPtr producer_;
  std::string topic_;
  std::string purpose_id_;
  std::string template_id_;
};

}  // namespace assent::prefcenter
