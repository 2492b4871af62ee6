#include "links/v1_token.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "contact/normalize.h"
#include "core/validate.h"
#include "links/encoding.h"

namespace assent::links {
namespace {

constexpr std::string_view kKeyLabel = "assent/unsubscribe-key/v1/";
constexpr std::string_view kVersion = "v1";

absl::Status Malformed(std::string_view why) { return InvalidField("token", why); }

// The three parts of a token, checked for shape and base64 but not for meaning.
struct TokenParts {
  std::string_view signed_text;  // "v1." + payload_b64: what the MAC covers
  std::string payload;           // decoded
  std::string mac;               // decoded, kMacLength bytes
};

absl::StatusOr<TokenParts> SplitToken(std::string_view token) {
  if (token.empty()) return Malformed("is empty");
  if (token.size() > kMaxTokenLength) {
    return Malformed(
        absl::StrCat("is too long (", token.size(), " characters, at most ", kMaxTokenLength, ")"));
  }
  size_t first_dot = token.find('.');
  if (first_dot == std::string_view::npos) {
    return Malformed("has no version prefix (expected \"v1.<payload>.<signature>\")");
  }
  std::string_view version = token.substr(0, first_dot);
  if (version != kVersion) {
    // Only a short, harmless excerpt of what was sent goes into the message.
    return Malformed(absl::StrCat("unknown version \"", absl::CHexEscape(Sv(version.substr(0, 16))),
                                  "\" (expected \"v1\")"));
  }
  size_t second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return Malformed("must have three parts separated by '.' (\"v1.<payload>.<signature>\")");
  }
  std::string_view payload_b64 = token.substr(first_dot + 1, second_dot - first_dot - 1);
  std::string_view mac_b64 = token.substr(second_dot + 1);
  TokenParts parts;
  parts.signed_text = token.substr(0, second_dot);
  if (payload_b64.empty() || !DecodeBase64Url(payload_b64, &parts.payload)) {
    return Malformed("payload is not unpadded base64url");
  }
  if (!DecodeBase64Url(mac_b64, &parts.mac) || parts.mac.size() != kMacLength) {
    return Malformed("signature is not unpadded base64url of 32 bytes");
  }
  return parts;
}

absl::StatusOr<UnsubscribeClaims> ParsePayload(std::string_view payload) {
  std::vector<std::string_view> f;
  for (absl::string_view field : absl::StrSplit(Sv(payload), '\n')) f.push_back(StdSv(field));
  if (f.size() < 2 || (f[1] != "s" && f[1] != "c")) {
    return Malformed("payload has no target kind (\"s\" or \"c\") in its second field");
  }
  const bool is_subject = f[1] == "s";
  const size_t expected = is_subject ? 6 : 7;
  if (f.size() != expected) {
    return Malformed(absl::StrCat("payload has ", f.size(), " fields, expected ", expected));
  }
  // The ids are checked as strictly as when signing: a verifier hands them on to the ledger.
  auto check = [](const absl::Status& status) -> absl::Status {
    if (status.ok()) return status;
    return Malformed(absl::StrCat("payload field ", status.message()));
  };
  UnsubscribeClaims claims;
  RETURN_IF_ERROR(check(core::ValidateTenantId("tenant", f[0])));
  claims.tenant = std::string(f[0]);
  size_t next = 2;
  if (is_subject) {
    RETURN_IF_ERROR(check(core::ValidateSubjectId("subject_id", f[next])));
    claims.target.set_subject_id(std::string(f[next++]));
  } else {
    absl::StatusOr<v1::ContactType> type = ContactTypeFromName(f[next++]);
    if (!type.ok()) return Malformed("payload field contact type is unknown");
    RETURN_IF_ERROR(check(CheckHash("hash", f[next])));
    claims.target.mutable_contact()->set_type(*type);
    claims.target.mutable_contact()->set_hash(std::string(f[next++]));
  }
  RETURN_IF_ERROR(check(core::ValidatePurposeId("purpose_id", f[next])));
  claims.purpose_id = std::string(f[next++]);
  int channel = 0;
  if (!IsCanonicalDecimal(f[next]) || !absl::SimpleAtoi(Sv(f[next]), &channel)) {
    return Malformed("payload field channel is not a number");
  }
  ++next;
  RETURN_IF_ERROR(check(core::ValidateChannel("channel", channel, /*allow_unspecified=*/true)));
  claims.channel = static_cast<v1::Channel>(channel);
  int64_t expire = 0;
  if (!IsCanonicalDecimal(f[next]) || !absl::SimpleAtoi(Sv(f[next]), &expire)) {
    return Malformed("payload field expiry is not a number of seconds");
  }
  claims.expire_time = absl::FromUnixSeconds(expire);
  return claims;
}

}  // namespace

