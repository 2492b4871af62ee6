#include "email_sender/email_sender.h"

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/hex.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "links/token.h"
#include "mail/message.h"
#include "spdlog/spdlog.h"

namespace assent::email {
namespace {

using sender::v1::SendOutcome;
using sender::v1::SendRequest;

absl::Status ValidateRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return InvalidField("request_id", "must be 1..128 characters");
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return InvalidField("request_id", "must be printable ASCII");
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<sender::SettingSpec> EmailSpecs() {
  return {
      {"email.requests_topic", "assent.email.requests.v1", "topic of SendRequests"},
      {"email.outcomes_topic", "assent.email.outcomes.v1", "topic the outcomes go to"},
      {"email.spool_dir", "", "directory the RFC 5322 messages are written to; required"},
      {"email.from", "Assent <no-reply@example.com>", "From header"},
      {"email.link_keyring_file", "",
       "the link keyring (links/keyring.h) that signs unsubscribe and preference links; "
       "required"},
      {"email.unsubscribe_url", "https://127.0.0.1:8443/u/{token}",
       "one-click unsubscribe link on the preference center ({token} is replaced; https only, "
       "RFC 8058)"},
      {"email.unsubscribe_mailto", "", "optional mailto: address in List-Unsubscribe"},
      {"email.unsubscribe_ttl", "1440h", "how long an unsubscribe link stays valid"},
      {"email.preferences_url", "https://127.0.0.1:8443/p/{token}",
       "preference-center link in every message's footer ({token} is replaced)"},
      {"email.preferences_ttl", "720h", "how long a preference-center link stays valid"},
      {"email.message_id_domain", "assent.local", "domain part of the Message-IDs"},
      {"email.confirmations_enabled", "false",
       "send double opt-in confirmation messages from the lifecycle topic's "
       "ConfirmationRequested notices"},
      {"email.confirmation_keyring_file", "",
       "the confirmation keyring (consentd's, mode 0600) that opens the sealed addresses; "
       "required when confirmations are enabled"},
      {"email.lifecycle_topic", "",
       "the lifecycle topic; default <kafka.topic_prefix>consent.lifecycle.v1"},
  };
}

std::vector<std::string> EmailOpenPrefixes() { return {"templates."}; }

absl::StatusOr<EmailConfig> ReadEmailConfig(const sender::Settings& s,
                                            const std::string& topic_prefix) {
  EmailConfig c;
  c.requests_topic = s.String("email.requests_topic");
  c.outcomes_topic = s.String("email.outcomes_topic");
  c.spool_dir = s.String("email.spool_dir");
  if (c.spool_dir.empty()) return InvalidField("email.spool_dir", "required");
  c.from = s.String("email.from");
  c.unsubscribe_url = s.String("email.unsubscribe_url");
  if (!std::string_view(c.unsubscribe_url).starts_with("https://")) {
    return InvalidField("email.unsubscribe_url", "must be an https:// URL (RFC 8058)");
  }
  c.unsubscribe_mailto = s.String("email.unsubscribe_mailto");
  ASSIGN_OR_RETURN(c.unsubscribe_ttl, s.Duration("email.unsubscribe_ttl", absl::Hours(1)));
  c.preferences_url = s.String("email.preferences_url");
  if (!std::string_view(c.preferences_url).starts_with("https://")) {
    return InvalidField("email.preferences_url", "must be an https:// URL");
  }
  ASSIGN_OR_RETURN(c.preferences_ttl, s.Duration("email.preferences_ttl", absl::Hours(1)));
  const std::string keyring_file = s.String("email.link_keyring_file");
  if (keyring_file.empty()) {
    return InvalidField("email.link_keyring_file", "required (the link keyring)");
  }
  absl::StatusOr<links::KeyRing> keyring = links::KeyRing::Load(keyring_file);
  // Loading names the file, or a field inside it; the error names the key that pointed there.
  if (!keyring.ok()) {
    return InvalidField("email.link_keyring_file", StdSv(keyring.status().message()));
  }
  c.keyring = std::make_shared<const links::KeyRing>(*std::move(keyring));
  c.message_id_domain = s.String("email.message_id_domain");
  ASSIGN_OR_RETURN(c.confirmation.enabled, s.Bool("email.confirmations_enabled"));
  c.confirmation.topic = s.String("email.lifecycle_topic");
  if (c.confirmation.topic.empty()) {
    c.confirmation.topic = absl::StrCat(topic_prefix, "consent.lifecycle.v1");
  }
  c.confirmation.from = c.from;
  c.confirmation.message_id_domain = c.message_id_domain;
  if (c.confirmation.enabled) {
    const std::string file = s.String("email.confirmation_keyring_file");
    if (file.empty()) {
      return InvalidField("email.confirmation_keyring_file",
                          "required when email.confirmations_enabled is true");
    }
    RETURN_IF_ERROR(CheckSecretFileMode("email.confirmation_keyring_file", file));
    absl::StatusOr<links::KeyRing> ring = links::KeyRing::Load(file);
    if (!ring.ok()) {
      return InvalidField("email.confirmation_keyring_file", StdSv(ring.status().message()));
    }
    c.confirmation.keyring = std::make_shared<const links::KeyRing>(*std::move(ring));
  }
  for (const auto& [key, value] : s.WithPrefix("templates.")) {
    const size_t dot = key.rfind('.');
    const std::string id = key.substr(0, dot);
    const std::string part = dot == std::string::npos ? "" : key.substr(dot + 1);
    if (part == "subject") {
      c.templates[id].subject = value;
    } else if (part == "body") {
      c.templates[id].body = value;
    } else {
      return InvalidField(absl::StrCat("templates.", key), "must be <id>.subject or <id>.body");
    }
  }
  for (const auto& [id, t] : c.templates) {
    if (t.subject.empty() || t.body.empty()) {
      return InvalidField(absl::StrCat("templates.", id), "needs both subject and body");
    }
  }
  return c;
}

absl::StatusOr<std::string> RenderTemplate(
    std::string_view text, std::string_view template_id,
    const google::protobuf::Map<std::string, std::string>& payload) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    const std::string name(text.substr(open + 2, close - open - 2));
    auto it = payload.find(name);
    if (it == payload.end()) {
      return InvalidField(absl::StrCat("payload.", name),
                          absl::StrCat("required by template ", Sv(template_id)));
    }
    out.append(it->second);
    pos = close + 2;
  }
  out.append(text.substr(pos));
  return out;
}

