#include "http/form.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/strings.h"

namespace assent::http {
namespace {

// Calls `fn` with each piece of `s` between `delimiter`s (empty pieces included).
template <typename Fn>
void ForEachPiece(std::string_view s, char delimiter, Fn fn) {
  while (true) {
    const size_t end = s.find(delimiter);
    fn(s.substr(0, end));
    if (end == std::string_view::npos) return;
    s.remove_prefix(end + 1);
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ], in thousandths.
std::optional<int> ParseQ(std::string_view q) {
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return std::nullopt;
  int thousandths = (q[0] - '0') * 1000;
  if (q.size() == 1) return thousandths;
  if (q[1] != '.' || q.size() > 5) return std::nullopt;
  int scale = 100;
  for (char c : q.substr(2)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    thousandths += (c - '0') * scale;
    scale /= 10;
  }
  if (thousandths > 1000) return std::nullopt;
  return thousandths;
}

// RFC 4647 language-range: "*" or 1*8ALPHA *("-" 1*8alphanum).
bool IsLanguageRange(std::string_view range) {
  if (range == "*") return true;
  bool first = true;
  bool ok = !range.empty();
  ForEachPiece(range, '-', [&](std::string_view subtag) {
    ok = ok && !subtag.empty() && subtag.size() <= 8 &&
         std::all_of(subtag.begin(), subtag.end(), [&](char c) {
           const auto u = static_cast<unsigned char>(c);
           return first ? absl::ascii_isalpha(u) : absl::ascii_isalnum(u);
         });
    first = false;
  });
  return ok;
}

struct Range {
  std::string_view tag;
  int q;  // thousandths
};

// The supported tag `range` selects (see AcceptLanguage), or nullptr.
const std::string* Match(std::string_view range, const std::vector<std::string>& supported) {
  while (!range.empty()) {
    for (const std::string& tag : supported) {
      if (absl::EqualsIgnoreCase(Sv(tag), Sv(range))) return &tag;
    }
    for (const std::string& tag : supported) {
      if (tag.size() > range.size() && tag[range.size()] == '-' &&
          absl::StartsWithIgnoreCase(Sv(tag), Sv(range))) {
        return &tag;
      }
    }
    const size_t dash = range.rfind('-');
    range = range.substr(0, dash == std::string_view::npos ? 0 : dash);
  }
  return nullptr;
}

}  // namespace

std::multimap<std::string, std::string> ParseForm(std::string_view body) {
  std::multimap<std::string, std::string> form;
  ForEachPiece(body, '&', [&](std::string_view pair) {
    if (pair.empty()) return;
    const size_t eq = pair.find('=');
    form.emplace(FormDecode(pair.substr(0, eq)),
                 eq == std::string_view::npos ? std::string() : FormDecode(pair.substr(eq + 1)));
  });
  return form;
}

std::string AcceptLanguage(std::string_view header, const std::vector<std::string>& supported) {
  if (supported.empty()) return "";
  std::vector<Range> ranges;
  ForEachPiece(header, ',', [&](std::string_view element) {
    const size_t semicolon = element.find(';');
    Range range{TrimOws(element.substr(0, semicolon)), 1000};
    if (!IsLanguageRange(range.tag)) return;
    if (semicolon != std::string_view::npos) {
      const std::string_view param = TrimOws(element.substr(semicolon + 1));
      if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') return;
      const std::optional<int> q = ParseQ(param.substr(2));
      if (!q.has_value()) return;
      range.q = *q;
    }
    ranges.push_back(range);
  });
  std::stable_sort(ranges.begin(), ranges.end(),
                   [](const Range& a, const Range& b) { return a.q > b.q; });
  for (const Range& range : ranges) {
    if (range.q == 0) break;
    if (range.tag != "*") {
      if (const std::string* tag = Match(range.tag, supported)) return *tag;
      continue;
    }
    for (const std::string& tag : supported) {
      const bool refused = std::any_of(ranges.begin(), ranges.end(), [&](const Range& r) {
        return r.q == 0 && absl::EqualsIgnoreCase(Sv(r.tag), Sv(tag));
      });
      if (!refused) return tag;
    }
  }
  return supported.front();
}

}  // namespace assent::http
