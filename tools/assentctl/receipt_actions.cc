// assentctl receipt get / receipt verify: consent receipts (docs/RECEIPTS.md).
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "assentctl/actions.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "crypto/signing_keys.h"
#include "httplib.h"
#include "receipts/verify.h"

namespace assent::ctl {
namespace {

using ReceiptStub = v1::ReceiptService::StubInterface;

absl::Status Usage(std::string_view message) { return absl::InvalidArgumentError(Sv(message)); }

// The JWKS from --jwks (a file, or an http(s) URL such as the preference center's
// /.well-known/jwks.json), or else from consentd's GetReceiptKeys.
absl::StatusOr<std::string> JwksText(Session& session, const Args& args) {
  std::optional<std::string> source = args.Get("jwks");
  if (!source.has_value()) {
    v1::GetReceiptKeysResponse keys;
    RETURN_IF_ERROR(session.Call(session.receipts(), &ReceiptStub::GetReceiptKeys,
                                 v1::GetReceiptKeysRequest(), &keys));
    return keys.jwks();
  }
  if (absl::StartsWith(Sv(*source), "http://") || absl::StartsWith(Sv(*source), "https://")) {
    const size_t path_start = source->find('/', source->find("//") + 2);
    const std::string origin = source->substr(0, path_start);
    const std::string path = path_start == std::string::npos ? "/" : source->substr(path_start);
    httplib::Client client(origin);
    client.set_connection_timeout(10);
    client.set_read_timeout(10);
    httplib::Result result = client.Get(path);
    if (!result) {
      return absl::UnavailableError(
          absl::StrCat("cannot fetch ", *source, ": ", httplib::to_string(result.error())));
    }
    if (result->status != 200) {
      return absl::UnavailableError(
          absl::StrCat("cannot fetch ", *source, ": HTTP ", result->status));
    }
    return result->body;
  }
  return ReadFile(*source);
}

}  // namespace

absl::StatusOr<int> ReceiptGet(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::GetReceiptRequest request;
  request.set_tenant(tenant);
  ASSIGN_OR_RETURN(*request.mutable_target(), TargetFromArgs(args));
  std::optional<std::string> sequence = args.Get("sequence");
  if (!sequence.has_value()) return Usage("missing --sequence N");
  uint64_t n = 0;
  if (!absl::SimpleAtoi(Sv(*sequence), &n) || n == 0) {
    return Usage("--sequence: must be a positive integer");
  }
  request.set_sequence(n);
  v1::Receipt receipt;
  RETURN_IF_ERROR(session.Call(session.receipts(), &ReceiptStub::GetReceipt, request, &receipt));
  // The receipt file format (proto3 JSON), which `receipt verify` reads.
  session.Print(receipts::ReceiptToJson(receipt));
  return kExitOk;
}

absl::StatusOr<int> ReceiptVerify(Session& session, const Args& args) {
  if (args.positional.empty()) return Usage("missing receipt file");
  if (args.positional.size() > 1) {
    return Usage(absl::StrCat("unexpected argument '", args.positional[1], "'"));
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(args.positional[0]));
  ASSIGN_OR_RETURN(std::string jwks_text, JwksText(session, args));
  absl::StatusOr<crypto::Jwks> jwks = crypto::Jwks::Parse(jwks_text);
  if (!jwks.ok()) {
    return absl::DataLossError(absl::StrCat("the JWKS is not valid: ", jwks.status().message()));
  }
  absl::StatusOr<v1::Receipt> receipt = receipts::ReceiptFromJson(text);
  absl::StatusOr<receipts::VerifiedReceipt> verified =
      receipt.ok() ? receipts::VerifyReceipt(*receipt, *jwks)
                   : absl::StatusOr<receipts::VerifiedReceipt>(receipt.status());
  if (!verified.ok()) {
    session.Print(absl::StrCat("receipt does NOT verify: ", verified.status().message(), "\n"));
    return kExitNegative;
  }
  session.Print(
      absl::StrCat("receipt verifies: signed by key ", verified->kid, " at ",
                   absl::FormatTime(absl::RFC3339_sec, absl::FromUnixSeconds(verified->signed_at),
                                    absl::UTCTimeZone()),
                   " (batch of ", verified->batch_leaves, ")\n", "  tenant ", verified->tenant,
                   ", target ", verified->target, ", sequence ", verified->sequence, ", ",
                   verified->kind, "\n", "  history record hash ", verified->hash, "\n"));
  return kExitOk;
}

}  // namespace assent::ctl
