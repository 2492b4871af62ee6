#include "sms/keywords.h"

#include <string>

namespace assent::sms {
namespace {

constexpr KeywordRule kDefaultRules[] = {
    {"STOP", SmsKeyword::kStop},        {"STOPALL", SmsKeyword::kStop},
    {"UNSUBSCRIBE", SmsKeyword::kStop}, {"CANCEL", SmsKeyword::kStop},
    {"END", SmsKeyword::kStop},         {"QUIT", SmsKeyword::kStop},
    {"REVOKE", SmsKeyword::kStop},      {"OPT OUT", SmsKeyword::kStop},
    {"OPTOUT", SmsKeyword::kStop},      {"OPT-OUT", SmsKeyword::kStop},
    {"START", SmsKeyword::kStart},      {"UNSTOP", SmsKeyword::kStart},
    {"HELP", SmsKeyword::kHelp},        {"INFO", SmsKeyword::kHelp},
};

// Rules are at most this long (see KeywordRule), so canonicalisation stops early instead of copying
// a long message that cannot match.
constexpr size_t kMaxCanonicalLength = 64;

constexpr std::string_view kNoBreakSpace = "\xC2\xA0";

// Length of the whitespace at the front of `s`: one ASCII whitespace byte or one U+00A0, else 0.
size_t LeadingSpace(std::string_view s) {
  if (s.empty()) return 0;
  switch (s.front()) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\v':
    case '\f':
      return 1;
    default:
      return s.starts_with(kNoBreakSpace) ? kNoBreakSpace.size() : 0;
  }
}

// Length of whitespace or trailing punctuation at the back of `s`, as LeadingSpace.
size_t TrailingSpaceOrPunctuation(std::string_view s) {
  if (s.empty()) return 0;
  switch (s.back()) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\v':
    case '\f':
    case '.':
    case '!':
      return 1;
    default:
      return s.ends_with(kNoBreakSpace) ? kNoBreakSpace.size() : 0;
  }
}

char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// The canonical form of `body`: trimmed, trailing '.'/'!' removed, whitespace runs replaced by one
// space, ASCII letters upper-cased. Empty when the result would exceed kMaxCanonicalLength.
std::string Canonical(std::string_view body) {
  while (size_t n = LeadingSpace(body)) body.remove_prefix(n);
  while (size_t n = TrailingSpaceOrPunctuation(body)) body.remove_suffix(n);
  std::string out;
  bool in_space = false;
  while (!body.empty()) {
    if (size_t n = LeadingSpace(body)) {
      in_space = true;
      body.remove_prefix(n);
      continue;
    }
    if (in_space) out.push_back(' ');
    in_space = false;
    out.push_back(AsciiUpper(body.front()));
    body.remove_prefix(1);
    if (out.size() > kMaxCanonicalLength) return "";
  }
  return out;
}

}  // namespace

std::span<const KeywordRule> DefaultKeywordRules() { return kDefaultRules; }

KeywordMatch ClassifyInbound(std::string_view body) {
  return ClassifyInbound(body, DefaultKeywordRules());
}

KeywordMatch ClassifyInbound(std::string_view body, std::span<const KeywordRule> rules) {
  std::string canonical = Canonical(body);
  if (canonical.empty()) return {};
  for (const KeywordRule& rule : rules) {
    if (rule.word == canonical) return {rule.keyword, std::string(rule.word)};
  }
  return {};
}

std::string StopConfirmation(std::string_view brand) {
  std::string out(brand);
  out += ": You are unsubscribed and will receive no more messages. Reply START to resubscribe.";
  return out;
}

std::string StartConfirmation(std::string_view brand) {
  std::string out(brand);
  out +=
      ": You are subscribed to messages. Msg frequency varies. Msg & data rates may apply. Reply "
      "HELP for help, STOP to unsubscribe.";
  return out;
}

std::string HelpReply(std::string_view brand, std::string_view help_contact) {
  std::string out(brand);
  out += ": For help, contact ";
  out += help_contact;
  out += ". Msg & data rates may apply. Reply STOP to unsubscribe.";
  return out;
}

}  // namespace assent::sms
