#include "core/validate.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace assent::core {
namespace {

// Limits documented in types.proto and catalog.proto.
constexpr size_t kMaxTenantIdLength = 63;
constexpr size_t kMaxPurposeIdLength = 128;
constexpr size_t kMaxTopicLength = 64;
constexpr size_t kMaxSourceLength = 64;
constexpr size_t kMaxLanguageTagLength = 35;
constexpr size_t kMaxUserAgentLength = 1024;
constexpr size_t kMaxConsentStringLength = 8192;
constexpr size_t kMaxReferenceLength = 256;
constexpr size_t kMaxDpvIriLength = 512;
constexpr size_t kMaxDisplayNameLength = 200;
constexpr int kMaxConfirmationRules = 100;
constexpr int kMaxPolicyRules = 1000;
constexpr size_t kMaxDescriptionLength = 2000;
constexpr size_t kMaxNoticeTextLength = 20000;
constexpr int kMaxPurposeTexts = 50;
constexpr int kMaxNoticeTexts = 500;
constexpr uint32_t kMinutesPerDay = 24 * 60;
// Timestamp range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
// Duration range of google.protobuf.Duration: about +-10000 years.
constexpr int64_t kMaxDurationSeconds = 315576000000;
constexpr int32_t kMaxNanos = 999999999;

std::string Sub(std::string_view parent, std::string_view child) {
  if (parent.empty()) return std::string(child);
  return absl::StrCat(Sv(parent), ".", Sv(child));
}

std::string Indexed(std::string_view parent, int index) {
  return absl::StrCat(Sv(parent), "[", index, "]");
}

// Characters as a person counts them: code points of UTF-8 (continuation bytes are not counted).
// On invalid UTF-8 this is still a sane upper bound, which is all the length checks need.
size_t CountChars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

absl::Status CheckMaxChars(std::string_view field, std::string_view value, size_t max) {
  size_t n = CountChars(value);
  if (n <= max) return absl::OkStatus();
  return InvalidField(field, absl::StrCat("must be at most ", max, " characters (got ", n, ")"));
}

// A byte as it can be shown in an error message without echoing unprintable input.
std::string DescribeByte(char c) {
  auto b = static_cast<unsigned char>(c);
  if (b >= 0x21 && b <= 0x7E) return absl::StrCat("'", std::string(1, c), "'");
  return absl::StrFormat("byte 0x%02X", b);
}

// A short, escaped quotation of a value that carries no personal data (a time zone, a
// jurisdiction), so the caller sees what was rejected.
std::string Quote(std::string_view value) {
  constexpr size_t kMaxQuoted = 64;
  std::string_view shown = value.substr(0, kMaxQuoted);
  return absl::StrCat("\"", absl::CHexEscape(Sv(shown)),
                      value.size() > kMaxQuoted ? "...\"" : "\"");
}

bool IsLowerOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return IsUpper(c) || (c >= 'a' && c <= 'z'); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }

// Identifiers of the form [a-z0-9][a-z0-9<extra>]{0,max-1}; `pattern` is that regex, for messages.
absl::Status CheckIdPattern(std::string_view field, std::string_view value, bool required,
                            size_t max, std::string_view extra, std::string_view pattern) {
  if (value.empty()) {
    return required ? InvalidField(field, "must not be empty") : absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckMaxChars(field, value, max));
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    bool ok = IsLowerOrDigit(c) || (i > 0 && extra.find(c) != std::string_view::npos);
    if (!ok) {
      return InvalidField(field, absl::StrCat("must match ", Sv(pattern), " (", DescribeByte(c),
                                              " at offset ", i, ")"));
    }
  }
  return absl::OkStatus();
}

