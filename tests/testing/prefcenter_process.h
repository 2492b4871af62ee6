// A real preference center (services/prefcenter) as a child process for integration tests: HTTP
// and metrics on port 0, its addresses read from its port file, and an HTTP client to each; and
// HtmlForm, which submits a page's form the way a browser does.
#pragma once

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "testing/process.h"

namespace assent::testing {

class PrefcenterProcess {
 public:
  // `binary` is prefcenter's path; `work_dir` holds its log and port file, both named `name`.
  PrefcenterProcess(std::string binary, std::string work_dir, std::string name = "prefcenter")
      : binary_(std::move(binary)), work_dir_(std::move(work_dir)), name_(std::move(name)) {}

  // Starts it against consentd at `consentd_address`, verifying links with `keyring_file`, and
  // waits for its port file; fails the test otherwise. `extra_args` are appended (limits,
  // --trusted-proxies, --cors-origins, ...).
  void Start(const std::string& consentd_address, const std::string& keyring_file,
             const std::vector<std::string>& extra_args = {}) {
    const std::string port_file = absl::StrCat(work_dir_, "/", name_, ".port");
    std::remove(port_file.c_str());
    std::vector<std::string> args = {
        "--listen",         "127.0.0.1:0",    "--port-file",         port_file,
        "--consentd",       consentd_address, "--link-keyring-file", keyring_file,
        "--metrics-listen", "127.0.0.1:0",    "--public-url",        "http://127.0.0.1"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<ChildProcess>(binary_, args, log_path());
    address_ = WaitForFile(port_file, absl::Seconds(30));
    ASSERT_FALSE(address_.empty()) << name_ << " did not start; log:\n" << log();
    // Line 1 is the HTTP address, line 2 the metrics address.
    const std::string ports = ReadFile(port_file);
    const size_t eol = ports.find('\n');
    metrics_address_ = ports.substr(eol + 1, ports.find('\n', eol + 1) - eol - 1);
    ASSERT_FALSE(metrics_address_.empty()) << ports;
  }

  // SIGTERM and wait; returns the exit status as from waitpid.
  int Stop() {
    process_->Signal(SIGTERM);
    return process_->Wait(absl::Seconds(30));
  }

  // A client of the customer-facing HTTP server (no redirects followed, 10 s timeouts).
  std::unique_ptr<httplib::Client> Client() const { return ClientOf(address_); }
  // A client of /metrics, /healthz and /readyz.
  std::unique_ptr<httplib::Client> MetricsClient() const { return ClientOf(metrics_address_); }

  const std::string& address() const { return address_; }
  const std::string& metrics_address() const { return metrics_address_; }
  std::string log_path() const { return absl::StrCat(work_dir_, "/", name_, ".log"); }
  std::string log() const { return ReadFile(log_path()); }

 private:
  static std::unique_ptr<httplib::Client> ClientOf(const std::string& address) {
    const size_t colon = address.rfind(':');
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(address.substr(colon + 1), &port)) << address;
    auto client = std::make_unique<httplib::Client>(address.substr(0, colon), port);
    client->set_follow_location(false);
    client->set_connection_timeout(10);
    client->set_read_timeout(10);
    client->set_write_timeout(10);
    return client;
  }

  std::string binary_, work_dir_, name_, address_, metrics_address_;
  std::unique_ptr<ChildProcess> process_;
};

// application/x-www-form-urlencoded, as browsers encode it (space as '+').
inline std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  auto encode = [&](std::string_view text) {
    for (const char c : text) {
      const auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '*') {
        out.push_back(c);
      } else if (c == ' ') {
        out.push_back('+');
      } else {
        out.push_back('%');
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 15]);
      }
    }
  };
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    encode(name);
    out.push_back('=');
    encode(value);
  }
  return out;
}

// One <form> of a rendered page and what a browser would submit from it: every enabled, named
// <input> (a checkbox only when checked, "on" unless it has a value) and <select> (its selected
// option, else its first), in document order. Enough HTML for the preference center's own
// templates, which quote every attribute; not a general parser.
class HtmlForm {
 public:
  // The first form of `html` whose start tag contains `marker` (`id="prefs"`, `action="/r"`).
  static std::optional<HtmlForm> Find(std::string_view html, std::string_view marker) {
    for (size_t at = html.find("<form"); at != std::string_view::npos;
         at = html.find("<form", at + 1)) {
      const size_t tag_end = html.find('>', at);
      const size_t end = html.find("</form>", at);
      if (tag_end == std::string_view::npos || end == std::string_view::npos) break;
      const std::string_view tag = html.substr(at, tag_end - at);
      if (tag.find(marker) == std::string_view::npos) continue;
      HtmlForm form;
      form.action_ = Attributes(tag)["action"];
      form.Parse(html.substr(tag_end + 1, end - tag_end - 1));
      return form;
    }
    return std::nullopt;
  }

