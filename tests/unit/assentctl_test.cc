// assentctl: command-line parsing to requests, value syntaxes, targets files, human output, and
// (against an in-process fake server on port 0) exit statuses, error reporting and paging.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "assent/v1/events.pb.h"
#include "assentctl/cli.h"
#include "assentctl/events.h"
#include "assentctl/flags.h"
#include "assentctl/format.h"
#include "assentctl/requests.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace assent::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;
using Words = std::vector<std::string>;

// Resolves a command line (as a user types it after "assentctl") or fails the test.
Args Parse(const Words& argv) {
  absl::StatusOr<Invocation> invocation = ParseCommandLine(argv);
  EXPECT_TRUE(invocation.ok()) << invocation.status();
  return invocation.ok() ? invocation->args : Args();
}

std::string ErrorOf(const Words& argv) {
  absl::StatusOr<Invocation> invocation = ParseCommandLine(argv);
  if (invocation.ok()) return "OK";
  EXPECT_EQ(invocation.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(invocation.status().message());
}

template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& result) {
  return result.ok() ? "OK" : std::string(result.status().message());
}

absl::Time T(const char* rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << error;
  return t;
}

// --- the command line ----------------------------------------------------------------------------

TEST(ParseCommandLineTest, FindsTheCommandAndItsOperandsWithFlagsAnywhere) {
  absl::StatusOr<Invocation> inv =
      ParseCommandLine({"--json", "tenant", "create", "--name=Acme Corp", "acme", "--tenant", "x"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command->words, "tenant create");
  EXPECT_THAT(inv->args.positional, ElementsAre("acme"));
  EXPECT_EQ(inv->args.Get("name"), "Acme Corp");
  EXPECT_TRUE(inv->args.Switch("json"));
  EXPECT_FALSE(inv->help);
}

TEST(ParseCommandLineTest, HelpNeedsNoValidArguments) {
  absl::StatusOr<Invocation> inv = ParseCommandLine({"--help"});
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->help);
  EXPECT_EQ(inv->command, nullptr);
  inv = ParseCommandLine({"help", "check"});
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->help);
  EXPECT_EQ(inv->command->words, "check");
}

TEST(ParseCommandLineTest, RejectsWhatDoesNotFit) {
  EXPECT_EQ(ErrorOf({}), "no command given");
  EXPECT_EQ(ErrorOf({"frob"}), "unknown command 'frob'");
  EXPECT_EQ(ErrorOf({"tenant"}), "'tenant' needs a subcommand: create, get, list");
  EXPECT_EQ(ErrorOf({"tenant", "list", "--bogus"}), "unknown flag --bogus");
  EXPECT_THAT(ErrorOf({"tenant", "get", "--rule", "x"}),
              StartsWith("--rule does not apply to 'tenant get'\nusage: assentctl tenant get"));
  EXPECT_THAT(ErrorOf({"check", "extra", "--subject", "s"}),
              StartsWith("unexpected argument 'extra'"));
  EXPECT_EQ(ErrorOf({"check", "--subject"}), "--subject: needs a value");
  EXPECT_EQ(ErrorOf({"check", "--subject", "a", "--subject", "b"}),
            "--subject: given more than once");
  EXPECT_EQ(ErrorOf({"record", "--gpc=yes"}), "--gpc: takes no value (or =true / =false)");
}

TEST(ParseCommandLineTest, DoubleDashEndsFlags) {
  Args args = Parse({"tenant", "create", "--", "--odd"});
  EXPECT_THAT(args.positional, ElementsAre("--odd"));
}

TEST(ParseCommandLineTest, RepeatedFlagsKeepTheirOrder) {
  Args args =
      Parse({"policy", "set", "--rule", "US:EMAIL:MARKETING:OPT_OUT", "--rule=EU:*:*:OPT_IN"});
  EXPECT_THAT(args.GetAll("rule"), ElementsAre("US:EMAIL:MARKETING:OPT_OUT", "EU:*:*:OPT_IN"));
}

// The command line is split before the command is known, so a flag name must mean the same
// kind of flag (value, repeated, switch) in every command.
TEST(CommandsTest, EachFlagNameHasOneKind) {
  std::map<std::string_view, FlagKind> kinds;
  for (const FlagSpec& flag : GlobalFlags()) kinds[flag.name] = flag.kind;
  for (const Command& command : Commands()) {
    for (const FlagSpec& flag : command.flags) {
      auto [it, inserted] = kinds.emplace(flag.name, flag.kind);
      EXPECT_EQ(it->second, flag.kind) << "--" << flag.name << " in " << command.words;
    }
  }
}

TEST(CommandsTest, UsageListsEveryCommandAndTheExitStatuses) {
  const std::string usage = Usage();
  for (const Command& command : Commands()) {
    EXPECT_THAT(usage, HasSubstr(absl::StrCat("  ", Sv(command.words)))) << command.words;
  }
  EXPECT_THAT(usage, HasSubstr("64  usage error"));
  EXPECT_THAT(usage, HasSubstr("ASSENT_SERVER"));
}

// --- global options
// -------------------------------------------------------------------------------

TEST(ResolveGlobalsTest, FlagsOverrideEnvironmentOverrideDefaults) {
  absl::StatusOr<GlobalOptions> options = ResolveGlobals(Parse({"tenant", "list"}), {});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->server, "127.0.0.1:50051");
  EXPECT_EQ(options->tenant, "");
  EXPECT_EQ(options->timeout, absl::Seconds(10));
  EXPECT_FALSE(options->json);

  const Environment env = {{"ASSENT_SERVER", "consent:443"}, {"ASSENT_TENANT", "acme"}};
  options = ResolveGlobals(Parse({"tenant", "list"}), env);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->server, "consent:443");
  EXPECT_EQ(options->tenant, "acme");

  options = ResolveGlobals(
      Parse({"tenant", "list", "--server", "h:1", "--tenant", "t2", "--timeout", "1m30s"}), env);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->server, "h:1");
  EXPECT_EQ(options->tenant, "t2");
  EXPECT_EQ(options->timeout, absl::Seconds(90));

  EXPECT_EQ(ErrorOf(ResolveGlobals(Parse({"tenant", "list", "--timeout", "0s"}), {})),
            "--timeout: must be a positive, finite duration");
  EXPECT_EQ(ErrorOf(RequireTenant(GlobalOptions())), "--tenant is required (or set ASSENT_TENANT)");
}

// --- value syntaxes
// -------------------------------------------------------------------------------

TEST(ValueTest, DurationsInDaysOrAbslForm) {
  EXPECT_EQ(*ParseDurationValue("lifespan", "730d"), absl::Hours(24 * 730));
  EXPECT_EQ(*ParseDurationValue("lifespan", "36h"), absl::Hours(36));
  EXPECT_EQ(*ParseDurationValue("lifespan", "1h30m"), absl::Minutes(90));
  EXPECT_EQ(ErrorOf(ParseDurationValue("lifespan", "0d")),
            "--lifespan: must be a positive, finite duration");
  for (const char* bad : {"", "d", "-1d", "1.5d", "3 days", "-2h", "forever"}) {
    EXPECT_FALSE(ParseDurationValue("lifespan", bad).ok()) << bad;
  }
  EXPECT_EQ(FormatDurationValue(absl::Hours(24 * 730)), "730d");
  EXPECT_EQ(FormatDurationValue(absl::Minutes(90)), "1h30m");
  EXPECT_EQ(FormatDurationValue(absl::Hours(36)), "36h");
}

TEST(ValueTest, TimesAreRfc3339) {
  EXPECT_EQ(*ParseTimeValue("at", "2026-05-01T12:00:00Z"), absl::FromUnixSeconds(1777636800));
  EXPECT_EQ(*ParseTimeValue("at", "2026-05-01T14:00:00.5+02:00"),
            absl::FromUnixSeconds(1777636800) + absl::Milliseconds(500));
  for (const char* bad : {"2026-05-01", "yesterday", "2026-05-01 12:00:00Z", "12:00"}) {
    EXPECT_THAT(ErrorOf(ParseTimeValue("at", bad)), StartsWith("--at: '")) << bad;
  }
}

TEST(ValueTest, EnumsIgnoreCaseAndTakeHyphens) {
  EXPECT_EQ(*ParseEnum<v1::Suppression::Kind>("kind", "hard-bounce"), v1::Suppression::HARD_BOUNCE);
  EXPECT_EQ(*ParseEnum<v1::ConsentState>("state", "Granted"), v1::GRANTED);
  EXPECT_EQ(*ParseEnum<v1::PolicyMode>("mode", "opt_out"), v1::OPT_OUT);
  EXPECT_EQ(ErrorOf(ParseEnum<v1::Channel>("channel", "channel-unspecified")),
            "--channel: unknown value 'channel-unspecified' (one of EMAIL, SMS, PUSH, VOICE, "
            "DIRECT_MAIL, TARGETED_ADS, IN_APP)");
  EXPECT_EQ(*ParseEnumList<v1::Channel>("channels", "email, sms"),
            (std::vector<v1::Channel>{v1::EMAIL, v1::SMS}));
  EXPECT_EQ(ErrorOf(ParseEnumList<v1::Channel>("channels", "EMAIL,email")),
            "--channels: email is listed twice");
}

TEST(ValueTest, NumbersAreUnsigned32Bit) {
  EXPECT_EQ(*ParseUint32("limit", "4294967295"), 4294967295u);
  for (const char* bad : {"", "-1", "+1", "4294967296", "1e3", "ten"}) {
    EXPECT_FALSE(ParseUint32("limit", bad).ok()) << bad;
  }
}

// --- policy rules, quiet hours, frequency caps
// ----------------------------------------------------

TEST(PolicyRuleTest, ParsesFourFieldsWithWildcards) {
  v1::PolicyRule rule = *ParsePolicyRule("us-ca:EMAIL:marketing:OPT_OUT");
  EXPECT_EQ(rule.jurisdiction(), "US-CA");
  EXPECT_EQ(rule.channel(), v1::EMAIL);
  EXPECT_EQ(rule.purpose_kind(), v1::MARKETING);
  EXPECT_EQ(rule.mode(), v1::OPT_OUT);

  rule = *ParsePolicyRule("*:*:*:opt-in");
  EXPECT_EQ(rule.jurisdiction(), "*");
  EXPECT_EQ(rule.channel(), v1::CHANNEL_UNSPECIFIED);
  EXPECT_EQ(rule.purpose_kind(), v1::PURPOSE_KIND_UNSPECIFIED);
  EXPECT_EQ(rule.mode(), v1::OPT_IN);
}

