// Validation of identifiers and catalog/preference inputs. Every error is INVALID_ARGUMENT with
// the message "<field>: <why>", `field` being the name given by the caller (e.g.
// "decisions[2].topic"). Pure and thread-safe.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/types.pb.h"

namespace assent::core {

// Limits, from types.proto.
inline constexpr size_t kMaxSubjectIdLength = 128;
inline constexpr size_t kMaxActorLength = 128;
inline constexpr size_t kMaxIdempotencyKeyLength = 128;
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);

absl::Status ValidateTenantId(std::string_view field, std::string_view value);        // required
absl::Status ValidateSubjectId(std::string_view field, std::string_view value);       // required
absl::Status ValidatePurposeId(std::string_view field, std::string_view value);       // required
absl::Status ValidateTopic(std::string_view field, std::string_view value);           // optional
absl::Status ValidateSource(std::string_view field, std::string_view value);          // required
absl::Status ValidateActor(std::string_view field, std::string_view value);           // required
absl::Status ValidateIdempotencyKey(std::string_view field, std::string_view value);  // optional
// "US", "US-CA", "DE"; optional (empty is fine). For policy rules also "EU" and "*".
absl::Status ValidateJurisdiction(std::string_view field, std::string_view value,
                                  bool allow_policy_wildcards = false);
// A known, specified channel (not CHANNEL_UNSPECIFIED unless allow_unspecified).
absl::Status ValidateChannel(std::string_view field, int value, bool allow_unspecified);
// An IANA time zone present in the system tz database.
absl::Status ValidateTimeZone(std::string_view field, std::string_view value);
// Evidence limits (see Evidence in types.proto); `field` is e.g. "evidence".
absl::Status ValidateEvidence(std::string_view field, const v1::Evidence& evidence);
// Purpose fields settable by the caller (see Purpose in catalog.proto); ids and versions excluded.
// Every caller-settable purpose field, localized texts and notice texts included (see
// catalog.proto: languages unique, notice versions 1..notice_version, one text per version and
// language, lengths).
absl::Status ValidatePurposeFields(std::string_view field, const v1::Purpose& purpose);
absl::Status ValidatePolicy(std::string_view field, const v1::DefaultPolicy& policy);
absl::Status ValidatePreferences(std::string_view field, const v1::Preferences& preferences);
// Display names: 1..200 characters, valid UTF-8, no control characters.
absl::Status ValidateDisplayName(std::string_view field, std::string_view value);

}  // namespace assent::core
