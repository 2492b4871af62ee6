// One function per assentctl command: build the request from the arguments, make the call(s),
// print the result (human-readable, or one JSON object per line with --json), and return the
// exit status (see cli.h). Errors: INVALID_ARGUMENT without the call-failure mark is a usage error;
// anything else is reported as "assentctl: <CODE>: <message>".
#pragma once

#include "absl/status/statusor.h"
#include "assentctl/flags.h"
#include "assentctl/session.h"

namespace assent::ctl {

// Exit statuses (documented in `assentctl --help`).
inline constexpr int kExitOk = 0;        // done; check ALLOW; chain valid; every target allowed
inline constexpr int kExitNegative = 1;  // check DENY; chain broken; some target denied
inline constexpr int kExitFailure = 2;   // a call failed, or a file could not be read
inline constexpr int kExitUsage = 64;    // bad command line (EX_USAGE)

// The most targets one BatchCheck request carries (the API's limit).
inline constexpr size_t kMaxBatchTargets = 10000;

using Action = absl::StatusOr<int> (*)(Session& session, const Args& args);

absl::StatusOr<int> TenantCreate(Session& session, const Args& args);
absl::StatusOr<int> TenantGet(Session& session, const Args& args);
absl::StatusOr<int> TenantList(Session& session, const Args& args);
absl::StatusOr<int> PurposeCreate(Session& session, const Args& args);
absl::StatusOr<int> PurposeUpdate(Session& session, const Args& args);
absl::StatusOr<int> PurposeGet(Session& session, const Args& args);
absl::StatusOr<int> PurposeList(Session& session, const Args& args);
absl::StatusOr<int> RepermissionList(Session& session, const Args& args);
absl::StatusOr<int> PolicySet(Session& session, const Args& args);
absl::StatusOr<int> PolicyGet(Session& session, const Args& args);
absl::StatusOr<int> Record(Session& session, const Args& args);
absl::StatusOr<int> Link(Session& session, const Args& args);
absl::StatusOr<int> Unlink(Session& session, const Args& args);
absl::StatusOr<int> PrefsSet(Session& session, const Args& args);
absl::StatusOr<int> Suppress(Session& session, const Args& args);
absl::StatusOr<int> State(Session& session, const Args& args);
absl::StatusOr<int> Check(Session& session, const Args& args);
absl::StatusOr<int> Url(Session& session, const Args& args);
absl::StatusOr<int> ResendConfirmation(Session& session, const Args& args);
absl::StatusOr<int> BatchCheck(Session& session, const Args& args);
absl::StatusOr<int> History(Session& session, const Args& args);
absl::StatusOr<int> Proof(Session& session, const Args& args);
absl::StatusOr<int> Erase(Session& session, const Args& args);
absl::StatusOr<int> ErasureGet(Session& session, const Args& args);
absl::StatusOr<int> HoldSet(Session& session, const Args& args);
absl::StatusOr<int> HoldLift(Session& session, const Args& args);
absl::StatusOr<int> OffboardStart(Session& session, const Args& args);
absl::StatusOr<int> OffboardStatus(Session& session, const Args& args);
absl::StatusOr<int> Verify(Session& session, const Args& args);
absl::StatusOr<int> AdminCompact(Session& session, const Args& args);
absl::StatusOr<int> ClusterStatus(Session& session, const Args& args);
// export_action.cc
absl::StatusOr<int> Export(Session& session, const Args& args);
// import_action.cc
absl::StatusOr<int> Import(Session& session, const Args& args);
// receipt_actions.cc
absl::StatusOr<int> ReceiptGet(Session& session, const Args& args);
absl::StatusOr<int> ReceiptVerify(Session& session, const Args& args);
// report_action.cc
absl::StatusOr<int> Report(Session& session, const Args& args);

// signal_actions.cc
absl::StatusOr<int> DecodeSignal(Session& session, const Args& args);

// The content of `path` ("-": standard input); NOT_FOUND / DATA_LOSS naming it otherwise.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace assent::ctl
