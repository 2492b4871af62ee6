#include "mail/message.h"

#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace assent::mail {
namespace {

// RFC 5322 2.1.1: lines SHOULD be at most 78 characters and MUST be at most 998 (without CRLF).
constexpr size_t kFoldAt = 78;
constexpr size_t kMaxLine = 998;
// RFC 2045 6.7: encoded lines at most 76 characters; 75 leaves room for the soft break's '='.
constexpr size_t kQpWidth = 75;
// Bytes of text per encoded word: "=?UTF-8?B?" + base64(42 bytes) + "?=" is 68 characters, so
// "Subject: " and one word fit in 78 (RFC 2047 2 allows 75 per word).
constexpr size_t kEncodedWordBytes = 42;
constexpr std::string_view kCrlf = "\r\n";

absl::Status HeaderError(std::string_view name, std::string_view why) {
  return InvalidField(absl::StrCat("header ", Sv(name)), why);
}

// CR and LF would end the header field and let the value inject headers or a body; other control
// characters are not allowed in header text either (RFC 5322 3.2.5 VCHAR / WSP).
absl::Status CheckValue(std::string_view name, std::string_view value, bool allow_non_ascii) {
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\r' || c == '\n') {
      return HeaderError(name, "must not contain CR or LF (header injection)");
    }
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      return HeaderError(name, "must not contain control characters");
    }
    if (c >= 0x80 && !allow_non_ascii) return HeaderError(name, "must be ASCII");
  }
  return absl::OkStatus();
}

absl::Status CheckRequired(std::string_view name, std::string_view value) {
  if (value.empty()) return HeaderError(name, "must not be empty");
  return CheckValue(name, value, /*allow_non_ascii=*/false);
}

// Length in bytes of the UTF-8 sequence starting at s[i], or 0 when it is not well-formed
// (overlong forms, surrogates and code points above U+10FFFF are rejected, RFC 3629).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (len == 0 || c > 0xF4 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  unsigned char c1 = b(i + 1);
  if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
  if (c == 0xED && c1 > 0x9F) return 0;  // surrogate
  if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
  if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
  return len;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// "Name: value" folded (RFC 5322 2.2.3) before whitespace that separates two words, so no line is
// only whitespace; ends in CRLF. A word too long to fold stays whole, up to the 998 hard limit.
absl::StatusOr<std::string> FoldField(std::string_view name, std::string_view value) {
  std::string line = absl::StrCat(Sv(name), ":", value.empty() ? "" : " ", Sv(value));
  const size_t first_break = name.size() + 2;
  auto can_break = [&](size_t i) {
    return i > first_break && i + 1 < line.size() && IsWsp(line[i]) && !IsWsp(line[i - 1]) &&
           !IsWsp(line[i + 1]);
  };
  std::string out;
  size_t start = 0;
  while (line.size() - start > kFoldAt) {
    size_t at = std::string::npos;
    for (size_t i = start + 1; i <= start + kFoldAt; ++i) {
      if (can_break(i)) at = i;
    }
    for (size_t i = start + kFoldAt + 1; at == std::string::npos && i < line.size(); ++i) {
      if (can_break(i)) at = i;
    }
    if (at == std::string::npos) break;
    if (at - start > kMaxLine) break;
    absl::StrAppend(&out, Sv(std::string_view(line).substr(start, at - start)), Sv(kCrlf));
    start = at;
  }
  if (line.size() - start > kMaxLine) {
    return HeaderError(name, absl::StrCat("has a word too long for a ", kMaxLine,
                                          "-character line; cannot be folded"));
  }
  absl::StrAppend(&out, Sv(std::string_view(line).substr(start)), Sv(kCrlf));
  return out;
}

// RFC 2047 "B" encoded words, each holding whole UTF-8 characters, separated by spaces (which a
// decoder drops between adjacent encoded words).
std::string EncodeWords(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = start;
    while (end < text.size()) {
      size_t len = Utf8SequenceLength(text, end);
      if (end + len - start > kEncodedWordBytes) break;
      end += len;
    }
    if (!out.empty()) out.push_back(' ');
    absl::StrAppend(&out, "=?UTF-8?B?", absl::Base64Escape(Sv(text.substr(start, end - start))),
                    "?=");
    start = end;
  }
  return out;
}

absl::StatusOr<std::string> SubjectField(std::string_view subject) {
  RETURN_IF_ERROR(CheckValue("Subject", subject, /*allow_non_ascii=*/true));
  if (!IsValidUtf8(subject)) return HeaderError("Subject", "not valid UTF-8");
  bool ascii = true;
  for (char c : subject) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  // Plain text that looks like an encoded word would be decoded by the reader; encode it too.
  if (ascii && subject.find("=?") == std::string_view::npos) return FoldField("Subject", subject);
  return FoldField("Subject", EncodeWords(subject));
}

absl::StatusOr<std::string> DateField(absl::Time date) {
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  absl::CivilSecond t = absl::ToCivilSecond(date, absl::UTCTimeZone());
  if (date == absl::InfinitePast() || date == absl::InfiniteFuture() || t.year() < 1900 ||
      t.year() > 9999) {
    return HeaderError("Date", "must be a time in the years 1900..9999");
  }
  // Names written out rather than strftime's %a/%b, which follow the C locale.
  int weekday = static_cast<int>(absl::GetWeekday(absl::CivilDay(t)));
  return absl::StrCat("Date: ", Sv(kDays[weekday]), ", ", absl::Dec(t.day(), absl::kZeroPad2), " ",
                      Sv(kMonths[t.month() - 1]), " ", t.year(), " ",
                      absl::Dec(t.hour(), absl::kZeroPad2), ":",
                      absl::Dec(t.minute(), absl::kZeroPad2), ":",
                      absl::Dec(t.second(), absl::kZeroPad2), " +0000", Sv(kCrlf));
}