// 1..max printable ASCII characters (0x21..0x7E), as types.proto defines for subject ids, actors
// and idempotency keys. Messages never echo the value: a subject id identifies a customer.
absl::Status CheckPrintableAscii(std::string_view field, std::string_view value, bool required,
                                 size_t max, bool forbid_slash) {
  if (value.empty()) {
    return required ? InvalidField(field, "must not be empty") : absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckMaxChars(field, value, max));
  for (size_t i = 0; i < value.size(); ++i) {
    auto b = static_cast<unsigned char>(value[i]);
    if (b < 0x21 || b > 0x7E) {
      return InvalidField(field, absl::StrCat("must contain only printable ASCII characters "
                                              "(0x21..0x7E), not ",
                                              DescribeByte(value[i]), " at offset ", i));
    }
    // Subject ids appear in resource names and store keys, where '/' separates segments.
    if (forbid_slash && b == '/') {
      return InvalidField(field, absl::StrCat("must not contain '/' (at offset ", i, ")"));
    }
  }
  return absl::OkStatus();
}

// A value of a proto enum: defined, and not the zero value unless allowed.
absl::Status CheckEnum(std::string_view field, int value, bool (*is_valid)(int),
                       std::string_view what, std::string_view unspecified_name,
                       bool allow_unspecified) {
  if (!is_valid(value)) {
    return InvalidField(field, absl::StrCat("unknown ", Sv(what), " value ", value));
  }
  if (value == 0 && !allow_unspecified) {
    return InvalidField(field, absl::StrCat("must be specified (not ", Sv(unspecified_name), ")"));
  }
  return absl::OkStatus();
}

std::string ChannelName(int value) {
  return value == 0 ? "any channel" : v1::Channel_Name(static_cast<v1::Channel>(value));
}

// A list of specified channels without duplicates, e.g. purpose.channels.
absl::Status CheckChannelList(std::string_view field,
                              const google::protobuf::RepeatedField<int>& channels) {
  std::map<int, int> first_index;
  for (int i = 0; i < channels.size(); ++i) {
    std::string element = Indexed(field, i);
    RETURN_IF_ERROR(ValidateChannel(element, channels.Get(i), /*allow_unspecified=*/false));
    auto [it, inserted] = first_index.emplace(channels.Get(i), i);
    if (!inserted) {
      return InvalidField(element, absl::StrCat("duplicate channel ", ChannelName(channels.Get(i)),
                                                " (already at index ", it->second, ")"));
    }
  }
  return absl::OkStatus();
}

// BCP 47 in the shape the API accepts: subtags of 1..8 letters or digits separated by single
// '-', the first one letters only. Full registry validation is deliberately left out: a tag the
// customer's browser sent is evidence and is stored as given.
absl::Status CheckLanguageTag(std::string_view field, std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(CheckMaxChars(field, value, kMaxLanguageTagLength));
  static constexpr std::string_view kWhy = "must be a BCP 47 language tag like \"en-GB\"";
  size_t start = 0;
  while (true) {
    size_t end = value.find('-', start);
    std::string_view subtag =
        value.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (subtag.empty() || subtag.size() > 8) {
      return InvalidField(field, absl::StrCat(Sv(kWhy), " (subtags of 1..8 letters or digits)"));
    }
    for (char c : subtag) {
      if (!IsAlnum(c) || (start == 0 && !IsAlpha(c))) {
        return InvalidField(field, absl::StrCat(Sv(kWhy), " (unexpected ", DescribeByte(c), ")"));
      }
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return absl::OkStatus();
}

absl::Status CheckIpAddress(std::string_view field, std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  static constexpr std::string_view kWhy = "must be an IPv4 or IPv6 address";
  // inet_pton reads a C string: an embedded NUL would hide trailing garbage, and anything longer
  // than the longest IPv6 text form is not an address.
  if (value.size() >= INET6_ADDRSTRLEN || value.find('\0') != std::string_view::npos) {
    return InvalidField(field, kWhy);
  }
  std::string text(value);
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return absl::OkStatus();
  }
  return InvalidField(field, kWhy);
}

absl::Status CheckTimestamp(std::string_view field, const google::protobuf::Timestamp& ts) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds) {
    return InvalidField(field, absl::StrCat("must be between 0001-01-01 and 9999-12-31 (seconds ",
                                            ts.seconds(), ")"));
  }
  if (ts.nanos() < 0 || ts.nanos() > kMaxNanos) {
    return InvalidField(
        field, absl::StrCat("nanos must be between 0 and 999999999 (got ", ts.nanos(), ")"));
  }
  return absl::OkStatus();
}