TEST(PolicyRuleTest, RejectsMalformedRules) {
  EXPECT_EQ(ErrorOf(ParsePolicyRule("US:EMAIL:OPT_OUT")),
            "--rule 'US:EMAIL:OPT_OUT': want JURISDICTION:CHANNEL|*:KIND|*:OPT_IN|OPT_OUT");
  EXPECT_THAT(ErrorOf(ParsePolicyRule(":EMAIL:*:OPT_IN")), HasSubstr("jurisdiction is empty"));
  EXPECT_THAT(ErrorOf(ParsePolicyRule("US:FAX:*:OPT_IN")), HasSubstr("unknown value 'FAX'"));
  EXPECT_THAT(ErrorOf(ParsePolicyRule("US:*:*:MAYBE")), HasSubstr("unknown value 'MAYBE'"));
}

TEST(QuietHoursTest, WindowInMinutesAfterMidnight) {
  v1::QuietHours quiet = *ParseQuietHours("22:00-07:30", "Europe/Berlin");
  EXPECT_EQ(quiet.start_minute(), 22 * 60u);
  EXPECT_EQ(quiet.end_minute(), 7 * 60u + 30);
  EXPECT_EQ(quiet.time_zone(), "Europe/Berlin");
  EXPECT_EQ(ParseQuietHours("0:05-6:00", "UTC")->start_minute(), 5u);
  for (const char* bad : {"22:00", "24:00-07:00", "22:60-07:00", "22-07", "22:00-07:00-08:00"}) {
    EXPECT_FALSE(ParseQuietHours(bad, "UTC").ok()) << bad;
  }
  EXPECT_THAT(ErrorOf(ParseQuietHours("22:00-07:00", "")), HasSubstr("needs --tz"));
}

TEST(FrequencyCapTest, ChannelCountPeriod) {
  v1::FrequencyCap cap = *ParseFrequencyCap("email:3/7d");
  EXPECT_EQ(cap.channel(), v1::EMAIL);
  EXPECT_EQ(cap.max_messages(), 3u);
  EXPECT_EQ(FromProto(cap.period()), absl::Hours(24 * 7));
  for (const char* bad : {"EMAIL", "EMAIL:3", "EMAIL:0/1d", "EMAIL:x/1d", "3/1d", "FAX:1/1d"}) {
    EXPECT_FALSE(ParseFrequencyCap(bad).ok()) << bad;
  }
}

// --- targets
// --------------------------------------------------------------------------------------

TEST(TargetTest, ExactlyOneOfSubjectEmailPhone) {
  v1::Target target = *TargetFromArgs(Parse({"check", "--phone", "030 1234567", "--region", "DE"}));
  EXPECT_EQ(target.contact_point().type(), v1::CONTACT_PHONE);
  EXPECT_EQ(target.contact_point().value(), "030 1234567");
  EXPECT_EQ(target.contact_point().default_region(), "DE");
  EXPECT_EQ(TargetFromArgs(Parse({"check", "--subject", "cust-1"}))->subject_id(), "cust-1");

  EXPECT_EQ(ErrorOf(TargetFromArgs(Parse({"check"}))),
            "give exactly one of --subject, --email, --phone, --contact-hash");
  EXPECT_EQ(ErrorOf(TargetFromArgs(Parse({"check", "--subject", "a", "--email", "b@c"}))),
            "give exactly one of --subject, --email, --phone, --contact-hash");
  EXPECT_EQ(ErrorOf(TargetFromArgs(Parse({"check", "--email", "b@c", "--region", "US"}))),
            "--region applies only to --phone");
}

// A keyed hash's shape: 64 lower-case hex digits.
const std::string kHash = std::string(32, '0') + std::string(32, 'f');

TEST(TargetTest, ContactHashNamesAContactPointByItsKeyedHash) {
  v1::Target target = *TargetFromArgs(Parse({"state", "--contact-hash", "Email:" + kHash}));
  ASSERT_TRUE(target.has_contact_ref());
  EXPECT_EQ(target.contact_ref().type(), v1::CONTACT_EMAIL);
  EXPECT_EQ(target.contact_ref().hash(), kHash);
  EXPECT_EQ(ParseContactRef("phone:" + kHash)->type(), v1::CONTACT_PHONE);
  EXPECT_EQ(ParseContactRef("device:" + kHash)->type(), v1::CONTACT_DEVICE);
  EXPECT_EQ(ParseContactRef("POSTAL:" + kHash)->type(), v1::CONTACT_POSTAL);
  // Every command that takes a TARGET takes it.
  for (const char* command : {"check", "history", "verify", "record", "url"}) {
    EXPECT_TRUE(
        TargetFromArgs(Parse({command, "--contact-hash", "email:" + kHash}))->has_contact_ref())
        << command;
  }

  EXPECT_EQ(ErrorOf(ParseContactRef("sms:" + kHash)),
            "--contact-hash: unknown contact type 'sms' (one of email, phone, device, postal)");

  for (const std::string& bad : Words{kHash, "email:", ":" + kHash}) {
    EXPECT_EQ(ErrorOf(ParseContactRef(bad)),
              "--contact-hash: '" + bad + "' is not TYPE:HASH like email:<64 hex digits>");
  }
  EXPECT_EQ(ErrorOf(TargetFromArgs(
                Parse({"state", "--contact-hash", "email:" + kHash, "--email", "a@b"}))),
            "give exactly one of --subject, --email, --phone, --contact-hash");
  EXPECT_EQ(ErrorOf(TargetFromArgs(
                Parse({"state", "--contact-hash", "email:" + kHash, "--region", "DE"}))),
            "--region applies only to --phone");
  // Linking, unlinking and suppressing take the address itself.
  for (const char* command : {"link", "unlink", "suppress"}) {
    EXPECT_THAT(ErrorOf({command, "--contact-hash", "email:" + kHash}),
                StartsWith(absl::StrCat("--contact-hash does not apply to '", command, "'")));
  }
}

TEST(TargetFileTest, TypedLinesBareSubjectsCommentsAndBlanks) {
  const std::string content =
      "# audience\n"
      "subject:cust-1\n"
      "\n"
      "  email: Ann@Example.com  \n"
      "phone:030 1234567\r\n"
      "crm:42\n"
      "cust-2";
  absl::StatusOr<std::vector<TargetEntry>> entries = ParseTargetFile(content, "t.txt", "DE");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ((*entries)[0].target.subject_id(), "cust-1");
  EXPECT_EQ((*entries)[1].label, "email: Ann@Example.com");
  EXPECT_EQ((*entries)[1].target.contact_point().type(), v1::CONTACT_EMAIL);
  EXPECT_EQ((*entries)[1].target.contact_point().value(), "Ann@Example.com");
  EXPECT_EQ((*entries)[2].target.contact_point().value(), "030 1234567");
  EXPECT_EQ((*entries)[2].target.contact_point().default_region(), "DE");
  EXPECT_EQ((*entries)[3].target.subject_id(), "crm:42");  // unknown prefix: a bare subject id
  EXPECT_EQ((*entries)[4].target.subject_id(), "cust-2");
}

TEST(TargetFileTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(ErrorOf(ParseTargetFile("cust-1\n# x\nphone:\n", "t.txt", "")),
            "t.txt:3: 'phone:' needs a value");
  EXPECT_TRUE(ParseTargetFile("\n# only comments\n", "t.txt", "")->empty());
}

// --- requests
// -------------------------------------------------------------------------------------

TEST(BuildRecordTest, OneDecisionWithEvidenceAndDefaults) {
  absl::StatusOr<v1::RecordDecisionsRequest> request = BuildRecord(Parse({"record",
                                                                          "--subject",
                                                                          "cust-1",
                                                                          "--purpose",
                                                                          "marketing.newsletter",
                                                                          "--state",
                                                                          "granted",
                                                                          "--channel",
                                                                          "email",
                                                                          "--topic",
                                                                          "weekly",
                                                                          "--jurisdiction",
                                                                          "DE",
                                                                          "--notice-version",
                                                                          "3",
                                                                          "--ip",
                                                                          "203.0.113.7",
                                                                          "--user-agent",
                                                                          "UA/1",
                                                                          "--gpc",
                                                                          "--idempotency-key",
                                                                          "k-1",
                                                                          "--expire",
                                                                          "2027-01-01T00:00:00Z"}),
                                                                   "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->tenant(), "acme");
  EXPECT_EQ(request->target().subject_id(), "cust-1");
  ASSERT_EQ(request->decisions_size(), 1);
  const v1::DecisionInput& decision = request->decisions(0);
  EXPECT_EQ(decision.purpose_id(), "marketing.newsletter");
  EXPECT_EQ(decision.state(), v1::GRANTED);
  EXPECT_EQ(decision.channel(), v1::EMAIL);
  EXPECT_EQ(decision.topic(), "weekly");
  EXPECT_EQ(FromProto(decision.expire_time()), T("2027-01-01T00:00:00Z"));
  EXPECT_EQ(request->source(), "assentctl");
  EXPECT_EQ(request->actor(), "assentctl");
  EXPECT_EQ(request->jurisdiction(), "DE");
  EXPECT_EQ(request->idempotency_key(), "k-1");
  EXPECT_EQ(request->evidence().notice_version(), 3u);
  EXPECT_EQ(request->evidence().ip_address(), "203.0.113.7");
  EXPECT_EQ(request->evidence().user_agent(), "UA/1");
  EXPECT_TRUE(request->evidence().gpc());
  EXPECT_FALSE(request->has_import());
}

TEST(BuildRecordTest, NoticeDigestLanguageAndExpectedSequence) {
  const Words base = {"record", "--subject", "cust-1", "--purpose", "p", "--state", "granted"};
  auto with = [&](Words extra) {
    Words argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return BuildRecord(Parse(argv), "acme");
  };
  absl::StatusOr<v1::RecordDecisionsRequest> request =
      with({"--language", "de", "--notice-sha256", kHash, "--expected-sequence", "0"});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->evidence().language(), "de");
  EXPECT_EQ(request->evidence().notice_sha256(), kHash);
  // 0 is a real precondition ("nothing recorded yet"), not "unset".
  ASSERT_TRUE(request->has_expected_sequence());
  EXPECT_EQ(request->expected_sequence(), 0u);

  request = with({"--expected-sequence", "18446744073709551615"});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->expected_sequence(), 18446744073709551615u);
  request = with({});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_FALSE(request->has_expected_sequence());
  EXPECT_EQ(request->evidence().notice_sha256(), "");

  for (const char* bad : {"-1", "", "seven", "18446744073709551616"}) {
    EXPECT_EQ(ErrorOf(with({"--expected-sequence", bad})),
              absl::StrCat("--expected-sequence: '", bad, "' is not a non-negative 64-bit number"));
  }
  EXPECT_EQ(ErrorOf({"record", "--notice-sha256", "a", "--notice-sha256", "b"}),
            "--notice-sha256: given more than once");
}

