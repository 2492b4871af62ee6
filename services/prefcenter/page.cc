#include "prefcenter/page.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "core/decision.h"
#include "core/validate.h"

namespace assent::prefcenter {
namespace {

// The zones offered in the quiet-hours list (the subject's own is added when missing).
constexpr std::string_view kTimeZones[] = {"UTC",
                                           "Europe/London",
                                           "Europe/Dublin",
                                           "Europe/Lisbon",
                                           "Europe/Madrid",
                                           "Europe/Paris",
                                           "Europe/Brussels",
                                           "Europe/Amsterdam",
                                           "Europe/Berlin",
                                           "Europe/Zurich",
                                           "Europe/Vienna",
                                           "Europe/Rome",
                                           "Europe/Warsaw",
                                           "Europe/Stockholm",
                                           "Europe/Helsinki",
                                           "Europe/Athens",
                                           "America/New_York",
                                           "America/Chicago",
                                           "America/Denver",
                                           "America/Los_Angeles",
                                           "America/Toronto",
                                           "America/Mexico_City",
                                           "America/Sao_Paulo",
                                           "Asia/Tokyo",
                                           "Asia/Singapore",
                                           "Asia/Kolkata",
                                           "Australia/Sydney",
                                           "Pacific/Auckland"};

struct Period {
  std::string_view value;
  std::string_view key;
  absl::Duration duration;
};
constexpr int kMaxCap = 99;
const Period kPeriods[] = {{"DAY", "period_day", absl::Hours(24)},
                           {"WEEK", "period_week", absl::Hours(24 * 7)},
                           {"MONTH", "period_month", absl::Hours(24 * 30)}};

std::optional<uint32_t> ParseHourMinute(std::string_view text) {
  int h = 0, m = 0;
  if (text.size() != 5 || text[2] != ':' || !absl::SimpleAtoi(Sv(text.substr(0, 2)), &h) ||
      !absl::SimpleAtoi(Sv(text.substr(3, 2)), &m) || h < 0 || h > 23 || m < 0 || m > 59) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(h * 60 + m);
}

// The explicit decision for exactly this (purpose, channel, topic), the subject's or the contact
// point's, whichever is latest.
const v1::ConsentRecord* ExactDecision(const PageData& page, const Row& row) {
  const v1::ConsentRecord* found = nullptr;
  auto consider = [&](const auto& decisions) {
    for (const v1::ConsentRecord& r : decisions) {
      if (r.purpose_id() == row.purpose_id && r.channel() == row.channel &&
          r.topic() == row.topic &&
          (found == nullptr ||
           FromProto(r.effective_time()) > FromProto(found->effective_time()))) {
        found = &r;
      }
    }
  };
  if (page.subject.has_value()) consider(page.subject->decisions());
  if (page.contact.has_value()) consider(page.contact->decisions());
  return found;
}

const v1::ConsentRecord* FindRecord(const PageData& page, const std::string& record_id,
                                    bool on_contact) {
  if (record_id.empty()) return nullptr;
  auto find = [&](const auto& decisions) -> const v1::ConsentRecord* {
    for (const v1::ConsentRecord& r : decisions) {
      if (r.record_id() == record_id) return &r;
    }
    return nullptr;
  };
  if (on_contact && page.contact.has_value()) return find(page.contact->decisions());
  if (!on_contact && page.subject.has_value()) return find(page.subject->decisions());
  return nullptr;
}

std::string StateClass(v1::ConsentState state) {
  switch (state) {
    case v1::GRANTED:
      return "granted";
    case v1::DENIED:
      return "denied";
    case v1::WITHDRAWN:
      return "withdrawn";
    case v1::PENDING:
      return "pending";
    default:
      return "not_set";
  }
}

// Fills a row's state from the decision rule's verdict (see assets/README.md, "How a row is
// filled").
void Judge(const PageData& page, const v1::Purpose& purpose, const Locales& locales, Row& row) {
  core::CheckInput input;
  input.purpose = &purpose;
  input.policy = &page.tenant->catalog.policy;
  input.channel = row.channel;
  input.topic = row.topic;
  input.now = page.now;
  input.subject = page.subject.has_value() ? &*page.subject : nullptr;
  input.contact = page.contact.has_value() ? &*page.contact : nullptr;
  absl::StatusOr<v1::CheckResponse> verdict = core::Decide(input);
  const v1::Reason reason = verdict.ok() ? verdict->reason() : v1::REASON_UNSPECIFIED;
  row.verdict = verdict.ok() ? verdict->verdict() : v1::DENY;
  row.record_id = verdict.ok() ? verdict->record_id() : "";
  const bool on_contact = verdict.ok() && verdict->decided_by().has_contact();
  const v1::ConsentRecord* record = FindRecord(page, row.record_id, on_contact);
  const v1::ConsentRecord* exact = ExactDecision(page, row);
  const std::string lang = page.lang;
  // A row with a state, ticked or not, and the reason's sentence (locale key reason_<code>).
  auto show = [&](std::string state_class, bool checked, std::string_view code) {
    row.state_class = std::move(state_class);
    row.checked = checked;
    row.reason_code = std::string(code);
    row.reason = locales.T(lang, absl::StrCat("reason_", Sv(code)));
  };
  switch (reason) {
    case v1::EXPLICIT_GRANT:
      row.state_class = "granted";
      row.checked = true;
      break;
    case v1::QUIET_HOURS: {
      row.state_class = record != nullptr ? "granted" : "not_set";
      row.checked = true;
      row.reason_code = "quiet_hours";
      const v1::QuietHours& q = page.subject->preferences().quiet_hours();
      row.reason = locales.Fill(
          lang, "reason_quiet_hours",
          {{"start", HourMinute(q.start_minute())}, {"end", HourMinute(q.end_minute())}});
      break;
    }
    case v1::EXPIRED:
      row.state_class = "expired";
      row.reason_code = "expired";
      row.reason =
          locales.Fill(lang, "reason_expired",
                       {{"date", record != nullptr && record->has_expire_time()
                                     ? Locales::FormatTime(lang, FromProto(record->expire_time()),
                                                           absl::UTCTimeZone(), false)
                                     : ""}});
      break;
    case v1::REPERMISSION_REQUIRED:
      show("needs_renewal", false, "repermission_required");
      break;
    case v1::PENDING_CONFIRMATION:
      show("pending", true, "pending_confirmation");
      break;
    case v1::EXPLICIT_DENY:
      row.state_class = record != nullptr ? StateClass(record->state()) : "denied";
      break;
    case v1::ADDRESS_SUPPRESSED: {
      show("paused", false, "address_suppressed");
      // A hard suppression (the address does not work) cannot be lifted by ticking a box.
      if (page.contact.has_value()) {
        for (const v1::Suppression& s : page.contact->suppressions()) {
          if ((s.channel() == row.channel || s.channel() == v1::CHANNEL_UNSPECIFIED) &&
              (s.kind() == v1::Suppression::HARD_BOUNCE || s.kind() == v1::Suppression::INVALID)) {
            row.disabled = true;
          }
        }
      }
      break;
    }
    case v1::GLOBAL_OPT_OUT:
      show(exact != nullptr ? StateClass(exact->state()) : "not_set", false, "global_opt_out");
      break;
    case v1::GPC_OPT_OUT:
      show("not_set", false, "gpc_opt_out");
      break;
    case v1::DEFAULT_OPT_OUT:
      show("not_set", true, "default_opt_out");
      break;
    default:  // NO_CONSENT
      row.state_class = "not_set";
      row.reason_code = "no_consent";
      break;
  }
}

// The notice text for the purpose's current version: the page language, else English, else the
// first language the catalog has.
void PickNotice(const v1::Purpose& purpose, std::string_view lang, PurposeView& view) {
  const v1::NoticeText* best = nullptr;
  for (const v1::NoticeText& n : purpose.notices()) {
    if (n.notice_version() != purpose.notice_version()) continue;
    if (Locales::Supported(n.language()) == lang &&
        (best == nullptr || Locales::Supported(best->language()) != lang)) {
      best = &n;
    } else if (best == nullptr ||
               (n.language() == "en" && Locales::Supported(best->language()) != lang)) {
      best = &n;
    }
  }
  view.notice_version = purpose.notice_version();
  if (best == nullptr) return;
  view.has_notice = true;
  view.notice_language = best->language();
  view.notice_text = best->text();
  view.notice_sha256 = best->sha256();
}

std::string Changed(const Locales& locales, std::string_view lang, v1::ConsentState state,
                    const std::string& what) {
  return locales.Fill(lang, absl::StrCat("change_", StateClass(state)), {{"what", what}});
}

}  // namespace

std::string ChannelKey(v1::Channel channel) { return v1::Channel_Name(channel); }

std::string HourMinute(uint32_t minute) {
  return absl::StrFormat("%02d:%02d", minute / 60, minute % 60);
}

std::string PageData::Sequences() const {
  if (contact.has_value()) {
    return subject.has_value() ? absl::StrCat(contact->sequence(), ".", subject->sequence())
                               : absl::StrCat(contact->sequence());
  }
  return absl::StrCat(subject.has_value() ? subject->sequence() : 0);
}

std::string PurposeLabel(const v1::Purpose& purpose, std::string_view lang) {
  for (const v1::PurposeText& text : purpose.texts()) {
    if (Locales::Supported(text.language()) == lang) return text.display_name();
  }
  return purpose.display_name();
}

std::string What(const Locales& locales, std::string_view lang, const v1::Purpose* purpose,
                 std::string_view purpose_id, std::string_view topic, v1::Channel channel) {
  const std::string label =
      purpose != nullptr ? PurposeLabel(*purpose, lang) : std::string(purpose_id);
  if (channel == v1::CHANNEL_UNSPECIFIED) {
    return locales.Fill(lang, "what_purpose", {{"purpose", label}});
  }
  const std::string by = locales.T(lang, absl::StrCat("channel_by_", ChannelKey(channel)));
  if (!topic.empty()) {
    return locales.Fill(lang, "what_purpose_topic_channel",
                        {{"purpose", label}, {"topic", std::string(topic)}, {"by_channel", by}});
  }
  return locales.Fill(lang, "what_purpose_channel", {{"purpose", label}, {"by_channel", by}});
}

std::vector<PurposeView> BuildPurposes(const PageData& page, const Locales& locales) {
  std::vector<PurposeView> out;
  for (const auto& [id, purpose] : page.tenant->catalog.purposes) {
    if (purpose.kind() == v1::TRANSACTIONAL) continue;
    PurposeView view;
    view.purpose = &purpose;
    view.label = PurposeLabel(purpose, page.lang);
    for (const v1::PurposeText& text : purpose.texts()) {
      if (Locales::Supported(text.language()) == page.lang) view.description = text.description();
    }
    PickNotice(purpose, page.lang, view);
    std::vector<std::string> topics(purpose.topics().begin(), purpose.topics().end());
    if (topics.empty()) topics.emplace_back();
    for (const std::string& topic : topics) {
      std::vector<Row> rows;
      for (int c : purpose.channels()) {
        Row row;
        row.purpose_id = id;
        row.topic = topic;
        row.channel = static_cast<v1::Channel>(c);
        row.name = topic.empty()
                       ? absl::StrCat("consent:", id, ":", ChannelKey(row.channel))
                       : absl::StrCat("consent:", id, ":", topic, ":", ChannelKey(row.channel));
        Judge(page, purpose, locales, row);
        rows.push_back(std::move(row));
      }
      view.groups.emplace_back(topic, std::move(rows));
    }
    out.push_back(std::move(view));
  }
  return out;
}

nlohmann::json HistoryEntries(const PageData& page, const Locales& locales,
                              const std::vector<v1::HistoryRecord>& records, size_t limit) {
  const std::string& lang = page.lang;
  absl::TimeZone zone = absl::UTCTimeZone();
  if (page.subject.has_value() && page.subject->preferences().has_quiet_hours()) {
    absl::LoadTimeZone(page.subject->preferences().quiet_hours().time_zone(), &zone);
  }
  auto source = [&](const std::string& s) {
    if (s == kSource) return locales.T(lang, "source_preference_center");
    if (s == kOneClickSource || absl::StrContains(s, "unsubscribe") || s == "email-link") {
      return locales.T(lang, "source_email_link");
    }
    if (absl::StartsWith(s, "web-")) return locales.T(lang, "source_web_form");
    if (s == "sms-stop") return locales.T(lang, "source_sms_reply");
    if (s == "call-center") return locales.T(lang, "source_call_center");
    if (absl::StartsWith(s, "app-")) return locales.T(lang, "source_app");
    if (s == "import") return locales.T(lang, "source_import");
    return locales.T(lang, "source_other");
  };
  nlohmann::json entries = nlohmann::json::array();
  for (const v1::HistoryRecord& h : records) {
    const absl::Time when = FromProto(h.recorded_time());
    auto add = [&](std::string what) {
      if (entries.size() >= limit) return;
      entries.push_back(
          {{"when", Locales::FormatTime(lang, when, zone, true)},
           {"when_iso", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", when, absl::UTCTimeZone())},
           {"what", std::move(what)},
           {"source", source(h.source())}});
    };
    switch (h.kind()) {
      case v1::DECISIONS_RECORDED:
        for (const v1::DecisionChange& d : h.decisions()) {
          const v1::ConsentRecord& r = d.after();
          const v1::Purpose* purpose = page.tenant->catalog.purposes.contains(r.purpose_id())
                                           ? &page.tenant->catalog.purposes.at(r.purpose_id())
                                           : nullptr;
          add(locales.Fill(
              lang, absl::StrCat("history_", StateClass(r.state())),
              {{"what", What(locales, lang, purpose, r.purpose_id(), r.topic(), r.channel())}}));
        }
        break;
      case v1::PREFERENCES_SET:
        add(locales.T(lang, "history_preferences"));
        break;
      case v1::SUPPRESSION_ADDED:
        add(locales.Fill(
            lang, "history_withdrawn",
            {{"what",
              locales.T(lang,
                        absl::StrCat("channel_",
                                     ChannelKey(h.suppression().channel() == v1::CHANNEL_UNSPECIFIED
                                                    ? v1::EMAIL
                                                    : h.suppression().channel())))}}));
        break;
      default:
        break;
    }
  }
  return entries;
}

nlohmann::json SettingsView(const PageData& page, const Locales& locales) {
  const std::string& lang = page.lang;
  const v1::Preferences& prefs = page.subject->preferences();
  nlohmann::json settings;
  nlohmann::json quiet = {{"enabled", prefs.has_quiet_hours()}};
  std::string zone = prefs.has_quiet_hours() ? prefs.quiet_hours().time_zone() : "UTC";
  if (prefs.has_quiet_hours()) {
    quiet["start"] = HourMinute(prefs.quiet_hours().start_minute());
    quiet["end"] = HourMinute(prefs.quiet_hours().end_minute());
  }
  nlohmann::json zones = nlohmann::json::array();
  bool listed = false;
  for (std::string_view z : kTimeZones) {
    nlohmann::json option = {{"value", z}, {"label", z}};
    if (z == zone) option["selected"] = listed = true;
    zones.push_back(option);
  }
  if (!listed) zones.insert(zones.begin(), {{"value", zone}, {"label", zone}, {"selected", true}});
  quiet["time_zones"] = zones;
  settings["quiet_hours"] = quiet;
  nlohmann::json languages = nlohmann::json::array();
  const std::string preferred = Locales::Supported(prefs.preferred_language());
  for (const std::string& l : kLanguages) {
    nlohmann::json option = {{"value", l}, {"label", Locales::NativeName(l)}};
    if (l == preferred) option["selected"] = true;
    languages.push_back(option);
  }
  settings["languages"] = languages;
  // The channels the tenant's consent-governed purposes use: those a preference or cap can name.
  std::set<int> channels;
  for (const auto& [id, purpose] : page.tenant->catalog.purposes) {
    if (purpose.kind() == v1::TRANSACTIONAL) continue;
    for (int c : purpose.channels()) channels.insert(c);
  }
  nlohmann::json channel_options = nlohmann::json::array();
  nlohmann::json caps = nlohmann::json::array();
  for (int c : channels) {
    const auto channel = static_cast<v1::Channel>(c);
    const std::string label = locales.T(lang, absl::StrCat("channel_", ChannelKey(channel)));
    nlohmann::json option = {{"value", ChannelKey(channel)}, {"label", label}};
    if (prefs.preferred_channel() == channel) option["selected"] = true;
    channel_options.push_back(option);
    if (channel == v1::TARGETED_ADS) continue;  // ads are not messages to count
    nlohmann::json cap = {{"channel", ChannelKey(channel)}, {"channel_label", label}};
    nlohmann::json periods = nlohmann::json::array();
    const v1::FrequencyCap* current = nullptr;
    for (const v1::FrequencyCap& f : prefs.frequency_caps()) {
      if (f.channel() == channel) current = &f;
    }
    for (const Period& p : kPeriods) {
      nlohmann::json option2 = {{"value", p.value}, {"label", locales.T(lang, p.key)}};
      if (current != nullptr && FromProto(current->period()) == p.duration) {
        option2["selected"] = true;
      }
      periods.push_back(option2);
    }
    if (current != nullptr) cap["count"] = absl::StrCat(current->max_messages());
    cap["periods"] = periods;
    caps.push_back(cap);
  }
  settings["channels"] = channel_options;
  if (!caps.empty()) settings["caps"] = {{"items", caps}};
  return settings;
}

absl::StatusOr<Plan> PlanFromForm(const PageData& page, const std::vector<PurposeView>& purposes,
                                  const std::multimap<std::string, std::string>& form,
                                  const Locales& locales) {
  const std::string& lang = page.lang;
  auto value = [&](const std::string& key) -> std::string {
    auto it = form.find(key);
    return it == form.end() ? "" : it->second;
  };
  Plan plan;
  for (const PurposeView& view : purposes) {
    for (const auto& [topic, rows] : view.groups) {
      for (const Row& row : rows) {
        if (row.disabled) continue;
        const bool want = value(row.name) == "on";
        if (want == row.checked) continue;
        const v1::ConsentState state = want ? v1::GRANTED : v1::WITHDRAWN;
        plan.decisions.emplace_back(row, state);
        plan.notices[row.purpose_id] = &view;
        plan.changes.push_back(
            Changed(locales, lang, state,
                    What(locales, lang, view.purpose, row.purpose_id, row.topic, row.channel)));
      }
    }
  }
  if (!page.has_preferences()) return plan;

  const v1::Preferences& current = page.subject->preferences();
  v1::Preferences next = current;
  // Quiet hours.
  if (value("quiet_hours_enabled") == "on") {
    auto start = ParseHourMinute(value("quiet_hours_start"));
    auto end = ParseHourMinute(value("quiet_hours_end"));
    const std::string tz = value("quiet_hours_tz");
    // consentd's own check, which keeps "localtime", absolute paths and "../" away from the tz
    // loader (it opens the file a name names): a path reached it from here, and a zone consentd
    // then refused failed the save. A window that starts when it ends is refused by consentd too
    // (empty or the whole day: it does not guess), so the page says so instead of failing the save.
    if (!start || !end || *start == *end || !core::ValidateTimeZone("quiet_hours_tz", tz).ok()) {
      return absl::InvalidArgumentError("form_error_invalid_time");
    }
    v1::QuietHours* q = next.mutable_quiet_hours();
    q->set_start_minute(*start);
    q->set_end_minute(*end);
    q->set_time_zone(tz);
  } else {
    next.clear_quiet_hours();
  }
  // "" is "no preference"; a stored tag the page shows by its language ("de-CH" as "de") stays.
  if (form.contains("language")) {
    const std::string language = Locales::Supported(value("language"));
    if (language != Locales::Supported(current.preferred_language())) {
      next.set_preferred_language(language);
    }
  }
  v1::Channel preferred = v1::CHANNEL_UNSPECIFIED;
  if (const std::string c = value("preferred_channel"); !c.empty()) {
    if (!v1::Channel_Parse(c, &preferred)) return absl::InvalidArgumentError("form_error_generic");
  }
  next.set_preferred_channel(preferred);
  next.clear_frequency_caps();
  for (int c = v1::EMAIL; c <= v1::IN_APP; ++c) {
    const std::string key = ChannelKey(static_cast<v1::Channel>(c));
    if (!form.contains(absl::StrCat("cap_", key, "_count"))) {
      // Not on the form: keep what is stored.
      for (const v1::FrequencyCap& f : current.frequency_caps()) {
        if (f.channel() == c) *next.add_frequency_caps() = f;
      }
      continue;
    }
    const std::string count = value(absl::StrCat("cap_", key, "_count"));
    if (count.empty()) continue;
    int n = 0;
    // consentd refuses a cap below 1 (core::ValidatePreferences): an empty box is "no cap".
    if (!absl::SimpleAtoi(count, &n) || n < 1 || n > kMaxCap) {
      return absl::InvalidArgumentError("form_error_invalid_cap");
    }
    const std::string period = value(absl::StrCat("cap_", key, "_period"));
    const Period* p = nullptr;
    for (const Period& candidate : kPeriods) {
      if (candidate.value == period) p = &candidate;
    }
    if (p == nullptr) return absl::InvalidArgumentError("form_error_invalid_cap");
    v1::FrequencyCap* cap = next.add_frequency_caps();
    cap->set_channel(static_cast<v1::Channel>(c));
    cap->set_max_messages(static_cast<uint32_t>(n));
    *cap->mutable_period() = ToProtoDuration(p->duration);
  }
  if (next.SerializeAsString() == current.SerializeAsString()) return plan;

  // The changes in words.
  if (next.has_quiet_hours() != current.has_quiet_hours() ||
      next.quiet_hours().SerializeAsString() != current.quiet_hours().SerializeAsString()) {
    plan.changes.push_back(
        next.has_quiet_hours()
            ? locales.Fill(lang, "change_quiet_hours_on",
                           {{"start", HourMinute(next.quiet_hours().start_minute())},
                            {"end", HourMinute(next.quiet_hours().end_minute())},
                            {"zone", next.quiet_hours().time_zone()}})
            : locales.T(lang, "change_quiet_hours_off"));
  }
  if (next.preferred_language() != current.preferred_language()) {
    plan.changes.push_back(
        locales.Fill(lang, "change_language",
                     {{"language", next.preferred_language().empty()
                                       ? locales.T(lang, "preferred_channel_none")
                                       : Locales::NativeName(next.preferred_language())}}));
  }
  if (next.preferred_channel() != current.preferred_channel()) {
    plan.changes.push_back(
        next.preferred_channel() == v1::CHANNEL_UNSPECIFIED
            ? locales.T(lang, "change_preferred_channel_none")
            : locales.Fill(
                  lang, "change_preferred_channel",
                  {{"channel",
                    locales.T(lang,
                              absl::StrCat("channel_", ChannelKey(next.preferred_channel())))}}));
  }
  for (int c = v1::EMAIL; c <= v1::IN_APP; ++c) {
    auto find = [&](const v1::Preferences& p) -> std::string {
      for (const v1::FrequencyCap& f : p.frequency_caps()) {
        if (f.channel() == c) return f.SerializeAsString();
      }
      return "";
    };
    if (find(next) == find(current)) continue;
    const std::string channel =
        locales.T(lang, absl::StrCat("channel_", ChannelKey(static_cast<v1::Channel>(c))));
    const v1::FrequencyCap* cap = nullptr;
    for (const v1::FrequencyCap& f : next.frequency_caps()) {
      if (f.channel() == c) cap = &f;
    }
    if (cap == nullptr) {
      plan.changes.push_back(locales.Fill(lang, "change_cap_none", {{"channel", channel}}));
      continue;
    }
    std::string period;
    for (const Period& p : kPeriods) {
      if (FromProto(cap->period()) == p.duration) period = locales.T(lang, p.key);
    }
    plan.changes.push_back(locales.Fill(
        lang, "change_cap",
        {{"channel", channel}, {"count", absl::StrCat(cap->max_messages())}, {"period", period}}));
  }
  plan.preferences = std::move(next);
  return plan;
}

Plan PlanStopAll(const PageData& page, const std::vector<PurposeView>& purposes,
                 const Locales& locales) {
  Plan plan;
  for (const PurposeView& view : purposes) {
    if (view.purpose->kind() != v1::MARKETING) continue;
    std::set<std::pair<std::string, int>> done;
    auto withdraw = [&](const std::string& topic, v1::Channel channel) {
      if (!done.emplace(topic, channel).second) return;
      Row row;
      row.purpose_id = view.purpose->purpose_id();
      row.topic = topic;
      row.channel = channel;
      plan.decisions.emplace_back(row, v1::WITHDRAWN);
      plan.notices[row.purpose_id] = &view;
    };
    for (int c : view.purpose->channels()) withdraw("", static_cast<v1::Channel>(c));
    // A topic decision is more specific than the purpose's: withdraw each one in force too.
    for (const auto& [topic, rows] : view.groups) {
      for (const Row& row : rows) {
        if (!topic.empty()) withdraw(topic, row.channel);
      }
    }
    auto existing = [&](const auto& decisions) {
      for (const v1::ConsentRecord& r : decisions) {
        if (r.purpose_id() == view.purpose->purpose_id() && !r.topic().empty() &&
            r.channel() != v1::CHANNEL_UNSPECIFIED) {
          withdraw(r.topic(), r.channel());
        }
      }
    };
    if (page.subject.has_value()) existing(page.subject->decisions());
    if (page.contact.has_value()) existing(page.contact->decisions());
  }
  plan.changes.push_back(locales.T(page.lang, "change_stop_all"));
  return plan;
}

std::vector<std::pair<Row, v1::ConsentState>> GpcDecisions(
    const std::vector<PurposeView>& purposes) {
  std::vector<std::pair<Row, v1::ConsentState>> out;
  for (const PurposeView& view : purposes) {
    for (const auto& [topic, rows] : view.groups) {
      for (const Row& row : rows) {
        const bool covered =
            view.purpose->kind() == v1::SALE_OR_SHARE || row.channel == v1::TARGETED_ADS;
        if (covered && !row.disabled) out.emplace_back(row, v1::WITHDRAWN);
      }
    }
  }
  return out;
}

}  // namespace assent::prefcenter
