// Inbound SMS classification (sms/keywords.h) and GSM 7-bit septet counting (sms/gsm7.h) on any
// body.
// Properties: a recognised keyword's canonical form classifies as the same keyword (and kNone
// matches nothing); the septet count of valid GSM text is between its character count and twice
// it; a brand within kMaxBrandSeptets makes confirmations that fit one SMS segment, as the header
// promises.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "sms/gsm7.h"
#include "sms/keywords.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  const sms::KeywordMatch match = sms::ClassifyInbound(body);
  if (match.keyword == sms::SmsKeyword::kNone) {
    fuzz::Require(match.matched.empty(), "kNone matches no word", match.matched);
  } else {
    bool is_rule = false;
    for (const sms::KeywordRule& rule : sms::DefaultKeywordRules()) {
      is_rule = is_rule || (rule.word == match.matched && rule.keyword == match.keyword);
    }
    fuzz::Require(is_rule, "the match is one of the rules", match.matched);
    const sms::KeywordMatch again = sms::ClassifyInbound(match.matched);
    fuzz::Require(again.keyword == match.keyword && again.matched == match.matched,
                  "a keyword's canonical form classifies the same", match.matched);
  }

  const std::optional<size_t> septets = sms::Gsm7Septets(body);
  if (septets.has_value()) {
    size_t characters = 0;  // UTF-8 code points: bytes that do not continue a sequence
    for (char c : body) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    fuzz::Require(*septets >= characters && *septets <= 2 * characters,
                  "one or two septets per character");
    if (*septets <= sms::kMaxBrandSeptets) {
      for (const std::string& reply :
           {sms::StopConfirmation(body), sms::StartConfirmation(body), sms::HelpReply(body, "")}) {
        const std::optional<size_t> reply_septets = sms::Gsm7Septets(reply);
        fuzz::Require(reply_septets.has_value() && *reply_septets <= sms::kSmsSegmentSeptets,
                      "a reply with a short GSM brand fits one segment", reply);
      }
    }
  }
  return 0;
}
