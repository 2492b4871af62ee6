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
};

absl::StatusOr<GlobalOptions> ResolveGlobals(const Args& args, const Environment& env);

// The tenant, or INVALID_ARGUMENT "--tenant is required (or set ASSENT_TENANT)".
absl::StatusOr<std::string> RequireTenant(const GlobalOptions& options);

// The single operand of "tenant create ID", "purpose get ID", ... (`args.positional` holds the
// operands only, not the command words).
absl::StatusOr<std::string> SingleOperand(const Args& args, std::string_view what);

// Exactly one of --subject, --email, --phone (with an optional --region for the phone).
absl::StatusOr<v1::Target> TargetFromArgs(const Args& args);
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

// purpose create: every purpose flag; --kind, --basis, --channels and --notice-version are
// required, --name defaults to the id.
absl::StatusOr<v1::CreatePurposeRequest> BuildCreatePurpose(const Args& args,
                                                            std::string_view tenant);
// purpose update: overlays the flags given onto `current` (the purpose as read). "--lifespan none",
// "--topics ''" and "--dpv ''" clear those fields. The result replaces the purpose as a whole.
// INVALID_ARGUMENT when no purpose flag is given.
absl::StatusOr<v1::UpdatePurposeRequest> BuildUpdatePurpose(const Args& args,
                                                            const v1::Purpose& current);

// policy set: --rule ... (one or more), or --clear for an empty policy.
absl::StatusOr<v1::SetDefaultPolicyRequest> BuildSetPolicy(const Args& args,
                                                           std::string_view tenant);

// record: one decision.
absl::StatusOr<v1::RecordDecisionsRequest> BuildRecord(const Args& args, std::string_view tenant);

absl::StatusOr<v1::LinkContactPointRequest> BuildLink(const Args& args, std::string_view tenant);
absl::StatusOr<v1::UnlinkContactPointRequest> BuildUnlink(const Args& args,
                                                          std::string_view tenant);
// prefs set: replaces the subject's preferences as a whole (flags not given are cleared).
absl::StatusOr<v1::SetPreferencesRequest> BuildSetPreferences(const Args& args,
                                                              std::string_view tenant);
absl::StatusOr<v1::SuppressContactPointRequest> BuildSuppress(const Args& args,
                                                              std::string_view tenant);
absl::StatusOr<v1::CheckRequest> BuildCheck(const Args& args, std::string_view tenant);
// batch-check without its targets (they come from the file, in chunks).
absl::StatusOr<v1::BatchCheckRequest> BuildBatchCheck(const Args& args, std::string_view tenant);
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