  const std::string& action() const { return action_; }
  bool Has(std::string_view name) const { return Get(name) != nullptr; }
  // The value of control `name` ("" when absent).
  std::string Value(std::string_view name) const {
    const Control* c = Get(name);
    return c == nullptr ? "" : c->value;
  }
  // Whether checkbox `name` is ticked.
  bool Checked(std::string_view name) const {
    const Control* c = Get(name);
    return c != nullptr && c->checked;
  }
  // Whether control `name` is disabled.
  bool Disabled(std::string_view name) const {
    const Control* c = Get(name);
    return c != nullptr && c->disabled;
  }
  // Ticks or clears checkbox `name`; false when the form has no such checkbox.
  bool Tick(std::string_view name, bool checked) {
    Control* c = Get(name);
    if (c == nullptr || !c->checkbox) return false;
    c->checked = checked;
    return true;
  }
  // Sets a control's value (adding a hidden one when absent), or removes it.
  void Set(std::string_view name, std::string value) {
    if (Control* c = Get(name); c != nullptr) {
      c->value = std::move(value);
      return;
    }
    controls_.push_back({std::string(name), std::move(value), false, false, false});
  }
  void Remove(std::string_view name) {
    std::erase_if(controls_, [&](const Control& c) { return c.name == name; });
  }
  // The request body a browser sends for this form.
  std::string Body() const {
    std::vector<std::pair<std::string, std::string>> fields;
    for (const Control& c : controls_) {
      if (c.name.empty() || c.disabled || (c.checkbox && !c.checked)) continue;
      fields.emplace_back(c.name, c.value);
    }
    return FormEncode(fields);
  }

 private:
  struct Control {
    std::string name, value;
    bool checkbox = false, checked = false, disabled = false;
  };

  static std::string DecodeEntities(std::string_view text) {
    static const std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'},  {"&lt;", '<'},    {"&gt;", '>'},
        {"&quot;", '"'}, {"&apos;", '\''}, {"&#39;", '\''}};
    std::string out;
    for (size_t i = 0; i < text.size();) {
      bool replaced = false;
      for (const auto& [entity, c] : kEntities) {
        if (text.substr(i, entity.size()) == entity) {
          out.push_back(c);
          i += entity.size();
          replaced = true;
          break;
        }
      }
      if (!replaced) out.push_back(text[i++]);
    }
    return out;
  }
  // The attributes of a start tag; a bare attribute ("checked") maps to "".
  static std::map<std::string, std::string> Attributes(std::string_view tag) {
    // A scanner, not std::regex: GCC 12 under ASan warns (-Werror) inside libstdc++'s regex.
    auto is_name = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' ||
             c == '.';
    };
    std::map<std::string, std::string> out;
    size_t i = tag.find_first_of(" \t\r\n");  // past the tag's own name
    while (i != std::string_view::npos && i < tag.size()) {
      while (i < tag.size() && std::isspace(static_cast<unsigned char>(tag[i]))) ++i;
      const size_t start = i;
      while (i < tag.size() && is_name(tag[i])) ++i;
      if (i == start) {
        ++i;  // '/' of a self-closing tag, or anything else that is no attribute
        continue;
      }
      std::string name(tag.substr(start, i - start));
      std::string value;
      if (i + 1 < tag.size() && tag[i] == '=' && tag[i + 1] == '"') {
        const size_t close = tag.find('"', i + 2);
        if (close == std::string_view::npos) break;
        value = DecodeEntities(std::string(tag.substr(i + 2, close - i - 2)));
        i = close + 1;
      }
      out[name] = value;
    }
    return out;
  }
  void Parse(std::string_view body) {
    size_t at = 0;
    while (true) {
      const size_t input = body.find("<input", at);
      const size_t select = body.find("<select", at);
      const size_t next = std::min(input, select);
      if (next == std::string_view::npos) return;
      const size_t tag_end = body.find('>', next);
      if (tag_end == std::string_view::npos) return;
      std::map<std::string, std::string> a = Attributes(body.substr(next, tag_end - next));
      Control c;
      c.name = a["name"];
      c.disabled = a.contains("disabled");
      at = tag_end + 1;
      if (next == input) {
        c.checkbox = a["type"] == "checkbox" || a["type"] == "radio";
        c.checked = a.contains("checked");
        c.value = a.contains("value") ? a["value"] : (c.checkbox ? "on" : "");
      } else {
        const size_t close = body.find("</select>", at);
        const std::string_view options = body.substr(at, close - at);
        std::optional<std::string> first, selected;
        for (size_t o = options.find("<option"); o != std::string_view::npos;
             o = options.find("<option", o + 1)) {
          std::map<std::string, std::string> oa =
              Attributes(options.substr(o, options.find('>', o) - o));
          if (!first.has_value()) first = oa["value"];
          if (oa.contains("selected") && !selected.has_value()) selected = oa["value"];
        }
        c.value = selected.value_or(first.value_or(""));
        at = close == std::string_view::npos ? body.size() : close;
      }
      controls_.push_back(std::move(c));
    }
  }
  const Control* Get(std::string_view name) const {
    for (const Control& c : controls_) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }
  Control* Get(std::string_view name) {
    return const_cast<Control*>(std::as_const(*this).Get(name));
  }

  std::string action_;
  std::vector<Control> controls_;
};

}  // namespace assent::testing