TEST(BuildRecordTest, ImportNeedsTimeAndOrigin) {
  const Words base = {"record", "--email", "a@b.c", "--purpose", "p", "--state", "denied"};
  auto with = [&](Words extra) {
    Words argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return BuildRecord(Parse(argv), "acme");
  };
  absl::StatusOr<v1::RecordDecisionsRequest> request =
      with({"--import-time", "2020-02-03T04:05:06Z", "--import-origin", "legacy-crm", "--source",
            "import", "--actor", "migration-job"});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(FromProto(request->import().original_effective_time()), T("2020-02-03T04:05:06Z"));
  EXPECT_EQ(request->import().origin(), "legacy-crm");
  EXPECT_EQ(request->source(), "import");
  EXPECT_EQ(request->actor(), "migration-job");
  EXPECT_EQ(request->target().contact_point().type(), v1::CONTACT_EMAIL);
  EXPECT_EQ(ErrorOf(with({"--import-time", "2020-02-03T04:05:06Z"})),
            "--import-time and --import-origin go together");
}

TEST(BuildRecordTest, RequiresPurposeAndAKnownState) {
  EXPECT_EQ(ErrorOf(BuildRecord(Parse({"record", "--subject", "s", "--state", "granted"}), "t")),
            "--purpose is required");
  EXPECT_THAT(
      ErrorOf(
          BuildRecord(Parse({"record", "--subject", "s", "--purpose", "p", "--state", "ok"}), "t")),
      StartsWith(
          "--state: unknown value 'ok' (one of GRANTED, DENIED, WITHDRAWN, PENDING, LAPSED)"));
}

TEST(BuildPurposeTest, CreateNeedsTheCoreFlagsAndNamesAfterTheId) {
  absl::StatusOr<v1::CreatePurposeRequest> request = BuildCreatePurpose(
      Parse({"purpose", "create", "marketing.newsletter", "--kind", "MARKETING", "--basis",
             "CONSENT", "--channels", "EMAIL,SMS", "--notice-version", "1", "--lifespan", "730d",
             "--topics", "weekly,offers", "--dpv", "https://w3id.org/dpv#Marketing"}),
      "acme", {});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->parent(), "tenants/acme");
  const v1::Purpose& p = request->purpose();
  EXPECT_EQ(p.purpose_id(), "marketing.newsletter");
  EXPECT_EQ(p.display_name(), "marketing.newsletter");
  EXPECT_EQ(p.kind(), v1::MARKETING);
  EXPECT_EQ(p.legal_basis(), v1::CONSENT);
  EXPECT_THAT(p.channels(), ElementsAre(v1::EMAIL, v1::SMS));
  EXPECT_EQ(p.notice_version(), 1u);
  EXPECT_EQ(FromProto(p.lifespan()), absl::Hours(24 * 730));
  EXPECT_THAT(p.topics(), ElementsAre("weekly", "offers"));
  EXPECT_EQ(p.dpv_iri(), "https://w3id.org/dpv#Marketing");

  EXPECT_EQ(ErrorOf(BuildCreatePurpose(Parse({"purpose", "create", "p", "--kind", "MARKETING"}),
                                       "acme", {})),
            "--basis is required");
  EXPECT_EQ(ErrorOf(BuildCreatePurpose(Parse({"purpose", "create"}), "acme", {})),
            "missing purpose id");
}

TEST(BuildPurposeTest, ConfirmAndPendingTtlSetAndClearDoubleOptIn) {
  absl::StatusOr<v1::CreatePurposeRequest> request =
      BuildCreatePurpose(Parse({"purpose", "create", "news", "--kind", "MARKETING", "--basis",
                                "CONSENT", "--channels", "EMAIL,SMS", "--notice-version", "1",
                                "--confirm", "EMAIL:DE,email:eu,*:AT", "--pending-ttl", "3d"}),
                         "acme", {});
  ASSERT_TRUE(request.ok()) << request.status();
  const v1::Purpose& p = request->purpose();
  ASSERT_EQ(p.confirmation_size(), 3);
  EXPECT_EQ(p.confirmation(0).channel(), v1::EMAIL);
  EXPECT_EQ(p.confirmation(0).jurisdiction(), "DE");
  EXPECT_EQ(p.confirmation(1).jurisdiction(), "EU");
  EXPECT_EQ(p.confirmation(2).channel(), v1::CHANNEL_UNSPECIFIED);
  EXPECT_EQ(p.confirmation(2).jurisdiction(), "AT");
  EXPECT_EQ(FromProto(p.pending_ttl()), absl::Hours(72));
  const std::string shown = FormatPurpose(p);
  EXPECT_THAT(shown, HasSubstr("\nconfirm   EMAIL:DE, EMAIL:EU, *:AT (pending 3d)\n"));

  absl::StatusOr<v1::UpdatePurposeRequest> cleared = BuildUpdatePurpose(
      Parse({"purpose", "update", "news", "--confirm", "none", "--pending-ttl", "default"}), p, {});
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_EQ(cleared->purpose().confirmation_size(), 0);
  EXPECT_FALSE(cleared->purpose().has_pending_ttl());
  EXPECT_THAT(FormatPurpose(cleared->purpose()), Not(HasSubstr("confirm")));

  EXPECT_THAT(ErrorOf(BuildCreatePurpose(
                  Parse({"purpose", "create", "news", "--kind", "MARKETING", "--basis", "CONSENT",
                         "--channels", "EMAIL", "--notice-version", "1", "--confirm", "DE"}),
                  "acme", {})),
              HasSubstr("--confirm"));
}

TEST(BuildPurposeTest, UpdateChangesOnlyWhatIsGiven) {
  v1::Purpose current;
  current.set_name("tenants/acme/purposes/p");
  current.set_purpose_id("p");
  current.set_version(4);
  current.set_display_name("Newsletter");
  current.set_kind(v1::MARKETING);
  current.set_legal_basis(v1::CONSENT);
  current.add_channels(v1::EMAIL);
  current.set_notice_version(1);
  *current.mutable_lifespan() = ToProtoDuration(absl::Hours(24));
  current.add_topics("weekly");
  *current.mutable_update_time() = ToProto(absl::FromUnixSeconds(1));

  absl::StatusOr<v1::UpdatePurposeRequest> request =
      BuildUpdatePurpose(Parse({"purpose", "update", "p", "--notice-version", "2",
                                "--min-notice-version", "2", "--lifespan", "none", "--topics", ""}),
                         current, {});
  ASSERT_TRUE(request.ok()) << request.status();
  const v1::Purpose& p = request->purpose();
  EXPECT_EQ(p.name(), "tenants/acme/purposes/p");
  EXPECT_EQ(p.display_name(), "Newsletter");
  EXPECT_EQ(p.kind(), v1::MARKETING);
  EXPECT_THAT(p.channels(), ElementsAre(v1::EMAIL));
  EXPECT_EQ(p.notice_version(), 2u);
  EXPECT_EQ(p.min_notice_version(), 2u);
  EXPECT_FALSE(p.has_lifespan());
  EXPECT_TRUE(p.topics().empty());
  EXPECT_EQ(p.version(), 0u);  // output only
  EXPECT_FALSE(p.has_update_time());

  EXPECT_THAT(ErrorOf(BuildUpdatePurpose(Parse({"purpose", "update", "p"}), current, {})),
              StartsWith("nothing to change"));
}

const Words kCreateNews = {"purpose",   "create",           "news",    "--kind",
                           "MARKETING", "--basis",          "CONSENT", "--channels",
                           "EMAIL",     "--notice-version", "2"};

absl::StatusOr<v1::CreatePurposeRequest> CreateNews(const Words& extra,
                                                    const std::vector<NoticeFile>& notices = {}) {
  Words argv = kCreateNews;
  argv.insert(argv.end(), extra.begin(), extra.end());
  return BuildCreatePurpose(Parse(argv), "acme", notices);
}

TEST(BuildPurposeTest, TitlesAndDescriptionsGroupPerLanguage) {
  absl::StatusOr<v1::CreatePurposeRequest> request =
      CreateNews({"--title", "de=Wöchentlicher Newsletter", "--description", "de=Jeden Montag.",
                  "--title", "en=Weekly newsletter", "--description=de-AT=", "--title=de-AT=Post"});
  ASSERT_TRUE(request.ok()) << request.status();
  const auto& texts = request->purpose().texts();
  ASSERT_EQ(texts.size(), 3);
  EXPECT_EQ(texts[0].language(), "de");
  EXPECT_EQ(texts[0].display_name(), "Wöchentlicher Newsletter");
  EXPECT_EQ(texts[0].description(), "Jeden Montag.");
  EXPECT_EQ(texts[1].language(), "en");
  EXPECT_EQ(texts[1].display_name(), "Weekly newsletter");
  EXPECT_EQ(texts[1].description(), "");
  EXPECT_EQ(texts[2].language(), "de-AT");
  EXPECT_EQ(texts[2].display_name(), "Post");
  // The purpose's own name is not one of its translations.
  EXPECT_EQ(request->purpose().display_name(), "news");
}