// absl::FormatDuration counts in hours ("8808h"); people think of long periods in days ("367d").
std::string FormatDays(absl::Duration d) {
  const absl::Duration day = absl::Hours(24);
  if (d < day) return absl::FormatDuration(d);
  int64_t days = absl::IDivDuration(d, day, &d);
  return absl::StrCat(days, "d", d == absl::ZeroDuration() ? "" : absl::FormatDuration(d));
}

// A well-formed google.protobuf.Duration within [min, max]; `range` names the bounds for people.
absl::Status CheckDuration(std::string_view field, const google::protobuf::Duration& d,
                           absl::Duration min, absl::Duration max, std::string_view range) {
  bool well_formed = d.seconds() >= -kMaxDurationSeconds && d.seconds() <= kMaxDurationSeconds &&
                     d.nanos() >= -kMaxNanos && d.nanos() <= kMaxNanos &&
                     !(d.seconds() > 0 && d.nanos() < 0) && !(d.seconds() < 0 && d.nanos() > 0);
  if (!well_formed) {
    return InvalidField(field, absl::StrCat("is not a valid duration (seconds ", d.seconds(),
                                            ", nanos ", d.nanos(), ")"));
  }
  absl::Duration value = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (value < min || value > max) {
    return InvalidField(
        field, absl::StrCat("must be between ", Sv(range), " (got ", FormatDays(value), ")"));
  }
  return absl::OkStatus();
}

// Decodes the UTF-8 sequence at s[i] (Unicode 3.9, table 3-7: no overlong forms, no surrogates,
// nothing above U+10FFFF). Returns its length, or 0 when it is not valid UTF-8.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* out) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = at(i);
  if (b0 < 0x80) {
    *out = b0;
    return 1;
  }
  size_t len;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  char32_t cp = b0 & (0xFF >> (len + 1));
  cp = (cp << 6) | (at(i + 1) & 0x3F);
  for (size_t k = 2; k < len; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
    cp = (cp << 6) | (at(i + k) & 0x3F);
  }
  *out = cp;
  return len;
}

// Unicode general category Cc: C0, DEL and C1.
bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

absl::Status ValidateTenantId(std::string_view field, std::string_view value) {
  return CheckIdPattern(field, value, /*required=*/true, kMaxTenantIdLength, "-",
                        "[a-z0-9][a-z0-9-]{0,62}");
}

absl::Status ValidateSubjectId(std::string_view field, std::string_view value) {
  return CheckPrintableAscii(field, value, /*required=*/true, kMaxSubjectIdLength,
                             /*forbid_slash=*/true);
}

absl::Status ValidatePurposeId(std::string_view field, std::string_view value) {
  return CheckIdPattern(field, value, /*required=*/true, kMaxPurposeIdLength, "._-",
                        "[a-z0-9][a-z0-9._-]{0,127}");
}

absl::Status ValidateTopic(std::string_view field, std::string_view value) {
  return CheckIdPattern(field, value, /*required=*/false, kMaxTopicLength, "._-",
                        "[a-z0-9][a-z0-9._-]{0,63}");
}

absl::Status ValidateSource(std::string_view field, std::string_view value) {
  return CheckIdPattern(field, value, /*required=*/true, kMaxSourceLength, "._-",
                        "[a-z0-9][a-z0-9._-]{0,63}");
}

