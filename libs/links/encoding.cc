#include "links/encoding.h"

#include <openssl/crypto.h>

#include "absl/strings/escaping.h"
#include "common/errors.h"
#include "common/strings.h"
#include "contact/normalize.h"

namespace assent::links {
namespace {

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

std::string Base64Url(std::string_view bytes) { return absl::WebSafeBase64Escape(Sv(bytes)); }

bool DecodeBase64Url(std::string_view text, std::string* out) {
  // abseil's decoder alone would accept padding and non-zero unused bits.
  if (text.size() % 4 == 1) return false;
  for (char c : text) {
    if (!IsBase64UrlChar(c)) return false;
  }
  if (!absl::WebSafeBase64Unescape(Sv(text), out)) return false;
  return Base64Url(*out) == text;
}

bool IsCanonicalDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return s.size() == 1 || s.front() != '0';
}

absl::StatusOr<v1::ContactType> ContactTypeFromName(std::string_view name) {
  for (v1::ContactType type :
       {v1::CONTACT_EMAIL, v1::CONTACT_PHONE, v1::CONTACT_DEVICE, v1::CONTACT_POSTAL}) {
    if (contact::ContactTypeName(type) == name) return type;
  }
  return absl::InvalidArgumentError("unknown contact type");
}

absl::Status CheckHash(std::string_view field, std::string_view hash) {
  v1::ContactRef ref;
  ref.set_type(v1::CONTACT_EMAIL);
  ref.set_hash(std::string(hash));
  // The keyed-hash syntax is contact::ValidateRef's; only the field name differs.
  if (!contact::ValidateRef("", ref).ok()) {
    return InvalidField(field, "must be 64 lower-case hex characters");
  }
  return absl::OkStatus();
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace assent::links
