#include "contact/normalize.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/hex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace assent::contact {
namespace {

using ::testing::HasSubstr;
using Strings = std::vector<std::string>;

v1::ContactPoint Point(v1::ContactType type, std::string value, std::string region = "") {
  v1::ContactPoint p;
  p.set_type(type);
  p.set_value(std::move(value));
  p.set_default_region(std::move(region));
  return p;
}

// The normalised value, or "error <message>" so a failing expectation shows why.
std::string Norm(v1::ContactType type, std::string value, std::string region = "") {
  absl::StatusOr<std::string> got = Normalize("contact", Point(type, value, region));
  if (!got.ok()) return "error " + std::string(got.status().message());
  return *got;
}

// The field an INVALID_ARGUMENT names ("<field>: <why>"), or what came back instead.
std::string ErrorField(const v1::ContactPoint& point, std::string_view field = "contact") {
  absl::StatusOr<std::string> got = Normalize(field, point);
  if (got.ok()) return "OK: " + *got;
  if (got.status().code() != absl::StatusCode::kInvalidArgument) {
    return absl::StatusCodeToString(got.status().code());
  }
  std::string message(got.status().message());
  return message.substr(0, message.find(": "));
}

std::string ErrorMessage(const v1::ContactPoint& point) {
  absl::StatusOr<std::string> got = Normalize("contact", point);
  return got.ok() ? "OK: " + *got : std::string(got.status().message());
}

// --- email -------------------------------------------------------------------------------------

TEST(NormalizeEmailTest, TrimsAndLowerCasesTheDomainOnly) {
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "  Alice@Example.COM "), "Alice@example.com");
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "\tfirst.last+tag@Mail.Example.co.uk\r\n"),
            "first.last+tag@mail.example.co.uk");
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "a@b.co"), "a@b.co");
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "o'brien!#$%&*/=?^_`{|}~-x@example.com"),
            "o'brien!#$%&*/=?^_`{|}~-x@example.com");
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "user@123.example"), "user@123.example");
}

TEST(NormalizeEmailTest, ConvertsInternationalDomainsToALabels) {
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL,
                 "user@b\xC3\xBC"
                 "cher.de"),
            "user@xn--bcher-kva.de");
  // Upper-case non-ASCII letters are mapped by UTS #46.
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL,
                 "user@B\xC3\x9C"
                 "CHER.DE"),
            "user@xn--bcher-kva.de");
  // Non-transitional: sharp s is kept, not mapped to "ss".
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "x@fa\xC3\x9F.de"), "x@xn--fa-hia.de");
  // NFC: u + combining diaeresis is the same domain as the precomposed form.
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL,
                 "user@bu\xCC\x88"
                 "cher.de"),
            "user@xn--bcher-kva.de");
  // An A-label given directly stays as it is.
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "user@XN--BCHER-KVA.de"), "user@xn--bcher-kva.de");
}

