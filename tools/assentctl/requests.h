// Turning assentctl's parsed command line into API requests. Everything here is pure: no I/O, no
// clock. Errors are INVALID_ARGUMENT naming the flag (a usage error, exit status 64).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "assentctl/flags.h"
#include "rpc/tls.h"

namespace assent::ctl {

// The process environment, name -> value.
using Environment = std::map<std::string, std::string, std::less<>>;

// Flags every command accepts.
struct GlobalOptions {
  // --server, else $ASSENT_SERVER, else 127.0.0.1:50051.
  std::string server = "127.0.0.1:50051";
  // --tenant, else $ASSENT_TENANT. Empty when neither is set.
  std::string tenant;
  // --json: print each response as one JSON object per line.
  bool json = false;
  // --timeout: deadline of each call. Default 10s.
  absl::Duration timeout = absl::Seconds(10);
  // --tls-ca, --tls-cert, --tls-key, --tls-server-name, --token-file, else $ASSENT_TLS_CA, ...
  // Default: plaintext.
  rpc::TlsOptions tls;
  // $ASSENT_KAFKA_CONFIG: the librdkafka properties file of `events tail` when --kafka-config is
  // not given. Empty when unset.
  std::string kafka_config;
};

absl::StatusOr<GlobalOptions> ResolveGlobals(const Args& args, const Environment& env);

// The tenant, or INVALID_ARGUMENT "--tenant is required (or set ASSENT_TENANT)".
absl::StatusOr<std::string> RequireTenant(const GlobalOptions& options);

// The single operand of "tenant create ID", "purpose get ID", ... (`args.positional` holds the
// operands only, not the command words).
absl::StatusOr<std::string> SingleOperand(const Args& args, std::string_view what);

// Exactly one of --subject, --email, --phone (with an optional --region for the phone) or
// --contact-hash.
absl::StatusOr<v1::Target> TargetFromArgs(const Args& args);
// --contact-hash TYPE:HASH, a contact point by its keyed hash: "email:<64 hex digits>". TYPE is
// email, phone, device or postal (case-insensitive); HASH goes to the service as given (it checks
// the hash's form).
absl::StatusOr<v1::ContactRef> ParseContactRef(std::string_view text);
// A contact point from exactly one of --email, --phone (--region with the phone).
absl::StatusOr<v1::ContactPoint> ContactFromArgs(const Args& args);

// One line of a batch-check targets file: "subject:ID", "email:ADDR", "phone:NUMBER", or a bare
// subject id. `region` is the default region for phone numbers ("" for none).
absl::StatusOr<v1::Target> ParseTargetLine(std::string_view line, std::string_view region);

struct TargetEntry {
  std::string label;  // the line as written (trimmed), for output
  v1::Target target;
};
// A whole targets file: blank lines and lines starting with '#' are skipped. Errors name
// "<file>:<line>".
absl::StatusOr<std::vector<TargetEntry>> ParseTargetFile(std::string_view content,
                                                         std::string_view file_name,
                                                         std::string_view region);

// "US:EMAIL:MARKETING:OPT_OUT", "EU:*:*:OPT_IN" -> a policy rule ('*' is any channel / kind).
absl::StatusOr<v1::PolicyRule> ParsePolicyRule(std::string_view text);

// "22:00-07:00" plus an IANA zone -> quiet hours.
absl::StatusOr<v1::QuietHours> ParseQuietHours(std::string_view window, std::string_view time_zone);

// "EMAIL:3/7d" -> at most 3 emails per 7 days.
absl::StatusOr<v1::FrequencyCap> ParseFrequencyCap(std::string_view text);

// tenant create ID [--name NAME] (the display name defaults to the id).
absl::StatusOr<v1::CreateTenantRequest> BuildCreateTenant(const Args& args);
// purpose get ID [--version N].
absl::StatusOr<v1::GetPurposeRequest> BuildGetPurpose(const Args& args, std::string_view tenant);

// One --notice-file LANG=PATH. ParseNoticeFiles fills in the language and the path; whoever reads
// the file fills in `text` (its bytes as they are, so that `sha256sum PATH` prints the digest the
// catalog will show).
struct NoticeFile {
  std::string language;
  std::string path;
  std::string text;
};
// Every --notice-file, in command-line order. INVALID_ARGUMENT for a value that is not LANG=PATH
// or a language given twice.
absl::StatusOr<std::vector<NoticeFile>> ParseNoticeFiles(const Args& args);

// purpose create: every purpose flag; --kind, --basis, --channels and --notice-version are
// required, --name defaults to the id. --title / --description LANG=TEXT make one PurposeText per
// language (a --description needs a --title in its language); each of `notices` (the
// --notice-file texts, read) becomes the NoticeText of --notice-version in its language, and must
// be valid UTF-8.
absl::StatusOr<v1::CreatePurposeRequest> BuildCreatePurpose(const Args& args,
                                                            std::string_view tenant,
                                                            const std::vector<NoticeFile>& notices);
// purpose update: overlays the flags given onto `current` (the purpose as read). "--lifespan none",
// "--topics ''" and "--dpv ''" clear those fields. --title / --description set those fields of
// their language's text (a new language needs a --title; "--title LANG=" removes the language).
// Notice texts are append-only: the request carries only `notices`, as texts of the resulting
// notice version (the service keeps the published ones). The result replaces the purpose as a
// whole. INVALID_ARGUMENT when no purpose flag is given.
absl::StatusOr<v1::UpdatePurposeRequest> BuildUpdatePurpose(const Args& args,
                                                            const v1::Purpose& current,
                                                            const std::vector<NoticeFile>& notices);

// policy set: --rule ... (one or more), or --clear for an empty policy.
absl::StatusOr<v1::SetDefaultPolicyRequest> BuildSetPolicy(const Args& args,
                                                           std::string_view tenant);

// record: one decision. --notice-sha256 and --language go to the evidence; --expected-sequence N
// makes the write conditional on the target's sequence still being N.
absl::StatusOr<v1::RecordDecisionsRequest> BuildRecord(const Args& args, std::string_view tenant);

absl::StatusOr<v1::LinkContactPointRequest> BuildLink(const Args& args, std::string_view tenant);
absl::StatusOr<v1::UnlinkContactPointRequest> BuildUnlink(const Args& args,
                                                          std::string_view tenant);
// prefs set: replaces the subject's preferences as a whole (flags not given are cleared);
// --expected-sequence as for record.
absl::StatusOr<v1::SetPreferencesRequest> BuildSetPreferences(const Args& args,
                                                              std::string_view tenant);
absl::StatusOr<v1::SuppressContactPointRequest> BuildSuppress(const Args& args,
                                                              std::string_view tenant);
absl::StatusOr<v1::CheckRequest> BuildCheck(const Args& args, std::string_view tenant);
// batch-check without its targets (they come from the file, in chunks).
absl::StatusOr<v1::BatchCheckRequest> BuildBatchCheck(const Args& args, std::string_view tenant);
// url: a signed customer link to TARGET's preference center, or with --one-click an RFC 8058
// one-click unsubscribe from --purpose (required then; --channel optional). --ttl: how long it
// stays valid (default: the service's). --purpose and --channel go only with --one-click.
// resend-confirmation TARGET --sequence N [--actor A].
absl::StatusOr<v1::ResendConfirmationRequest> BuildResendConfirmation(const Args& args,
                                                                      std::string_view tenant);
absl::StatusOr<v1::CreateLinkRequest> BuildCreateLink(const Args& args, std::string_view tenant);
// history: the first page's request; --limit caps the total number of records (0: all).
struct HistoryQuery {
  v1::ListHistoryRequest request;
  uint32_t limit = 0;
};
absl::StatusOr<HistoryQuery> BuildHistory(const Args& args, std::string_view tenant);

// Resource names, as the API spells them.
std::string TenantName(std::string_view tenant);
std::string PurposeName(std::string_view tenant, std::string_view purpose_id);
std::string PolicyName(std::string_view tenant);

}  // namespace assent::ctl