absl::Status ValidateActor(std::string_view field, std::string_view value) {
  return CheckPrintableAscii(field, value, /*required=*/true, kMaxActorLength,
                             /*forbid_slash=*/false);
}

absl::Status ValidateIdempotencyKey(std::string_view field, std::string_view value) {
  return CheckPrintableAscii(field, value, /*required=*/false, kMaxIdempotencyKeyLength,
                             /*forbid_slash=*/false);
}

absl::Status ValidateJurisdiction(std::string_view field, std::string_view value,
                                  bool allow_policy_wildcards) {
  if (value.empty()) return absl::OkStatus();
  if (allow_policy_wildcards && (value == "*" || value == "EU")) return absl::OkStatus();
  std::string_view why = allow_policy_wildcards
                             ? "must be \"*\", \"EU\", an ISO 3166-1 alpha-2 country like \"US\" "
                               "or a subdivision like \"US-CA\""
                             : "must be an ISO 3166-1 alpha-2 country like \"US\" or a "
                               "subdivision like \"US-CA\"";
  bool shape_ok = (value.size() == 2 || (value.size() >= 4 && value.size() <= 6)) &&
                  IsUpper(value[0]) && IsUpper(value[1]);
  if (shape_ok && value.size() > 2) {
    shape_ok = value[2] == '-';
    for (char c : value.substr(3)) shape_ok = shape_ok && (IsUpper(c) || IsDigit(c));
  }
  if (!shape_ok) return InvalidField(field, absl::StrCat(Sv(why), " (got ", Quote(value), ")"));
  // "EU" has the shape of a country code but is a region: it only makes sense as a policy rule's
  // scope, never as where a customer is, and it has no subdivisions.
  if (value.substr(0, 2) == "EU") {
    return InvalidField(field, allow_policy_wildcards
                                   ? "\"EU\" has no subdivisions"
                                   : "\"EU\" is a region, allowed only in default-policy rules");
  }
  return absl::OkStatus();
}

absl::Status ValidateChannel(std::string_view field, int value, bool allow_unspecified) {
  return CheckEnum(field, value, v1::Channel_IsValid, "channel", "CHANNEL_UNSPECIFIED",
                   allow_unspecified);
}

absl::Status ValidateTimeZone(std::string_view field, std::string_view value) {
  if (value.empty()) return InvalidField(field, "must not be empty");
  // Only names shaped like IANA zone names reach the tz loader: it reads files named after the
  // zone, so an absolute path or "../" must never get there, nor "localtime", whose meaning
  // depends on the host.
  bool shape_ok = value.size() <= 64 && value.front() != '/' && value.back() != '/' &&
                  value.find("//") == std::string_view::npos && value != "localtime";
  for (char c : value) {
    shape_ok = shape_ok && (IsAlnum(c) || c == '/' || c == '_' || c == '-' || c == '+');
  }
  absl::TimeZone tz;
  if (!shape_ok || !absl::LoadTimeZone(std::string(value), &tz)) {
    return InvalidField(field, absl::StrCat("unknown time zone ", Quote(value)));
  }
  return absl::OkStatus();
}

absl::Status ValidateEvidence(std::string_view field, const v1::Evidence& evidence) {
  RETURN_IF_ERROR(CheckLanguageTag(Sub(field, "language"), evidence.language()));
  RETURN_IF_ERROR(CheckIpAddress(Sub(field, "ip_address"), evidence.ip_address()));
  RETURN_IF_ERROR(
      CheckMaxChars(Sub(field, "user_agent"), evidence.user_agent(), kMaxUserAgentLength));
  RETURN_IF_ERROR(
      CheckMaxChars(Sub(field, "tcf_string"), evidence.tcf_string(), kMaxConsentStringLength));
  RETURN_IF_ERROR(
      CheckMaxChars(Sub(field, "gpp_string"), evidence.gpp_string(), kMaxConsentStringLength));
  RETURN_IF_ERROR(
      CheckMaxChars(Sub(field, "reference"), evidence.reference(), kMaxReferenceLength));
  if (evidence.has_confirm_time()) {
    RETURN_IF_ERROR(CheckTimestamp(Sub(field, "confirm_time"), evidence.confirm_time()));
  }
  // Sealing is Assent's own: a caller's "sealed" evidence could claim any key.
  if (evidence.has_sealed()) {
    return InvalidField(Sub(field, "sealed"), "is set by Assent; send the plain fields");
  }
  if (evidence.shredded()) {
    return InvalidField(Sub(field, "shredded"), "is set by Assent, never by a caller");
  }
  return absl::OkStatus();
}