TEST(NormalizeEmailTest, EquivalentSpellingsHashAlike) {
  const std::string key = "k";
  absl::StatusOr<v1::ContactRef> a = ToRef("contact", key,
                                           Point(v1::CONTACT_EMAIL,
                                                 " user@B\xC3\x9C"
                                                 "CHER.de"));
  absl::StatusOr<v1::ContactRef> b =
      ToRef("contact", key, Point(v1::CONTACT_EMAIL, "user@xn--bcher-kva.de"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->hash(), b->hash());
}

TEST(NormalizeEmailTest, RejectsMalformedAddresses) {
  struct Case {
    std::string value;
    std::string message;
  };
  const Case cases[] = {
      {"alice.example.com", "contact.value: must contain '@'"},
      {"alice@@example.com", "contact.value: must contain exactly one '@'"},
      {"a@b@example.com", "contact.value: must contain exactly one '@'"},
      {"@example.com", "contact.value: local part (before '@') must not be empty"},
      {"alice@", "contact.value: domain (after '@') must not be empty"},
      {"alice@localhost", "contact.value: domain must have at least two labels (like example.com)"},
      {std::string(65, 'a') + "@example.com",
       "contact.value: local part must be at most 64 characters (got 65)"},
      {"al ice@example.com",
       "contact.value: local part must not contain a space (quoted and internationalised local "
       "parts are not supported)"},
      {"alice@exa mple.com", "contact.value: domain must not contain a space"},
      {"alice@example..com", "contact.value: domain labels must be 1..63 characters long"},
      {"alice@.example.com", "contact.value: domain labels must be 1..63 characters long"},
      {"alice@example.com.", "contact.value: domain labels must be 1..63 characters long"},
      {"a..b@example.com",
       "contact.value: local part must not start or end with '.' or contain \"..\""},
      {".alice@example.com",
       "contact.value: local part must not start or end with '.' or contain \"..\""},
      {"alice.@example.com",
       "contact.value: local part must not start or end with '.' or contain \"..\""},
      {"\"alice\"@example.com",
       "contact.value: local part must not contain '\"' (quoted and internationalised local "
       "parts are not supported)"},
      {"j\xC3\xBCrgen@example.com",
       "contact.value: local part must not contain a non-ASCII character (quoted and "
       "internationalised local parts are not supported)"},
      {"alice@[192.0.2.1]", "contact.value: domain must not contain '['"},
      {"alice@exa_mple.com", "contact.value: domain must not contain '_'"},
      {"alice@_dmarc.example.com", "contact.value: domain must not contain '_'"},
      {"alice@192.0.2.1", "contact.value: domain must not end in an all-numeric label"},
      {std::string("alice@exam\0ple.com", 18),
       "contact.value: domain must not contain a control character (0x00)"},
      {"Alice <alice@example.com>",
       "contact.value: local part must not contain a space (quoted and internationalised local "
       "parts are not supported)"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrorMessage(Point(v1::CONTACT_EMAIL, c.value)), c.message) << c.value;
  }
}

TEST(NormalizeEmailTest, RejectsOverlongLabelsAndAddresses) {
  std::string label63(63, 'd');
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "a@" + label63 + ".com"), "a@" + label63 + ".com");
  EXPECT_EQ(ErrorField(Point(v1::CONTACT_EMAIL, "a@" + label63 + "d.com")), "contact.value");
  // 64 + 1 + 189 = 254 octets is the longest address; one more is refused.
  std::string local(64, 'l');
  std::string domain = label63 + "." + label63 + "." + std::string(59, 'd') + ".c";  // 189
  ASSERT_EQ(domain.size(), 189u);
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, local + "@" + domain), local + "@" + domain);
  EXPECT_EQ(ErrorMessage(Point(v1::CONTACT_EMAIL, local + "@" + domain + "c")),
            "contact.value: must be at most 254 octets once normalised (got 255)");
}

TEST(NormalizeEmailTest, RejectsInvalidDomainNames) {
  struct Case {
    std::string value;
    std::string why;
  };
  // libidn2 explains these; its wording is kept, so only the gist is asserted.
  const Case cases[] = {
      {"alice@-example.com", "hyphen"},
      {"alice@example-.com", "hyphen"},
      {"alice@ab--cd.com", "hyphen"},
      {"alice@xn--zz.de", "punycode"},
      {"alice@b\xC3.de", "domain is not a valid domain name"},
  };
  for (const Case& c : cases) {
    std::string message = ErrorMessage(Point(v1::CONTACT_EMAIL, c.value));
    EXPECT_THAT(message, HasSubstr("contact.value: ")) << c.value;
    EXPECT_THAT(message, HasSubstr(c.why)) << c.value;
  }
}

TEST(NormalizeEmailTest, FallsBackToTransitionalProcessing) {
  // IDNA 2008 disallows symbols such as U+2615; UTS #46 transitional processing (IDNA 2003
  // compatibility, as curl does) still converts them, and the A-label form agrees.
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "a@\xE2\x98\x95.example"), "a@xn--53h.example");
  EXPECT_EQ(Norm(v1::CONTACT_EMAIL, "a@xn--53h.example"), "a@xn--53h.example");
}

// --- phone -------------------------------------------------------------------------------------

TEST(NormalizePhoneTest, FormatsE164) {
  EXPECT_EQ(Norm(v1::CONTACT_PHONE, "+49 151 12345678"), "+4915112345678");
  EXPECT_EQ(Norm(v1::CONTACT_PHONE, " +1 650-253-0000 "), "+16502530000");
  EXPECT_EQ(Norm(v1::CONTACT_PHONE, "(650) 253-0000", "US"), "+16502530000");
  EXPECT_EQ(Norm(v1::CONTACT_PHONE, "650.253.0000", "us"), "+16502530000");
  EXPECT_EQ(Norm(v1::CONTACT_PHONE, "020 7946 0958", "GB"), "+442079460958");
  EXPECT_EQ(Norm(v1::CONTACT_PHONE, "0151 12345678", "DE"), "+4915112345678");
  // A number with its country code ignores the default region.
  EXPECT_EQ(Norm(v1::CONTACT_PHONE, "+44 20 7946 0958", "US"), "+442079460958");
  EXPECT_EQ(Norm(v1::CONTACT_PHONE, "tel:+1-650-253-0000"), "+16502530000");
}

