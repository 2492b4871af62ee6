#include "email_sender/confirmation.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "events/kafka.h"
#include "kainjow/mustache.hpp"
#include "mail/message.h"
#include "spdlog/spdlog.h"

namespace assent::email {
namespace {

constexpr std::string_view kConfirmationType = "assent.v1.ConfirmationRequested";
constexpr std::string_view kExportLinkType = "assent.v1.ExportLinkRequested";

struct ConfirmationTemplate {
  const char* subject;
  const char* text;
};

// Plain text: every value is inserted raw ({{{ }}}), nothing here is HTML.
constexpr ConfirmationTemplate kEnglish = {
    "Please confirm your subscription",
    "Hello,\n\n"
    "please confirm that you want to receive:\n"
    "{{#items}}  - {{{what}}}\n{{/items}}\n"
    "\nConfirm here:\n{{{url}}}\n\n"
    "Nothing will be sent to you until you confirm. If you did not ask for this, ignore this "
    "message: the request lapses on its own{{#expires}} ({{{expires}}}){{/expires}}.\n"};
constexpr ConfirmationTemplate kGerman = {
    "Bitte bestätigen Sie Ihre Anmeldung",
    "Hallo,\n\n"
    "bitte bestätigen Sie, dass Sie Folgendes erhalten möchten:\n"
    "{{#items}}  - {{{what}}}\n{{/items}}\n"
    "\nHier bestätigen:\n{{{url}}}\n\n"
    "Wir senden Ihnen nichts, bevor Sie bestätigen. Wenn Sie dies nicht angefordert haben, "
    "ignorieren Sie diese Nachricht: die Anfrage verfällt von selbst{{#expires}} "
    "({{{expires}}}){{/expires}}.\n"};
constexpr ConfirmationTemplate kFrench = {
    "Merci de confirmer votre inscription",
    "Bonjour,\n\n"
    "merci de confirmer que vous souhaitez recevoir :\n"
    "{{#items}}  - {{{what}}}\n{{/items}}\n"
    "\nConfirmez ici :\n{{{url}}}\n\n"
    "Nous ne vous enverrons rien avant votre confirmation. Si vous n’avez rien demandé, ignorez "
    "ce message : la demande expirera d’elle-même{{#expires}} ({{{expires}}}){{/expires}}.\n"};
constexpr ConfirmationTemplate kSpanish = {
    "Confirme su suscripción",
    "Hola:\n\n"
    "confirme que desea recibir:\n"
    "{{#items}}  - {{{what}}}\n{{/items}}\n"
    "\nConfirme aquí:\n{{{url}}}\n\n"
    "No le enviaremos nada hasta que confirme. Si no lo ha solicitado, ignore este mensaje: la "
    "solicitud caducará sola{{#expires}} ({{{expires}}}){{/expires}}.\n"};

// "Download my data" (ExportLinkRequested): the customer asked on the preference center.
constexpr ConfirmationTemplate kExportEnglish = {
    "Your data download link",
    "Hello,\n\n"
    "you asked to download the data we hold about your choices. Download it here:\n"
    "{{{url}}}\n\n"
    "The link works for 30 minutes{{#expires}} (until {{{expires}}}){{/expires}}. If you did not "
    "ask for this, ignore this message: nothing is shared unless the link is opened.\n"};
constexpr ConfirmationTemplate kExportGerman = {
    "Ihr Link zum Herunterladen Ihrer Daten",
    "Hallo,\n\n"
    "Sie haben angefordert, die Daten zu Ihren Einwilligungen herunterzuladen. Hier "
    "herunterladen:\n"
    "{{{url}}}\n\n"
    "Der Link gilt 30 Minuten{{#expires}} (bis {{{expires}}}){{/expires}}. Wenn Sie dies nicht "
    "angefordert haben, ignorieren Sie diese Nachricht: ohne den Link wird nichts "
    "herausgegeben.\n"};
constexpr ConfirmationTemplate kExportFrench = {
    "Votre lien de téléchargement de vos données",
    "Bonjour,\n\n"
    "vous avez demandé à télécharger les données que nous conservons sur vos choix. "
    "Téléchargez-les ici :\n"
    "{{{url}}}\n\n"
    "Le lien est valable 30 minutes{{#expires}} (jusqu’au {{{expires}}}){{/expires}}. Si vous "
    "n’avez rien demandé, ignorez ce message : rien n’est communiqué sans ce lien.\n"};
constexpr ConfirmationTemplate kExportSpanish = {
    "Su enlace para descargar sus datos",
    "Hola:\n\n"
    "ha solicitado descargar los datos que conservamos sobre sus elecciones. Descárguelos aquí:\n"
    "{{{url}}}\n\n"
    "El enlace es válido durante 30 minutos{{#expires}} (hasta {{{expires}}}){{/expires}}. Si no "
    "lo ha solicitado, ignore este mensaje: no se comparte nada sin el enlace.\n"};

// The first two letters of a language tag, lower-cased ("de-AT" -> "de").
std::string Primary(std::string_view tag) {
  std::string out;
  for (char c : tag.substr(0, 2)) out.push_back(static_cast<char>(c | 0x20));
  return tag.size() == 2 || (tag.size() > 2 && tag[2] == '-') ? out : "";
}

// The language of the PENDING decisions' evidence when a template has it, else English.
std::string Language(const v1::ConfirmationRequested& notice) {
  for (const v1::ConsentRecord& r : notice.records()) {
    const std::string lang = Primary(r.evidence().language());
    if (lang == "de" || lang == "fr" || lang == "es") return lang;
    if (!r.evidence().language().empty()) return "en";
  }
  return "en";
}

const ConfirmationTemplate& TemplateFor(std::string_view lang) {
  if (lang == "de") return kGerman;
  if (lang == "fr") return kFrench;
  if (lang == "es") return kSpanish;
  return kEnglish;
}

// The purpose's name in `lang` from the catalog (its display name, else its id), and the topic.
std::string What(const v1::ConsentRecord& r, const enforce::TenantCatalog* catalog,
                 std::string_view lang) {
  std::string what = r.purpose_id();
  if (catalog != nullptr) {
    auto it = catalog->purposes.find(r.purpose_id());
    if (it != catalog->purposes.end()) {
      if (!it->second.display_name().empty()) what = it->second.display_name();
      for (const v1::PurposeText& text : it->second.texts()) {
        if (Primary(text.language()) == lang && !text.display_name().empty()) {
          what = text.display_name();
        }
      }
    }
  }
  if (!r.topic().empty()) absl::StrAppend(&what, " / ", r.topic());
  return what;
}

const ConfirmationTemplate& ExportTemplateFor(std::string_view tag) {
  const std::string lang = Primary(tag);
  if (lang == "de") return kExportGerman;
  if (lang == "fr") return kExportFrench;
  if (lang == "es") return kExportSpanish;
  return kExportEnglish;
}

absl::Status CheckSecret(const v1::ConfirmationSecret& secret) {
  if (secret.contact_point().type() != v1::CONTACT_EMAIL ||
      secret.contact_point().value().empty()) {
    return InvalidField("sealed.contact_point", "must be an email address");
  }
  if (!std::string_view(secret.url()).starts_with("https://")) {
    return InvalidField("sealed.url", "must be an https:// link");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> RenderExportLink(const ConfirmationConfig& config,
                                             const v1::ExportLinkRequested& notice,
                                             const v1::ConfirmationSecret& secret,
                                             const std::string& message_id, absl::Time now) {
  RETURN_IF_ERROR(CheckSecret(secret));
  const ConfirmationTemplate& t = ExportTemplateFor(notice.language());
  kainjow::mustache::data view;
  view.set("url", secret.url());
  if (notice.has_expire_time()) {
    view.set("expires", absl::FormatTime("%Y-%m-%d %H:%M UTC",
                                         absl::FromUnixSeconds(notice.expire_time().seconds()),
                                         absl::UTCTimeZone()));
  }
  kainjow::mustache::mustache body(t.text);
  mail::MailMessage message;
  message.from = config.from;
  message.to = secret.contact_point().value();
  message.subject = t.subject;
  message.message_id = message_id;
  message.date = now;
  message.text_body = body.render(view);
  if (!body.is_valid()) return absl::InternalError("export template: " + body.error_message());
  return mail::RenderRfc5322(message);
}

absl::StatusOr<std::string> RenderConfirmation(const ConfirmationConfig& config,
                                               const v1::ConfirmationRequested& notice,
                                               const v1::ConfirmationSecret& secret,
                                               const enforce::TenantCatalog* catalog,
                                               const std::string& message_id, absl::Time now) {
  RETURN_IF_ERROR(CheckSecret(secret));
  const std::string lang = Language(notice);
  const ConfirmationTemplate& t = TemplateFor(lang);
  kainjow::mustache::data items{kainjow::mustache::data::type::list};
  for (const v1::ConsentRecord& r : notice.records()) {
    kainjow::mustache::data item;
    item.set("what", What(r, catalog, lang));
    items.push_back(item);
  }
  kainjow::mustache::data view;
  view.set("items", items);
  view.set("url", secret.url());
  if (notice.has_expire_time()) {
    view.set("expires", absl::FormatTime("%Y-%m-%d %H:%M UTC",
                                         absl::FromUnixSeconds(notice.expire_time().seconds()),
                                         absl::UTCTimeZone()));
  }
  kainjow::mustache::mustache body(t.text);
  mail::MailMessage message;
  message.from = config.from;
  message.to = secret.contact_point().value();
  message.subject = t.subject;
  message.message_id = message_id;
  message.date = now;
  message.text_body = body.render(view);
  if (!body.is_valid())
    return absl::InternalError("confirmation template: " + body.error_message());
  return mail::RenderRfc5322(message);
}

ConfirmationMailer::ConfirmationMailer(ConfirmationConfig config, sender::SenderRuntime& runtime,
                                       mail::SpoolDirectory& spool)
    : config_(std::move(config)),
      runtime_(runtime),
      spool_(spool),
      skipped_(prometheus::BuildCounter()
                   .Name("assent_sender_skipped_messages_total")
                   .Help("Lifecycle records skipped, by message type (unknown types included)")
                   .Register(*runtime.registry())),
      confirmations_(prometheus::BuildCounter()
                         .Name("assent_sender_confirmations_total")
                         .Help("ConfirmationRequested notices handled, by result (sent, "
                               "duplicate, suppressed, no_address, rejected)")
                         .Register(*runtime.registry())),
      export_links_(prometheus::BuildCounter()
                        .Name("assent_sender_export_links_total")
                        .Help("ExportLinkRequested notices handled, by result (sent, duplicate, "
                              "suppressed, rejected)")
                        .Register(*runtime.registry())) {}

std::string ConfirmationMailer::MarkerPath(const std::string& event_id) const {
  return absl::StrCat(spool_.dir(), "/.sent/", Sha256Hex(event_id));
}

bool ConfirmationMailer::HardSuppressed(const std::string& tenant,
                                        const v1::ContactPoint& point) const {
  v1::Target target;
  *target.mutable_contact_point() = point;
  absl::StatusOr<enforce::Recipient> recipient = runtime_.enforcer().Resolve(tenant, target);
  if (!recipient.ok()) return false;
  bool hard = false;
  runtime_.enforcer().view().Read(recipient->key, [&](const enforce::ViewEntry* entry) {
    v1::ContactPointState state;
    if (entry == nullptr || !entry->ParseContact(state)) return;
    for (const v1::Suppression& s : state.suppressions()) {
      if ((s.kind() == v1::Suppression::HARD_BOUNCE || s.kind() == v1::Suppression::INVALID) &&
          (s.channel() == v1::EMAIL || s.channel() == v1::CHANNEL_UNSPECIFIED)) {
        hard = true;
      }
    }
  });
  return hard;
}

sender::HandleResult ConfirmationMailer::Handle(const rd_kafka_message_t& m) {
  return HandleRecord(events::HeaderValue(m, "message-type"),
                      m.payload == nullptr
                          ? std::string_view()
                          : std::string_view(static_cast<const char*>(m.payload), m.len));
}

sender::HandleResult ConfirmationMailer::HandleRecord(const std::string& type,
                                                      std::string_view value) {
  sender::HandleResult result;
  if (type == kExportLinkType) return HandleExportLink(value);
  if (type != kConfirmationType) {
    skipped_.Add({{"sender", runtime_.config().name}, {"type", type.empty() ? "none" : type}})
        .Increment();
    return result;
  }
  auto count = [&](const char* what) {
    confirmations_.Add({{"sender", runtime_.config().name}, {"result", what}}).Increment();
    return result;
  };
  v1::ConfirmationRequested notice;
  if (!notice.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
      notice.event_id().empty()) {
    spdlog::warn("msg=\"lifecycle record is not a ConfirmationRequested\"");
    return count("rejected");
  }
  // A subject's notice has no sealed address: the tenant's own systems send it.
  if (!notice.has_sealed()) return count("no_address");
  if (!runtime_.config().tenants.empty() &&
      std::find(runtime_.config().tenants.begin(), runtime_.config().tenants.end(),
                notice.tenant()) == runtime_.config().tenants.end()) {
    skipped_.Add({{"sender", runtime_.config().name}, {"type", "other_tenant"}}).Increment();
    return result;
  }
  if (Sent(notice.event_id())) return count("duplicate");
  absl::StatusOr<std::string> plain =
      links::Open(*config_.keyring, notice.sealed(), notice.event_id());
  v1::ConfirmationSecret secret;
  if (!plain.ok() || !secret.ParseFromString(*plain)) {
    // The event id is not a customer identifier; the status names no secret.
    spdlog::warn("msg=\"confirmation not opened\" event_id=\"{}\" error=\"{}\"", notice.event_id(),
                 plain.ok() ? "not a ConfirmationSecret" : plain.status().ToString());
    return count("rejected");
  }
  if (HardSuppressed(notice.tenant(), secret.contact_point())) return count("suppressed");
  const std::string id = Sha256Hex(absl::StrCat("confirmation/", notice.event_id()));
  const std::string message_id =
      absl::StrCat("<", id.substr(0, 32), "@", config_.message_id_domain, ">");
  std::shared_ptr<const enforce::Catalog> catalog = runtime_.enforcer().catalog();
  absl::StatusOr<std::string> rendered =
      RenderConfirmation(config_, notice, secret, catalog->FindTenant(notice.tenant()), message_id,
                         runtime_.clock().Now());
  if (!rendered.ok()) {
    spdlog::warn("msg=\"confirmation not rendered\" event_id=\"{}\" error=\"{}\"",
                 notice.event_id(), rendered.status().ToString());
    return count("rejected");
  }
  absl::Status spooled = Spool(id, *rendered, notice.event_id());
  if (!spooled.ok()) {
    result.kind = sender::HandleResult::kRetry;
    result.why = std::string(spooled.message());
    return result;
  }
  return count("sent");
}

bool ConfirmationMailer::Sent(const std::string& event_id) const {
  struct stat st;
  return stat(MarkerPath(event_id).c_str(), &st) == 0;
}

absl::Status ConfirmationMailer::Spool(const std::string& id, const std::string& rendered,
                                       const std::string& event_id) {
  RETURN_IF_ERROR(spool_.Write(absl::StrCat(id, ".eml"), rendered).status());
  // The marker after the message: a crash in between re-writes the same file (same name).
  mail::SpoolDirectory sent(absl::StrCat(spool_.dir(), "/.sent"));
  RETURN_IF_ERROR(sent.Init());
  return sent.Write(Sha256Hex(event_id), event_id).status();
}

sender::HandleResult ConfirmationMailer::HandleExportLink(std::string_view value) {
  sender::HandleResult result;
  auto count = [&](const char* what) {
    export_links_.Add({{"sender", runtime_.config().name}, {"result", what}}).Increment();
    return result;
  };
  v1::ExportLinkRequested notice;
  if (!notice.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
      notice.event_id().empty() || !notice.has_sealed()) {
    spdlog::warn("msg=\"lifecycle record is not an ExportLinkRequested\"");
    return count("rejected");
  }
  if (!runtime_.config().tenants.empty() &&
      std::find(runtime_.config().tenants.begin(), runtime_.config().tenants.end(),
                notice.tenant()) == runtime_.config().tenants.end()) {
    skipped_.Add({{"sender", runtime_.config().name}, {"type", "other_tenant"}}).Increment();
    return result;
  }
  if (Sent(notice.event_id())) return count("duplicate");
  absl::StatusOr<std::string> plain =
      links::Open(*config_.keyring, notice.sealed(), notice.event_id());
  v1::ConfirmationSecret secret;
  if (!plain.ok() || !secret.ParseFromString(*plain)) {
    spdlog::warn("msg=\"export link not opened\" event_id=\"{}\" error=\"{}\"", notice.event_id(),
                 plain.ok() ? "not a ConfirmationSecret" : plain.status().ToString());
    return count("rejected");
  }
  if (HardSuppressed(notice.tenant(), secret.contact_point())) return count("suppressed");
  const std::string id = Sha256Hex(absl::StrCat("export-link/", notice.event_id()));
  const std::string message_id =
      absl::StrCat("<", id.substr(0, 32), "@", config_.message_id_domain, ">");
  absl::StatusOr<std::string> rendered =
      RenderExportLink(config_, notice, secret, message_id, runtime_.clock().Now());
  if (!rendered.ok()) {
    spdlog::warn("msg=\"export link not rendered\" event_id=\"{}\" error=\"{}\"", notice.event_id(),
                 rendered.status().ToString());
    return count("rejected");
  }
  absl::Status spooled = Spool(id, *rendered, notice.event_id());
  if (!spooled.ok()) {
    result.kind = sender::HandleResult::kRetry;
    result.why = std::string(spooled.message());
    return result;
  }
  return count("sent");
}

}  // namespace assent::email
