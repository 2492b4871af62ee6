// The SMS sender's logic, one Kafka record at a time (called by sender::SendLoop inside its
// transaction):
//
//   requests and retry topics (SendRequest)
//     not_before in the future         -> kNotYet(not_before): the partition waits
//     bad request, unknown purpose     -> REJECTED outcome, detail names the field
//     DENY QUIET_HOURS                 -> DEFERRED outcome + the request again on the retry topic
//                                         with not_before = retry_after, attempts + 1 (same
//                                         transaction, so both or neither are published)
//     other DENY                       -> SUPPRESSED outcome with the reason and deciding record
//     ALLOW                            -> the transport, SENT outcome with the message id
//   inbound topic (InboundSms)
//     STOP keywords   -> SMS UNSUBSCRIBED suppression (source "sms-stop") through gRPC; one
//                        confirmation, sent only when that suppression was not already in place
//     START, UNSTOP   -> the suppression lifted (source "sms-start"); confirmed when one was lifted
//     HELP, INFO      -> the help reply
//     anything else   -> nothing (see sms/keywords.h: a caller may route these further)
//   The service unreachable -> kRetry, so an opt-out is never lost. Each reply sent publishes a
//   SENT outcome with request_id "inbound/<message id>/reply".
//
// Replies go straight to the transport without a consent check: they answer the customer's own
// message. Every transport write is named after the request (tenant + request_id) or the inbound
// message id, so a redelivered record rewrites the same file instead of sending twice.
//
// Outcomes are keyed by request_id. No phone number or message text is logged above debug.
//
// Thread safety: Handle() from one thread at a time (the send loop's).
#pragma once

#include <string>

#include "assent/sender/v1/sender.pb.h"
#include "sender/runtime.h"
#include "sender/send_loop.h"
#include "sms_sender/config.h"
#include "sms_sender/contact_client.h"
#include "sms_sender/transport.h"

namespace assent::sms_sender {

class SmsHandler {
 public:
  // All references must outlive the handler.
  SmsHandler(SmsConfig config, sender::SenderRuntime& runtime, SmsTransport& transport,
             ContactPointClient& service);

  // Dispatches on the record's topic (requests and retry topics, or the inbound topic).
  sender::HandleResult Handle(const rd_kafka_message_t& message);

  sender::HandleResult HandleRequest(const sender::v1::SendRequest& request);
  sender::HandleResult HandleInbound(const sender::v1::InboundSms& inbound);

 private:
  // The outcome as a record for the outcomes topic, counted in the sender metrics.
  sender::OutRecord Publish(const sender::v1::SendOutcome& outcome);
  // Sends `body` to `to` as the reply to `inbound` (named after its message id); adds the SENT
  // outcome to `result`, or turns `result` into kRetry when the transport is unavailable.
  void Reply(const sender::v1::InboundSms& inbound, const std::string& to, const std::string& body,
             const char* what, sender::HandleResult& result);

  const SmsConfig config_;
  sender::SenderRuntime& runtime_;
  SmsTransport& transport_;
  ContactPointClient& service_;
};

// Whether `state` holds an UNSUBSCRIBED suppression of the SMS channel.
bool HasSmsUnsubscribe(const v1::ContactPointState& state);

}  // namespace assent::sms_sender