EmailSender::EmailSender(EmailConfig config, sender::SenderRuntime& runtime)
    : config_(std::move(config)), runtime_(runtime), spool_(config_.spool_dir) {}

absl::Status EmailSender::Init() { return spool_.Init(); }

sender::OutRecord EmailSender::Publish(const SendOutcome& outcome) {
  runtime_.Count(outcome, assent::v1::EMAIL);
  return {config_.outcomes_topic, outcome.request_id(), outcome.SerializeAsString()};
}

absl::StatusOr<std::string> EmailSender::Render(const SendRequest& request,
                                                const sender::SendDecision& decision,
                                                const std::string& message_id) {
  auto t = config_.templates.find(request.template_id());
  if (t == config_.templates.end()) {
    return InvalidField("template_id",
                        absl::StrCat("unknown template \"", request.template_id(), "\""));
  }
  // Both links name the recipient by its keyed hash, never by address.
  links::LinkClaims claims;
  claims.tenant = request.tenant();
  claims.target = decision.recipient.ref;
  claims.kind = assent::v1::ONE_CLICK_UNSUBSCRIBE;
  claims.purpose_id = request.purpose_id();
  claims.channel = assent::v1::EMAIL;
  claims.expire_time = runtime_.clock().Now() + config_.unsubscribe_ttl;
  ASSIGN_OR_RETURN(std::string unsubscribe_token, links::MintLink(*config_.keyring, claims));
  const std::string unsubscribe_url = links::FillUrl(config_.unsubscribe_url, unsubscribe_token);
  claims.kind = assent::v1::PREFERENCE_CENTER;
  claims.purpose_id.clear();
  claims.channel = assent::v1::CHANNEL_UNSPECIFIED;
  claims.expire_time = runtime_.clock().Now() + config_.preferences_ttl;
  ASSIGN_OR_RETURN(std::string preferences_token, links::MintLink(*config_.keyring, claims));
  const std::string preferences_url = links::FillUrl(config_.preferences_url, preferences_token);
  // Every template may show the fresh preference-center link as {{preferences_link}} (the
  // "review your choices" template does); a payload value of that name wins.
  google::protobuf::Map<std::string, std::string> payload = request.payload();
  payload.insert({"preferences_link", preferences_url});
  ASSIGN_OR_RETURN(std::string subject, RenderTemplate(t->second.subject, t->first, payload));
  ASSIGN_OR_RETURN(std::string body, RenderTemplate(t->second.body, t->first, payload));
  ASSIGN_OR_RETURN(auto headers,
                   mail::ListUnsubscribeHeaders(unsubscribe_url, config_.unsubscribe_mailto));
  absl::StrAppend(&body, "\n\n-- \nManage your email preferences: ", preferences_url,
                  "\nUnsubscribe from these emails: ", unsubscribe_url, "\n");
  mail::MailMessage message;
  message.from = config_.from;
  message.to = decision.address;
  message.subject = std::move(subject);
  message.message_id = message_id;
  message.date = runtime_.clock().Now();
  message.extra_headers = std::move(headers);
  message.text_body = std::move(body);
  return mail::RenderRfc5322(message);
}

