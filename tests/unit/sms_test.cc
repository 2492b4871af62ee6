#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sms/gsm7.h"
#include "sms/keywords.h"

namespace assent::sms {
namespace {

using ::testing::Optional;
using ::testing::UnorderedElementsAreArray;

const char* Name(SmsKeyword k) {
  switch (k) {
    case SmsKeyword::kNone:
      return "none";
    case SmsKeyword::kStop:
      return "stop";
    case SmsKeyword::kStart:
      return "start";
    case SmsKeyword::kHelp:
      return "help";
  }
  return "?";
}

// "<keyword> <matched>" so a failing expectation shows both.
std::string Classify(std::string_view body) {
  KeywordMatch m = ClassifyInbound(body);
  return std::string(Name(m.keyword)) + " " + m.matched;
}

struct Keyword {
  std::string canonical;
  SmsKeyword keyword;
};

const std::vector<Keyword>& AllKeywords() {
  static const auto* all = new std::vector<Keyword>{
      {"STOP", SmsKeyword::kStop},        {"STOPALL", SmsKeyword::kStop},
      {"UNSUBSCRIBE", SmsKeyword::kStop}, {"CANCEL", SmsKeyword::kStop},
      {"END", SmsKeyword::kStop},         {"QUIT", SmsKeyword::kStop},
      {"REVOKE", SmsKeyword::kStop},      {"OPT OUT", SmsKeyword::kStop},
      {"OPTOUT", SmsKeyword::kStop},      {"OPT-OUT", SmsKeyword::kStop},
      {"START", SmsKeyword::kStart},      {"UNSTOP", SmsKeyword::kStart},
      {"HELP", SmsKeyword::kHelp},        {"INFO", SmsKeyword::kHelp},
  };
  return *all;
}

std::string Lower(std::string s) {
  for (char& c : s) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return s;
}

// Upper, lower, capitalised and alternating spellings of a canonical keyword.
std::vector<std::string> CaseVariants(const std::string& canonical) {
  std::string lower = Lower(canonical);
  std::string capitalised = lower;
  capitalised[0] = canonical[0];
  std::string alternating = lower;
  for (size_t i = 0; i < alternating.size(); i += 2) alternating[i] = canonical[i];
  return {canonical, lower, capitalised, alternating};
}

// The canonical keyword with its single spaces replaced by `separator`.
std::string WithSeparator(const std::string& spelling, std::string_view separator) {
  std::string out;
  for (char c : spelling) {
    if (c == ' ') {
      out += separator;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

TEST(ClassifyInboundTest, EveryKeywordInEveryCaseWithSurroundingSpaceAndPunctuation) {
  const std::vector<std::string> prefixes = {"",       " ",        "\t",          "\n",
                                             "  \r\n", "\xC2\xA0", " \xC2\xA0\t", "\v\f"};
  const std::vector<std::string> suffixes = {"",   ".",    "!",         "!!",  " ",   ". ",
                                             "\n", "\r\n", "!\xC2\xA0", " . ", "...", "\t!.!"};
  const std::vector<std::string> separators = {" ", "  ", "\t", "\xC2\xA0", " \xC2\xA0\t\n"};
  int checked = 0;
  for (const Keyword& k : AllKeywords()) {
    std::string expected = std::string(Name(k.keyword)) + " " + k.canonical;
    for (const std::string& spelling : CaseVariants(k.canonical)) {
      for (const std::string& separator : separators) {
        std::string word = WithSeparator(spelling, separator);
        for (const std::string& prefix : prefixes) {
          for (const std::string& suffix : suffixes) {
            std::string body = prefix + word + suffix;
            EXPECT_EQ(Classify(body), expected) << "body: \"" << body << "\"";
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 14 * 4 * 5 * 8 * 12);
}

TEST(ClassifyInboundTest, MatchedIsTheCanonicalKeyword) {
  EXPECT_EQ(Classify("stop"), "stop STOP");
  EXPECT_EQ(Classify("  Stop. "), "stop STOP");
  EXPECT_EQ(Classify("OPT  OUT"), "stop OPT OUT");
  EXPECT_EQ(Classify("opt out!"), "stop OPT OUT");
  EXPECT_EQ(Classify("optout"), "stop OPTOUT");
  EXPECT_EQ(Classify("Opt-Out"), "stop OPT-OUT");
  EXPECT_EQ(Classify("StopAll"), "stop STOPALL");
  EXPECT_EQ(Classify("unstop"), "start UNSTOP");
  EXPECT_EQ(Classify("Start!"), "start START");
  EXPECT_EQ(Classify("info"), "help INFO");
  EXPECT_EQ(Classify("Help."), "help HELP");
}

TEST(ClassifyInboundTest, LongRunsOfSpaceAndPunctuationStillMatch) {
  EXPECT_EQ(Classify(std::string(200, ' ') + "stop" + std::string(200, '!')), "stop STOP");
  EXPECT_EQ(Classify("opt" + std::string(300, ' ') + "out"), "stop OPT OUT");
}

TEST(ClassifyInboundTest, AnythingButAKeywordAloneIsNone) {
  const std::vector<std::string> bodies = {
      "",
      " ",
      "\t\r\n",
      "\xC2\xA0",
      ".",
      "!",
      "...!",
      "please stop texting me",
      "stop texting me",
      "stop please",
      "STOP STOP",
      "stop now!",
      "I said stop",
      "stopping",
      "stopped",
      "unsubscribed",
      "cancelled",
      "ending",
      "quite",
      "starting",
      "helpme",
      "information",
      "S TOP",
      "st op",
      "hel p",
      "opt",
      "out",
      "OUT OPT",
      "OPTOUT OUT",
      "OPT_OUT",
      "OPT--OUT",
      "OPT - OUT",
      "OPT -OUT",
      "OPT.OUT",
      "stop?",
      "stop,",
      "stop;",
      ",stop",
      ".stop",
      "!stop",
      "'stop'",
      "\"STOP\"",
      "(stop)",
      "#stop",
      "stop:)",
      "YES",
      "Y",
      "yes.",
      "NO",
      "ok",
      "subscribe",
      "resubscribe",
      "st\xC3\xB6p",                                       // "stöp"
      "\xEF\xBC\xB3\xEF\xBC\xB4\xEF\xBC\xAF\xEF\xBC\xB0",  // full-width "ＳＴＯＰ"
      "QU\xC4\xB0T",                                       // "QUİT" (dotted capital I)
      "\xE2\x80\x8BSTOP",  // zero-width space is not whitespace here
      "STOP\xE3\x80\x80",  // nor is the ideographic space
      "STOP\xC2",          // a truncated no-break space
      std::string("STOP\0", 5),
      std::string(1000, 'a'),
      "stop" + std::string(100, 'x'),
  };
  for (const std::string& body : bodies) {
    KeywordMatch m = ClassifyInbound(body);
    EXPECT_EQ(m.keyword, SmsKeyword::kNone) << "body: \"" << body << "\"";
    EXPECT_EQ(m.matched, "") << "body: \"" << body << "\"";
  }
}

TEST(ClassifyInboundTest, DefaultRulesAreExactlyTheDocumentedKeywords) {
  std::vector<std::string> got;
  for (const KeywordRule& rule : DefaultKeywordRules()) {
    got.push_back(std::string(Name(rule.keyword)) + " " + std::string(rule.word));
  }
  std::vector<std::string> want;
  for (const Keyword& k : AllKeywords()) {
    want.push_back(std::string(Name(k.keyword)) + " " + k.canonical);
  }
  EXPECT_THAT(got, UnorderedElementsAreArray(want));
}

TEST(ClassifyInboundTest, CustomRulesExtendOrReplaceTheDefaults) {
  std::vector<KeywordRule> rules(DefaultKeywordRules().begin(), DefaultKeywordRules().end());
  rules.push_back({"PARAR", SmsKeyword::kStop});
  rules.push_back({"AYUDA", SmsKeyword::kHelp});
  rules.push_back({"NO MORE", SmsKeyword::kStop});

  KeywordMatch m = ClassifyInbound(" Parar! ", rules);
  EXPECT_EQ(m.keyword, SmsKeyword::kStop);
  EXPECT_EQ(m.matched, "PARAR");
  EXPECT_EQ(ClassifyInbound("ayuda", rules).keyword, SmsKeyword::kHelp);
  EXPECT_EQ(ClassifyInbound("no\tmore.", rules).matched, "NO MORE");
  EXPECT_EQ(ClassifyInbound("stop", rules).keyword, SmsKeyword::kStop);
  EXPECT_EQ(ClassifyInbound("parar", DefaultKeywordRules()).keyword, SmsKeyword::kNone);

  // No rules: nothing matches.
  EXPECT_EQ(ClassifyInbound("stop", std::span<const KeywordRule>()).keyword, SmsKeyword::kNone);
  // The first matching rule wins.
  const KeywordRule ordered[] = {{"STOP", SmsKeyword::kHelp}, {"STOP", SmsKeyword::kStop}};
  EXPECT_EQ(ClassifyInbound("stop", ordered).keyword, SmsKeyword::kHelp);
  // A rule that is not canonical never matches.
  const KeywordRule lower_case[] = {{"halt", SmsKeyword::kStop}, {"HALT ", SmsKeyword::kStop}};
  EXPECT_EQ(ClassifyInbound("halt", lower_case).keyword, SmsKeyword::kNone);
}

// --- GSM 7-bit ---------------------------------------------------------------------------------

TEST(Gsm7SeptetsTest, CountsBasicAndExtensionCharacters) {
  EXPECT_THAT(Gsm7Septets(""), Optional(0u));
  const std::string ascii = "Hello, world! 0123456789 @$_#%&'()*+-./:;<=>?\"\r\n";
  EXPECT_THAT(Gsm7Septets(ascii), Optional(ascii.size()));
  // Extension table: escape + character.
  EXPECT_THAT(Gsm7Septets("[]{}\\^~|"), Optional(16u));
  EXPECT_THAT(Gsm7Septets("\xE2\x82\xAC"), Optional(2u));  // euro sign
  EXPECT_THAT(Gsm7Septets("\f"), Optional(2u));
  // Every non-ASCII character of the basic table counts one.
  const std::string basic_non_ascii =
      "\xC2\xA3\xC2\xA5\xC3\xA8\xC3\xA9\xC3\xB9\xC3\xAC\xC3\xB2\xC3\x87\xC3\x98\xC3\xB8\xC3\x85"
      "\xC3\xA5\xCE\x94\xCE\xA6\xCE\x93\xCE\x9B\xCE\xA9\xCE\xA0\xCE\xA8\xCE\xA3\xCE\x98\xCE\x9E"
      "\xC3\x86\xC3\xA6\xC3\x9F\xC3\x89\xC2\xA4\xC2\xA1\xC3\x84\xC3\x96\xC3\x91\xC3\x9C\xC2\xA7"
      "\xC2\xBF\xC3\xA4\xC3\xB6\xC3\xB1\xC3\xBC\xC3\xA0";
  EXPECT_THAT(Gsm7Septets(basic_non_ascii), Optional(39u));
}

TEST(Gsm7SeptetsTest, RejectsCharactersOutsideTheAlphabetAndBadUtf8) {
  const std::vector<std::string> bad = {
      "`",
      "a\tb",  // tab is not in the alphabet
      std::string("\0", 1),
      "\xE2\x80\x99",      // right single quotation mark
      "\xE2\x80\x9C",      // left double quotation mark
      "\xC3\xA7",          // ç (only Ç is in the basic table)
      "\xC3\xA1",          // á
      "\xCE\xB1",          // α
      "\xF0\x9F\x98\x80",  // emoji
      "\xC2\xA0",          // no-break space
      "\xC3",              // truncated
      "\xC0\xAF",          // overlong '/'
      "\xED\xA0\x80",      // surrogate
      "\xF4\x90\x80\x80",  // past U+10FFFF
      "\x80",              // stray continuation byte
      "\xFF",
  };
  for (const std::string& s : bad) EXPECT_EQ(Gsm7Septets(s), std::nullopt) << "\"" << s << "\"";
}

// --- replies -----------------------------------------------------------------------------------

TEST(RepliesTest, ExactTexts) {
  EXPECT_EQ(StopConfirmation("Acme"),
            "Acme: You are unsubscribed and will receive no more messages. Reply START to "
            "resubscribe.");
  EXPECT_EQ(StartConfirmation("Acme"),
            "Acme: You are subscribed to messages. Msg frequency varies. Msg & data rates may "
            "apply. Reply HELP for help, STOP to unsubscribe.");
  EXPECT_EQ(HelpReply("Acme", "help@acme.example or 0800 123 456"),
            "Acme: For help, contact help@acme.example or 0800 123 456. Msg & data rates may "
            "apply. Reply STOP to unsubscribe.");
}

TEST(RepliesTest, FitOneGsm7SegmentAtTheDocumentedMaximums) {
  struct Limits {
    std::string brand;
    std::string contact;
  };
  const Limits cases[] = {
      {std::string(kMaxBrandSeptets, 'B'), std::string(kMaxHelpContactSeptets, 'c')},
      // Extension characters take two septets each.
      {std::string(kMaxBrandSeptets / 2, '{'), std::string(kMaxHelpContactSeptets / 2, '~')},
      {"", ""},
  };
  for (const Limits& c : cases) {
    ASSERT_THAT(Gsm7Septets(c.brand), Optional(::testing::Le(kMaxBrandSeptets)));
    ASSERT_THAT(Gsm7Septets(c.contact), Optional(::testing::Le(kMaxHelpContactSeptets)));
    for (const std::string& reply :
         {StopConfirmation(c.brand), StartConfirmation(c.brand), HelpReply(c.brand, c.contact)}) {
      std::optional<size_t> septets = Gsm7Septets(reply);
      ASSERT_TRUE(septets.has_value()) << reply;
      EXPECT_LE(*septets, kSmsSegmentSeptets) << reply;
    }
  }
}

TEST(RepliesTest, InsertValuesAsGivenWithoutTruncating) {
  std::string long_brand(200, 'x');
  EXPECT_EQ(StopConfirmation(long_brand).substr(0, 202), long_brand + ": ");
  // A non-GSM brand stays as given; it is the caller's configuration check that refuses it.
  EXPECT_EQ(Gsm7Septets(StopConfirmation("Caf\xC3\xA1")), std::nullopt);
}

}  // namespace
}  // namespace assent::sms
