// CreateLink: signed customer links (links/token.h) minted for internal callers.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "core/validate.h"
#include "ledger/ledger.h"
#include "links/token.h"

namespace assent::ledger {
namespace {

constexpr absl::Duration kMinLinkTtl = absl::Minutes(1);
constexpr absl::Duration kMaxLinkTtl = absl::Hours(24 * 400);
constexpr absl::Duration kDefaultPageTtl = absl::Hours(24 * 30);
constexpr absl::Duration kDefaultOneClickTtl = absl::Hours(24 * 60);

}  // namespace

absl::StatusOr<v1::CreateLinkResponse> Ledger::CreateLink(
    const v1::CreateLinkRequest& request) const {
  auto catalog = catalog_.Snapshot();
  RETURN_IF_ERROR(RequireTenant(*catalog, "tenant", request.tenant()));
  links::LinkClaims claims;
  claims.tenant = request.tenant();
  claims.kind = request.kind();
  ASSIGN_OR_RETURN(claims.target, ResolveTarget("target", request.tenant(), request.target()));
  switch (request.kind()) {
    case v1::PREFERENCE_CENTER:
      if (!request.purpose_id().empty()) {
        return InvalidField("purpose_id", "must be empty for a PREFERENCE_CENTER link");
      }
      if (request.channel() != v1::CHANNEL_UNSPECIFIED) {
        return InvalidField("channel", "must be unspecified for a PREFERENCE_CENTER link");
      }
      break;
    case v1::ONE_CLICK_UNSUBSCRIBE: {
      RETURN_IF_ERROR(core::ValidatePurposeId("purpose_id", request.purpose_id()));
      const v1::Purpose* purpose = catalog->FindPurpose(request.tenant(), request.purpose_id());
      if (purpose == nullptr) return NotFound("purpose", request.purpose_id());
      RETURN_IF_ERROR(core::ValidateChannel("channel", request.channel(), true));
      if (request.channel() != v1::CHANNEL_UNSPECIFIED &&
          std::find(purpose->channels().begin(), purpose->channels().end(), request.channel()) ==
              purpose->channels().end()) {
        return InvalidField("channel",
                            absl::StrCat(v1::Channel_Name(request.channel()),
                                         " is not a channel of purpose ", request.purpose_id()));
      }
      claims.purpose_id = request.purpose_id();
      claims.channel = request.channel();
      break;
    }
    case v1::CONFIRMATION:
      if (!request.purpose_id().empty()) {
        return InvalidField("purpose_id", "must be empty for a CONFIRMATION link");
      }
      if (request.channel() != v1::CHANNEL_UNSPECIFIED) {
        return InvalidField("channel", "must be unspecified for a CONFIRMATION link");
      }
      if (request.confirm_sequence() == 0) {
        return InvalidField("confirm_sequence", "is required for a CONFIRMATION link");
      }
      claims.confirm_sequence = request.confirm_sequence();
      break;
    default:
      return InvalidField("kind",
                          "must be PREFERENCE_CENTER, ONE_CLICK_UNSUBSCRIBE or CONFIRMATION");
  }
  if (request.kind() != v1::CONFIRMATION && request.confirm_sequence() != 0) {
    return InvalidField("confirm_sequence", "is only for a CONFIRMATION link");
  }
  absl::Duration ttl =
      request.kind() == v1::PREFERENCE_CENTER ? kDefaultPageTtl : kDefaultOneClickTtl;
  if (request.kind() == v1::CONFIRMATION && !request.has_ttl()) {
    // The rest of the confirmation window: the latest expiry of the sequence's PENDING decisions.
    ASSIGN_OR_RETURN(absl::Time window_end,
                     PendingWindowEnd(request.tenant(), claims.target, request.confirm_sequence()));
    ttl = window_end - clock_.Now();
    if (ttl <= absl::ZeroDuration()) {
      return FailedPrecondition("confirm_sequence: the confirmation window has closed");
    }
  } else if (request.has_ttl()) {
    ttl = FromProto(request.ttl());
    if (ttl < kMinLinkTtl || ttl > kMaxLinkTtl) {
      return InvalidField("ttl", "must be between 1 minute and 400 days");
    }
  }
  if (options_.link_keyring == nullptr) {
    return FailedPrecondition(
        "links: consentd has no link keyring (set links.keyring_file to sign customer links)");
  }
  // Whole seconds, as the token carries them.
  claims.expire_time = absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now() + ttl));
  if (claims.expire_time <= clock_.Now()) {
    return FailedPrecondition("confirm_sequence: the confirmation window has closed");
  }
  ASSIGN_OR_RETURN(std::string token, links::MintLink(*options_.link_keyring, claims));
  v1::CreateLinkResponse response;
  if (!options_.link_base_url.empty()) {
    response.set_url(links::LinkUrl(options_.link_base_url, request.kind(), token));
  }
  response.set_key_id(token.substr(3, token.find('.', 3) - 3));
  response.set_token(std::move(token));
  *response.mutable_expire_time() = ToProto(claims.expire_time);
  return response;
}

}  // namespace assent::ledger
