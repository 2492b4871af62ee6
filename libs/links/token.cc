#include "links/token.h"

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
#include "links/v1_token.h"

namespace assent::links {
namespace {

constexpr std::string_view kVersion = "v2";
constexpr size_t kFields = 6;

absl::Status Malformed(std::string_view why) { return InvalidField("token", why); }

// The four parts of a v2 token, checked for shape and base64 but not for meaning.
struct Parts {
  std::string_view key_id;
  std::string_view signed_text;  // "v2." key-id "." payload-b64: what the MAC covers
  std::string payload;
  std::string mac;
};

absl::StatusOr<Parts> Split(std::string_view token) {
  std::vector<std::string_view> p;
  for (absl::string_view part : absl::StrSplit(Sv(token), '.')) p.push_back(StdSv(part));
  if (p.size() != 4) {
    return Malformed("must have four parts separated by '.' (\"v2.<key>.<payload>.<signature>\")");
  }
  Parts parts;
  parts.key_id = p[1];
  if (parts.key_id.empty() || parts.key_id.size() > kMaxKeyIdLength) {
    return Malformed("key id is missing or too long");
  }
  parts.signed_text = token.substr(0, p[0].size() + p[1].size() + p[2].size() + 2);
  if (p[2].empty() || !DecodeBase64Url(p[2], &parts.payload)) {
    return Malformed("payload is not unpadded base64url");
  }
  if (!DecodeBase64Url(p[3], &parts.mac) || parts.mac.size() != kMacLength) {
    return Malformed("signature is not unpadded base64url of 32 bytes");
  }
  return parts;
}

// A payload field checked as strictly as when minting: verified claims go on to consentd.
absl::Status FieldError(const absl::Status& status) {
  if (status.ok()) return status;
  return Malformed(absl::StrCat("payload field ", status.message()));
}

// An export link's address field "<contact type>:<hash>", on a subject, with no channel.
absl::Status ParseAddress(std::string_view field, int channel, LinkClaims& claims) {
  const size_t colon = field.find(':');
  if (channel != 0 || !claims.target.has_subject_id() || colon == std::string_view::npos) {
    return Malformed("payload of an export link needs a subject, an address hash and no channel");
  }
  absl::StatusOr<v1::ContactType> type = ContactTypeFromName(field.substr(0, colon));
  if (!type.ok()) return Malformed("payload field address type is unknown");
  RETURN_IF_ERROR(FieldError(CheckHash("hash", field.substr(colon + 1))));
  claims.address.set_type(*type);
  claims.address.set_hash(std::string(field.substr(colon + 1)));
  return absl::OkStatus();
}

absl::StatusOr<LinkClaims> ParsePayload(std::string_view payload) {
  std::vector<std::string_view> f;
  for (absl::string_view field : absl::StrSplit(Sv(payload), '\n')) f.push_back(StdSv(field));
  if (f.size() != kFields) {
    return Malformed(absl::StrCat("payload has ", f.size(), " fields, expected ", kFields));
  }
  LinkClaims claims;
  RETURN_IF_ERROR(FieldError(core::ValidateTenantId("tenant", f[0])));
  claims.tenant = std::string(f[0]);
  if (f[1] == "p") {
    claims.kind = v1::PREFERENCE_CENTER;
  } else if (f[1] == "u") {
    claims.kind = v1::ONE_CLICK_UNSUBSCRIBE;
  } else if (f[1] == "c") {
    claims.kind = v1::CONFIRMATION;
  } else if (f[1] == "x") {
    claims.kind = v1::EXPORT;
  } else {
    return Malformed("payload field kind must be \"p\", \"u\", \"c\" or \"x\"");
  }
  std::string_view target = f[2];
  if (target.starts_with("s:")) {
    RETURN_IF_ERROR(FieldError(core::ValidateSubjectId("subject_id", target.substr(2))));
    claims.target.set_subject_id(std::string(target.substr(2)));
  } else if (target.starts_with("c:")) {
    const size_t colon = target.find(':', 2);
    if (colon == std::string_view::npos) return Malformed("payload field target has no hash");
    absl::StatusOr<v1::ContactType> type = ContactTypeFromName(target.substr(2, colon - 2));
    if (!type.ok()) return Malformed("payload field contact type is unknown");
    RETURN_IF_ERROR(FieldError(CheckHash("hash", target.substr(colon + 1))));
    claims.target.mutable_contact()->set_type(*type);
    claims.target.mutable_contact()->set_hash(std::string(target.substr(colon + 1)));
  } else {
    return Malformed("payload field target must start with \"s:\" or \"c:\"");
  }
  int channel = 0;
  if (!IsCanonicalDecimal(f[4]) || !absl::SimpleAtoi(Sv(f[4]), &channel)) {
    return Malformed("payload field channel is not a number");
  }
  RETURN_IF_ERROR(
      FieldError(core::ValidateChannel("channel", channel, /*allow_unspecified=*/true)));
  claims.channel = static_cast<v1::Channel>(channel);
  if (claims.kind == v1::ONE_CLICK_UNSUBSCRIBE) {
    RETURN_IF_ERROR(FieldError(core::ValidatePurposeId("purpose_id", f[3])));
    claims.purpose_id = std::string(f[3]);
  } else if (claims.kind == v1::CONFIRMATION) {
    if (!IsCanonicalDecimal(f[3]) || !absl::SimpleAtoi(Sv(f[3]), &claims.confirm_sequence) ||
        claims.confirm_sequence == 0 || channel != 0) {
      return Malformed("payload of a confirmation link needs a sequence and no channel");
    }
  } else if (claims.kind == v1::EXPORT) {
    RETURN_IF_ERROR(ParseAddress(f[3], channel, claims));
  } else if (!f[3].empty() || channel != 0) {
    return Malformed("payload of a preference-center link names a purpose or channel");
  }
  int64_t expire = 0;
  if (!IsCanonicalDecimal(f[5]) || !absl::SimpleAtoi(Sv(f[5]), &expire)) {
    return Malformed("payload field expiry is not a number of seconds");
  }
  claims.expire_time = absl::FromUnixSeconds(expire);
  return claims;
}

absl::Status CheckExpiry(absl::Time expire_time, absl::Time now) {
  if (now < expire_time) return absl::OkStatus();
  return FailedPrecondition(
      absl::StrCat("token: expired at ",
                   absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", expire_time, absl::UTCTimeZone())));
}

// A v1 token is a one-click link with the claims of links/v1_token.h.
absl::StatusOr<LinkClaims> VerifyV1(std::string_view secret, std::string_view token,
                                    absl::Time now) {
  if (secret.empty()) {
    return absl::PermissionDeniedError("token: version 1 links are no longer accepted here");
  }
  ASSIGN_OR_RETURN(UnsubscribeClaims unverified, ParseUnsubscribeToken(token));
  ASSIGN_OR_RETURN(
      UnsubscribeClaims v1,
      VerifyUnsubscribeToken(DeriveUnsubscribeKey(secret, unverified.tenant), token, now));
  LinkClaims claims;
  claims.tenant = std::move(v1.tenant);
  claims.kind = v1::ONE_CLICK_UNSUBSCRIBE;
  claims.target = std::move(v1.target);
  claims.purpose_id = std::move(v1.purpose_id);
  claims.channel = v1.channel;
  claims.expire_time = v1.expire_time;
  claims.key_id = "v1";
  return claims;
}

absl::StatusOr<std::string_view> Version(std::string_view token) {
  if (token.empty()) return Malformed("is empty");
  if (token.size() > kMaxTokenLength) {
    return Malformed(
        absl::StrCat("is too long (", token.size(), " characters, at most ", kMaxTokenLength, ")"));
  }
  const size_t dot = token.find('.');
  std::string_view version = token.substr(0, dot);
  if (dot == std::string_view::npos || (version != kVersion && version != "v1")) {
    // Only a short, harmless excerpt of what was sent goes into the message.
    return Malformed(absl::StrCat("unknown version \"", absl::CHexEscape(Sv(version.substr(0, 16))),
                                  "\" (expected \"v2\")"));
  }
  return version;
}

}  // namespace

absl::StatusOr<std::string> MintLink(const KeyRing& keyring, const LinkClaims& claims) {
  RETURN_IF_ERROR(core::ValidateTenantId("claims.tenant", claims.tenant));
  std::vector<std::string> fields = {claims.tenant};
  switch (claims.kind) {
    case v1::PREFERENCE_CENTER:
      if (!claims.purpose_id.empty()) {
        return InvalidField("claims.purpose_id", "must be empty for a preference-center link");
      }
      if (claims.channel != v1::CHANNEL_UNSPECIFIED) {
        return InvalidField("claims.channel", "must be unspecified for a preference-center link");
      }
      fields.emplace_back("p");
      break;
    case v1::ONE_CLICK_UNSUBSCRIBE:
      RETURN_IF_ERROR(core::ValidatePurposeId("claims.purpose_id", claims.purpose_id));
      RETURN_IF_ERROR(
          core::ValidateChannel("claims.channel", claims.channel, /*allow_unspecified=*/true));
      fields.emplace_back("u");
      break;
    case v1::CONFIRMATION:
      if (claims.confirm_sequence == 0) {
        return InvalidField("claims.confirm_sequence", "is required for a confirmation link");
      }
      if (!claims.purpose_id.empty() || claims.channel != v1::CHANNEL_UNSPECIFIED) {
        return InvalidField("claims.kind", "a confirmation link names no purpose or channel");
      }
      fields.emplace_back("c");
      break;
    case v1::EXPORT:
      if (!claims.target.has_subject_id()) {
        return InvalidField("claims.target", "an export link names a subject");
      }
      RETURN_IF_ERROR(contact::ValidateRef("claims.address", claims.address));
      if (!claims.purpose_id.empty() || claims.channel != v1::CHANNEL_UNSPECIFIED) {
        return InvalidField("claims.kind", "an export link names no purpose or channel");
      }
      fields.emplace_back("x");
      break;
    default:
      return InvalidField("claims.kind",
                          "must be PREFERENCE_CENTER, ONE_CLICK_UNSUBSCRIBE, CONFIRMATION or "
                          "EXPORT");
  }
  switch (claims.target.kind_case()) {
    case v1::TargetRef::kSubjectId:
      RETURN_IF_ERROR(
          core::ValidateSubjectId("claims.target.subject_id", claims.target.subject_id()));
      fields.push_back(absl::StrCat("s:", claims.target.subject_id()));
      break;
    case v1::TargetRef::kContact: {
      const v1::ContactRef& ref = claims.target.contact();
      RETURN_IF_ERROR(contact::ValidateRef("claims.target.contact", ref));
      fields.push_back(
          absl::StrCat("c:", Sv(contact::ContactTypeName(ref.type())), ":", ref.hash()));
      break;
    }
    default:
      return InvalidField("claims.target", "must be a subject_id or a contact");
  }
  if (claims.kind == v1::CONFIRMATION) {
    fields.push_back(absl::StrCat(claims.confirm_sequence));
  } else if (claims.kind == v1::EXPORT) {
    fields.push_back(absl::StrCat(Sv(contact::ContactTypeName(claims.address.type())), ":",
                                  claims.address.hash()));
  } else {
    fields.push_back(claims.purpose_id);
  }
  fields.push_back(absl::StrCat(static_cast<int>(claims.channel)));
  if (claims.expire_time < absl::UnixEpoch() || claims.expire_time == absl::InfiniteFuture()) {
    return InvalidField("claims.expire_time", "must be a finite time after 1970-01-01T00:00:00Z");
  }
  fields.push_back(absl::StrCat(absl::ToUnixSeconds(claims.expire_time)));
  ASSIGN_OR_RETURN(KeyRing::TenantKey key, keyring.SigningKey(claims.tenant));
  const std::string signed_text =
      absl::StrCat(Sv(kVersion), ".", key.id, ".", Base64Url(absl::StrJoin(fields, "\n")));
  return absl::StrCat(signed_text, ".", Base64Url(HmacSha256(key.hmac_key, signed_text)));
}

absl::StatusOr<LinkClaims> VerifyLink(const KeyRing& keyring, std::string_view legacy_v1_secret,
                                      std::string_view token, absl::Time now) {
  ASSIGN_OR_RETURN(std::string_view version, Version(token));
  if (version == "v1") return VerifyV1(legacy_v1_secret, token, now);
  ASSIGN_OR_RETURN(Parts parts, Split(token));
  // The tenant is read before the MAC is checked only to find the key; nothing else is trusted
  // until the MAC matches.
  ASSIGN_OR_RETURN(LinkClaims claims, ParsePayload(parts.payload));
  std::optional<std::string> key = keyring.VerifyingKey(parts.key_id, claims.tenant);
  if (!key.has_value()) {
    return absl::PermissionDeniedError("token: signed with a key this keyring does not hold");
  }
  if (!ConstantTimeEquals(HmacSha256(*key, parts.signed_text), parts.mac)) {
    return absl::PermissionDeniedError("token: signature does not match");
  }
  RETURN_IF_ERROR(CheckExpiry(claims.expire_time, now));
  claims.key_id = std::string(parts.key_id);
  return claims;
}

absl::StatusOr<std::string> UnverifiedTenant(std::string_view token) {
  ASSIGN_OR_RETURN(std::string_view version, Version(token));
  if (version == "v1") {
    ASSIGN_OR_RETURN(UnsubscribeClaims claims, ParseUnsubscribeToken(token));
    return claims.tenant;
  }
  ASSIGN_OR_RETURN(Parts parts, Split(token));
  ASSIGN_OR_RETURN(LinkClaims claims, ParsePayload(parts.payload));
  return claims.tenant;
}

std::string FillUrl(std::string_view base_url, std::string_view token) {
  static constexpr std::string_view kPlaceholder = "{token}";
  if (base_url.find(kPlaceholder) != std::string_view::npos) {
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = base_url.find(kPlaceholder, pos)) != std::string_view::npos;
         pos = hit + kPlaceholder.size()) {
      absl::StrAppend(&out, Sv(base_url.substr(pos, hit - pos)), Sv(token));
    }
    absl::StrAppend(&out, Sv(base_url.substr(pos)));
    return out;
  }
  // The parameter goes before a fragment, which is never sent to the server.
  size_t fragment = base_url.find('#');
  std::string_view head = base_url.substr(0, fragment);
  std::string_view tail = fragment == std::string_view::npos ? "" : base_url.substr(fragment);
  char separator = head.find('?') == std::string_view::npos     ? '?'
                   : (head.back() == '?' || head.back() == '&') ? '\0'
                                                                : '&';
  std::string out(head);
  if (separator != '\0') out.push_back(separator);
  absl::StrAppend(&out, "t=", Sv(token), Sv(tail));
  return out;
}

std::string LinkUrl(std::string_view base_url, v1::LinkKind kind, std::string_view token) {
  std::string_view base = base_url;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string_view path = kind == v1::ONE_CLICK_UNSUBSCRIBE ? "/u/"
                          : kind == v1::CONFIRMATION        ? "/c/"
                          : kind == v1::EXPORT              ? "/x/"
                                                            : "/p/";
  return absl::StrCat(Sv(base), Sv(path), Sv(token));
}

}  // namespace assent::links
