// The reference email sender: consumes SendRequests, checks consent with the enforcement library,
// renders the message from a configured template with RFC 8058 one-click unsubscribe headers (a
// signed per-recipient link), hands it to the transport (an RFC 5322 file in a spool directory,
// named after the request so a redelivered request rewrites the same file), and publishes a
// SendOutcome: SENT, SUPPRESSED (reason, deciding record), or REJECTED (the field at fault).
//
// Thread safety: Handle() is called from the send loop's thread only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "email_sender/confirmation.h"
#include "links/keyring.h"
#include "mail/spool.h"
#include "sender/runtime.h"
#include "sender/send_loop.h"
#include "sender/settings.h"

namespace assent::email {

struct Template {
  std::string subject;
  std::string body;
};

struct EmailConfig {
  std::string requests_topic;
  std::string outcomes_topic;
  std::string spool_dir;
  std::string from;
  // Signs the links; read from email.link_keyring_file.
  std::shared_ptr<const links::KeyRing> keyring;
  // "https://.../u/{token}" ({token} replaced, else ?t= appended).
  std::string unsubscribe_url;
  std::string unsubscribe_mailto;
  absl::Duration unsubscribe_ttl;
  // "https://.../p/{token}": the preference-center link in every message's footer.
  std::string preferences_url;
  absl::Duration preferences_ttl;
  std::string message_id_domain;
  std::map<std::string, Template> templates;
  // Double opt-in confirmation messages (email.confirmations.*); topic filled from the common
  // kafka.topic_prefix when not set.
  ConfirmationConfig confirmation;
};

// The email sender's own settings, besides sender::CommonSpecs.
std::vector<sender::SettingSpec> EmailSpecs();
std::vector<std::string> EmailOpenPrefixes();
// `topic_prefix`: the common kafka.topic_prefix (the lifecycle topic's default).
absl::StatusOr<EmailConfig> ReadEmailConfig(const sender::Settings& settings,
                                            const std::string& topic_prefix = "assent.");

// Replaces {{name}} with payload values. INVALID_ARGUMENT "payload.<name>: required by template
// <id>" when one is missing.
absl::StatusOr<std::string> RenderTemplate(
    std::string_view text, std::string_view template_id,
    const google::protobuf::Map<std::string, std::string>& payload);

class EmailSender {
 public:
  EmailSender(EmailConfig config, sender::SenderRuntime& runtime);
  // Creates the spool directory. UNAVAILABLE when it cannot.
  absl::Status Init();
  // Handles one record of the requests topic.
  sender::HandleResult Handle(const rd_kafka_message_t& message);
  // The spool the confirmations share.
  mail::SpoolDirectory& spool() { return spool_; }

 private:
  sender::OutRecord Publish(const sender::v1::SendOutcome& outcome);
  absl::StatusOr<std::string> Render(const sender::v1::SendRequest& request,
                                     const sender::SendDecision& decision,
                                     const std::string& message_id);

  const EmailConfig config_;
  sender::SenderRuntime& runtime_;
  mail::SpoolDirectory spool_;
};

}  // namespace assent::email