TEST(NormalizePhoneTest, RejectsBadNumbers) {
  struct Case {
    std::string value;
    std::string region;
    std::string message;
  };
  const Case cases[] = {
      {"650 253 0000", "",
       "contact.value: must start with '+' and a country code, or give default_region"},
      {"call me maybe", "US", "contact.value: is not a phone number"},
      {"+", "", "contact.value: is not a phone number"},
      {"+1 2", "", "contact.value: is not a phone number"},
      {"+1 555-0100", "", "contact.value: is not a valid phone number (no such number range)"},
      {"+49 151 1234567890123456789", "", "contact.value: is too long to be a phone number"},
      {"+999 123456789", "", "contact.value: has an unknown country code"},
      {"+999 123456789", "US", "contact.value: has an unknown country code"},
      {"0049 151 12345678", "",
       "contact.value: must start with '+' and a country code, or give default_region"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrorMessage(Point(v1::CONTACT_PHONE, c.value, c.region)), c.message) << c.value;
  }
}

TEST(NormalizePhoneTest, RejectsUnknownRegions) {
  for (const std::string& region : Strings{"ZZ", "USA", "001", "U", "EU"}) {
    EXPECT_EQ(ErrorField(Point(v1::CONTACT_PHONE, "+16502530000", region)),
              "contact.default_region")
        << region;
  }
  EXPECT_THAT(ErrorMessage(Point(v1::CONTACT_PHONE, "6502530000", "ZZ")), HasSubstr("region code"));
}

// --- device and postal -------------------------------------------------------------------------

TEST(NormalizeDeviceTest, TrimsAndKeepsCase) {
  EXPECT_EQ(Norm(v1::CONTACT_DEVICE, "  fcm:dGVzdA_Tok-EN:123 \n"), "fcm:dGVzdA_Tok-EN:123");
  EXPECT_EQ(Norm(v1::CONTACT_DEVICE, std::string(512, 'd')), std::string(512, 'd'));
}

TEST(NormalizeDeviceTest, RejectsUnprintable) {
  EXPECT_EQ(ErrorMessage(Point(v1::CONTACT_DEVICE, "tok en")),
            "contact.value: must contain only printable ASCII characters (0x21..0x7E), not a "
            "space");
  EXPECT_EQ(ErrorField(Point(v1::CONTACT_DEVICE, "t\xC3\xB6ken")), "contact.value");
  EXPECT_EQ(ErrorField(Point(v1::CONTACT_DEVICE, std::string(513, 'd'))), "contact.value");
}

TEST(NormalizePostalTest, CollapsesWhitespaceAndUpperCases) {
  EXPECT_EQ(Norm(v1::CONTACT_POSTAL, "  1600  Amphitheatre\tParkway\n\n Mountain View, ca  "),
            "1600 AMPHITHEATRE PARKWAY MOUNTAIN VIEW, CA");
  // Only ASCII is upper-cased; other letters are kept as given.
  EXPECT_EQ(Norm(v1::CONTACT_POSTAL,
                 "Hauptstra\xC3\x9F"
                 "e 1, M\xC3\xBCnchen"),
            "HAUPTSTRA\xC3\x9F"
            "E 1, M\xC3\xBCNCHEN");
}

TEST(NormalizePostalTest, RejectsControlCharactersAndOverlong) {
  EXPECT_EQ(ErrorMessage(Point(v1::CONTACT_POSTAL, "Main St\x01")),
            "contact.value: must not contain a control character (0x01)");
  std::string long_address;
  for (int i = 0; i < 257; ++i) long_address += "\xC3\x9F";  // 257 characters, 514 bytes
  EXPECT_EQ(ErrorMessage(Point(v1::CONTACT_POSTAL, long_address)),
            "contact.value: must be at most 512 bytes once normalised (got 514)");
}

// --- common checks -----------------------------------------------------------------------------

TEST(NormalizeTest, RequiresAKnownType) {
  EXPECT_EQ(ErrorMessage(Point(v1::CONTACT_TYPE_UNSPECIFIED, "a@example.com")),
            "contact.type: must be specified (not CONTACT_TYPE_UNSPECIFIED)");
  EXPECT_EQ(ErrorMessage(Point(static_cast<v1::ContactType>(9), "a@example.com")),
            "contact.type: unknown contact type value 9");
}

TEST(NormalizeTest, RequiresAValueOfAtMost512Characters) {
  for (v1::ContactType type :
       {v1::CONTACT_EMAIL, v1::CONTACT_PHONE, v1::CONTACT_DEVICE, v1::CONTACT_POSTAL}) {
    EXPECT_EQ(ErrorMessage(Point(type, "")), "contact.value: must not be empty") << type;
    EXPECT_EQ(ErrorMessage(Point(type, " \t\n")), "contact.value: must not be empty") << type;
    EXPECT_EQ(ErrorMessage(Point(type, std::string(513, 'x'))),
              "contact.value: must be at most 512 characters (got 513)")
        << type;
  }
}

