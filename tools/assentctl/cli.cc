#include "assentctl/cli.h"

#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "assentctl/events.h"
#include "assentctl/session.h"
#include "common/strings.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "rpc/tls.h"

namespace assent::ctl {
namespace {

constexpr FlagKind kValue = FlagKind::kValue;
constexpr FlagKind kRepeated = FlagKind::kRepeated;
constexpr FlagKind kSwitch = FlagKind::kSwitch;

constexpr FlagSpec kGlobalFlags[] = {
    {"server", kValue},          {"tenant", kValue},     {"json", kSwitch},    {"timeout", kValue},
    {"help", kSwitch},           {"tls-ca", kValue},     {"tls-cert", kValue}, {"tls-key", kValue},
    {"tls-server-name", kValue}, {"token-file", kValue},
};

const std::initializer_list<FlagSpec> kTargetFlags = {{"subject", kValue},
                                                      {"email", kValue},
                                                      {"phone", kValue},
                                                      {"region", kValue},
                                                      {"contact-hash", kValue}};
const std::initializer_list<FlagSpec> kContactFlags = {
    {"email", kValue}, {"phone", kValue}, {"region", kValue}};
const std::initializer_list<FlagSpec> kWriteFlags = {
    {"actor", kValue}, {"source", kValue}, {"idempotency-key", kValue}};
const std::initializer_list<FlagSpec> kPurposeFlags = {
    {"name", kValue},     {"kind", kValue},           {"basis", kValue},
    {"channels", kValue}, {"notice-version", kValue}, {"min-notice-version", kValue},
    {"lifespan", kValue}, {"topics", kValue},         {"dpv", kValue},
    {"title", kRepeated}, {"description", kRepeated}, {"notice-file", kRepeated},
    {"confirm", kValue},  {"pending-ttl", kValue},    {"remind-before", kValue}};

std::vector<FlagSpec> Flags(std::initializer_list<std::initializer_list<FlagSpec>> groups) {
  std::vector<FlagSpec> out;
  for (const auto& group : groups) out.insert(out.end(), group.begin(), group.end());
  return out;
}

constexpr size_t kHelpWidth = 80;
constexpr std::string_view kTargetSynopsis =
    "(--subject ID | --email ADDR | --phone NUMBER [--region CC] | --contact-hash TYPE:HASH)";
constexpr std::string_view kWriteSynopsis = "[--actor A] [--source S] [--idempotency-key K]";

std::vector<Command> MakeCommands() {
  return {
      {"tenant create", "ID [--name NAME]", "Create a tenant (the name defaults to the id).", 1,
       Flags({{{"name", kValue}}}), &TenantCreate},
      {"tenant get", "[ID]", "Show a tenant (default: --tenant).", 1, {}, &TenantGet},
      {"tenant list", "", "List every tenant.", 0, {}, &TenantList},
      {"purpose create",
       "ID --kind KIND --basis BASIS --channels CH,... --notice-version N"
       " [--min-notice-version N] [--lifespan 730d] [--remind-before 30d] [--name NAME]"
       " [--topics a,b] [--dpv IRI]"
       " [--title LANG=NAME]... [--description LANG=TEXT]... [--notice-file LANG=PATH]..."
       " [--confirm CH:JURISDICTION,...] [--pending-ttl 7d]",
       "Create a purpose (version 1). --title and --description localize its name and description "
       "(a --description needs a --title in its language); --notice-file publishes the text of "
       "notice --notice-version in a language, read from a UTF-8 file. --remind-before publishes "
       "ConsentExpiring that long before each grant's expiry. --confirm requires double "
       "opt-in for grants on those channels (* every channel) in those jurisdictions (DE, US-CA, "
       "EU, *), e.g. --confirm EMAIL:DE,EMAIL:EU,*:AT; --pending-ttl is how long a grant waits "
       "for its confirmation (1h..90d, default 7d).",
       1, Flags({kPurposeFlags}), &PurposeCreate},
      {"purpose update", "ID [any purpose create flag]",
       "Make a new version of a purpose: the current one with the flags given changed "
       "(--lifespan none, --remind-before none, --topics '', --dpv '', --confirm none and "
       "--pending-ttl default clear them). --title LANG= removes a "
       "language; --notice-file adds a text of the resulting notice version (published texts "
       "never change).",
       1, Flags({kPurposeFlags}), &PurposeUpdate},
      {"purpose get", "ID [--version N]", "Show a purpose (default: its current version).", 1,
       Flags({{{"version", kValue}}}), &PurposeGet},
      {"purpose list", "", "List the current version of every purpose.", 0, {}, &PurposeList},
      {"policy set", "--rule JURISDICTION:CHANNEL|*:KIND|*:OPT_IN|OPT_OUT ... | --clear",
       "Replace the default policy, e.g. --rule US:EMAIL:MARKETING:OPT_OUT --rule EU:*:*:OPT_IN.",
       0, Flags({{{"rule", kRepeated}, {"clear", kSwitch}}}), &PolicySet},
      {"policy get", "", "Show the default policy.", 0, {}, &PolicyGet},
      {"record",
       "TARGET --purpose P --state granted|denied|withdrawn|pending"
       " [--channel CH] [--topic T] [--expire TIME] [--jurisdiction CC]"
       " [--notice-version N] [--language TAG] [--notice-sha256 HEX] [--ip IP] [--user-agent UA]"
       " [--gpc] [--tcf S] [--gpp S] [--confirm-time TIME] [--reference REF]"
       " [--import-time TIME --import-origin SYSTEM] [--expected-sequence N] [--actor A]"
       " [--source S] [--idempotency-key K]",
       "Record one consent decision (actor and source default to \"assentctl\"). --notice-sha256 "
       "is the SHA-256 of the notice text shown (in --language); --expected-sequence N refuses "
       "the write if TARGET has changed since its sequence N. --confirm-time is only for imports "
       "of double opt-in confirmations made elsewhere (with --import-time and --import-origin): "
       "without them a grant that needs confirmation is stored pending regardless, and only the "
       "customer's confirmation link confirms it.",
       0,
       Flags({kTargetFlags,
              kWriteFlags,
              {{"purpose", kValue},
               {"state", kValue},
               {"channel", kValue},
               {"topic", kValue},
               {"expire", kValue},
               {"jurisdiction", kValue},
               {"notice-version", kValue},
               {"language", kValue},
               {"notice-sha256", kValue},
               {"expected-sequence", kValue},
               {"ip", kValue},
               {"user-agent", kValue},
               {"gpc", kSwitch},
               {"tcf", kValue},
               {"gpp", kValue},
               {"confirm-time", kValue},
               {"reference", kValue},
               {"import-time", kValue},
               {"import-origin", kValue}}}),
       &Record},
      {"link",
       "--subject ID (--email ADDR | --phone NUMBER [--region CC]) " + std::string(kWriteSynopsis),
       "Link a contact point to a subject.", 0,
       Flags({kContactFlags, kWriteFlags, {{"subject", kValue}}}), &Link},
      {"unlink",
       "--subject ID (--email ADDR | --phone NUMBER [--region CC]) " + std::string(kWriteSynopsis),
       "Unlink a contact point from a subject.", 0,
       Flags({kContactFlags, kWriteFlags, {{"subject", kValue}}}), &Unlink},
      {"prefs set",
       "--subject ID [--quiet-hours 22:00-07:00 --tz ZONE [--quiet-channels CH,...]]"
       " [--opt-out-channels CH,...] [--cap CH:N/PERIOD]... [--preferred-channel CH]"
       " [--language TAG] [--jurisdiction CC] [--expected-sequence N] " +
           std::string(kWriteSynopsis),
       "Replace a subject's preferences as a whole (what is not given is cleared); "
       "--expected-sequence N refuses it if the subject has changed since its sequence N.",
       0,
       Flags({kWriteFlags,
              {{"subject", kValue},
               {"quiet-hours", kValue},
               {"tz", kValue},
               {"quiet-channels", kValue},
               {"opt-out-channels", kValue},
               {"cap", kRepeated},
               {"preferred-channel", kValue},
               {"language", kValue},
               {"jurisdiction", kValue},
               {"expected-sequence", kValue}}}),
       &PrefsSet},
      {"suppress",
       "(--email ADDR | --phone NUMBER [--region CC]) --kind unsubscribed|complaint|hard-bounce|"
       "invalid [--channel CH] [--lift] " +
           std::string(kWriteSynopsis),
       "Suppress a contact point on a channel (default: every channel), or --lift it.", 0,
       Flags({kContactFlags,
              kWriteFlags,
              {{"kind", kValue}, {"channel", kValue}, {"lift", kSwitch}}}),
       &Suppress},
      {"state", "TARGET", "Show the current state of a subject or a contact point.", 0,
       Flags({kTargetFlags}), &State},
      {"check", "TARGET --purpose P --channel CH [--topic T] [--at TIME] [--jurisdiction CC]",
       "May we contact TARGET? Prints the verdict; exit 0 for ALLOW, 1 for DENY.", 0,
       Flags({kTargetFlags,
              {{"purpose", kValue},
               {"channel", kValue},
               {"topic", kValue},
               {"at", kValue},
               {"jurisdiction", kValue}}}),
       &Check},
      {"url", "TARGET [--one-click --purpose P [--channel CH] | --confirm-sequence N] [--ttl 30d]",
       "Mint a signed link for TARGET's customer: their preference center, with --one-click "
       "an RFC 8058 one-click unsubscribe from a purpose, or with --confirm-sequence N the double "
       "opt-in confirmation of the decisions recorded pending at sequence N (valid for the rest "
       "of their confirmation window unless --ttl). Prints the URL (the token when consentd has "
       "no links base URL) and when it expires.",
       0,
       Flags({kTargetFlags,
              {{"one-click", kSwitch},
               {"purpose", kValue},
               {"channel", kValue},
               {"ttl", kValue},
               {"confirm-sequence", kValue}}}),
       &Url},
      {"resend-confirmation", "TARGET --sequence N [--actor A]",
       "Publish the double opt-in confirmation request of the decisions recorded pending at "
       "sequence N again (at most once per 5 minutes and 5 times; the address, for an --email "
       "target, is sealed for the email sender again).",
       0, Flags({kTargetFlags, {{"sequence", kValue}, {"actor", kValue}}}), &ResendConfirmation},
      {"batch-check",
       "--purpose P --channel CH --file PATH|- [--topic T] [--at TIME] [--region CC]",
       "Check every target in a file; exit 0 when all are allowed, 1 when any is denied.", 0,
       Flags({{{"purpose", kValue},
               {"channel", kValue},
               {"file", kValue},
               {"topic", kValue},
               {"at", kValue},
               {"region", kValue}}}),
       &BatchCheck},
      {"history", "TARGET [--newest-first] [--limit N]",
       "Show the change history, one line per record.", 0,
       Flags({kTargetFlags, {{"newest-first", kSwitch}, {"limit", kValue}}}), &History},
      {"proof", "TARGET [--limit N]",
       "Show, for each withdrawal (newest first), when each registered sender had applied it;"
       " exit 1 when a sender has not applied one yet.",
       0, Flags({kTargetFlags, {{"limit", kValue}}}), &Proof},
      {"repermission list", "--purpose P",
       "List the grants given against a notice version below the purpose's minimum (raised with "
       "purpose update --min-notice-version), for a campaign that asks again.",
       0, Flags({{{"purpose", kValue}}}), &RepermissionList},
      {"erase", "--subject S [--reason TEXT] [--actor A]",
       "Erase a subject (GDPR Art. 17, CCPA delete) by crypto-shredding its evidence: its state "
       "and links go, every linked address is suppressed (reason erased), the history stays "
       "verifiable and a proof stub per decision is kept. Refused under a legal hold.",
       0, Flags({{{"subject", kValue}, {"reason", kValue}, {"actor", kValue}}}), &Erase},
      {"erasure get", "--subject S", "Show the proof stub an erasure kept.", 0,
       Flags({{{"subject", kValue}}}), &ErasureGet},
      {"hold set", "--subject S --reason TEXT",
       "Put a subject under a legal hold: erasing it is refused until the hold is lifted.", 0,
       Flags({{{"subject", kValue}, {"reason", kValue}}}), &HoldSet},
      {"hold lift", "--subject S", "Lift a subject's legal hold.", 0,
       Flags({{{"subject", kValue}}}), &HoldLift},
      {"offboard start", "--confirm-tenant T [--reason TEXT]",
       "Offboard the tenant: erase every subject not under a legal hold, then destroy its data "
       "keys, in the background (resumes after a restart). --confirm-tenant repeats --tenant.",
       0, Flags({{{"confirm-tenant", kValue}, {"reason", kValue}}}), &OffboardStart},
      {"offboard status", "", "Show the progress of the tenant's offboarding.", 0, Flags({}),
       &OffboardStatus},
      {"verify", "TARGET", "Verify the history's hash chain; exit 0 when valid, 1 when broken.", 0,
       Flags({kTargetFlags}), &Verify},
      {"admin compact",
       "",
       "Flush and fully compact the store, deleting obsolete WAL files, so that no file holds a "
       "deleted value (erasures, retention); prints the bytes before and after per column family. "
       "Needs admin on every tenant; give a --timeout long enough to rewrite the store.",
       0,
       {},
       &AdminCompact},
      {"cluster status",
       "",
       "Cluster mode: each partition's owner (the instance that takes its writes), since when, and "
       "every other instance's replica lag behind it; then each instance's version, partitions "
       "owned and whether its replica has caught up. Asks --server, then every owner it names. "
       "Needs admin; exit 2 when an instance does not answer.",
       0,
       {},
       &ClusterStatus},
      {"export", "--subject ID [--format proto|json|iso27560] [--output FILE]",
       "Export everything held about a subject (GDPR Art. 15/20): its state, linked contact "
       "points, whole history and whether its chain verified. proto: length-delimited "
       "ExportChunk messages; json: one chunk per line (proto3 JSON, docs/export.schema.json); "
       "iso27560: one ISO/IEC TS 27560 consent record per line (docs/ISO27560.md). Default json "
       "to standard output; exit 1 when the chain does not verify.",
       0, Flags({{{"subject", kValue}, {"format", kValue}, {"output", kValue}}}), &Export},
      {"import",
       "FILE [--format csv|jsonl] [--mapping FILE] [--dry-run] [--rejects FILE] "
       "[--checkpoint FILE] [--origin NAME] [--source NAME] [--actor NAME] [--batch N]",
       "Import decisions from another system's CSV or JSON Lines export with their original "
       "times (README \"Importing consent from another system\", docs/import/). Bad rows go to "
       "--rejects (default FILE.rejects.csv) while good rows go on; a checkpoint (default "
       "FILE.checkpoint) lets an interrupted import resume; each row is imported at most once, "
       "however often the file is run. --dry-run validates every row on the server and writes "
       "nothing. Exit 1 when some row was rejected.",
       1,
       Flags({{{"format", kValue},
               {"mapping", kValue},
               {"dry-run", kSwitch},
               {"rejects", kValue},
               {"checkpoint", kValue},
               {"origin", kValue},
               {"source", kValue},
               {"actor", kValue},
               {"batch", kValue}}}),
       &Import},
      {"receipt get", "TARGET --sequence N",
       "Print the signed consent receipt of TARGET's history record N (JSON: the file that "
       "receipt verify reads).",
       0, Flags({kTargetFlags, {{"sequence", kValue}}}), &ReceiptGet},
      {"receipt verify", "FILE [--jwks FILE_OR_URL]",
       "Verify a receipt file offline against a JWKS (a file, an http(s) URL such as the "
       "preference center's /.well-known/jwks.json, or by default consentd's GetReceiptKeys); "
       "print what it verified; exit 0 when it verifies, 1 when it does not.",
       1, Flags({{{"jwks", kValue}}}), &ReceiptVerify},
      {"decode-signal", "STRING [--type tcf|gpp]",
       "Decode an IAB TCF v2.2 TC string or GPP string offline and print it as JSON with the IAB "
       "libraries' field names (type detected unless --type); exit 2 with the segment and bit "
       "offset when it is malformed.",
       1, Flags({{{"type", kValue}}}), &DecodeSignal},
      {"report",
       "[--from DAY] [--to DAY] [--group-by DIMS] [--purpose P,...] [--channel C,...]"
       " [--jurisdiction J,...] [--source S,...] [--top N] [--csv] [--chart FILE]",
       "Consent counts and opt-in rates per day (UTC) from GetConsentReport (README \"Consent "
       "reports\"): decisions recorded from --from (default 30 days ago) to --to (exclusive, "
       "default tomorrow), grouped by --group-by (day, purpose, channel, jurisdiction, source; "
       "default day,purpose), with the top sources of withdrawals and the current decisions. A "
       "table, --json (the response) or --csv (the rows); --chart FILE also renders the opt-in "
       "rate per purpose and the withdrawals per day by source with gnuplot (SVG, or PNG for "
       "FILE.png).",
       0,
       Flags({{{"from", kValue},
               {"to", kValue},
               {"group-by", kValue},
               {"purpose", kValue},
               {"channel", kValue},
               {"jurisdiction", kValue},
               {"source", kValue},
               {"top", kValue},
               {"csv", kSwitch},
               {"chart", kValue}}}),
       &Report},
      {"events tail",
       "[--brokers HOST:PORT] [--kafka-config FILE] [-X KEY=VALUE]... [--topic-prefix P]"
       " [--state-topic] [--from-beginning] [--count N] [--idle-exit DURATION]",
       "Print Assent's Kafka events as JSON lines (the changes topic, or --state-topic), decoded."
       " --kafka-config (default $ASSENT_KAFKA_CONFIG) is a librdkafka properties file (key=value"
       " lines, # comments); each -X sets one property over it (security.protocol=ssl,"
       " ssl.ca.location=FILE, ...).",
       0,
       Flags({{{"brokers", kValue},
               {"kafka-config", kValue},
               {"X", kRepeated},
               {"topic-prefix", kValue},
               {"state-topic", kSwitch},
               {"from-beginning", kSwitch},
               {"count", kValue},
               {"idle-exit", kValue}}}),
       &EventsTail},
  };
}

// Every flag of every command, once, so the command line can be split before the command is
// known.
const std::vector<FlagSpec>& AllFlags() {
  static const auto* flags = [] {
    auto* all = new std::vector<FlagSpec>(std::begin(kGlobalFlags), std::end(kGlobalFlags));
    for (const Command& command : Commands()) {
      for (const FlagSpec& flag : command.flags) {
        bool seen = false;
        for (const FlagSpec& known : *all) seen = seen || known.name == flag.name;
        if (!seen) all->push_back(flag);
      }
    }
    return all;
  }();
  return *flags;
}

const Command* FindCommand(std::string_view words) {
  for (const Command& command : Commands()) {
    if (command.words == words) return &command;
  }
  return nullptr;
}

// The subcommands of a group word ("tenant" -> create, get, list); empty when it is no group.
std::vector<std::string> Subcommands(std::string_view group) {
  std::vector<std::string> out;
  for (const Command& command : Commands()) {
    std::vector<std::string> words = absl::StrSplit(Sv(command.words), ' ');
    if (words.size() == 2 && words[0] == group) out.push_back(words[1]);
  }
  return out;
}

// Splits text into the units a line break must not split: a word, a flag with its value, or a
// whole group in [] or ().
std::vector<std::string> Units(std::string_view text) {
  std::vector<std::string> units;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == ' ' && depth == 0) {
      if (!current.empty()) units.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (c == '[' || c == '(') ++depth;
    if ((c == ']' || c == ')') && depth > 0) --depth;
    current += c;
  }
  if (!current.empty()) units.push_back(std::move(current));
  // A flag stays with its value: "--kind KIND".
  std::vector<std::string> merged;
  for (std::string& unit : units) {
    if (!merged.empty() && merged.back().starts_with("--") &&
        merged.back().find(' ') == std::string::npos && !unit.starts_with('-') &&
        !unit.starts_with('[') && !unit.starts_with('(') && !unit.starts_with('|')) {
      absl::StrAppend(&merged.back(), " ", unit);
    } else {
      merged.push_back(std::move(unit));
    }
  }
  return merged;
}

// `lead`, then `text` word-wrapped at kHelpWidth columns with continuation lines indented by
// `indent`; ends with a newline.
std::string Wrap(std::string_view lead, std::string_view text, size_t indent) {
  std::string out(lead);
  size_t column = lead.size();
  for (const std::string& unit : Units(text)) {
    if (column > indent && column + 1 + unit.size() > kHelpWidth) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = indent;
    } else {
      out += ' ';
      ++column;
    }
    out += unit;
    column += unit.size();
  }
  return out + "\n";
}

