#include "prefcenter/api_body.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace assent::prefcenter {
namespace {

// `object[key]` as a string, `fallback` when the key is absent. nlohmann's value() throws on any
// other type, which reached the server's exception handler as a 500; a client's mistake is a 400
// naming the field.
absl::StatusOr<std::string> StringField(const nlohmann::json& object, const std::string& key,
                                        const std::string& field, std::string fallback) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_string()) return absl::InvalidArgumentError(field + ": must be a string");
  return it->get<std::string>();
}

}  // namespace

absl::StatusOr<ApiSave> ReadApiSave(std::string_view body_text, const PageData& page,
                                    const std::vector<PurposeView>& purposes) {
  nlohmann::json body = nlohmann::json::parse(body_text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return absl::InvalidArgumentError("body: must be a JSON object");
  if (!body.contains("sequence") || !body["sequence"].is_string()) {
    return absl::InvalidArgumentError(
        "sequence: required (the \"sequence\" of the GET you answer)");
  }
  ApiSave save;
  save.sequence = body["sequence"].get<std::string>();
  // The request as a form: every row as it is now, then the choices on top.
  std::multimap<std::string, std::string>& form = save.form;
  for (const PurposeView& p : purposes) {
    for (const auto& [topic, rows] : p.groups) {
      for (const Row& r : rows) {
        if (r.checked) form.emplace(r.name, "on");
      }
    }
  }
  if (body.contains("choices")) {
    if (!body["choices"].is_array()) return absl::InvalidArgumentError("choices: must be a list");
    for (size_t i = 0; i < body["choices"].size(); ++i) {
      const nlohmann::json& c = body["choices"][i];
      const std::string field = absl::StrCat("choices[", i, "]");
      if (!c.is_object() || !c.value("purpose_id", nlohmann::json()).is_string() ||
          !c.value("channel", nlohmann::json()).is_string() ||
          !c.value("checked", nlohmann::json()).is_boolean()) {
        return absl::InvalidArgumentError(
            field + ": needs purpose_id and channel (strings) and checked (bool)");
      }
      ASSIGN_OR_RETURN(const std::string topic, StringField(c, "topic", field + ".topic", ""));
      const std::string name = topic.empty()
                                   ? absl::StrCat("consent:", c["purpose_id"].get<std::string>(),
                                                  ":", c["channel"].get<std::string>())
                                   : absl::StrCat("consent:", c["purpose_id"].get<std::string>(),
                                                  ":", topic, ":", c["channel"].get<std::string>());
      bool known = false;
      for (const PurposeView& p : purposes) {
        for (const auto& [t, rows] : p.groups) {
          for (const Row& r : rows) known = known || r.name == name;
        }
      }
      if (!known) {
        return absl::InvalidArgumentError(field + ": no such purpose, topic and channel here");
      }
      form.erase(name);
      if (c["checked"].get<bool>()) form.emplace(name, "on");
    }
  }
  if (page.has_preferences()) {
    v1::Preferences prefs = page.subject->preferences();
    const nlohmann::json p = body.value("preferences", nlohmann::json::object());
    if (!p.is_object()) return absl::InvalidArgumentError("preferences: must be an object");
    if (p.contains("quiet_hours")) {
      const nlohmann::json& quiet = p["quiet_hours"];
      if (quiet.is_object()) {
        form.emplace("quiet_hours_enabled", "on");
        for (const auto& [key, input] :
             {std::pair("start", "quiet_hours_start"), std::pair("end", "quiet_hours_end"),
              std::pair("time_zone", "quiet_hours_tz")}) {
          ASSIGN_OR_RETURN(
              std::string value,
              StringField(quiet, key, absl::StrCat("preferences.quiet_hours.", key), ""));
          form.emplace(input, std::move(value));
        }
      }
    } else if (prefs.has_quiet_hours()) {
      form.emplace("quiet_hours_enabled", "on");
      form.emplace("quiet_hours_start", HourMinute(prefs.quiet_hours().start_minute()));
      form.emplace("quiet_hours_end", HourMinute(prefs.quiet_hours().end_minute()));
      form.emplace("quiet_hours_tz", prefs.quiet_hours().time_zone());
    }
    ASSIGN_OR_RETURN(std::string language,
                     StringField(p, "preferred_language", "preferences.preferred_language",
                                 prefs.preferred_language()));
    form.emplace("language", std::move(language));
    ASSIGN_OR_RETURN(std::string channel,
                     StringField(p, "preferred_channel", "preferences.preferred_channel",
                                 prefs.preferred_channel() == v1::CHANNEL_UNSPECIFIED
                                     ? std::string()
                                     : ChannelKey(prefs.preferred_channel())));
    form.emplace("preferred_channel", std::move(channel));
    if (p.contains("frequency_caps")) {
      if (!p["frequency_caps"].is_array()) {
        return absl::InvalidArgumentError("preferences.frequency_caps: must be a list");
      }
      for (int c = v1::EMAIL; c <= v1::IN_APP; ++c) {
        form.emplace(absl::StrCat("cap_", ChannelKey(static_cast<v1::Channel>(c)), "_count"), "");
      }
      for (size_t i = 0; i < p["frequency_caps"].size(); ++i) {
        const nlohmann::json& cap = p["frequency_caps"][i];
        const std::string field = absl::StrCat("preferences.frequency_caps[", i, "]");
        if (!cap.is_object()) return absl::InvalidArgumentError(field + ": must be an object");
        ASSIGN_OR_RETURN(const std::string cap_channel,
                         StringField(cap, "channel", field + ".channel", ""));
        ASSIGN_OR_RETURN(std::string period, StringField(cap, "period", field + ".period", ""));
        // An integer as it was sent (PlanFromForm checks its range): read as an int it would
        // wrap, 4294967299 becoming 3.
        std::string count = "-1";
        if (auto it = cap.find("max_messages"); it != cap.end()) {
          if (!it->is_number_integer()) {
            return absl::InvalidArgumentError(field + ".max_messages: must be an integer");
          }
          count = it->dump();
        }
        form.erase(absl::StrCat("cap_", cap_channel, "_count"));
        form.emplace(absl::StrCat("cap_", cap_channel, "_count"), count);
        form.emplace(absl::StrCat("cap_", cap_channel, "_period"), std::move(period));
      }
    }
  }
  return save;
}

}  // namespace assent::prefcenter