TEST(NormalizeTest, FieldPathIsTheCallers) {
  EXPECT_EQ(ErrorField(Point(v1::CONTACT_EMAIL, "nope"), "target.contact_point"),
            "target.contact_point.value");
  EXPECT_EQ(ErrorField(Point(v1::CONTACT_PHONE, "+1", "XX"), "target.contact_point"),
            "target.contact_point.default_region");
  EXPECT_EQ(ErrorField(Point(v1::CONTACT_EMAIL, "nope"), ""), "value");
}

// --- hashing -----------------------------------------------------------------------------------

// Expected values computed independently, e.g.
//   printf 'email:Alice@example.com' | openssl dgst -sha256 -hmac 'tenant-secret'
TEST(KeyedHashTest, KnownAnswers) {
  EXPECT_EQ(KeyedHash("tenant-secret", v1::CONTACT_EMAIL, "Alice@example.com"),
            "51d2e466e95a49f26a5629587cfe57a2cd45dbbc54740424a4d4cb1f28ab420b");
  EXPECT_EQ(KeyedHash("tenant-secret", v1::CONTACT_PHONE, "+4915112345678"),
            "d2dabda7128e700fe4fc808d8b80a548edf03ad4c99fde74f484959430cfc750");
  EXPECT_EQ(KeyedHash("", v1::CONTACT_EMAIL, "a@b.co"),
            "c1eaa4c44f8d239ee33f38cf609fbbe11c38ef0fc25d7caf15d7b9cf6f57cfb1");
}

TEST(KeyedHashTest, TypeAndKeySeparateHashes) {
  std::string email = KeyedHash("k", v1::CONTACT_EMAIL, "12345");
  EXPECT_NE(email, KeyedHash("k", v1::CONTACT_DEVICE, "12345"));
  EXPECT_NE(email, KeyedHash("k2", v1::CONTACT_EMAIL, "12345"));
  EXPECT_EQ(email, KeyedHash("k", v1::CONTACT_EMAIL, "12345"));
  EXPECT_EQ(email.size(), 64u);
  EXPECT_EQ(email.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(DeriveTenantKeyTest, KnownAnswerAndPerTenant) {
  // printf 'assent/contact-key/v1/acme' | openssl dgst -sha256 -hmac 'master'
  std::string acme = DeriveTenantKey("master", "acme");
  EXPECT_EQ(ToHex(acme), "16364ae12ee320f8725988a718398358a5dbc11bac9fd1499e764101a75cfca7");
  EXPECT_NE(acme, DeriveTenantKey("master", "acme2"));
  EXPECT_NE(acme, DeriveTenantKey("other-master", "acme"));
  // A sender given the derived key computes the same hash as Assent:
  //   ... | openssl dgst -sha256 -mac HMAC -macopt hexkey:<acme key>
  EXPECT_EQ(KeyedHash(acme, v1::CONTACT_EMAIL, "Alice@example.com"),
            "eaad05946bf91a08a93dfd603c3c77151dd68806ec866d23dc09770058a3438d");
}

TEST(ContactTypeNameTest, Names) {
  EXPECT_EQ(ContactTypeName(v1::CONTACT_EMAIL), "email");
  EXPECT_EQ(ContactTypeName(v1::CONTACT_PHONE), "phone");
  EXPECT_EQ(ContactTypeName(v1::CONTACT_DEVICE), "device");
  EXPECT_EQ(ContactTypeName(v1::CONTACT_POSTAL), "postal");
  EXPECT_EQ(ContactTypeName(v1::CONTACT_TYPE_UNSPECIFIED), "unspecified");
}

TEST(ToRefTest, NormalizesThenHashes) {
  absl::StatusOr<v1::ContactRef> ref =
      ToRef("contact", "tenant-secret", Point(v1::CONTACT_EMAIL, "  Alice@EXAMPLE.com"));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->type(), v1::CONTACT_EMAIL);
  EXPECT_EQ(ref->hash(), "51d2e466e95a49f26a5629587cfe57a2cd45dbbc54740424a4d4cb1f28ab420b");

  absl::StatusOr<v1::ContactRef> phone =
      ToRef("contact", "tenant-secret", Point(v1::CONTACT_PHONE, "0151 1234 5678", "de"));
  ASSERT_TRUE(phone.ok()) << phone.status();
  EXPECT_EQ(phone->type(), v1::CONTACT_PHONE);
  EXPECT_EQ(phone->hash(), "d2dabda7128e700fe4fc808d8b80a548edf03ad4c99fde74f484959430cfc750");
}

TEST(ToRefTest, PropagatesErrors) {
  absl::StatusOr<v1::ContactRef> ref =
      ToRef("decisions[0].target.contact_point", "k", Point(v1::CONTACT_EMAIL, "no-at-sign"));
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ref.status().message(), "decisions[0].target.contact_point.value: must contain '@'");
}

}  // namespace
}  // namespace assent::contact