TEST(BuildPurposeTest, NoticeFilesBecomeTextsOfTheNoticeVersion) {
  absl::StatusOr<v1::CreatePurposeRequest> request =
      CreateNews({}, {{"en", "notice.en.txt", "We email you weekly.\n"},
                      {"de", "notice.de.txt", "Wir schreiben Ihnen wöchentlich.\n"}});
  ASSERT_TRUE(request.ok()) << request.status();
  const auto& notices = request->purpose().notices();
  ASSERT_EQ(notices.size(), 2);
  EXPECT_EQ(notices[0].notice_version(), 2u);
  EXPECT_EQ(notices[0].language(), "en");
  EXPECT_EQ(notices[0].text(), "We email you weekly.\n");  // as read: the digest is the file's
  EXPECT_EQ(notices[0].sha256(), "");                      // output only
  EXPECT_EQ(notices[1].notice_version(), 2u);
  EXPECT_EQ(notices[1].language(), "de");
}

TEST(BuildPurposeTest, TextAndNoticeFlagErrorsNameTheFlag) {
  EXPECT_EQ(ErrorOf(CreateNews({"--description", "de=Jeden Montag."})),
            "--description: language de has no --title (give --title de=NAME too)");
  EXPECT_EQ(ErrorOf(CreateNews({"--title", "en=Weekly", "--description", "de=Jeden Montag."})),
            "--description: language de has no --title (give --title de=NAME too)");
  EXPECT_EQ(ErrorOf(CreateNews({"--title", "de"})), "--title: 'de' is not LANG=NAME");
  EXPECT_EQ(ErrorOf(CreateNews({"--title", "=Weekly"})), "--title: '=Weekly' is not LANG=NAME");
  EXPECT_EQ(ErrorOf(CreateNews({"--description", "Weekly"})),
            "--description: 'Weekly' is not LANG=TEXT");
  EXPECT_EQ(ErrorOf(CreateNews({"--title", "de=A", "--title", "de=B"})),
            "--title: language de given twice");
  EXPECT_EQ(
      ErrorOf(CreateNews({"--title", "de=A", "--description", "de=B", "--description", "de=C"})),
      "--description: language de given twice");
}

TEST(BuildPurposeTest, NoticeFilesMustBeUtf8) {
  EXPECT_TRUE(CreateNews({}, {{"de", "de.txt", "Grüße, € und 𝄞\n"}}).ok());
  const std::pair<const char*, size_t> bad[] = {
      {"gr\xfc\xdf", 2},        // Latin-1
      {"a\xc0\xaf", 1},         // overlong '/'
      {"ab\xed\xa0\x80", 2},    // a surrogate
      {"\xf4\x90\x80\x80", 0},  // above U+10FFFF
      {"\xe2\x82", 0},          // cut short
      {"ok \x80", 3},           // a stray continuation byte
  };
  for (const auto& [text, offset] : bad) {
    EXPECT_EQ(
        ErrorOf(CreateNews({}, {{"de", "de.txt", text}})),
        absl::StrCat("--notice-file de=de.txt: not UTF-8 text (bad byte at offset ", offset, ")"))
        << text;
  }
}

TEST(ParseNoticeFilesTest, LanguageAndPathInCommandLineOrder) {
  absl::StatusOr<std::vector<NoticeFile>> files =
      ParseNoticeFiles(Parse({"purpose", "update", "p", "--notice-file", "en=notice.en.txt",
                              "--notice-file=de-AT=/tmp/a=b.txt"}));
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].language, "en");
  EXPECT_EQ((*files)[0].path, "notice.en.txt");
  EXPECT_EQ((*files)[0].text, "");
  EXPECT_EQ((*files)[1].language, "de-AT");
  EXPECT_EQ((*files)[1].path, "/tmp/a=b.txt");  // split at the first '='
  EXPECT_TRUE(ParseNoticeFiles(Parse({"purpose", "update", "p"}))->empty());

  auto error = [](const std::string& value) {
    return ErrorOf(ParseNoticeFiles(Parse({"purpose", "update", "p", "--notice-file", value})));
  };
  EXPECT_EQ(error("notice.en.txt"), "--notice-file: 'notice.en.txt' is not LANG=PATH");
  EXPECT_EQ(error("en="), "--notice-file: no file for language en");
  EXPECT_EQ(ErrorOf(ParseNoticeFiles(Parse(
                {"purpose", "update", "p", "--notice-file", "en=a", "--notice-file", "en=b"}))),
            "--notice-file: language en given twice");
}

TEST(BuildPurposeTest, UpdateOverlaysTextsAndSendsOnlyNewNotices) {
  v1::Purpose current;
  current.set_name("tenants/acme/purposes/news");
  current.set_purpose_id("news");
  current.set_display_name("Newsletter");
  current.set_notice_version(1);
  for (const char* language : {"de", "en"}) {
    v1::PurposeText& text = *current.add_texts();
    text.set_language(language);
    text.set_display_name(absl::StrCat("name ", language));
    text.set_description(absl::StrCat("description ", language));
  }
  v1::NoticeText& published = *current.add_notices();
  published.set_notice_version(1);
  published.set_language("en");
  published.set_text("We email you weekly.");
  published.set_sha256(kHash);

  absl::StatusOr<v1::UpdatePurposeRequest> request = BuildUpdatePurpose(
      Parse({"purpose", "update", "news", "--notice-version", "2", "--title", "de=Neu", "--title",
             "en=", "--title", "fr=Lettre", "--description", "fr=Chaque lundi."}),
      current, {{"de", "de.txt", "Wir schreiben Ihnen."}});
  ASSERT_TRUE(request.ok()) << request.status();
  const v1::Purpose& p = request->purpose();
  ASSERT_EQ(p.texts_size(), 2);
  EXPECT_EQ(p.texts(0).language(), "de");
  EXPECT_EQ(p.texts(0).display_name(), "Neu");
  EXPECT_EQ(p.texts(0).description(), "description de");  // kept: no --description de
  EXPECT_EQ(p.texts(1).language(), "fr");                 // en removed by "--title en="
  EXPECT_EQ(p.texts(1).description(), "Chaque lundi.");
  // The published text stays published without being sent again.
  ASSERT_EQ(p.notices_size(), 1);
  EXPECT_EQ(p.notices(0).notice_version(), 2u);
  EXPECT_EQ(p.notices(0).language(), "de");

  // A notice file alone is a change, for the current notice version.
  request = BuildUpdatePurpose(Parse({"purpose", "update", "news", "--notice-file", "de=de.txt"}),
                               current, {{"de", "de.txt", "Wir schreiben Ihnen."}});
  ASSERT_TRUE(request.ok()) << request.status();
  ASSERT_EQ(request->purpose().notices_size(), 1);
  EXPECT_EQ(request->purpose().notices(0).notice_version(), 1u);
  EXPECT_EQ(request->purpose().texts_size(), 2);
}

