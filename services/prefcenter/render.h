// The preference center's presentation: the locales (every string of every page in en, de, fr,
// es), and the pages rendered from mustache templates (kainjow) with a view model built as JSON
// (services/prefcenter/assets/README.md is the contract). Templates, locales and the stylesheet
// are built into the binary; a tenant may replace the templates and the stylesheet from files.
//
// Thread safety: every method is const and thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace kainjow::mustache {
template <typename string_type>
class basic_data;
}  // namespace kainjow::mustache

namespace assent::prefcenter {

// The page languages, the first being the fallback.
inline const std::vector<std::string> kLanguages = {"en", "de", "fr", "es"};

class Locales {
 public:
  // Parses the built-in locale files; aborts when they are broken (a build defect).
  Locales();
  // The strings of `lang` (a supported language; else the fallback's).
  const nlohmann::json& Strings(std::string_view lang) const;
  // One string; the key itself when it is missing (visible, never empty).
  std::string T(std::string_view lang, std::string_view key) const;
  // T() with each "{name}" replaced by params[name]; a value is never re-scanned.
  std::string Fill(std::string_view lang, std::string_view key,
                   const std::map<std::string, std::string>& params) const;
  // The language's name in itself ("Deutsch").
  static std::string NativeName(std::string_view lang);
  // A supported language for a BCP 47 tag ("de-CH" -> "de"), or "" when none.
  static std::string Supported(std::string_view tag);
  // `t` formatted for people reading `lang`, in `zone`: "Nov 28, 2026, 10:14 AM",
  // "28.11.2026, 10:14", ...; `with_time` false gives the date alone.
  static std::string FormatTime(std::string_view lang, absl::Time t, absl::TimeZone zone,
                                bool with_time);

 private:
  std::map<std::string, nlohmann::json, std::less<>> strings_;
};

class Renderer {
 public:
  Renderer();
  ~Renderer();
  // Renders `page` ("preferences", "saved", ...) with `view` (strings, booleans, lists and
  // objects only) and `t` = the locale of view["lang"]. `template_dir`: a tenant's replacement
  // templates (empty: the built-in ones); a page missing there falls back to the built-in one.
  // INTERNAL when a template does not parse or the view holds another type.
  absl::StatusOr<std::string> Render(std::string_view page, const nlohmann::json& view,
                                     const std::string& template_dir = "") const;
  // The built-in stylesheet, and its version (for cache-busting URLs).
  std::string_view Stylesheet() const;
  const std::string& stylesheet_version() const { return stylesheet_version_; }
  const Locales& locales() const { return locales_; }

 private:
  Locales locales_;
  std::string stylesheet_version_;
  // Per language: {"t": the locale}, the bottom of every render's context.
  std::map<std::string, std::unique_ptr<::kainjow::mustache::basic_data<std::string>>> bases_;
};

}  // namespace assent::prefcenter