std::string DeriveUnsubscribeKey(std::string_view master_secret, std::string_view tenant) {
  return HmacSha256(master_secret, absl::StrCat(Sv(kKeyLabel), Sv(tenant)));
}

absl::StatusOr<std::string> SignUnsubscribeToken(std::string_view key,
                                                 const UnsubscribeClaims& claims) {
  if (key.empty()) return InvalidField("key", "must not be empty");
  RETURN_IF_ERROR(core::ValidateTenantId("claims.tenant", claims.tenant));
  std::vector<std::string> fields = {claims.tenant};
  switch (claims.target.kind_case()) {
    case v1::TargetRef::kSubjectId:
      RETURN_IF_ERROR(
          core::ValidateSubjectId("claims.target.subject_id", claims.target.subject_id()));
      fields.push_back("s");
      fields.push_back(claims.target.subject_id());
      break;
    case v1::TargetRef::kContact: {
      const v1::ContactRef& ref = claims.target.contact();
      RETURN_IF_ERROR(contact::ValidateRef("claims.target.contact", ref));
      fields.push_back("c");
      fields.emplace_back(contact::ContactTypeName(ref.type()));
      fields.push_back(ref.hash());
      break;
    }
    default:
      return InvalidField("claims.target", "must be a subject_id or a contact");
  }
  RETURN_IF_ERROR(core::ValidatePurposeId("claims.purpose_id", claims.purpose_id));
  fields.push_back(claims.purpose_id);
  RETURN_IF_ERROR(
      core::ValidateChannel("claims.channel", claims.channel, /*allow_unspecified=*/true));
  fields.push_back(absl::StrCat(static_cast<int>(claims.channel)));
  if (claims.expire_time < absl::UnixEpoch() || claims.expire_time == absl::InfiniteFuture()) {
    return InvalidField("claims.expire_time", "must be a finite time after 1970-01-01T00:00:00Z");
  }
  fields.push_back(absl::StrCat(absl::ToUnixSeconds(claims.expire_time)));

  std::string signed_text = absl::StrCat(Sv(kVersion), ".", Base64Url(absl::StrJoin(fields, "\n")));
  std::string mac = HmacSha256(key, signed_text);
  return absl::StrCat(signed_text, ".", Base64Url(mac));
}

absl::StatusOr<UnsubscribeClaims> ParseUnsubscribeToken(std::string_view token) {
  ASSIGN_OR_RETURN(TokenParts parts, SplitToken(token));
  return ParsePayload(parts.payload);
}

absl::StatusOr<UnsubscribeClaims> VerifyUnsubscribeToken(std::string_view key,
                                                         std::string_view token, absl::Time now) {
  ASSIGN_OR_RETURN(TokenParts parts, SplitToken(token));
  std::string expected = HmacSha256(key, parts.signed_text);
  if (key.empty() || !ConstantTimeEquals(expected, parts.mac)) {
    return absl::PermissionDeniedError("token: signature does not match");
  }
  ASSIGN_OR_RETURN(UnsubscribeClaims claims, ParsePayload(parts.payload));
  if (now >= claims.expire_time) {
    // Whole seconds, as in the token.
    return FailedPrecondition(absl::StrCat(
        "token: expired at ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", claims.expire_time, absl::UTCTimeZone())));
  }
  return claims;
}

}  // namespace assent::links
