#include "prefcenter/render.h"

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/strings.h"
#include "kainjow/mustache.hpp"

namespace assent::prefcenter {

// Generated from services/prefcenter/assets by cmake/EmbedFiles.cmake.
const std::map<std::string_view, std::string_view>& EmbeddedAssets();

namespace {

namespace km = ::kainjow::mustache;

std::string_view Asset(std::string_view path) {
  auto it = EmbeddedAssets().find(path);
  return it == EmbeddedAssets().end() ? std::string_view() : it->second;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::StatusOr<km::data> ToData(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      km::data d{km::data::type::object};
      for (const auto& [key, value] : j.items()) {
        auto child = ToData(value);
        if (!child.ok()) return child.status();
        d.set(key, *std::move(child));
      }
      return d;
    }
    case nlohmann::json::value_t::array: {
      km::data d{km::data::type::list};
      for (const auto& value : j) {
        auto child = ToData(value);
        if (!child.ok()) return child.status();
        d.push_back(*std::move(child));
      }
      return d;
    }
    case nlohmann::json::value_t::string:
      return km::data{j.get<std::string>()};
    case nlohmann::json::value_t::boolean:
      return j.get<bool>() ? km::data{km::data::type::bool_true}
                           : km::data{km::data::type::bool_false};
    default:
      return absl::InternalError("view model may hold only objects, lists, strings and booleans");
  }
}

// The template source of `name` ("preferences", "layout_head").
std::string TemplateSource(std::string_view name, const std::string& template_dir) {
  if (!template_dir.empty()) {
    std::string text = ReadFile(absl::StrCat(template_dir, "/", Sv(name), ".mustache"));
    if (!text.empty()) return text;
  }
  return std::string(Asset(absl::StrCat("templates/", Sv(name), ".mustache")));
}

constexpr std::string_view kMonths[4][12] = {
    {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
    {"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.",
     "Dez."},
    {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
     "déc."},
    {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"}};

}  // namespace

Locales::Locales() {
  for (const std::string& lang : kLanguages) {
    strings_[lang] = nlohmann::json::parse(Asset(absl::StrCat("locales/", lang, ".json")));
  }
}

const nlohmann::json& Locales::Strings(std::string_view lang) const {
  auto it = strings_.find(lang);
  return it != strings_.end() ? it->second : strings_.find(kLanguages[0])->second;
}

std::string Locales::T(std::string_view lang, std::string_view key) const {
  const nlohmann::json& strings = Strings(lang);
  auto it = strings.find(std::string(key));
  if (it == strings.end() || !it->is_string()) return std::string(key);
  return it->get<std::string>();
}

std::string Locales::Fill(std::string_view lang, std::string_view key,
                          const std::map<std::string, std::string>& params) const {
  const std::string text = T(lang, key);
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find('{', pos);
    const size_t close = open == std::string::npos ? open : text.find('}', open);
    if (close == std::string::npos) break;
    auto it = params.find(text.substr(open + 1, close - open - 1));
    out.append(text, pos, open - pos);
    if (it != params.end()) {
      out.append(it->second);
    } else {
      out.append(text, open, close - open + 1);
    }
    pos = close + 1;
  }
  if (pos < text.size()) out.append(text, pos);
  return out;
}

std::string Locales::NativeName(std::string_view lang) {
  if (lang == "de") return "Deutsch";
  if (lang == "fr") return "Français";
  if (lang == "es") return "Español";
  return "English";
}

std::string Locales::Supported(std::string_view tag) {
  const std::string primary = absl::AsciiStrToLower(Sv(tag.substr(0, tag.find('-'))));
  for (const std::string& lang : kLanguages) {
    if (lang == primary) return lang;
  }
  return "";
}

std::string Locales::FormatTime(std::string_view lang, absl::Time t, absl::TimeZone zone,
                                bool with_time) {
  const absl::TimeZone::CivilInfo c = zone.At(t);
  const int index = lang == "de" ? 1 : lang == "fr" ? 2 : lang == "es" ? 3 : 0;
  const absl::string_view month = Sv(kMonths[index][c.cs.month() - 1]);
  std::string date;
  if (index == 0) {
    date = absl::StrCat(month, " ", c.cs.day(), ", ", c.cs.year());
  } else if (index == 1) {
    date = absl::StrCat(c.cs.day(), ". ", month, " ", c.cs.year());
  } else {
    date = absl::StrCat(c.cs.day(), " ", month, " ", c.cs.year());
  }
  if (!with_time) return date;
  if (index == 0) {
    const int hour12 = c.cs.hour() % 12 == 0 ? 12 : c.cs.hour() % 12;
    return absl::StrCat(date, ", ", hour12, ":", c.cs.minute() < 10 ? "0" : "", c.cs.minute(),
                        c.cs.hour() < 12 ? " AM" : " PM");
  }
  return absl::StrCat(date, ", ", c.cs.hour() < 10 ? "0" : "", c.cs.hour(), ":",
                      c.cs.minute() < 10 ? "0" : "", c.cs.minute());
}

Renderer::Renderer() {
  stylesheet_version_ = Sha256Hex(Stylesheet()).substr(0, 12);
  // Each language's strings once, as the bottom of every render's context: a page's view is
  // pushed on top, so `t` is looked up in place, never copied per request.
  for (const std::string& lang : kLanguages) {
    auto t = ToData(locales_.Strings(lang));
    km::data base{km::data::type::object};
    if (t.ok()) base.set("t", *std::move(t));
    bases_.emplace(lang, std::make_unique<km::data>(std::move(base)));
  }
}

Renderer::~Renderer() = default;

std::string_view Renderer::Stylesheet() const { return Asset("prefcenter.css"); }

absl::StatusOr<std::string> Renderer::Render(std::string_view page, const nlohmann::json& view,
                                             const std::string& template_dir) const {
  std::string lang = view.value("lang", kLanguages[0]);
  if (!bases_.contains(lang)) lang = kLanguages[0];
  auto data = ToData(view);
  if (!data.ok()) return data.status();
  for (std::string_view partial : {"layout_head", "layout_foot"}) {
    data->set(std::string(partial), km::partial{[partial, template_dir] {
                return TemplateSource(partial, template_dir);
              }});
  }
  // Templates are parsed once per thread (kainjow's render is not const); a tenant's template
  // files are read then, so changing them takes a restart.
  thread_local std::map<std::string, std::unique_ptr<km::mustache>> parsed;
  const std::string key = absl::StrCat(template_dir, "\n", Sv(page));
  auto it = parsed.find(key);
  if (it == parsed.end()) {
    it = parsed.emplace(key, std::make_unique<km::mustache>(TemplateSource(page, template_dir)))
             .first;
  }
  km::mustache& tmpl = *it->second;
  if (!tmpl.is_valid()) {
    return absl::InternalError(absl::StrCat("template ", Sv(page), ": ", tmpl.error_message()));
  }
  km::context<std::string> context(bases_.at(lang).get());
  context.push(&*data);
  return tmpl.render(context);
}

}  // namespace assent::prefcenter
