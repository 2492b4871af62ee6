// Inbound SMS keywords (opt-out, opt-in, help) and the replies a program sends to them.
//
// What is recognised, and why:
//   - CTIA Messaging Principles and Best Practices: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT
//     opt out; START and UNSTOP opt back in; HELP and INFO ask for help. YES is deliberately not an
//     opt-in keyword: it is an ordinary answer to questions a program may ask.
//   - TCPA revocation rule (FCC 24-24, 2024; 47 CFR 64.1200(a)(10)): consent may be revoked by any
//     reasonable means, and a reply of "stop", "quit", "end", "revoke", "opt out", "cancel" or
//     "unsubscribe" is one per se. REVOKE and OPT OUT (also written OPTOUT and OPT-OUT) are
//     therefore opt-out keywords here as well.
//
// Only a message that consists of a keyword alone is classified automatically: ASCII letter case,
// surrounding whitespace (ASCII whitespace and U+00A0 no-break space), runs of whitespace between
// the words of a keyword, and trailing '.' and '!' are ignored. Anything else, such as "please
// stop texting me" or "stopping", is kNone.
//
// kNone does NOT mean "not a revocation". The FCC rule also counts other wording that reasonably
// expresses a wish to stop; a caller must route unclassified inbound messages to a further step
// (a person, or a more permissive classifier) rather than ignore them. That step is the extension
// point: ClassifyInbound stays a pure, predictable function, and a program that needs more
// keywords (for example Spanish ones) passes its own rules to the two-argument overload.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace assent::sms {

enum class SmsKeyword { kNone, kStop, kStart, kHelp };

struct KeywordMatch {
  SmsKeyword keyword = SmsKeyword::kNone;
  // The keyword as recognised, in its canonical upper-case form ("STOP", "OPT OUT", "OPT-OUT");
  // empty for kNone.
  std::string matched;
};

// One recognised word. `word` is canonical: upper-case ASCII, words separated by one space, no
// surrounding whitespace or trailing punctuation, at most 64 bytes; a rule that is not canonical
// never matches.
struct KeywordRule {
  std::string_view word;
  SmsKeyword keyword;
};

// The rules described at the top of this file, in a fixed order. Static storage; never changes.
std::span<const KeywordRule> DefaultKeywordRules();

// Classifies an inbound SMS body (UTF-8) with DefaultKeywordRules(). Pure; thread-safe.
KeywordMatch ClassifyInbound(std::string_view body);

// Classifies `body` with `rules` instead: the first rule whose word equals the body's canonical
// form wins. To extend the defaults, pass DefaultKeywordRules() followed by extra rules. Pure;
// thread-safe.
KeywordMatch ClassifyInbound(std::string_view body, std::span<const KeywordRule> rules);

// Replies. Each fits one GSM 7-bit SMS segment (kSmsSegmentSeptets in sms/gsm7.h) when `brand`
// takes at most kMaxBrandSeptets septets and `help_contact` at most kMaxHelpContactSeptets, both
// in the GSM 7-bit alphabet (check configured values with Gsm7Septets at start-up); the values are
// inserted as given, never truncated. The fixed text contains no marketing, as the revocation rule
// requires of an opt-out confirmation.
inline constexpr size_t kMaxBrandSeptets = 30;
inline constexpr size_t kMaxHelpContactSeptets = 50;

// "<brand>: You are unsubscribed and will receive no more messages. Reply START to resubscribe."
std::string StopConfirmation(std::string_view brand);
// "<brand>: You are subscribed to messages. Msg frequency varies. Msg & data rates may apply.
// Reply HELP for help, STOP to unsubscribe."
std::string StartConfirmation(std::string_view brand);
// "<brand>: For help, contact <help_contact>. Msg & data rates may apply. Reply STOP to
// unsubscribe."
std::string HelpReply(std::string_view brand, std::string_view help_contact);

}  // namespace assent::sms