absl::StatusOr<std::string> MessageIdField(std::string_view id) {
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  RETURN_IF_ERROR(CheckRequired("Message-ID", id));
  size_t at = id.find('@');
  bool ok = at != std::string_view::npos && at > 0 && at + 1 < id.size() &&
            id.find('@', at + 1) == std::string_view::npos;
  for (char c : id) ok = ok && c > 0x20 && c < 0x7F && c != '<' && c != '>';
  if (!ok) return HeaderError("Message-ID", "must look like \"<id@host>\" without spaces");
  return FoldField("Message-ID", absl::StrCat("<", Sv(id), ">"));
}

absl::Status CheckExtraName(std::string_view name) {
  static constexpr std::string_view kReserved[] = {
      "Date",       "From",         "To",           "Subject",
      "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};
  if (name.empty()) return HeaderError("(empty name)", "a header field name must not be empty");
  for (char c : name) {
    if (c <= 0x20 || c >= 0x7F || c == ':') {
      return HeaderError(absl::CHexEscape(Sv(name)),
                         "field name must be printable ASCII without ':' or spaces");
    }
  }
  for (std::string_view reserved : kReserved) {
    if (absl::EqualsIgnoreCase(Sv(name), Sv(reserved))) {
      return HeaderError(name,
                         "is written by the builder and must not be given as an extra header");
    }
  }
  return absl::OkStatus();
}

// One logical line as quoted-printable (RFC 2045 6.7): '=', control characters and non-ASCII as
// =XX; a space or tab that would end the line as =20/=09; soft breaks keep lines <= 76.
void AppendQpLine(std::string_view line, std::string* out) {
  size_t column = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    bool last = i + 1 == line.size();
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string token = literal ? std::string(1, static_cast<char>(c))
                                : std::string{'=', kHex[c >> 4], kHex[c & 0xF]};
    if (column + token.size() > kQpWidth) {
      absl::StrAppend(out, "=", Sv(kCrlf));
      column = 0;
    }
    absl::StrAppend(out, token);
    column += token.size();
  }
}

std::string QuotedPrintable(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t newline = text.find('\n', start);
    if (newline == std::string_view::npos) {
      // No final line break in the text: a soft break ends the body, so decoding gives the text
      // back exactly while the message still ends in CRLF.
      AppendQpLine(text.substr(start), &out);
      absl::StrAppend(&out, "=", Sv(kCrlf));
      break;
    }
    std::string_view line = text.substr(start, newline - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    AppendQpLine(line, &out);
    absl::StrAppend(&out, Sv(kCrlf));
    start = newline + 1;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RenderRfc5322(const MailMessage& message) {
  std::string out;
  ASSIGN_OR_RETURN(std::string date, DateField(message.date));
  out += date;
  RETURN_IF_ERROR(CheckRequired("From", message.from));
  ASSIGN_OR_RETURN(std::string from, FoldField("From", message.from));
  out += from;
  RETURN_IF_ERROR(CheckRequired("To", message.to));
  ASSIGN_OR_RETURN(std::string to, FoldField("To", message.to));
  out += to;
  ASSIGN_OR_RETURN(std::string subject, SubjectField(message.subject));
  out += subject;
  ASSIGN_OR_RETURN(std::string message_id, MessageIdField(message.message_id));
  out += message_id;
  for (const auto& [name, value] : message.extra_headers) {
    RETURN_IF_ERROR(CheckExtraName(name));
    RETURN_IF_ERROR(CheckValue(name, value, /*allow_non_ascii=*/false));
    ASSIGN_OR_RETURN(std::string field, FoldField(name, value));
    out += field;
  }
  if (!IsValidUtf8(message.text_body)) return InvalidField("text_body", "not valid UTF-8");
  absl::StrAppend(&out, "MIME-Version: 1.0\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
                  "Content-Transfer-Encoding: quoted-printable\r\n", "\r\n",
                  QuotedPrintable(message.text_body));
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListUnsubscribeHeaders(
    std::string_view https_url, std::string_view mailto) {
  auto check_uri = [](std::string_view field, std::string_view uri) -> absl::Status {
    for (char c : uri) {
      if (c <= 0x20 || c >= 0x7F || c == '<' || c == '>') {
        return InvalidField(field, "must be printable ASCII without spaces, '<' or '>'");
      }
    }
    return absl::OkStatus();
  };
  // RFC 8058 3.1: the one-click URI must be HTTPS.
  if (!absl::StartsWithIgnoreCase(Sv(https_url), "https://") || https_url.size() <= 8) {
    return InvalidField("https_url", "must be an https:// URL (RFC 8058)");
  }
  RETURN_IF_ERROR(check_uri("https_url", https_url));
  std::string value = absl::StrCat("<", Sv(https_url), ">");
  if (!mailto.empty()) {
    RETURN_IF_ERROR(check_uri("mailto", mailto));
    bool has_scheme = absl::StartsWithIgnoreCase(Sv(mailto), "mailto:");
    if (mailto.find('@') == std::string_view::npos) {
      return InvalidField("mailto", "must be an address with '@'");
    }
    absl::StrAppend(&value, ", <", has_scheme ? "" : "mailto:", Sv(mailto), ">");
  }
  return std::vector<std::pair<std::string, std::string>>{
      {"List-Unsubscribe", std::move(value)},
      {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
}

}  // namespace assent::mail