int ReportError(const absl::Status& status, const Command* command, std::ostream& err) {
  if (status.code() == absl::StatusCode::kInvalidArgument && !IsCallFailure(status)) {
    err << "assentctl: " << status.message() << "\n";
    if (command != nullptr) {
      err << CommandUsage(*command) << "Run 'assentctl " << command->words
          << " --help' for details.\n";
    } else {
      err << "Run 'assentctl --help' for usage.\n";
    }
    return kExitUsage;
  }
  err << "assentctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
      << "\n";
  return kExitFailure;
}

}  // namespace

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>(MakeCommands());
  return *commands;
}

std::span<const FlagSpec> GlobalFlags() { return kGlobalFlags; }

absl::StatusOr<Invocation> ParseCommandLine(const std::vector<std::string>& argv) {
  Invocation invocation;
  absl::StatusOr<Args> args = ParseArgs(argv, AllFlags());
  if (!args.ok()) return args.status();
  invocation.args = *std::move(args);
  std::vector<std::string>& words = invocation.args.positional;
  invocation.help = invocation.args.Switch("help");
  if (!words.empty() && words[0] == "help") {
    invocation.help = true;
    words.erase(words.begin());
  }
  if (words.empty()) {
    if (invocation.help) return invocation;
    return absl::InvalidArgumentError("no command given");
  }

  size_t used = 1;
  if (words.size() >= 2) invocation.command = FindCommand(words[0] + " " + words[1]);
  if (invocation.command != nullptr) {
    used = 2;
  } else {
    invocation.command = FindCommand(words[0]);
  }
  if (invocation.command == nullptr) {
    std::vector<std::string> subcommands = Subcommands(words[0]);
    if (subcommands.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown command '", words[0], "'"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("'", words[0], "' needs a subcommand: ", absl::StrJoin(subcommands, ", ")));
  }
  words.erase(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(used));
  if (invocation.help) return invocation;

  // From here on the command is known: its usage line goes with the error.
  const Command& command = *invocation.command;
  auto with_usage = [&](const absl::Status& status) {
    std::string usage = CommandUsage(command);
    usage.pop_back();
    return absl::InvalidArgumentError(absl::StrCat(status.message(), "\n", usage));
  };
  std::vector<FlagSpec> allowed = command.flags;
  allowed.insert(allowed.end(), std::begin(kGlobalFlags), std::end(kGlobalFlags));
  if (absl::Status status = RequireOnly(invocation.args, allowed, command.words); !status.ok()) {
    return with_usage(status);
  }
  if (words.size() > command.max_operands) {
    return with_usage(absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", words[command.max_operands], "'")));
  }
  return invocation;
}

std::string CommandUsage(const Command& command) {
  std::string synopsis(command.synopsis);
  if (synopsis.starts_with("TARGET")) synopsis = std::string(kTargetSynopsis) + synopsis.substr(6);
  const std::string lead = absl::StrCat("usage: assentctl ", Sv(command.words));
  return Wrap(lead, synopsis, lead.size() + 1);
}

std::string Usage() {
  std::string out =
      "assentctl: the command-line client of Assent, the consent service.\n"
      "\n"
      "usage: assentctl [--server HOST:PORT] [--tenant T] [--json] [--timeout 10s] COMMAND ...\n"
      "\n"
      "Commands:\n";
  for (const Command& command : Commands()) {
    const std::string lead = absl::StrCat("  ", Sv(command.words));
    absl::StrAppend(&out, Wrap(lead, command.synopsis, lead.size() + 1),
                    Wrap("     ", command.summary, 6));
  }
  out +=
      "\n"
      "TARGET is --subject ID, --email ADDR or --phone NUMBER (with --region CC for a number\n"
      "without a country code), or --contact-hash TYPE:HASH, a contact point by its keyed\n"
      "hash (TYPE email, phone, device or postal; HASH 64 hex digits, as state --json shows).\n"
      "TIME is RFC 3339 (2026-05-01T12:00:00Z); a duration is 730d or an absl duration (36h,\n"
      "90m, 1h30m). Enum values are case-insensitive, '-' for '_'.\n"
      "\n"
      "Global flags (before or after the command):\n"
      "  --server HOST:PORT  the Assent server (default $ASSENT_SERVER, else 127.0.0.1:50051)\n"
      "  --tls-ca FILE       CA bundle the server's certificate is verified against; turns TLS on\n"
      "                      (default $ASSENT_TLS_CA)\n"
      "  --tls-cert FILE     client certificate for mTLS (default $ASSENT_TLS_CERT)\n"
      "  --tls-key FILE      its private key (default $ASSENT_TLS_KEY)\n"
      "  --tls-server-name N the name the server's certificate carries, when not the host\n"
      "  --token-file FILE   bearer token sent with every call, over TLS only\n"
      "                      (default $ASSENT_TOKEN_FILE)\n"
      "  --tenant T          the tenant (default $ASSENT_TENANT)\n"
      "  --json              print each response as one JSON object per line (proto3 JSON)\n"
      "  --timeout D         deadline of each call (default 10s)\n"
      "  --help              this text, or a command's usage\n"
      "\n"
      "batch-check files hold one target per line: subject:ID, email:ADDR, phone:NUMBER, or a\n"
      "bare subject id; blank lines and lines starting with '#' are skipped. --file - reads\n"
      "standard input. Targets are sent in requests of at most 10000.\n"
      "\n"
      "Exit status:\n"
      "  0   success; check: ALLOW; batch-check: every target allowed; verify: chain valid;\n"
      "      proof: every registered sender applied every withdrawal shown\n"
      "  1   check: DENY; batch-check: some target denied; verify: chain broken; proof: some\n"
      "      sender has not applied a withdrawal yet\n"
      "  2   a call failed (printed as 'assentctl: <CODE>: <message>') or a file is unreadable\n"
      "  64  usage error\n";
  return out;
}

int Run(const std::vector<std::string>& argv, const Environment& env, std::ostream& out,
        std::ostream& err) {
  absl::StatusOr<Invocation> invocation = ParseCommandLine(argv);
  if (!invocation.ok()) return ReportError(invocation.status(), nullptr, err);
  const Command* command = invocation->command;
  if (invocation->help) {
    if (command == nullptr) {
      out << Usage();
    } else {
      out << CommandUsage(*command) << "\n  " << command->summary << "\n";
    }
    return kExitOk;
  }
  absl::StatusOr<GlobalOptions> options = ResolveGlobals(invocation->args, env);
  if (!options.ok()) return ReportError(options.status(), command, err);

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::Dial(options->server, options->tls);
  if (!channel.ok()) return ReportError(channel.status(), command, err);  // names the flag
  Session session(*options, *channel, out);
  session.set_err(err);
  absl::StatusOr<int> status = command->action(session, invocation->args);
  out.flush();
  if (!status.ok()) return ReportError(status.status(), command, err);
  return *status;
}

}  // namespace assent::ctl