TEST(BuildCreateLinkTest, PreferenceCenterLinkByDefault) {
  absl::StatusOr<v1::CreateLinkRequest> request =
      BuildCreateLink(Parse({"url", "--subject", "cust-42"}), "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->tenant(), "acme");
  EXPECT_EQ(request->target().subject_id(), "cust-42");
  EXPECT_EQ(request->kind(), v1::PREFERENCE_CENTER);
  EXPECT_EQ(request->purpose_id(), "");
  EXPECT_EQ(request->channel(), v1::CHANNEL_UNSPECIFIED);
  EXPECT_FALSE(request->has_ttl());  // the service's default

  request = BuildCreateLink(
      Parse({"url", "--phone", "030 1234567", "--region", "DE", "--ttl", "30d"}), "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->target().contact_point().default_region(), "DE");
  EXPECT_EQ(FromProto(request->ttl()), absl::Hours(24 * 30));
}

TEST(BuildCreateLinkTest, ConfirmSequenceMintsAConfirmationLink) {
  absl::StatusOr<v1::CreateLinkRequest> request = BuildCreateLink(
      Parse({"url", "--email", "jane@example.com", "--confirm-sequence", "7"}), "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->kind(), v1::CONFIRMATION);
  EXPECT_EQ(request->confirm_sequence(), 7u);
  EXPECT_FALSE(request->has_ttl());  // the rest of the confirmation window
  EXPECT_THAT(ErrorOf(BuildCreateLink(
                  Parse({"url", "--subject", "s", "--confirm-sequence", "7", "--one-click"}), "t")),
              HasSubstr("--confirm-sequence"));
}

TEST(BuildResendConfirmationTest, NeedsTheSequence) {
  absl::StatusOr<v1::ResendConfirmationRequest> request = BuildResendConfirmation(
      Parse({"resend-confirmation", "--email", "jane@example.com", "--sequence", "3"}), "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->tenant(), "acme");
  EXPECT_EQ(request->target().contact_point().value(), "jane@example.com");
  EXPECT_EQ(request->sequence(), 3u);
  EXPECT_EQ(request->actor(), "assentctl");
  EXPECT_THAT(
      ErrorOf(BuildResendConfirmation(Parse({"resend-confirmation", "--subject", "s"}), "acme")),
      HasSubstr("--sequence"));
}

TEST(BuildCreateLinkTest, OneClickUnsubscribesFromAPurpose) {
  absl::StatusOr<v1::CreateLinkRequest> request =
      BuildCreateLink(Parse({"url", "--contact-hash", "email:" + kHash, "--one-click", "--purpose",
                             "marketing.newsletter", "--channel", "email", "--ttl", "36h"}),
                      "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->target().contact_ref().hash(), kHash);
  EXPECT_EQ(request->kind(), v1::ONE_CLICK_UNSUBSCRIBE);
  EXPECT_EQ(request->purpose_id(), "marketing.newsletter");
  EXPECT_EQ(request->channel(), v1::EMAIL);
  EXPECT_EQ(FromProto(request->ttl()), absl::Hours(36));
  EXPECT_EQ(BuildCreateLink(Parse({"url", "--subject", "s", "--one-click", "--purpose", "p"}), "t")
                ->channel(),
            v1::CHANNEL_UNSPECIFIED);  // every channel of the purpose
}

TEST(BuildCreateLinkTest, RejectsWhatDoesNotMakeALink) {
  auto error = [](const Words& argv) { return ErrorOf(BuildCreateLink(Parse(argv), "acme")); };
  EXPECT_EQ(error({"url"}), "give exactly one of --subject, --email, --phone, --contact-hash");
  EXPECT_EQ(error({"url", "--subject", "s", "--one-click"}), "--purpose is required");
  EXPECT_EQ(error({"url", "--subject", "s", "--purpose", "p"}),
            "--purpose and --channel go with --one-click");
  EXPECT_EQ(error({"url", "--subject", "s", "--channel", "EMAIL"}),
            "--purpose and --channel go with --one-click");
  EXPECT_THAT(error({"url", "--subject", "s", "--one-click", "--purpose", "p", "--channel", "fax"}),
              StartsWith("--channel: unknown value 'fax'"));
  EXPECT_EQ(error({"url", "--subject", "s", "--ttl", "soon"}),
            "--ttl: 'soon' is not a duration like 730d, 36h or 90s");
  EXPECT_EQ(error({"url", "--subject", "s", "--ttl", "0s"}),
            "--ttl: must be a positive, finite duration");
  EXPECT_EQ(ErrorOf({"url", "--subject", "s", "--one-click=maybe"}),
            "--one-click: takes no value (or =true / =false)");
  EXPECT_THAT(ErrorOf({"url", "--subject", "s", "--state", "granted"}),
              StartsWith("--state does not apply to 'url'"));
}

TEST(BuildPolicyTest, RulesInOrderOrClear) {
  absl::StatusOr<v1::SetDefaultPolicyRequest> request = BuildSetPolicy(
      Parse({"policy", "set", "--rule", "US:EMAIL:MARKETING:OPT_OUT", "--rule", "EU:*:*:OPT_IN"}),
      "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->parent(), "tenants/acme");
  ASSERT_EQ(request->policy().rules_size(), 2);
  EXPECT_EQ(request->policy().rules(1).jurisdiction(), "EU");
  EXPECT_EQ(BuildSetPolicy(Parse({"policy", "set", "--clear"}), "acme")->policy().rules_size(), 0);
  EXPECT_THAT(ErrorOf(BuildSetPolicy(Parse({"policy", "set"}), "acme")),
              HasSubstr("give one or more --rule"));
}

TEST(BuildPreferencesTest, ReplacesThePreferencesAsAWhole) {
  absl::StatusOr<v1::SetPreferencesRequest> request = BuildSetPreferences(
      Parse({"prefs", "set", "--subject", "cust-1", "--quiet-hours", "22:00-07:00", "--tz",
             "Europe/Berlin", "--opt-out-channels", "EMAIL,SMS", "--language", "de",
             "--jurisdiction", "DE", "--cap", "SMS:2/1d"}),
      "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->subject_id(), "cust-1");
  const v1::Preferences& prefs = request->preferences();
  EXPECT_EQ(prefs.quiet_hours().start_minute(), 1320u);
  EXPECT_EQ(prefs.quiet_hours().end_minute(), 420u);
  EXPECT_THAT(prefs.global_opt_out_channels(), ElementsAre(v1::EMAIL, v1::SMS));
  EXPECT_EQ(prefs.preferred_language(), "de");
  EXPECT_EQ(prefs.jurisdiction(), "DE");
  ASSERT_EQ(prefs.frequency_caps_size(), 1);
  EXPECT_EQ(prefs.frequency_caps(0).channel(), v1::SMS);

  EXPECT_EQ(ErrorOf(BuildSetPreferences(
                Parse({"prefs", "set", "--subject", "s", "--tz", "Europe/Berlin"}), "acme")),
            "--tz and --quiet-channels go with --quiet-hours");
  EXPECT_FALSE(BuildSetPreferences(Parse({"prefs", "set", "--subject", "s"}), "acme")
                   ->preferences()
                   .has_quiet_hours());
}

TEST(BuildPreferencesTest, ExpectedSequenceIsAnOptionalPrecondition) {
  absl::StatusOr<v1::SetPreferencesRequest> request = BuildSetPreferences(
      Parse({"prefs", "set", "--subject", "s", "--language", "de", "--expected-sequence", "7"}),
      "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  ASSERT_TRUE(request->has_expected_sequence());
  EXPECT_EQ(request->expected_sequence(), 7u);
  EXPECT_FALSE(BuildSetPreferences(Parse({"prefs", "set", "--subject", "s"}), "acme")
                   ->has_expected_sequence());
  EXPECT_EQ(ErrorOf(BuildSetPreferences(
                Parse({"prefs", "set", "--subject", "s", "--expected-sequence", "x"}), "acme")),
            "--expected-sequence: 'x' is not a non-negative 64-bit number");
}

TEST(BuildSuppressTest, KindChannelAndLift) {
  absl::StatusOr<v1::SuppressContactPointRequest> request =
      BuildSuppress(Parse({"suppress", "--email", "a@b.c", "--kind", "hard-bounce", "--channel",
                           "EMAIL", "--lift"}),
                    "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->kind(), v1::Suppression::HARD_BOUNCE);
  EXPECT_EQ(request->channel(), v1::EMAIL);
  EXPECT_TRUE(request->lift());
  EXPECT_EQ(ErrorOf(BuildSuppress(Parse({"suppress", "--kind", "invalid"}), "acme")),
            "give exactly one of --email, --phone");
  // Suppressions are on contact points only.
  EXPECT_THAT(ErrorOf({"suppress", "--subject", "s", "--kind", "invalid"}),
              StartsWith("--subject does not apply to 'suppress'"));
}

TEST(BuildCheckTest, ChannelRequiredTimeOptional) {
  absl::StatusOr<v1::CheckRequest> request =
      BuildCheck(Parse({"check", "--subject", "cust-1", "--purpose", "p", "--channel", "sms",
                        "--at", "2026-05-01T23:30:00+02:00", "--jurisdiction", "DE"}),
                 "acme");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->channel(), v1::SMS);
  EXPECT_EQ(FromProto(request->time()), T("2026-05-01T21:30:00Z"));
  EXPECT_EQ(request->jurisdiction(), "DE");
  EXPECT_FALSE(
      BuildCheck(Parse({"check", "--subject", "s", "--purpose", "p", "--channel", "SMS"}), "acme")
          ->has_time());
  EXPECT_EQ(ErrorOf(BuildCheck(Parse({"check", "--subject", "s", "--purpose", "p"}), "acme")),
            "--channel is required");
}

TEST(BuildHistoryTest, LimitBoundsThePageSize) {
  EXPECT_EQ(BuildHistory(Parse({"history", "--subject", "s"}), "t")->request.page_size(), 1000);
  absl::StatusOr<HistoryQuery> query =
      BuildHistory(Parse({"history", "--subject", "s", "--limit", "5", "--newest-first"}), "t");
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->limit, 5u);
  EXPECT_EQ(query->request.page_size(), 5);
  EXPECT_TRUE(query->request.newest_first());
}

// --- human output
// ---------------------------------------------------------------------------------

TEST(TableTest, AlignsColumnsWithoutTrailingBlanks) {
  Table table({"A", "LONG HEADER", "C"});
  table.AddRow({"wide cell", "x", ""});
  table.AddRow({"Zoë", "y", "last"});
  EXPECT_EQ(table.Render(),
            "A          LONG HEADER  C\n"
            "wide cell  x\n"
            "Zoë        y            last\n");
}

v1::CheckResponse Response(v1::Verdict verdict, v1::Reason reason) {
  v1::CheckResponse r;
  r.set_verdict(verdict);
  r.set_reason(reason);
  return r;
}

v1::Target Subject(const std::string& id) {
  v1::Target t;
  t.set_subject_id(id);
  return t;
}

TEST(FormatCheckLineTest, VerdictReasonAndTheDecidingRecord) {
  v1::CheckResponse r = Response(v1::ALLOW, v1::EXPLICIT_GRANT);
  r.set_record_id("3-0");
  r.set_record_sequence(3);
  r.mutable_decided_by()->set_subject_id("cust-1");
  r.set_jurisdiction("DE");
  EXPECT_EQ(FormatCheckLine(r, Subject("cust-1")), "ALLOW EXPLICIT_GRANT record=3-0 seq=3\n");

  // Asked by address, decided by the linked subject: say whose record it was.
  v1::Target by_email;
  by_email.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  by_email.mutable_contact_point()->set_value("a@b.c");
  EXPECT_EQ(FormatCheckLine(r, by_email),
            "ALLOW EXPLICIT_GRANT record=3-0 seq=3 by=subject:cust-1\n");

  v1::CheckResponse suppressed = Response(v1::DENY, v1::ADDRESS_SUPPRESSED);
  suppressed.set_record_id("1-0");
  suppressed.set_record_sequence(1);
  suppressed.mutable_decided_by()->mutable_contact()->set_type(v1::CONTACT_EMAIL);
  suppressed.mutable_decided_by()->mutable_contact()->set_hash(std::string(64, 'a'));
  EXPECT_EQ(FormatCheckLine(suppressed, by_email),
            "DENY ADDRESS_SUPPRESSED record=1-0 seq=1 by=email-hash:aaaaaaaaaaaa\n");
}

TEST(FormatCheckLineTest, QuietHoursPolicyAndCaps) {
  v1::CheckResponse quiet = Response(v1::DENY, v1::QUIET_HOURS);
  *quiet.mutable_retry_after() = ToProto(T("2026-05-02T05:00:00Z"));
  EXPECT_EQ(FormatCheckLine(quiet, Subject("s")),
            "DENY QUIET_HOURS retry_after=2026-05-02T05:00:00.000Z\n");

  v1::CheckResponse policy = Response(v1::ALLOW, v1::DEFAULT_OPT_OUT);
  policy.set_jurisdiction("US");
  v1::FrequencyCap& cap = *policy.add_frequency_caps();
  cap.set_channel(v1::EMAIL);
  cap.set_max_messages(3);
  *cap.mutable_period() = ToProtoDuration(absl::Hours(24 * 7));
  EXPECT_EQ(FormatCheckLine(policy, Subject("s")),
            "ALLOW DEFAULT_OPT_OUT jurisdiction=US cap=3/7d\n");
}

TEST(FormatBatchTest, OneAlignedLinePerTarget) {
  std::vector<TargetEntry> targets = {{"subject:cust-1", Subject("cust-1")},
                                      {"cust-22", Subject("cust-22")}};
  std::vector<v1::CheckResponse> results = {Response(v1::ALLOW, v1::DEFAULT_OPT_OUT),
                                            Response(v1::DENY, v1::NO_CONSENT)};
  EXPECT_EQ(FormatBatch(targets, results),
            "subject:cust-1  ALLOW DEFAULT_OPT_OUT\n"
            "cust-22         DENY NO_CONSENT\n");
}

v1::ConsentRecord Decision(const std::string& purpose, v1::Channel channel,
                           v1::ConsentState state) {
  v1::ConsentRecord r;
  r.set_purpose_id(purpose);
  r.set_channel(channel);
  r.set_state(state);
  return r;
}

TEST(FormatHistoryTest, OneLinePerRecordWithBeforeAndAfter) {
  v1::HistoryRecord first;
  first.set_sequence(1);
  first.set_kind(v1::DECISIONS_RECORDED);
  *first.mutable_recorded_time() = ToProto(T("2026-05-01T12:00:00Z"));
  *first.mutable_effective_time() = first.recorded_time();
  first.set_actor("signup-svc");
  first.set_source("web-signup-v3");
  first.set_hash(std::string("\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89", 13));
  *first.add_decisions()->mutable_after() = Decision("news", v1::EMAIL, v1::GRANTED);

  v1::HistoryRecord second = first;
  second.set_sequence(2);
  second.set_actor("assentctl");
  second.set_source("email-one-click");
  *second.mutable_recorded_time() = ToProto(T("2026-05-02T08:30:00Z"));
  *second.mutable_effective_time() = second.recorded_time();
  second.clear_decisions();
  v1::DecisionChange& change = *second.add_decisions();
  *change.mutable_before() = Decision("news", v1::EMAIL, v1::GRANTED);
  *change.mutable_after() = Decision("news", v1::EMAIL, v1::WITHDRAWN);
  *change.mutable_after()->mutable_honour_by() = ToProto(T("2026-05-05T03:59:59Z"));
  *second.add_decisions()->mutable_after() = Decision("news", v1::CHANNEL_UNSPECIFIED, v1::DENIED);

  EXPECT_EQ(
      FormatHistory({first, second}),
      "SEQ  TIME                      KIND                ACTOR       SOURCE           HASH     "
      "     CHANGES\n"
      "1    2026-05-01T12:00:00.000Z  DECISIONS_RECORDED  signup-svc  web-signup-v3    "
      "0123456789ab  news/EMAIL none->GRANTED\n"
      "2    2026-05-02T08:30:00.000Z  DECISIONS_RECORDED  assentctl   email-one-click  "
      "0123456789ab  news/EMAIL GRANTED->WITHDRAWN honour by 2026-05-05T03:59:59.000Z, news "
      "none->DENIED\n");
  EXPECT_EQ(FormatHistory({}), "no history\n");
}

TEST(FormatProofTest, ApplicationTimesRelativeToRecordingAndWhatIsNotYetApplied) {
  v1::GetEnforcementProofResponse r;
  v1::WithdrawalProof& w = *r.add_withdrawals();
  w.set_sequence(2);
  w.add_withdrawn("news/EMAIL WITHDRAWN");
  const absl::Time recorded = T("2026-05-01T12:00:00Z");
  *w.mutable_recorded_time() = ToProto(recorded);
  *w.mutable_honour_by() = ToProto(T("2026-05-15T12:00:00Z"));
  auto add = [&](const std::string& sender, std::optional<absl::Duration> after) {
    v1::SenderApplication* s = w.add_senders();
    s->set_sender(sender);
    if (after.has_value()) *s->mutable_applied_time() = ToProto(recorded + *after);
  };
  add("email", absl::Milliseconds(3));
  add("sms", absl::Milliseconds(1250));
  add("ads", std::nullopt);
  EXPECT_EQ(FormatProof(r, recorded + absl::Seconds(12)),
            "#2 news/EMAIL WITHDRAWN: recorded at 2026-05-01T12:00:00.000Z (honour by "
            "2026-05-15T12:00:00.000Z), applied by email at +3 ms, by sms at +1.25 s, ads: not "
            "yet (12s)\n");
  EXPECT_EQ(FormatProof({}, recorded), "no withdrawals recorded\n");
}

TEST(FormatHistoryTest, DescribesEveryKindOfChange) {
  v1::HistoryRecord r;
  r.set_kind(v1::DECISIONS_RECORDED);
  v1::ConsentRecord imported = Decision("news", v1::CHANNEL_UNSPECIFIED, v1::GRANTED);
  imported.set_topic("weekly");
  imported.set_imported(true);
  imported.set_import_origin("crm");
  *r.add_decisions()->mutable_after() = imported;
  EXPECT_EQ(DescribeChange(r), "news/*/weekly none->GRANTED (imported from crm)");

  r.Clear();
  r.set_kind(v1::PREFERENCES_SET);
  r.mutable_preferences_after()->set_preferred_language("de");
  r.mutable_preferences_after()->add_global_opt_out_channels(v1::SMS);
  EXPECT_EQ(DescribeChange(r), "preferences: no marketing on SMS; language de");

  r.Clear();
  r.set_kind(v1::CONTACT_LINKED);
  r.mutable_counterpart()->set_subject_id("cust-1");
  EXPECT_EQ(DescribeChange(r), "linked subject:cust-1");

  r.Clear();
  r.set_kind(v1::SUPPRESSION_ADDED);
  r.mutable_suppression()->set_kind(v1::Suppression::UNSUBSCRIBED);
  EXPECT_EQ(DescribeChange(r), "suppressed all channels UNSUBSCRIBED");
  *r.mutable_suppression()->mutable_honour_by() = ToProto(T("2026-05-05T03:59:59Z"));
  EXPECT_EQ(DescribeChange(r),
            "suppressed all channels UNSUBSCRIBED honour by 2026-05-05T03:59:59.000Z");
  r.set_kind(v1::SUPPRESSION_LIFTED);
  r.mutable_suppression()->set_channel(v1::SMS);
  EXPECT_EQ(DescribeChange(r), "lifted SMS UNSUBSCRIBED");
}

TEST(FormatStateTest, DecisionsAndSuppressionsShowTheirHonourBy) {
  v1::SubjectState subject;
  subject.set_subject_id("cust-1");
  *subject.add_decisions() = Decision("news", v1::EMAIL, v1::GRANTED);
  v1::ConsentRecord withdrawn = Decision("ads", v1::SMS, v1::WITHDRAWN);
  *withdrawn.mutable_honour_by() = ToProto(T("2026-05-15T03:59:59Z"));
  *subject.add_decisions() = withdrawn;
  const std::string state = FormatSubjectState(subject);
  EXPECT_THAT(state, HasSubstr("HONOUR BY"));
  EXPECT_THAT(state, HasSubstr("2026-05-15T03:59:59.000Z"));

  v1::ContactPointState contact;
  v1::Suppression* s = contact.add_suppressions();
  s->set_channel(v1::EMAIL);
  s->set_kind(v1::Suppression::UNSUBSCRIBED);
  *s->mutable_honour_by() = ToProto(T("2026-05-04T03:59:59Z"));
  const std::string out = FormatContactState(contact);
  EXPECT_THAT(out, HasSubstr("HONOUR BY"));
  EXPECT_THAT(out, HasSubstr("2026-05-04T03:59:59.000Z"));
}

TEST(FormatVerifyTest, ValidOrBrokenAt) {
  v1::VerifyHistoryResponse r;
  r.set_valid(true);
  r.set_records_checked(1);
  EXPECT_EQ(FormatVerify(r), "chain valid: 1 record\n");
  r.set_records_checked(3);
  EXPECT_EQ(FormatVerify(r), "chain valid: 3 records\n");
  r.set_valid(false);
  r.set_first_broken_sequence(2);
  r.set_problem("hash mismatch");
  EXPECT_EQ(FormatVerify(r), "chain BROKEN at sequence 2: hash mismatch\n");
}

TEST(FormatPolicyTest, WildcardsAndTheEmptyPolicy) {
  v1::DefaultPolicy policy;
  EXPECT_THAT(FormatPolicy(policy), StartsWith("no rules:"));
  *policy.add_rules() = *ParsePolicyRule("EU:*:*:OPT_IN");
  EXPECT_EQ(FormatPolicy(policy),
            "JURISDICTION  CHANNEL  KIND  MODE\n"
            "EU            *        *     OPT_IN\n");
}

TEST(FormatPurposeTest, ShowsTextLanguagesAndEachNoticeDigest) {
  v1::Purpose p;
  p.set_purpose_id("news");
  p.set_version(2);
  p.set_display_name("Newsletter");
  p.set_kind(v1::MARKETING);
  p.set_legal_basis(v1::CONSENT);
  p.add_channels(v1::EMAIL);
  p.set_notice_version(2);
  const std::string without_texts = FormatPurpose(p);
  EXPECT_THAT(without_texts, HasSubstr("\ntexts     -\nnotices   -\nupdated   -\n"));

  for (const char* language : {"de", "en"}) p.add_texts()->set_language(language);
  const std::pair<uint32_t, const char*> notices[] = {{1, "en"}, {2, "de"}, {2, "en"}};
  for (const auto& [version, language] : notices) {
    v1::NoticeText& n = *p.add_notices();
    n.set_notice_version(version);
    n.set_language(language);
    n.set_sha256(absl::StrCat(version, language, "23456789abcdef", std::string(48, '0')));
  }
  EXPECT_EQ(FormatPurpose(p),
            "purpose   news\n"
            "version   2\n"
            "name      Newsletter\n"
            "kind      MARKETING\n"
            "basis     CONSENT\n"
            "channels  EMAIL\n"
            "notice    version 2 (grants need >= 1)\n"
            "lifespan  none\n"
            "reminder  none\n"
            "topics    any\n"
            "dpv       -\n"
            "texts     de, en\n"
            "notices   version 1 en sha256 1en23456789a\n"
            "          version 2 de sha256 2de23456789a\n"
            "          version 2 en sha256 2en23456789a\n"
            "updated   -\n");
}

TEST(FormatLinkTest, TheUrlOrElseTheTokenAndTheExpiry) {
  v1::CreateLinkResponse link;
  link.set_token("v2.k1.eyJ0IjoiYWNtZSJ9.c2ln");
  link.set_url("https://127.0.0.1:8443/p/v2.k1.eyJ0IjoiYWNtZSJ9.c2ln");
  link.set_key_id("k1");
  *link.mutable_expire_time() = ToProto(T("2027-01-04T12:00:00Z"));
  EXPECT_EQ(FormatLink(link),
            "url      https://127.0.0.1:8443/p/v2.k1.eyJ0IjoiYWNtZSJ9.c2ln\n"
            "expires  2027-01-04T12:00:00.000Z\n"
            "key      k1\n");
  link.clear_url();
  EXPECT_EQ(FormatLink(link),
            "token    v2.k1.eyJ0IjoiYWNtZSJ9.c2ln\n"
            "expires  2027-01-04T12:00:00.000Z\n"
            "key      k1\n");
}

// --- running commands against a fake server ------------------------------------------------------

// Answers checks by subject id ("allowed-*" -> ALLOW, "missing" -> NOT_FOUND, "bad" ->
// INVALID_ARGUMENT), serves a 5-record history in pages of 2, and records batch sizes.
class FakeConsent final : public v1::ConsentService::Service {
 public:
  grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest* request,
                     v1::CheckResponse* response) override {
    const std::string& subject = request->target().subject_id();
    if (subject == "missing") return {grpc::StatusCode::NOT_FOUND, "subject not found: missing"};
    if (subject == "bad") return {grpc::StatusCode::INVALID_ARGUMENT, "purpose_id: bad"};
    *response = Answer(subject);
    return grpc::Status::OK;
  }

  grpc::Status BatchCheck(grpc::ServerContext*, const v1::BatchCheckRequest* request,
                          v1::BatchCheckResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      batch_sizes_.push_back(request->targets_size());
    }
    for (const v1::Target& target : request->targets()) {
      *response->add_results() = Answer(target.subject_id());
    }
    return grpc::Status::OK;
  }

  grpc::Status ListHistory(grpc::ServerContext*, const v1::ListHistoryRequest* request,
                           v1::ListHistoryResponse* response) override {
    const int start = request->page_token().empty() ? 1 : std::stoi(request->page_token());
    const int end = std::min(start + 2, 6);
    for (int seq = start; seq < end; ++seq) {
      v1::HistoryRecord& record = *response->add_records();
      record.set_sequence(seq);
      record.set_kind(v1::PREFERENCES_SET);
    }
    if (end < 6) response->set_next_page_token(std::to_string(end));
    absl::MutexLock lock(&mu_);
    ++history_calls_;
    return grpc::Status::OK;
  }

  grpc::Status VerifyHistory(grpc::ServerContext*, const v1::VerifyHistoryRequest* request,
                             v1::VerifyHistoryResponse* response) override {
    const bool broken = request->target().subject_id() == "tampered";
    response->set_valid(!broken);
    response->set_records_checked(broken ? 1 : 5);
    if (broken) {
      response->set_first_broken_sequence(2);
      response->set_problem("previous_hash does not match");
    }
    return grpc::Status::OK;
  }

  // Tenant "nokeys" is a consentd without a link keyring; subject "no-base-url" one without a
  // links base URL.
  grpc::Status CreateLink(grpc::ServerContext*, const v1::CreateLinkRequest* request,
                          v1::CreateLinkResponse* response) override {
    if (request->tenant() == "nokeys") {
      return {grpc::StatusCode::FAILED_PRECONDITION, "links: consentd has no link keyring"};
    }
    response->set_token("v2.k1.eyJ0IjoiYWNtZSJ9.c2ln");
    if (request->target().subject_id() != "no-base-url") {
      response->set_url("https://127.0.0.1:8443/p/" + response->token());
    }
    response->set_key_id("k1");
    *response->mutable_expire_time() = ToProto(absl::FromUnixSeconds(1799064000));
    absl::MutexLock lock(&mu_);
    last_link_ = *request;
    return grpc::Status::OK;
  }

  grpc::Status GetContactPointState(grpc::ServerContext*,
                                    const v1::GetContactPointStateRequest* request,
                                    v1::ContactPointState* state) override {
    *state->mutable_contact() = request->contact_ref();
    state->set_sequence(3);
    state->set_linked_subject_id("cust-42");
    absl::MutexLock lock(&mu_);
    last_contact_state_ = *request;
    return grpc::Status::OK;
  }

  std::vector<int> batch_sizes() {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }
  v1::CreateLinkRequest last_link() {
    absl::MutexLock lock(&mu_);
    return last_link_;
  }
  v1::GetContactPointStateRequest last_contact_state() {
    absl::MutexLock lock(&mu_);
    return last_contact_state_;
  }
  int history_calls() {
    absl::MutexLock lock(&mu_);
    return history_calls_;
  }

 private:
  static v1::CheckResponse Answer(const std::string& subject) {
    const bool allowed = subject.starts_with("allowed");
    v1::CheckResponse response;
    response.set_verdict(allowed ? v1::ALLOW : v1::DENY);
    response.set_reason(allowed ? v1::EXPLICIT_GRANT : v1::NO_CONSENT);
    if (allowed) {
      response.set_record_id("3-0");
      response.set_record_sequence(3);
      response.mutable_decided_by()->set_subject_id(subject);
    }
    return response;
  }

  absl::Mutex mu_;
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  int history_calls_ ABSL_GUARDED_BY(mu_) = 0;
  v1::CreateLinkRequest last_link_ ABSL_GUARDED_BY(mu_);
  v1::GetContactPointStateRequest last_contact_state_ ABSL_GUARDED_BY(mu_);
};

// Creates purposes as asked, with version 1 and every notice text's digest "ccc...".
class FakeCatalog final : public v1::CatalogService::Service {
 public:
  grpc::Status CreatePurpose(grpc::ServerContext*, const v1::CreatePurposeRequest* request,
                             v1::Purpose* purpose) override {
    *purpose = request->purpose();
    purpose->set_version(1);
    for (v1::NoticeText& notice : *purpose->mutable_notices()) {
      notice.set_sha256(std::string(64, 'c'));
    }
    absl::MutexLock lock(&mu_);
    created_.push_back(*request);
    return grpc::Status::OK;
  }

  std::vector<v1::CreatePurposeRequest> created() {
    absl::MutexLock lock(&mu_);
    return created_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::CreatePurposeRequest> created_ ABSL_GUARDED_BY(mu_);
};

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&fake_);
    builder.RegisterService(&catalog_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    env_ = {{"ASSENT_SERVER", absl::StrCat("127.0.0.1:", port)}, {"ASSENT_TENANT", "acme"}};
  }
  void TearDown() override { server_->Shutdown(); }

  struct Result {
    int exit;
    std::string out;
    std::string err;
  };
  Result Invoke(const Words& argv) {
    std::ostringstream out;
    std::ostringstream err;
    const int exit = ctl::Run(argv, env_, out, err);
    return {exit, out.str(), err.str()};
  }

  FakeConsent fake_;
  FakeCatalog catalog_;
  std::unique_ptr<grpc::Server> server_;
  Environment env_;
};

TEST_F(RunTest, CheckExitsZeroForAllowAndOneForDeny) {
  Result allow =
      Invoke({"check", "--subject", "allowed-1", "--purpose", "p", "--channel", "EMAIL"});
  EXPECT_EQ(allow.exit, 0);
  EXPECT_EQ(allow.out, "ALLOW EXPLICIT_GRANT record=3-0 seq=3\n");
  EXPECT_EQ(allow.err, "");

  Result deny = Invoke({"check", "--subject", "cust-1", "--purpose", "p", "--channel", "EMAIL"});
  EXPECT_EQ(deny.exit, 1);
  EXPECT_EQ(deny.out, "DENY NO_CONSENT\n");
}

TEST_F(RunTest, ServerErrorsExitTwoEvenForInvalidArgument) {
  Result missing = Invoke({"check", "--subject", "missing", "--purpose", "p", "--channel", "SMS"});
  EXPECT_EQ(missing.exit, 2);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err, "assentctl: NOT_FOUND: subject not found: missing\n");

  Result bad = Invoke({"check", "--subject", "bad", "--purpose", "p", "--channel", "SMS"});
  EXPECT_EQ(bad.exit, 2);
  EXPECT_EQ(bad.err, "assentctl: INVALID_ARGUMENT: purpose_id: bad\n");
}

TEST_F(RunTest, UsageErrorsExitSixtyFourWithoutCallingTheServer) {
  Result result = Invoke({"check", "--subject", "s", "--purpose", "p"});
  EXPECT_EQ(result.exit, 64);
  EXPECT_THAT(result.err, StartsWith("assentctl: --channel is required\nusage: assentctl check"));

  env_.erase("ASSENT_TENANT");
  result = Invoke({"verify", "--subject", "s"});
  EXPECT_EQ(result.exit, 64);
  EXPECT_THAT(result.err, StartsWith("assentctl: --tenant is required (or set ASSENT_TENANT)"));
}

TEST_F(RunTest, UnreachableServerExitsTwo) {
  env_["ASSENT_SERVER"] = "127.0.0.1:1";
  Result result = Invoke({"verify", "--subject", "s", "--timeout", "5s"});
  EXPECT_EQ(result.exit, 2);
  EXPECT_THAT(result.err, StartsWith("assentctl: UNAVAILABLE: "));
}

TEST_F(RunTest, HistoryFollowsPageTokensUpToTheLimit) {
  Result all = Invoke({"history", "--subject", "s"});
  EXPECT_EQ(all.exit, 0);
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 6);  // header + 5 records
  EXPECT_EQ(fake_.history_calls(), 3);

  Result limited = Invoke({"history", "--subject", "s", "--limit", "3", "--json"});
  EXPECT_EQ(limited.exit, 0);
  std::istringstream lines(limited.out);
  std::vector<std::string> sequences;
  for (std::string line; std::getline(lines, line);) {
    sequences.push_back(nlohmann::json::parse(line).at("sequence").get<std::string>());
  }
  EXPECT_THAT(sequences, ElementsAre("1", "2", "3"));
}

TEST_F(RunTest, VerifyExitsOneForABrokenChain) {
  Result valid = Invoke({"verify", "--subject", "s"});
  EXPECT_EQ(valid.exit, 0);
  EXPECT_EQ(valid.out, "chain valid: 5 records\n");
  Result broken = Invoke({"verify", "--subject", "tampered"});
  EXPECT_EQ(broken.exit, 1);
  EXPECT_EQ(broken.out, "chain BROKEN at sequence 2: previous_hash does not match\n");
}

TEST_F(RunTest, BatchCheckChunksAtTenThousandAndPrintsJsonPerTarget) {
  const std::string path = ::testing::TempDir() + "/assentctl_targets.txt";
  {
    std::ofstream file(path);
    file << "# targets\n";
    for (int i = 0; i < 10001; ++i)
      file << (i == 10000 ? "cust-x" : "allowed-" + std::to_string(i)) << "\n";
  }
  Result result =
      Invoke({"batch-check", "--purpose", "p", "--channel", "EMAIL", "--file", path, "--json"});
  EXPECT_EQ(result.exit, 1);  // the last target is denied
  EXPECT_THAT(fake_.batch_sizes(), ElementsAre(10000, 1));
  std::istringstream lines(result.out);
  std::string first;
  std::string line;
  std::getline(lines, first);
  int count = 1;
  std::string last;
  while (std::getline(lines, line)) {
    last = line;
    ++count;
  }
  EXPECT_EQ(count, 10001);
  EXPECT_EQ(nlohmann::json::parse(first).at("target"), "allowed-0");
  EXPECT_EQ(nlohmann::json::parse(first).at("verdict"), "ALLOW");
  EXPECT_EQ(nlohmann::json::parse(last).at("target"), "cust-x");
  EXPECT_EQ(nlohmann::json::parse(last).at("reason"), "NO_CONSENT");
  std::remove(path.c_str());
}

TEST_F(RunTest, UrlPrintsTheLinkAndWhenItExpires) {
  Result page = Invoke({"url", "--subject", "cust-42"});
  EXPECT_EQ(page.exit, 0);
  EXPECT_EQ(page.out,
            "url      https://127.0.0.1:8443/p/v2.k1.eyJ0IjoiYWNtZSJ9.c2ln\n"
            "expires  2027-01-04T12:00:00.000Z\n"
            "key      k1\n");
  EXPECT_EQ(page.err, "");
  EXPECT_EQ(fake_.last_link().kind(), v1::PREFERENCE_CENTER);

  Result one_click = Invoke({"url", "--email", "ann@example.com", "--one-click", "--purpose",
                             "marketing.newsletter", "--json"});
  EXPECT_EQ(one_click.exit, 0);
  const nlohmann::json json = nlohmann::json::parse(one_click.out);
  EXPECT_EQ(json.at("url"), "https://127.0.0.1:8443/p/v2.k1.eyJ0IjoiYWNtZSJ9.c2ln");
  EXPECT_EQ(json.at("token"), "v2.k1.eyJ0IjoiYWNtZSJ9.c2ln");
  EXPECT_EQ(json.at("expireTime"), "2027-01-04T12:00:00Z");
  EXPECT_EQ(json.at("keyId"), "k1");
  const v1::CreateLinkRequest sent = fake_.last_link();
  EXPECT_EQ(sent.tenant(), "acme");
  EXPECT_EQ(sent.kind(), v1::ONE_CLICK_UNSUBSCRIBE);
  EXPECT_EQ(sent.purpose_id(), "marketing.newsletter");
  EXPECT_EQ(sent.target().contact_point().value(), "ann@example.com");

  Result token_only = Invoke({"url", "--subject", "no-base-url"});
  EXPECT_EQ(token_only.exit, 0);
  EXPECT_THAT(token_only.out, StartsWith("token    v2.k1.eyJ0IjoiYWNtZSJ9.c2ln\n"));
}

TEST_F(RunTest, UrlWithoutAKeyringOrWithBadFlagsFails) {
  env_["ASSENT_TENANT"] = "nokeys";
  Result no_keys = Invoke({"url", "--subject", "cust-42"});
  EXPECT_EQ(no_keys.exit, 2);
  EXPECT_EQ(no_keys.out, "");
  EXPECT_EQ(no_keys.err, "assentctl: FAILED_PRECONDITION: links: consentd has no link keyring\n");

  Result usage = Invoke({"url", "--subject", "cust-42", "--purpose", "p"});
  EXPECT_EQ(usage.exit, 64);
  EXPECT_THAT(usage.err, StartsWith("assentctl: --purpose and --channel go with --one-click\n"
                                    "usage: assentctl url (--subject ID"));
  // `link` still links a contact point to a subject.
  Result help = Invoke({"link", "--help"});
  EXPECT_THAT(help.out, HasSubstr("Link a contact point to a subject."));
}

TEST_F(RunTest, StateByContactHashAsksByTheHash) {
  Result result = Invoke({"state", "--contact-hash", "email:" + kHash});
  EXPECT_EQ(result.exit, 0);
  EXPECT_THAT(result.out, StartsWith("contact     email-hash:000000000000\n"
                                     "linked to   subject:cust-42\n"
                                     "sequence    3\n"));
  const v1::GetContactPointStateRequest sent = fake_.last_contact_state();
  EXPECT_FALSE(sent.has_contact_point());
  EXPECT_EQ(sent.contact_ref().type(), v1::CONTACT_EMAIL);
  EXPECT_EQ(sent.contact_ref().hash(), kHash);
}

TEST_F(RunTest, PurposeCreateReadsNoticeFiles) {
  const std::string path = ::testing::TempDir() + "/assentctl_notice.en.txt";
  {
    std::ofstream file(path, std::ios::binary);
    file << "We email you our newsletter every Monday.\r\nUnsubscribe any time.\n";
  }
  const Words create = {"purpose", "create",  "news",         "--kind", "MARKETING",
                        "--basis", "CONSENT", "--channels",   "EMAIL",  "--notice-version",
                        "1",       "--title", "en=Newsletter"};
  Words argv = create;
  argv.insert(argv.end(), {"--notice-file", "en=" + path});
  Result result = Invoke(argv);
  EXPECT_EQ(result.exit, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\ntexts     en\n"
                                    "notices   version 1 en sha256 cccccccccccc\n"));
  ASSERT_EQ(catalog_.created().size(), 1u);
  const v1::Purpose sent = catalog_.created()[0].purpose();
  ASSERT_EQ(sent.notices_size(), 1);
  EXPECT_EQ(sent.notices(0).text(),
            "We email you our newsletter every Monday.\r\nUnsubscribe any time.\n");
  std::remove(path.c_str());

  // An unreadable file fails before any call.
  argv = create;
  argv.insert(argv.end(), {"--notice-file", "en=" + path});
  result = Invoke(argv);
  EXPECT_EQ(result.exit, 2);
  EXPECT_THAT(result.err, StartsWith("assentctl: NOT_FOUND: cannot read " + path));
  EXPECT_EQ(catalog_.created().size(), 1u);
}

TEST(EventLineTest, DecodesChangesStateAndTombstones) {
  v1::ConsentChanged event;
  event.set_event_id("acme/u1/3");
  event.set_sequence(3);
  auto line = EventLine("assent.consent.changes.v1", 2, 41, "acme/u1", event.SerializeAsString(),
                        false, false);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, HasSubstr("\"eventId\":\"acme/u1/3\""));
  EXPECT_THAT(*line, HasSubstr("\"partition\":2"));
  EXPECT_THAT(*line, HasSubstr("\"offset\":41"));
  v1::TargetStateSnapshot snapshot;
  snapshot.mutable_subject()->set_subject_id("u1");
  line = EventLine("t", 0, 0, "acme/u1", snapshot.SerializeAsString(), false, true);
  ASSERT_TRUE(line.ok());
  EXPECT_THAT(*line, HasSubstr("\"subjectId\":\"u1\""));
  line = EventLine("t", 0, 0, "acme/u1", "", true, true);
  ASSERT_TRUE(line.ok());
  EXPECT_THAT(*line, HasSubstr("\"event\":null"));
  EXPECT_FALSE(EventLine("t", 0, 0, "k", "\xff\xff\xff", false, false).ok());
}