namespace {

absl::Status ValidateLocalizedTexts(std::string_view field, const v1::Purpose& purpose) {
  const std::string texts = Sub(field, "texts");
  if (purpose.texts_size() > kMaxPurposeTexts) {
    return InvalidField(texts, absl::StrCat("must have at most ", kMaxPurposeTexts, " languages"));
  }
  std::map<std::string_view, int> languages;
  for (int i = 0; i < purpose.texts_size(); ++i) {
    const std::string element = Indexed(texts, i);
    const v1::PurposeText& text = purpose.texts(i);
    if (text.language().empty()) return InvalidField(Sub(element, "language"), "is required");
    RETURN_IF_ERROR(CheckLanguageTag(Sub(element, "language"), text.language()));
    RETURN_IF_ERROR(ValidateDisplayName(Sub(element, "display_name"), text.display_name()));
    RETURN_IF_ERROR(
        CheckMaxChars(Sub(element, "description"), text.description(), kMaxDescriptionLength));
    if (auto [it, inserted] = languages.emplace(text.language(), i); !inserted) {
      return InvalidField(Sub(element, "language"),
                          absl::StrCat("duplicates texts[", it->second, "]"));
    }
  }
  const std::string notices = Sub(field, "notices");
  if (purpose.notices_size() > kMaxNoticeTexts) {
    return InvalidField(notices, absl::StrCat("must have at most ", kMaxNoticeTexts, " texts"));
  }
  std::map<std::pair<uint32_t, std::string_view>, int> seen;
  for (int i = 0; i < purpose.notices_size(); ++i) {
    const std::string element = Indexed(notices, i);
    const v1::NoticeText& notice = purpose.notices(i);
    if (notice.notice_version() < 1 || notice.notice_version() > purpose.notice_version()) {
      return InvalidField(Sub(element, "notice_version"),
                          absl::StrCat("must be 1..notice_version (", purpose.notice_version(),
                                       "), got ", notice.notice_version()));
    }
    if (notice.language().empty()) return InvalidField(Sub(element, "language"), "is required");
    RETURN_IF_ERROR(CheckLanguageTag(Sub(element, "language"), notice.language()));
    if (notice.text().empty()) return InvalidField(Sub(element, "text"), "is required");
    RETURN_IF_ERROR(CheckMaxChars(Sub(element, "text"), notice.text(), kMaxNoticeTextLength));
    if (auto [it, inserted] = seen.emplace(
            std::make_pair(notice.notice_version(), std::string_view(notice.language())), i);
        !inserted) {
      return InvalidField(element, absl::StrCat("duplicates notices[", it->second,
                                                "] (same version and language)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// Double opt-in: the confirmation rules (channels of the purpose, jurisdictions as in policy
// rules, no duplicates) and the pending TTL.
static absl::Status ValidateConfirmation(std::string_view field, const v1::Purpose& purpose) {
  const std::string rules = Sub(field, "confirmation");
  if (purpose.confirmation_size() > kMaxConfirmationRules) {
    return InvalidField(rules, absl::StrCat("must have at most ", kMaxConfirmationRules,
                                            " rules (got ", purpose.confirmation_size(), ")"));
  }
  std::set<std::pair<int, std::string_view>> seen;
  for (int i = 0; i < purpose.confirmation_size(); ++i) {
    const v1::ConfirmationRule& rule = purpose.confirmation(i);
    const std::string element = Indexed(rules, i);
    RETURN_IF_ERROR(ValidateChannel(Sub(element, "channel"), rule.channel(), true));
    if (rule.channel() != v1::CHANNEL_UNSPECIFIED &&
        std::find(purpose.channels().begin(), purpose.channels().end(), rule.channel()) ==
            purpose.channels().end()) {
      return InvalidField(
          Sub(element, "channel"),
          absl::StrCat(v1::Channel_Name(rule.channel()), " is not one of the purpose's channels"));
    }
    if (rule.jurisdiction().empty()) {
      return InvalidField(Sub(element, "jurisdiction"),
                          "is required (\"DE\", \"US-CA\", \"EU\" or \"*\")");
    }
    RETURN_IF_ERROR(ValidateJurisdiction(Sub(element, "jurisdiction"), rule.jurisdiction(),
                                         /*allow_policy_wildcards=*/true));
    if (!seen.emplace(rule.channel(), rule.jurisdiction()).second) {
      return InvalidField(element, "duplicates an earlier rule");
    }
  }
  if (purpose.has_pending_ttl()) {
    RETURN_IF_ERROR(CheckDuration(Sub(field, "pending_ttl"), purpose.pending_ttl(), absl::Hours(1),
                                  absl::Hours(24 * 90), "1 hour and 90 days"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePurposeFields(std::string_view field, const v1::Purpose& purpose) {
  RETURN_IF_ERROR(ValidateDisplayName(Sub(field, "display_name"), purpose.display_name()));
  RETURN_IF_ERROR(CheckEnum(Sub(field, "kind"), purpose.kind(), v1::PurposeKind_IsValid,
                            "purpose kind", "PURPOSE_KIND_UNSPECIFIED",
                            /*allow_unspecified=*/false));
  RETURN_IF_ERROR(CheckEnum(Sub(field, "legal_basis"), purpose.legal_basis(),
                            v1::LegalBasis_IsValid, "legal basis", "LEGAL_BASIS_UNSPECIFIED",
                            /*allow_unspecified=*/false));
  std::string channels = Sub(field, "channels");
  if (purpose.channels().empty()) return InvalidField(channels, "must name at least one channel");
  RETURN_IF_ERROR(CheckChannelList(channels, purpose.channels()));
  if (purpose.has_lifespan()) {
    RETURN_IF_ERROR(CheckDuration(Sub(field, "lifespan"), purpose.lifespan(), absl::Hours(24),
                                  absl::Hours(24 * 36525), "1 day and 100 years"));
  }
  if (purpose.has_remind_before()) {
    const std::string remind = Sub(field, "remind_before");
    RETURN_IF_ERROR(CheckDuration(remind, purpose.remind_before(), absl::Seconds(1),
                                  absl::Hours(24 * 400), "1 second and 400 days"));
    if (purpose.has_lifespan() &&
        FromProto(purpose.remind_before()) >= FromProto(purpose.lifespan())) {
      return InvalidField(remind, "must be shorter than lifespan");
    }
  }
  RETURN_IF_ERROR(ValidateConfirmation(field, purpose));
  // TCF v2.2 defines purposes 1..11.
  for (int i = 0; i < purpose.tcf_purpose_ids_size(); ++i) {
    const uint32_t id = purpose.tcf_purpose_ids(i);
    const std::string tcf = absl::StrCat(Sub(field, "tcf_purpose_ids"), "[", i, "]");
    if (id < 1 || id > 11) return InvalidField(tcf, "must be a TCF v2.2 purpose id, 1..11");
    for (int j = 0; j < i; ++j) {
      if (purpose.tcf_purpose_ids(j) == id) return InvalidField(tcf, "is a duplicate");
    }
  }
  if (purpose.notice_version() < 1) {
    return InvalidField(Sub(field, "notice_version"), "must be at least 1");
  }
  // 0 means 1, which never exceeds a valid notice_version.
  if (purpose.min_notice_version() > purpose.notice_version()) {
    return InvalidField(
        Sub(field, "min_notice_version"),
        absl::StrCat("must not exceed notice_version (", purpose.min_notice_version(), " > ",
                     purpose.notice_version(), ")"));
  }
  if (!purpose.dpv_iri().empty()) {
    std::string iri_field = Sub(field, "dpv_iri");
    std::string_view iri = purpose.dpv_iri();
    RETURN_IF_ERROR(CheckMaxChars(iri_field, iri, kMaxDpvIriLength));
    std::string_view rest;
    if (iri.starts_with("https://")) {
      rest = iri.substr(8);
    } else if (iri.starts_with("http://")) {
      rest = iri.substr(7);
    } else {
      return InvalidField(iri_field, "must start with \"http://\" or \"https://\"");
    }
    if (rest.empty() || rest.front() == '/') {
      return InvalidField(iri_field, "must name a host after the scheme");
    }
    for (char c : rest) {
      auto b = static_cast<unsigned char>(c);
      if (b <= 0x20 || b == 0x7F) {
        return InvalidField(iri_field, "must not contain spaces or control characters");
      }
    }
  }
  std::map<std::string_view, int> first_index;
  for (int i = 0; i < purpose.topics_size(); ++i) {
    std::string element = Indexed(Sub(field, "topics"), i);
    const std::string& topic = purpose.topics(i);
    // ValidateTopic accepts "" (no topic) for decisions; in the catalog's list it means nothing.
    if (topic.empty()) return InvalidField(element, "must not be empty");
    RETURN_IF_ERROR(ValidateTopic(element, topic));
    auto [it, inserted] = first_index.emplace(topic, i);
    if (!inserted) {
      return InvalidField(element, absl::StrCat("duplicate topic \"", topic,
                                                "\" (already at index ", it->second, ")"));
    }
  }
  return ValidateLocalizedTexts(field, purpose);
}

absl::Status ValidatePolicy(std::string_view field, const v1::DefaultPolicy& policy) {
  std::string rules_field = Sub(field, "rules");
  if (policy.rules_size() > kMaxPolicyRules) {
    return InvalidField(rules_field, absl::StrCat("must have at most ", kMaxPolicyRules,
                                                  " rules (got ", policy.rules_size(), ")"));
  }
  std::map<std::tuple<std::string_view, int, int>, int> first_index;
  for (int i = 0; i < policy.rules_size(); ++i) {
    const v1::PolicyRule& rule = policy.rules(i);
    std::string rule_field = Indexed(rules_field, i);
    std::string jurisdiction = Sub(rule_field, "jurisdiction");
    if (rule.jurisdiction().empty()) return InvalidField(jurisdiction, "must not be empty");
    RETURN_IF_ERROR(
        ValidateJurisdiction(jurisdiction, rule.jurisdiction(), /*allow_policy_wildcards=*/true));
    RETURN_IF_ERROR(
        ValidateChannel(Sub(rule_field, "channel"), rule.channel(), /*allow_unspecified=*/true));
    RETURN_IF_ERROR(CheckEnum(Sub(rule_field, "purpose_kind"), rule.purpose_kind(),
                              v1::PurposeKind_IsValid, "purpose kind", "PURPOSE_KIND_UNSPECIFIED",
                              /*allow_unspecified=*/true));
    RETURN_IF_ERROR(CheckEnum(Sub(rule_field, "mode"), rule.mode(), v1::PolicyMode_IsValid,
                              "policy mode", "POLICY_MODE_UNSPECIFIED",
                              /*allow_unspecified=*/false));
    auto [it, inserted] = first_index.emplace(
        std::make_tuple(std::string_view(rule.jurisdiction()), rule.channel(), rule.purpose_kind()),
        i);
    if (!inserted) {
      std::string kind =
          rule.purpose_kind() == 0 ? "any purpose kind" : v1::PurposeKind_Name(rule.purpose_kind());
      return InvalidField(rule_field,
                          absl::StrCat("duplicates rules[", it->second, "] (", rule.jurisdiction(),
                                       ", ", ChannelName(rule.channel()), ", ", kind, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePreferences(std::string_view field, const v1::Preferences& preferences) {
  if (preferences.has_quiet_hours()) {
    const v1::QuietHours& quiet = preferences.quiet_hours();
    std::string quiet_field = Sub(field, "quiet_hours");
    for (auto [name, minute] :
         {std::pair<std::string_view, uint32_t>{"start_minute", quiet.start_minute()},
          {"end_minute", quiet.end_minute()}}) {
      if (minute >= kMinutesPerDay) {
        return InvalidField(Sub(quiet_field, name),
                            absl::StrCat("must be between 0 and 1439 (got ", minute, ")"));
      }
    }
    // start == end is either an empty window or the whole day; refuse to guess.
    if (quiet.start_minute() == quiet.end_minute()) {
      return InvalidField(Sub(quiet_field, "end_minute"),
                          "must differ from start_minute (the window would be empty)");
    }
    RETURN_IF_ERROR(ValidateTimeZone(Sub(quiet_field, "time_zone"), quiet.time_zone()));
    RETURN_IF_ERROR(CheckChannelList(Sub(quiet_field, "channels"), quiet.channels()));
  }
  for (int i = 0; i < preferences.frequency_caps_size(); ++i) {
    const v1::FrequencyCap& cap = preferences.frequency_caps(i);
    std::string cap_field = Indexed(Sub(field, "frequency_caps"), i);
    RETURN_IF_ERROR(
        ValidateChannel(Sub(cap_field, "channel"), cap.channel(), /*allow_unspecified=*/false));
    if (cap.max_messages() < 1) {
      return InvalidField(Sub(cap_field, "max_messages"), "must be at least 1");
    }
    RETURN_IF_ERROR(CheckDuration(Sub(cap_field, "period"), cap.period(), absl::Minutes(1),
                                  absl::Hours(24 * 366), "1 minute and 366 days"));
  }
  RETURN_IF_ERROR(
      CheckLanguageTag(Sub(field, "preferred_language"), preferences.preferred_language()));
  RETURN_IF_ERROR(ValidateChannel(Sub(field, "preferred_channel"), preferences.preferred_channel(),
                                  /*allow_unspecified=*/true));
  RETURN_IF_ERROR(CheckChannelList(Sub(field, "global_opt_out_channels"),
                                   preferences.global_opt_out_channels()));
  return ValidateJurisdiction(Sub(field, "jurisdiction"), preferences.jurisdiction(),
                              /*allow_policy_wildcards=*/false);
}

absl::Status ValidateDisplayName(std::string_view field, std::string_view value) {
  if (value.empty()) return InvalidField(field, "must not be empty");
  size_t chars = 0;
  for (size_t i = 0; i < value.size(); ++chars) {
    char32_t cp;
    size_t len = DecodeUtf8(value, i, &cp);
    if (len == 0) {
      return InvalidField(field, absl::StrCat("must be valid UTF-8 (bad byte at offset ", i, ")"));
    }
    if (IsControl(cp)) {
      return InvalidField(field, absl::StrFormat("must not contain control characters (U+%04X at "
                                                 "character %d)",
                                                 static_cast<uint32_t>(cp), chars + 1));
    }
    i += len;
  }
  if (chars > kMaxDisplayNameLength) {
    return InvalidField(field, absl::StrCat("must be at most ", kMaxDisplayNameLength,
                                            " characters (got ", chars, ")"));
  }
  return absl::OkStatus();
}

}  // namespace assent::core
