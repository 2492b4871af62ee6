#include "sms_sender/handler.h"

#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "contact/normalize.h"
#include "sms/keywords.h"
#include "spdlog/spdlog.h"

namespace assent::sms_sender {
namespace {

using sender::HandleResult;
using sender::v1::InboundSms;
using sender::v1::SendOutcome;
using sender::v1::SendRequest;

// The service cannot be reached now: the record must be handled again later, not dropped.
bool Transient(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded ||
         status.code() == absl::StatusCode::kResourceExhausted ||
         status.code() == absl::StatusCode::kAborted;
}

HandleResult Retry(std::string why) {
  HandleResult result;
  result.kind = HandleResult::kRetry;
  result.why = std::move(why);
  return result;
}

}  // namespace

bool HasSmsUnsubscribe(const v1::ContactPointState& state) {
  for (const v1::Suppression& s : state.suppressions()) {
    if (s.channel() == v1::SMS && s.kind() == v1::Suppression::UNSUBSCRIBED) return true;
  }
  return false;
}

SmsHandler::SmsHandler(SmsConfig config, sender::SenderRuntime& runtime, SmsTransport& transport,
                       ContactPointClient& service)
    : config_(std::move(config)), runtime_(runtime), transport_(transport), service_(service) {}

HandleResult SmsHandler::Handle(const rd_kafka_message_t& message) {
  const std::string topic = rd_kafka_topic_name(message.rkt);
  const auto* data = static_cast<const char*>(message.payload);
  const int size = static_cast<int>(message.len);
  if (topic == config_.inbound_topic) {
    InboundSms inbound;
    if (!inbound.ParseFromArray(data, size)) {
      // Nothing to answer to; holding the partition for it would block every later message.
      spdlog::warn("sms: inbound record at {}/{} is not an InboundSms; skipped", message.partition,
                   message.offset);
      return {};
    }
    return HandleInbound(inbound);
  }
  SendRequest request;
  if (!request.ParseFromArray(data, size)) {
    SendOutcome outcome;
    outcome.set_request_id(std::string(static_cast<const char*>(message.key), message.key_len));
    outcome.set_status(SendOutcome::REJECTED);
    outcome.set_sender("sms");
    outcome.set_detail("record: not a SendRequest");
    HandleResult result;
    result.records.push_back(Publish(outcome));
    return result;
  }
  return HandleRequest(request);
}

sender::OutRecord SmsHandler::Publish(const SendOutcome& outcome) {
  runtime_.Count(outcome, v1::SMS);
  return {config_.outcomes_topic, outcome.request_id(), outcome.SerializeAsString()};
}

HandleResult SmsHandler::HandleRequest(const SendRequest& request) {
  const absl::Time now = runtime_.clock().Now();
  if (request.has_not_before() && FromProto(request.not_before()) > now) {
    HandleResult result;
    result.kind = HandleResult::kNotYet;
    result.not_before = FromProto(request.not_before());
    return result;
  }
  HandleResult result;
  auto reject = [&](std::string_view detail) {
    SendOutcome outcome = runtime_.Outcome(request, SendOutcome::REJECTED, nullptr);
    outcome.set_detail(std::string(detail));
    result.records.push_back(Publish(outcome));
    return result;
  };
  if (request.request_id().empty() || request.request_id().size() > 128) {
    return reject("request_id: must be 1..128 characters");
  }
  absl::StatusOr<sender::SendDecision> decision =
      runtime_.Decide(request, v1::SMS, v1::CONTACT_PHONE);
  if (!decision.ok()) {
    switch (decision.status().code()) {
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kFailedPrecondition:
        return reject(std::string(decision.status().message()));
      default:
        return Retry(absl::StrCat("decide: ", decision.status().ToString()));
    }
  }
  const enforce::Verdict& verdict = decision->verdict;
  if (verdict.response.verdict() != v1::ALLOW) {
    if (verdict.response.reason() == v1::QUIET_HOURS) {
      SendOutcome outcome = runtime_.Outcome(request, SendOutcome::DEFERRED, &verdict);
      // The rule always says when the window ends; should it not, try again in a minute rather
      // than spin on the retry topic.
      const absl::Time retry_after = verdict.response.has_retry_after()
                                         ? FromProto(verdict.response.retry_after())
                                         : now + absl::Minutes(1);
      *outcome.mutable_retry_after() = ToProto(retry_after);
      SendRequest again = request;
      *again.mutable_not_before() = ToProto(retry_after);
      again.set_attempts(request.attempts() + 1);
      result.records.push_back(Publish(outcome));
      result.records.push_back(
          {config_.retry_topic, request.request_id(), again.SerializeAsString()});
      return result;
    }
    result.records.push_back(Publish(runtime_.Outcome(request, SendOutcome::SUPPRESSED, &verdict)));
    return result;
  }
  auto body = request.payload().find("body");
  if (body == request.payload().end() || body->second.empty()) {
    return reject("payload.body: required");
  }
  OutgoingSms sms;
  sms.message_id = Sha256Hex({request.tenant(), request.request_id()});
  sms.tenant = request.tenant();
  sms.to = decision->address;
  sms.body = body->second;
  sms.request_id = request.request_id();
  if (absl::Status sent = transport_.Send(absl::StrCat(sms.message_id, ".json"), sms); !sent.ok()) {
    return Retry(absl::StrCat("transport: ", sent.ToString()));
  }
  SendOutcome outcome = runtime_.Outcome(request, SendOutcome::SENT, &verdict);
  outcome.set_message_id(sms.message_id);
  result.records.push_back(Publish(outcome));
  return result;
}

void SmsHandler::Reply(const InboundSms& inbound, const std::string& to, const std::string& body,
                       const char* what, HandleResult& result) {
  OutgoingSms sms;
  sms.message_id = Sha256Hex({inbound.tenant(), inbound.message_id(), "reply"});
  sms.tenant = inbound.tenant();
  sms.to = to;
  sms.body = body;
  sms.request_id = absl::StrCat("inbound/", inbound.message_id(), "/reply");
  if (absl::Status sent = transport_.Send(absl::StrCat("reply-", sms.message_id, ".json"), sms);
      !sent.ok()) {
    result = Retry(absl::StrCat("transport: ", sent.ToString()));
    return;
  }
  SendOutcome outcome;
  outcome.set_request_id(sms.request_id);
  outcome.set_tenant(inbound.tenant());
  outcome.set_status(SendOutcome::SENT);
  outcome.set_message_id(sms.message_id);
  outcome.set_detail(what);
  outcome.set_sender("sms");
  *outcome.mutable_decide_time() = ToProto(runtime_.clock().Now());
  result.records.push_back(Publish(outcome));
}

HandleResult SmsHandler::HandleInbound(const InboundSms& inbound) {
  HandleResult result;
  const sms::KeywordMatch match = sms::ClassifyInbound(inbound.body());
  if (match.keyword == sms::SmsKeyword::kNone) {
    spdlog::debug("sms: inbound message {} has no keyword; no action", inbound.message_id());
    return result;
  }
  // The idempotency key "sms-inbound-<id>" must stay within the service's 128 characters.
  if (inbound.message_id().empty() || inbound.message_id().size() > 116) {
    spdlog::warn(
        "sms: inbound {} message without a usable message_id (1..116 characters); "
        "skipped",
        match.matched);
    return result;
  }
  v1::ContactPoint phone;
  phone.set_type(v1::CONTACT_PHONE);
  phone.set_value(inbound.from());
  absl::StatusOr<std::string> from = contact::Normalize("from", phone);
  if (!from.ok()) {
    spdlog::warn("sms: inbound {} message {}: bad sender number; skipped", match.matched,
                 inbound.message_id());
    return result;
  }
  phone.set_value(*from);

  if (match.keyword == sms::SmsKeyword::kHelp) {
    Reply(inbound, *from, sms::HelpReply(config_.brand, config_.help_contact), "help", result);
    return result;
  }

  // Read first: a confirmation is owed only when this message changes the opt-out state, so
  // repeated STOPs (a redelivery, or the customer sending it twice) confirm once in total.
  absl::StatusOr<std::optional<v1::ContactPointState>> state =
      service_.GetState(inbound.tenant(), phone);
  if (!state.ok()) {
    if (Transient(state.status())) return Retry(absl::StrCat("state: ", state.status().ToString()));
    spdlog::warn("sms: inbound {} message {}: cannot read the contact point: {}; skipped",
                 match.matched, inbound.message_id(), state.status().ToString());
    return result;
  }
  const bool unsubscribed = state->has_value() && HasSmsUnsubscribe(**state);
  const bool stop = match.keyword == sms::SmsKeyword::kStop;
  if (!stop && !unsubscribed) {
    spdlog::info("sms: inbound {} message {}: not unsubscribed; nothing to lift", match.matched,
                 inbound.message_id());
    return result;
  }

  v1::SuppressContactPointRequest request;
  request.set_tenant(inbound.tenant());
  *request.mutable_contact_point() = phone;
  request.set_channel(v1::SMS);
  request.set_kind(v1::Suppression::UNSUBSCRIBED);
  request.set_lift(!stop);
  request.set_actor(config_.actor);
  request.set_source(stop ? "sms-stop" : "sms-start");
  request.set_idempotency_key(absl::StrCat("sms-inbound-", inbound.message_id()));
  absl::StatusOr<v1::SuppressContactPointResponse> written = service_.Suppress(request);
  if (!written.ok()) {
    if (Transient(written.status())) {
      return Retry(absl::StrCat("suppress: ", written.status().ToString()));
    }
    // A lift refused because another message lifted it meanwhile is not an error.
    spdlog::warn("sms: inbound {} message {}: the service refused the change: {}; skipped",
                 match.matched, inbound.message_id(), written.status().ToString());
    return result;
  }
  spdlog::info("sms: inbound {} message {}: {} recorded (sequence {}{})", match.matched,
               inbound.message_id(), stop ? "opt-out" : "opt-in", written->sequence(),
               written->replayed() ? ", replayed" : "");
  if (stop && !unsubscribed) {
    Reply(inbound, *from, sms::StopConfirmation(config_.brand), "stop-confirmation", result);
  } else if (!stop) {
    Reply(inbound, *from, sms::StartConfirmation(config_.brand), "start-confirmation", result);
  }
  return result;
}

}  // namespace assent::sms_sender
