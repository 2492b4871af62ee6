// What the preference center shows and changes for one verified link: the page's data (the
// tenant's catalog and the target's state, read from consentd), the consent rows with their state
// in words (computed with the service's own decision rule, core::Decide), the history in plain
// words, the preferences, and what a submitted form asks to change.
//
// Everything here is pure given its inputs; thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/consent.pb.h"
#include "http/server.h"
#include "links/token.h"
#include "nlohmann/json.hpp"
#include "prefcenter/consent_client.h"
#include "prefcenter/render.h"

namespace assent::prefcenter {

// The source recorded for every change made here.
inline constexpr char kSource[] = "preference-center";
inline constexpr char kOneClickSource[] = "email-one-click";
inline constexpr char kActor[] = "prefcenter";

struct PageData {
  links::LinkClaims claims;
  std::shared_ptr<const TenantInfo> tenant;
  // The subject: the link's target, or the subject its contact point is linked to.
  std::optional<v1::SubjectState> subject;
  // The contact point, when the link names one.
  std::optional<v1::ContactPointState> contact;
  std::string lang;
  absl::Time now;

  // The sequence(s) the page was read at: "<target>" or, for a contact point linked to a subject,
  // "<contact>.<subject>".
  std::string Sequences() const;
  // The preferences (subject only) apply: a subject link, or a contact point linked to one.
  bool has_preferences() const { return subject.has_value(); }
};

// One checkbox: a purpose on a channel (and topic).
struct Row {
  std::string purpose_id;
  std::string topic;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  std::string name;  // form field: consent:<purpose>[:<topic>]:<CHANNEL>
  bool checked = false;
  bool disabled = false;
  std::string state_class;  // granted denied withdrawn pending not_set expired needs_renewal paused
  std::string reason_code;  // the Check reason in lower case when the row shows one ("" none)
  std::string reason;       // in words, filled
  v1::Verdict verdict = v1::VERDICT_UNSPECIFIED;
  std::string record_id;
};

struct PurposeView {
  const v1::Purpose* purpose = nullptr;
  std::string label;
  std::string description;
  // The notice in force, in the page language when the catalog has it (else the closest).
  bool has_notice = false;
  uint32_t notice_version = 0;
  std::string notice_language;
  std::string notice_text;
  std::string notice_sha256;
  // (topic label or "", rows); a purpose without topics has one group with an empty label.
  std::vector<std::pair<std::string, std::vector<Row>>> groups;
};

// The consent-governed purposes of the tenant (TRANSACTIONAL ones are not a choice) in catalog
// order, each row judged now by core::Decide.
std::vector<PurposeView> BuildPurposes(const PageData& page, const Locales& locales);

// The catalog's name of a purpose (or topic) in `lang`, falling back to its display name.
std::string PurposeLabel(const v1::Purpose& purpose, std::string_view lang);

// "“Weekly newsletter” by email": the {what} of history and change texts.
std::string What(const Locales& locales, std::string_view lang, const v1::Purpose* purpose,
                 std::string_view purpose_id, std::string_view topic, v1::Channel channel);

// The history of the page's target(s) in plain words, newest first (at most `limit` entries);
// JSON entries {when, when_iso, what, source}.
nlohmann::json HistoryEntries(const PageData& page, const Locales& locales,
                              const std::vector<v1::HistoryRecord>& records, size_t limit);

// The settings section of the page (quiet hours, language, channel, caps).
nlohmann::json SettingsView(const PageData& page, const Locales& locales);

// What a submitted preferences form asks for.
struct Plan {
  // Rows whose box changed, with the state to record.
  std::vector<std::pair<Row, v1::ConsentState>> decisions;
  // The notice each decision was given against, by purpose id (version, language, sha256).
  std::map<std::string, const PurposeView*> notices;
  // The new preferences when they changed.
  std::optional<v1::Preferences> preferences;
  // Each change in words, for the result page.
  std::vector<std::string> changes;
};

// Compares the form (`form`: field -> value) with the rows and preferences it was rendered from.
// INVALID_ARGUMENT with a locale key as message ("form_error_invalid_time",
// "form_error_invalid_cap") for values the customer must correct.
absl::StatusOr<Plan> PlanFromForm(const PageData& page, const std::vector<PurposeView>& purposes,
                                  const std::multimap<std::string, std::string>& form,
                                  const Locales& locales);

// "Stop all marketing": a withdrawal of every MARKETING purpose on each of its channels, and of
// every topic the target decided on, so that nothing more specific still allows.
Plan PlanStopAll(const PageData& page, const std::vector<PurposeView>& purposes,
                 const Locales& locales);

// The Global Privacy Control signal as decisions (CCPA 7025): every SALE_OR_SHARE row and every
// TARGETED_ADS row withdrawn; recorded with evidence.gpc, which also marks the subject.
std::vector<std::pair<Row, v1::ConsentState>> GpcDecisions(
    const std::vector<PurposeView>& purposes);

// The link's digest: what CSRF tokens, rate limits and idempotency keys use instead of the token.
std::string LinkDigest(const std::string& token);
// The evidence of a customer's request: client address and user agent (printable, bounded).
v1::Evidence RequestEvidence(const httplib::Request& req, const http::RequestContext& ctx);

// "EMAIL", "SMS", ...: the enum's name, as locale keys and form fields use it.
std::string ChannelKey(v1::Channel channel);
// Minutes after midnight as "HH:MM".
std::string HourMinute(uint32_t minute);

}  // namespace assent::prefcenter