sender::HandleResult EmailSender::Handle(const rd_kafka_message_t& m) {
  sender::HandleResult result;
  SendRequest request;
  if (m.payload == nullptr || !request.ParseFromArray(m.payload, static_cast<int>(m.len))) {
    request.set_request_id(std::string(static_cast<const char*>(m.key), m.key_len));
    SendOutcome out = runtime_.Outcome(request, SendOutcome::REJECTED, nullptr);
    out.set_detail("value: not a SendRequest");
    result.records.push_back(Publish(out));
    return result;
  }
  auto reject = [&](const absl::Status& status) {
    SendOutcome out = runtime_.Outcome(request, SendOutcome::REJECTED, nullptr);
    out.set_detail(std::string(status.message()));
    result.records.push_back(Publish(out));
    return result;
  };
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return reject(s);
  absl::StatusOr<sender::SendDecision> decision =
      runtime_.Decide(request, assent::v1::EMAIL, assent::v1::CONTACT_EMAIL);
  if (!decision.ok()) return reject(decision.status());
  const enforce::Verdict& verdict = decision->verdict;
  if (verdict.response.verdict() != assent::v1::ALLOW) {
    result.records.push_back(Publish(runtime_.Outcome(request, SendOutcome::SUPPRESSED, &verdict)));
    return result;
  }
  // Deterministic per request: a redelivered request yields the same Message-ID and file.
  const std::string id = Sha256Hex(absl::StrCat(request.tenant(), "/", request.request_id()));
  const std::string message_id =
      absl::StrCat("<", id.substr(0, 32), "@", config_.message_id_domain, ">");
  absl::StatusOr<std::string> rendered = Render(request, *decision, message_id);
  if (!rendered.ok()) return reject(rendered.status());
  absl::StatusOr<std::string> path = spool_.Write(absl::StrCat(id, ".eml"), *rendered);
  if (!path.ok()) {
    result.kind = sender::HandleResult::kRetry;
    result.why = std::string(path.status().message());
    return result;
  }
  SendOutcome out = runtime_.Outcome(request, SendOutcome::SENT, &verdict);
  out.set_message_id(message_id);
  result.records.push_back(Publish(out));
  return result;
}

}  // namespace assent::email
