#include "contact/normalize.h"

#include <idn2.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/hex.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "phonenumbers/phonenumber.pb.h"
#include "phonenumbers/phonenumberutil.h"

namespace assent::contact {
namespace {

using ::i18n::phonenumbers::PhoneNumber;
using ::i18n::phonenumbers::PhoneNumberUtil;

// Limits from types.proto and RFC 5321 (4.5.3.1).
constexpr size_t kMaxRawValueLength = 512;
constexpr size_t kMaxEmailLength = 254;
constexpr size_t kMaxLocalPartLength = 64;
constexpr size_t kMaxLabelLength = 63;
constexpr size_t kMaxDeviceLength = 512;
constexpr size_t kMaxPostalLength = 512;
constexpr std::string_view kTenantKeyLabel = "assent/contact-key/v1/";

std::string Sub(std::string_view parent, std::string_view child) {
  if (parent.empty()) return std::string(child);
  return absl::StrCat(Sv(parent), ".", Sv(child));
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Code points of UTF-8 (continuation bytes are not counted): characters as a person counts them.
size_t CountChars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// RFC 5322 atext: the characters of a dot-atom besides '.'.
bool IsAtext(char c) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         kSpecials.find(c) != std::string_view::npos;
}

// Describes a byte for an error message without echoing the rest of the address.
std::string DescribeByte(char c) {
  if (c == ' ') return "a space";
  auto b = static_cast<unsigned char>(c);
  if (b > 0x20 && b < 0x7F) return absl::StrCat("'", std::string(1, c), "'");
  if (b >= 0x80) return "a non-ASCII character";
  return absl::StrCat("a control character (0x", absl::Hex(b, absl::kZeroPad2), ")");
}

absl::Status CheckLocalPart(std::string_view field, std::string_view local) {
  if (local.empty()) return InvalidField(field, "local part (before '@') must not be empty");
  for (char c : local) {
    if (c != '.' && !IsAtext(c)) {
      return InvalidField(field, absl::StrCat("local part must not contain ", DescribeByte(c),
                                              " (quoted and internationalised local parts are "
                                              "not supported)"));
    }
  }
  if (local.size() > kMaxLocalPartLength) {
    return InvalidField(field, absl::StrCat("local part must be at most ", kMaxLocalPartLength,
                                            " characters (got ", local.size(), ")"));
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return InvalidField(field, "local part must not start or end with '.' or contain \"..\"");
  }
  return absl::OkStatus();
}

// Converts a domain to IDNA A-labels. Non-transitional UTS #46 processing first (ß stays ß, as
// browsers and registries do today); transitional processing only for names IDNA 2008 refuses but
// IDNA 2003 accepted (symbols such as U+2615), as curl does, since such domains are registered
// and receive mail. The error reported is the stricter, non-transitional one.
absl::StatusOr<std::string> ToAsciiDomain(std::string_view field, const std::string& domain) {
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(domain.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    idn2_free(out);
    out = nullptr;
    int transitional_rc =
        idn2_to_ascii_8z(domain.c_str(), &out, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
    if (transitional_rc != IDN2_OK) {
      idn2_free(out);
      return InvalidField(
          field, absl::StrCat("domain is not a valid domain name (", idn2_strerror(rc), ")"));
    }
  }
  std::unique_ptr<char, decltype(&idn2_free)> owned(out, &idn2_free);
  return std::string(owned.get());
}

absl::StatusOr<std::string> NormalizeEmail(std::string_view field, std::string_view value) {
  size_t at = value.find('@');
  if (at == std::string_view::npos) return InvalidField(field, "must contain '@'");
  if (value.find('@', at + 1) != std::string_view::npos) {
    return InvalidField(field, "must contain exactly one '@'");
  }
  std::string_view local = value.substr(0, at);
  RETURN_IF_ERROR(CheckLocalPart(field, local));

  std::string_view raw_domain = value.substr(at + 1);
  if (raw_domain.empty()) return InvalidField(field, "domain (after '@') must not be empty");
  for (char c : raw_domain) {
    auto b = static_cast<unsigned char>(c);
    // libidn2 reads a C string and, without STD3 rules, lets spaces through; catch both here.
    if (b <= 0x20 || b == 0x7F) {
      return InvalidField(field, absl::StrCat("domain must not contain ", DescribeByte(c)));
    }
  }
  // UTS #46 mapping lower-cases non-ASCII letters; ASCII is lower-cased here so that an all-ASCII
  // domain is normalised the same way whatever libidn2 does with it.
  std::string lower = absl::AsciiStrToLower(Sv(raw_domain));
  ASSIGN_OR_RETURN(std::string domain, ToAsciiDomain(field, lower));

  // libidn2 accepts some names that are not host names (e.g. "_dmarc.example.com"); the address
  // must name a host, so the A-label form is checked as LDH.
  size_t labels = 0;
  std::string_view label;
  for (std::string_view rest = domain;;) {
    size_t dot = rest.find('.');
    label = rest.substr(0, dot);
    ++labels;
    if (label.empty() || label.size() > kMaxLabelLength) {
      return InvalidField(
          field, absl::StrCat("domain labels must be 1..", kMaxLabelLength, " characters long"));
    }
    if (label.front() == '-' || label.back() == '-') {
      return InvalidField(field, "domain labels must not start or end with '-'");
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return InvalidField(field, absl::StrCat("domain must not contain ", DescribeByte(c)));
      }
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (labels < 2) {
    return InvalidField(field, "domain must have at least two labels (like example.com)");
  }
  // RFC 3696 2: a top-level domain is never all-numeric, so "user@192.0.2.1" is an IP address
  // written without brackets, not a host name.
  if (label.find_first_not_of("0123456789") == std::string_view::npos) {
    return InvalidField(field, "domain must not end in an all-numeric label");
  }

  std::string address = absl::StrCat(Sv(local), "@", domain);
  if (address.size() > kMaxEmailLength) {
    return InvalidField(field, absl::StrCat("must be at most ", kMaxEmailLength,
                                            " octets once normalised (got ", address.size(), ")"));
  }
  return address;
}

// The regions libphonenumber has metadata for, computed once (PhoneNumberUtil is immutable) and
// never destroyed, so no exit-time destructor races a late caller.
const std::set<std::string>& SupportedRegions() {
  static const std::set<std::string>* regions = [] {
    auto* set = new std::set<std::string>();
    PhoneNumberUtil::GetInstance()->GetSupportedRegions(set);
    return set;
  }();
  return *regions;
}

absl::StatusOr<std::string> NormalizePhone(std::string_view field, std::string_view value,
                                           std::string_view default_region) {
  std::string region = absl::AsciiStrToUpper(Sv(Trim(default_region)));
  if (!region.empty() && !SupportedRegions().contains(region)) {
    return InvalidField(Sub(field, "default_region"),
                        "must be an ISO 3166-1 alpha-2 region code libphonenumber knows (like "
                        "\"US\")");
  }
  std::string value_field = Sub(field, "value");
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  // "ZZ" is libphonenumber's unknown region: only numbers with a country code parse.
  PhoneNumberUtil::ErrorType error =
      util.Parse(std::string(value), region.empty() ? "ZZ" : region, &number);
  switch (error) {
    case PhoneNumberUtil::NO_PARSING_ERROR:
      break;
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
      // Without '+' the caller most likely sent a national number and forgot the region.
      return InvalidField(value_field,
                          region.empty() && value.find('+') == std::string_view::npos
                              ? "must start with '+' and a country code, or give default_region"
                              : "has an unknown country code");
    case PhoneNumberUtil::NOT_A_NUMBER:
      return InvalidField(value_field, "is not a phone number");
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
    case PhoneNumberUtil::TOO_SHORT_NSN:
      return InvalidField(value_field, "is too short to be a phone number");
    case PhoneNumberUtil::TOO_LONG_NSN:
      return InvalidField(value_field, "is too long to be a phone number");
  }
  if (!util.IsValidNumber(number)) {
    return InvalidField(value_field, "is not a valid phone number (no such number range)");
  }
  std::string e164;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  return e164;
}

absl::StatusOr<std::string> NormalizeDevice(std::string_view field, std::string_view value) {
  if (value.size() > kMaxDeviceLength) {
    return InvalidField(field, absl::StrCat("must be at most ", kMaxDeviceLength,
                                            " characters (got ", CountChars(value), ")"));
  }
  for (char c : value) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x21 || b > 0x7E) {
      return InvalidField(field, absl::StrCat("must contain only printable ASCII characters "
                                              "(0x21..0x7E), not ",
                                              DescribeByte(c)));
    }
  }
  return std::string(value);
}

absl::StatusOr<std::string> NormalizePostal(std::string_view field, std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsAsciiSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) {
      return InvalidField(field, absl::StrCat("must not contain ", DescribeByte(c)));
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(absl::ascii_toupper(b));
  }
  if (out.size() > kMaxPostalLength) {
    return InvalidField(field, absl::StrCat("must be at most ", kMaxPostalLength,
                                            " bytes once normalised (got ", out.size(), ")"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> Normalize(std::string_view field, const v1::ContactPoint& point) {
  std::string value_field = Sub(field, "value");
  if (!v1::ContactType_IsValid(point.type())) {
    return InvalidField(Sub(field, "type"), absl::StrCat("unknown contact type value ",
                                                         static_cast<int>(point.type())));
  }
  if (point.type() == v1::CONTACT_TYPE_UNSPECIFIED) {
    return InvalidField(Sub(field, "type"), "must be specified (not CONTACT_TYPE_UNSPECIFIED)");
  }
  std::string_view raw = point.value();
  size_t raw_chars = CountChars(raw);
  if (raw_chars > kMaxRawValueLength) {
    return InvalidField(value_field, absl::StrCat("must be at most ", kMaxRawValueLength,
                                                  " characters (got ", raw_chars, ")"));
  }
  std::string_view value = Trim(raw);
  if (value.empty()) return InvalidField(value_field, "must not be empty");
  switch (point.type()) {
    case v1::CONTACT_EMAIL:
      return NormalizeEmail(value_field, value);
    case v1::CONTACT_PHONE:
      return NormalizePhone(field, value, point.default_region());
    case v1::CONTACT_DEVICE:
      return NormalizeDevice(value_field, value);
    case v1::CONTACT_POSTAL:
      return NormalizePostal(value_field, value);
    default:
      // Unreachable: every valid, specified type is handled above.
      return InvalidField(Sub(field, "type"), "unsupported contact type");
  }
}

std::string KeyedHash(std::string_view tenant_key, v1::ContactType type,
                      std::string_view normalized_value) {
  std::string message = absl::StrCat(Sv(ContactTypeName(type)), ":", Sv(normalized_value));
  return ToHex(HmacSha256(tenant_key, message));
}

std::string DeriveTenantKey(std::string_view master_secret, std::string_view tenant) {
  return HmacSha256(master_secret, absl::StrCat(Sv(kTenantKeyLabel), Sv(tenant)));
}

std::string_view ContactTypeName(v1::ContactType type) {
  switch (type) {
    case v1::CONTACT_EMAIL:
      return "email";
    case v1::CONTACT_PHONE:
      return "phone";
    case v1::CONTACT_DEVICE:
      return "device";
    case v1::CONTACT_POSTAL:
      return "postal";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::ContactRef> ToRef(std::string_view field, std::string_view tenant_key,
                                     const v1::ContactPoint& point) {
  ASSIGN_OR_RETURN(std::string normalized, Normalize(field, point));
  v1::ContactRef ref;
  ref.set_type(point.type());
  ref.set_hash(KeyedHash(tenant_key, point.type(), normalized));
  return ref;
}

absl::Status ValidateRef(std::string_view field, const v1::ContactRef& ref) {
  if (!v1::ContactType_IsValid(ref.type()) || ref.type() == v1::CONTACT_TYPE_UNSPECIFIED) {
    return InvalidField(absl::StrCat(Sv(field), ".type"), "must be a specified contact type");
  }
  bool hex = ref.hash().size() == 64;
  for (char c : ref.hash()) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) {
    return InvalidField(absl::StrCat(Sv(field), ".hash"), "must be 64 lower-case hex characters");
  }
  return absl::OkStatus();
}

}  // namespace assent::contact