// Every key -> "value from origin", to compare whole settings maps.
std::map<std::string, std::string> Flat(const std::map<std::string, TailSetting>& settings) {
  std::map<std::string, std::string> out;
  for (const auto& [key, s] : settings) out[key] = s.value + " from " + s.origin;
  return out;
}

TEST(TailKafkaSettingsTest, FileThenEachXThenBrokers) {
  const std::string path = ::testing::TempDir() + "/assentctl_kafka.properties";
  std::ofstream(path) << "# TLS\nsecurity.protocol=ssl\nssl.ca.location=/etc/ca.pem\n"
                         "bootstrap.servers=kafka:9093\n";
  Args args = Parse({"events", "tail", "--kafka-config", path, "-X", "ssl.ca.location=/tmp/ca.pem",
                     "-X", "ssl.key.password=a=b"});
  absl::StatusOr<std::map<std::string, TailSetting>> settings =
      TailKafkaSettings(args, GlobalOptions());
  ASSERT_TRUE(settings.ok()) << settings.status();
  const std::string file = "--kafka-config " + path;
  EXPECT_THAT(Flat(*settings), ElementsAre(Pair("bootstrap.servers", "kafka:9093 from " + file),
                                           Pair("security.protocol", "ssl from " + file),
                                           Pair("ssl.ca.location", "/tmp/ca.pem from -X"),
                                           Pair("ssl.key.password", "a=b from -X")));

  // --brokers wins over the file; $ASSENT_KAFKA_CONFIG stands in for --kafka-config.
  GlobalOptions options;
  options.kafka_config = path;
  settings = TailKafkaSettings(Parse({"events", "tail", "--brokers", "b:1"}), options);
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(Flat(*settings)["bootstrap.servers"], "b:1 from --brokers");
  EXPECT_EQ(Flat(*settings)["security.protocol"], "ssl from $ASSENT_KAFKA_CONFIG " + path);

  // Nothing given: the local default broker, no other setting.
  settings = TailKafkaSettings(Parse({"events", "tail"}), GlobalOptions());
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_THAT(Flat(*settings),
              ElementsAre(Pair("bootstrap.servers", "127.0.0.1:9092 from --brokers")));
}

TEST(TailKafkaSettingsTest, BadInputNamesTheFlagWithoutEchoingIt) {
  EXPECT_EQ(ErrorOf(TailKafkaSettings(Parse({"events", "tail", "-X", "hunter2"}), GlobalOptions())),
            "-X: expected KEY=VALUE (a librdkafka property)");
  const std::string missing = ::testing::TempDir() + "/assentctl_no_such.properties";
  EXPECT_THAT(ErrorOf(TailKafkaSettings(Parse({"events", "tail", "--kafka-config", missing}),
                                        GlobalOptions())),
              StartsWith("--kafka-config: " + missing));
  EXPECT_THAT(ErrorOf({"tenant", "list", "-X", "a=b"}),
              HasSubstr("-X does not apply to 'tenant list'"));
}

}  // namespace
}  // namespace assent::ctl
