// The email sender's side of double opt-in: it follows the lifecycle topic
// (<prefix>consent.lifecycle.v1, its own consumer group), dispatches on the "message-type" header,
// and turns each ConfirmationRequested that carries a sealed ConfirmationSecret into a
// confirmation message in the spool, rendered from its own mustache template (English, German,
// French, Spanish: the language of the PENDING decisions' evidence, else English; purpose names
// from the catalog) with the /c/{token} link.
// It also mails "download my data" links: each ExportLinkRequested (the customer typed an address
// linked to the subject on the preference center) becomes a short message in the notice's
// language (en, de, fr, es; else English) with the /x/{token} link, once per event id, hard
// suppressions respected like confirmations (assent_sender_export_links_total{sender,result}).
// Other and unknown message types are skipped and counted
// (assent_sender_skipped_messages_total{sender,type}).
//
// Each notice is sent at most once: the spool file is named after the notice's event id and a
// marker "<spool>/.sent/<hash of event id>" is written after it, so a re-delivered notice (same
// event id) sends nothing again even after the MTA took the first file; a resend from consentd
// has a new event id and is sent.
//
// Enforcement: a confirmation is transactional by nature (the customer just asked for it), so it
// is NOT held back by the consent check for the purpose being confirmed (that purpose is PENDING
// and denies by design). It does respect hard suppressions: when the local view holds an EMAIL (or
// every-channel) HARD_BOUNCE or INVALID suppression for the address, nothing is sent (counted as
// result "suppressed"). An address the view does not know is sent to.
//
// Thread safety: Handle() from the send loop's thread only.
#pragma once

#include <memory>
#include <string>

#include "assent/v1/lifecycle.pb.h"
#include "enforce/catalog.h"
#include "links/keyring.h"
#include "links/sealed.h"
#include "mail/spool.h"
#include "prometheus/counter.h"
#include "sender/runtime.h"
#include "sender/send_loop.h"

namespace assent::email {

struct ConfirmationConfig {
  bool enabled = false;
  // The lifecycle topic (default "<kafka.topic_prefix>consent.lifecycle.v1").
  std::string topic;
  std::shared_ptr<const links::KeyRing> keyring;
  std::string from;
  std::string message_id_domain;
};

// The message of one confirmation, rendered (RFC 5322), in the language of the decisions'
// evidence (en, de, fr, es; else English), naming the purposes as `catalog` does (the tenant's
// catalog, may be null: purpose ids). INVALID_ARGUMENT naming the field for a secret without an
// email address or https link.
absl::StatusOr<std::string> RenderConfirmation(const ConfirmationConfig& config,
                                               const v1::ConfirmationRequested& notice,
                                               const v1::ConfirmationSecret& secret,
                                               const enforce::TenantCatalog* catalog,
                                               const std::string& message_id, absl::Time now);

// The message of one ExportLinkRequested, rendered (RFC 5322). INVALID_ARGUMENT naming the field
// for a secret without an email address or https link.
absl::StatusOr<std::string> RenderExportLink(const ConfirmationConfig& config,
                                             const v1::ExportLinkRequested& notice,
                                             const v1::ConfirmationSecret& secret,
                                             const std::string& message_id, absl::Time now);

class ConfirmationMailer {
 public:
  // `spool` must be Init()ed and outlive this.
  ConfirmationMailer(ConfirmationConfig config, sender::SenderRuntime& runtime,
                     mail::SpoolDirectory& spool);
  // Handles one record of the lifecycle topic. kRetry only when the spool cannot be written.
  sender::HandleResult Handle(const rd_kafka_message_t& message);
  // The same for a record's "message-type" header value and value bytes.
  sender::HandleResult HandleRecord(const std::string& type, std::string_view value);

 private:
  std::string MarkerPath(const std::string& event_id) const;
  // True when the notice `event_id` was already spooled.
  bool Sent(const std::string& event_id) const;
  // Writes the message "<id>.eml", then the sent marker of `event_id`.
  absl::Status Spool(const std::string& id, const std::string& rendered,
                     const std::string& event_id);
  sender::HandleResult HandleExportLink(std::string_view value);
  bool HardSuppressed(const std::string& tenant, const v1::ContactPoint& point) const;

  const ConfirmationConfig config_;
  sender::SenderRuntime& runtime_;
  mail::SpoolDirectory& spool_;
  prometheus::Family<prometheus::Counter>& skipped_;
  prometheus::Family<prometheus::Counter>& confirmations_;
  prometheus::Family<prometheus::Counter>& export_links_;
};

}  // namespace assent::email
