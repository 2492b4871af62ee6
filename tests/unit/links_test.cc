// The link tokens: version 1 (legacy one-click, still verified until expiry), version 2 (keyring,
// key ids, preference-center and one-click links), the keyring file, and link URLs.
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/digest.h"
#include "common/hex.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "links/keyring.h"
#include "links/token.h"
#include "links/v1_token.h"

namespace assent::links {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- unsubscribe tokens ------------------------------------------------------------------------

const absl::Time kExpiry = absl::FromUnixSeconds(1798675200);  // 2026-12-31T00:00:00Z
const std::string kHash = "3f1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5d6e7f8091a2b3c4d5e6f70";

UnsubscribeClaims SubjectClaims() {
  UnsubscribeClaims c;
  c.tenant = "acme";
  c.target.set_subject_id("customer-42");
  c.purpose_id = "newsletter";
  c.channel = v1::EMAIL;
  c.expire_time = kExpiry;
  return c;
}

UnsubscribeClaims ContactClaims() {
  UnsubscribeClaims c = SubjectClaims();
  c.target.mutable_contact()->set_type(v1::CONTACT_EMAIL);
  c.target.mutable_contact()->set_hash(kHash);
  return c;
}

std::string Key(std::string_view tenant = "acme") {
  return DeriveUnsubscribeKey("master-secret", tenant);
}

std::string Sign(const UnsubscribeClaims& claims, std::string_view key) {
  absl::StatusOr<std::string> token = SignUnsubscribeToken(key, claims);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : "";
}

void ExpectSameClaims(const UnsubscribeClaims& got, const UnsubscribeClaims& want) {
  EXPECT_EQ(got.tenant, want.tenant);
  EXPECT_EQ(got.target.SerializeAsString(), want.target.SerializeAsString());
  EXPECT_EQ(got.purpose_id, want.purpose_id);
  EXPECT_EQ(got.channel, want.channel);
  EXPECT_EQ(got.expire_time, want.expire_time);
}

TEST(UnsubscribeTokenTest, KeyIsHmacOfTheLabelledTenant) {
  // Computed independently: HMAC-SHA256("master-secret", "assent/unsubscribe-key/v1/acme").
  EXPECT_EQ(ToHex(Key()), "a149120babbe410c0c11624cd29f26c1ec6ba5e46195354513e21d13614168fd");
  EXPECT_NE(Key("acme"), Key("globex"));
}

TEST(UnsubscribeTokenTest, MatchesTheDocumentedFormat) {
  // Computed independently (Python hmac/base64) from the format in the header.
  EXPECT_EQ(Sign(SubjectClaims(), Key()),
            "v1.YWNtZQpzCmN1c3RvbWVyLTQyCm5ld3NsZXR0ZXIKMQoxNzk4Njc1MjAw."
            "0-b9lzivSfCFp53N2zjLZlhkO2T7YsOFqLZw5EO2lBE");
}

TEST(UnsubscribeTokenTest, RoundTripsASubjectTarget) {
  std::string token = Sign(SubjectClaims(), Key());
  EXPECT_LT(token.size(), 300u);
  absl::StatusOr<UnsubscribeClaims> got =
      VerifyUnsubscribeToken(Key(), token, kExpiry - absl::Hours(1));
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameClaims(*got, SubjectClaims());
}

TEST(UnsubscribeTokenTest, RoundTripsAContactTargetWithoutThePlainAddress) {
  UnsubscribeClaims claims = ContactClaims();
  claims.channel = v1::CHANNEL_UNSPECIFIED;
  std::string token = Sign(claims, Key());
  EXPECT_LT(token.size(), 300u);
  absl::StatusOr<UnsubscribeClaims> got =
      VerifyUnsubscribeToken(Key(), token, kExpiry - absl::Seconds(1));
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameClaims(*got, claims);
  EXPECT_EQ(got->target.contact().type(), v1::CONTACT_EMAIL);
}

TEST(UnsubscribeTokenTest, ParseReadsTheTenantBeforeTheKeyIsKnown) {
  std::string token = Sign(ContactClaims(), Key());
  absl::StatusOr<UnsubscribeClaims> unverified = ParseUnsubscribeToken(token);
  ASSERT_TRUE(unverified.ok()) << unverified.status();
  EXPECT_EQ(unverified->tenant, "acme");
  absl::StatusOr<UnsubscribeClaims> verified =
      VerifyUnsubscribeToken(Key(unverified->tenant), token, absl::UnixEpoch());
  EXPECT_TRUE(verified.ok()) << verified.status();
}

TEST(UnsubscribeTokenTest, TamperingAnySingleCharacterFails) {
  for (const UnsubscribeClaims& claims : {SubjectClaims(), ContactClaims()}) {
    const std::string token = Sign(claims, Key());
    for (size_t i = 0; i < token.size(); ++i) {
      // Two substitutes per position, one of them from the base64url alphabet, so a changed
      // character always stays well-formed at least once.
      for (char replacement : {'A', 'B', '-', '.'}) {
        if (token[i] == replacement) continue;
        std::string tampered = token;
        tampered[i] = replacement;
        absl::StatusOr<UnsubscribeClaims> got =
            VerifyUnsubscribeToken(Key(), tampered, absl::UnixEpoch());
        EXPECT_FALSE(got.ok()) << "position " << i << " -> '" << replacement << "': " << tampered;
      }
    }
  }
}

TEST(UnsubscribeTokenTest, ChangingTheMacsLastCharacterFailsEvenWhenItDecodesAlike) {
  // The last of 43 characters carries 4 bits; a lenient decoder maps several letters to the same
  // bytes. Every other letter must still be rejected.
  const std::string token = Sign(SubjectClaims(), Key());
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (char c : alphabet) {
    if (c == token.back()) continue;
    std::string tampered = token;
    tampered.back() = c;
    EXPECT_FALSE(VerifyUnsubscribeToken(Key(), tampered, absl::UnixEpoch()).ok()) << c;
  }
}

TEST(UnsubscribeTokenTest, ASignatureMismatchIsPermissionDenied) {
  std::string token = Sign(SubjectClaims(), Key());
  absl::StatusOr<UnsubscribeClaims> got =
      VerifyUnsubscribeToken("some other key", token, absl::UnixEpoch());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(got.status().message(), "token: signature does not match");
  EXPECT_FALSE(VerifyUnsubscribeToken("", token, absl::UnixEpoch()).ok());
}

TEST(UnsubscribeTokenTest, AnotherTenantsKeyFails) {
  // Signed with acme's key: globex's key does not verify it...
  std::string token = Sign(SubjectClaims(), Key("acme"));
  EXPECT_EQ(VerifyUnsubscribeToken(Key("globex"), token, absl::UnixEpoch()).status().code(),
            absl::StatusCode::kPermissionDenied);
  // ...and acme cannot mint a token for globex: the verifier looks up globex's key.
  UnsubscribeClaims forged = SubjectClaims();
  forged.tenant = "globex";
  std::string forged_token = Sign(forged, Key("acme"));
  absl::StatusOr<UnsubscribeClaims> unverified = ParseUnsubscribeToken(forged_token);
  ASSERT_TRUE(unverified.ok());
  EXPECT_EQ(VerifyUnsubscribeToken(Key(unverified->tenant), forged_token, absl::UnixEpoch())
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(UnsubscribeTokenTest, ExpiresAtTheExpiryTime) {
  std::string token = Sign(SubjectClaims(), Key());
  EXPECT_TRUE(VerifyUnsubscribeToken(Key(), token, kExpiry - absl::Seconds(1)).ok());
  for (absl::Time now : {kExpiry, kExpiry + absl::Seconds(1), kExpiry + absl::Hours(24 * 365)}) {
    absl::StatusOr<UnsubscribeClaims> got = VerifyUnsubscribeToken(Key(), token, now);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(got.status().message(), "token: expired at 2026-12-31T00:00:00Z");
  }
}

TEST(UnsubscribeTokenTest, ExpiryIsRoundedDownToAWholeSecond) {
  UnsubscribeClaims claims = SubjectClaims();
  claims.expire_time = kExpiry + absl::Milliseconds(999);
  std::string token = Sign(claims, Key());
  EXPECT_FALSE(VerifyUnsubscribeToken(Key(), token, kExpiry).ok());
  absl::StatusOr<UnsubscribeClaims> got = ParseUnsubscribeToken(token);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->expire_time, kExpiry);
}

// The message of a failed Verify, prefixed by its code, or "OK".
std::string VerifyError(std::string_view token) {
  absl::StatusOr<UnsubscribeClaims> got = VerifyUnsubscribeToken(Key(), token, absl::UnixEpoch());
  if (got.ok()) return "OK";
  return absl::StatusCodeToString(got.status().code()) + " " + std::string(got.status().message());
}

TEST(UnsubscribeTokenTest, MalformedTokensGiveNamedErrors) {
  const std::string good = Sign(SubjectClaims(), Key());
  const std::string payload = good.substr(3, good.rfind('.') - 3);
  const std::string mac = good.substr(good.rfind('.') + 1);
  EXPECT_EQ(VerifyError(""), "INVALID_ARGUMENT token: is empty");
  EXPECT_THAT(VerifyError("abcdef"), StartsWith("INVALID_ARGUMENT token: has no version prefix"));
  EXPECT_EQ(VerifyError("v2." + payload + "." + mac),
            "INVALID_ARGUMENT token: unknown version \"v2\" (expected \"v1\")");
  EXPECT_THAT(VerifyError("v1." + payload),
              StartsWith("INVALID_ARGUMENT token: must have three parts"));
  EXPECT_THAT(VerifyError(good + ".x"),
              StartsWith("INVALID_ARGUMENT token: must have three parts"));
  EXPECT_EQ(VerifyError("v1.." + mac), "INVALID_ARGUMENT token: payload is not unpadded base64url");
  EXPECT_EQ(VerifyError("v1.ab!d." + mac),
            "INVALID_ARGUMENT token: payload is not unpadded base64url");
  EXPECT_EQ(VerifyError("v1." + payload + "==." + mac),
            "INVALID_ARGUMENT token: payload is not unpadded base64url");
  EXPECT_EQ(VerifyError("v1." + payload + "." + mac.substr(1)),
            "INVALID_ARGUMENT token: signature is not unpadded base64url of 32 bytes");
  EXPECT_EQ(VerifyError("v1." + payload + "."),
            "INVALID_ARGUMENT token: signature is not unpadded base64url of 32 bytes");
  EXPECT_THAT(VerifyError(std::string(5000, 'a')),
              StartsWith("INVALID_ARGUMENT token: is too long"));
}

TEST(UnsubscribeTokenTest, ParseRejectsAWellSignedButMalformedPayload) {
  // Parse checks the payload's shape on its own, before any key is known.
  auto token_for = [](std::string_view payload) {
    return "v1." + absl::WebSafeBase64Escape(Sv(payload)) + "." + std::string(43, 'A');
  };
  auto parse_error = [](const std::string& token) {
    absl::StatusOr<UnsubscribeClaims> got = ParseUnsubscribeToken(token);
    return got.ok() ? std::string("OK") : std::string(got.status().message());
  };
  EXPECT_EQ(parse_error(token_for("acme\ns\nx\nnewsletter\n1\n100")), "OK");
  EXPECT_THAT(parse_error(token_for("acme\nx\nx\nnewsletter\n1\n100")), HasSubstr("target kind"));
  EXPECT_EQ(parse_error(token_for("acme\ns\nx\nnewsletter\n1")),
            "token: payload has 5 fields, expected 6");
  EXPECT_THAT(parse_error(token_for("ACME\ns\nx\nnewsletter\n1\n100")),
              StartsWith("token: payload field tenant: "));
  EXPECT_EQ(parse_error(token_for("acme\ns\nx\nnewsletter\n01\n100")),
            "token: payload field channel is not a number");
  EXPECT_EQ(parse_error(token_for("acme\ns\nx\nnewsletter\n1\n-5")),
            "token: payload field expiry is not a number of seconds");
  EXPECT_EQ(parse_error(token_for("acme\nc\nfax\n" + kHash + "\nnewsletter\n1\n100")),
            "token: payload field contact type is unknown");
}

TEST(UnsubscribeTokenTest, SigningRejectsControlCharactersAndBadClaims) {
  auto sign_error = [](const UnsubscribeClaims& claims, std::string_view key = "k") {
    absl::StatusOr<std::string> got = SignUnsubscribeToken(key, claims);
    if (got.ok()) return std::string("OK");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    std::string message(got.status().message());
    return message.substr(0, message.find(": "));
  };
  UnsubscribeClaims c = SubjectClaims();
  EXPECT_EQ(sign_error(c), "OK");
  EXPECT_EQ(sign_error(c, ""), "key");
  c.tenant = "ac\nme";
  EXPECT_EQ(sign_error(c), "claims.tenant");
  c = SubjectClaims();
  c.target.set_subject_id("cust\n42");
  EXPECT_EQ(sign_error(c), "claims.target.subject_id");
  c.target.set_subject_id(
      std::string("cust\0"
                  "42",
                  7));
  EXPECT_EQ(sign_error(c), "claims.target.subject_id");
  c.target.set_subject_id("cust\x7f");
  EXPECT_EQ(sign_error(c), "claims.target.subject_id");
  c = SubjectClaims();
  c.purpose_id = "news\x01letter";
  EXPECT_EQ(sign_error(c), "claims.purpose_id");
  c = SubjectClaims();
  c.target.Clear();
  EXPECT_EQ(sign_error(c), "claims.target");
  c = ContactClaims();
  c.target.mutable_contact()->set_hash("alice@example.com");
  EXPECT_EQ(sign_error(c), "claims.target.contact.hash");
  c = ContactClaims();
  c.target.mutable_contact()->set_type(v1::CONTACT_TYPE_UNSPECIFIED);
  EXPECT_EQ(sign_error(c), "claims.target.contact.type");
  c = SubjectClaims();
  c.channel = static_cast<v1::Channel>(99);
  EXPECT_EQ(sign_error(c), "claims.channel");
  c = SubjectClaims();
  c.expire_time = absl::InfiniteFuture();
  EXPECT_EQ(sign_error(c), "claims.expire_time");
}

TEST(FillUrlTest, SubstitutesOrAppendsTheToken) {
  EXPECT_EQ(FillUrl("https://u.example.com/u/{token}", "v1.a.b"), "https://u.example.com/u/v1.a.b");
  EXPECT_EQ(FillUrl("https://u.example.com/u", "v1.a.b"), "https://u.example.com/u?t=v1.a.b");
  EXPECT_EQ(FillUrl("https://u.example.com/u?lang=de", "v1.a.b"),
            "https://u.example.com/u?lang=de&t=v1.a.b");
  EXPECT_EQ(FillUrl("https://u.example.com/u?", "v1.a.b"), "https://u.example.com/u?t=v1.a.b");
  EXPECT_EQ(FillUrl("https://u.example.com/u#top", "v1.a.b"),
            "https://u.example.com/u?t=v1.a.b#top");
}

// --- version 2 links ---------------------------------------------------------------------------

constexpr char kSecretK1[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31

KeyRing Ring(std::string_view yaml) {
  absl::StatusOr<KeyRing> ring = KeyRing::Parse(yaml);
  EXPECT_TRUE(ring.ok()) << ring.status();
  return ring.ok() ? *std::move(ring) : KeyRing();
}

KeyRing RingK1() {
  return Ring(absl::StrCat("keys:\n  - id: k1\n    secret: \"", kSecretK1, "\"\n"));
}

KeyRing RingK1K2() {
  return Ring(absl::StrCat("keys:\n  - id: k1\n    secret: \"", kSecretK1,
                           "\"\n  - id: k2\n    secret: \"", std::string(44, 'Q'), "\"\n"));
}

LinkClaims PageClaims() {
  LinkClaims c;
  c.tenant = "acme";
  c.kind = v1::PREFERENCE_CENTER;
  c.target.set_subject_id("customer-42");
  c.expire_time = kExpiry;
  return c;
}

LinkClaims OneClickClaims() {
  LinkClaims c;
  c.tenant = "acme";
  c.kind = v1::ONE_CLICK_UNSUBSCRIBE;
  c.target.mutable_contact()->set_type(v1::CONTACT_EMAIL);
  c.target.mutable_contact()->set_hash(kHash);
  c.purpose_id = "newsletter";
  c.channel = v1::EMAIL;
  c.expire_time = kExpiry;
  return c;
}

std::string Mint(const KeyRing& ring, const LinkClaims& claims) {
  absl::StatusOr<std::string> token = MintLink(ring, claims);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : "";
}

std::string Outcome(const absl::StatusOr<LinkClaims>& got) {
  if (got.ok()) return "OK";
  return absl::StatusCodeToString(got.status().code()) + " " + std::string(got.status().message());
}

TEST(LinkTokenTest, MatchesTheDocumentedFormat) {
  // Computed independently (Python's hmac and base64) from the format in links/token.h.
  EXPECT_EQ(Mint(RingK1(), PageClaims()),
            "v2.k1.YWNtZQpwCnM6Y3VzdG9tZXItNDIKCjAKMTc5ODY3NTIwMA."
            "y8IlYz-PjGDpRUnUz0XnMT2yomNcsOWrpWoIOnvX4bg");
}

TEST(LinkTokenTest, RoundTripsBothKindsAndNamesTheKey) {
  for (const LinkClaims& want : {PageClaims(), OneClickClaims()}) {
    const std::string token = Mint(RingK1(), want);
    EXPECT_THAT(token, StartsWith("v2.k1."));
    EXPECT_EQ(token.find('@'), std::string::npos);
    absl::StatusOr<LinkClaims> got = VerifyLink(RingK1(), "", token, kExpiry - absl::Seconds(1));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->tenant, want.tenant);
    EXPECT_EQ(got->kind, want.kind);
    EXPECT_EQ(got->target.SerializeAsString(), want.target.SerializeAsString());
    EXPECT_EQ(got->purpose_id, want.purpose_id);
    EXPECT_EQ(got->channel, want.channel);
    EXPECT_EQ(got->expire_time, want.expire_time);
    EXPECT_EQ(got->key_id, "k1");
    EXPECT_EQ(UnverifiedTenant(token).value_or(""), "acme");
  }
}

TEST(LinkTokenTest, AnExportLinkCarriesItsSubjectAndAddressHash) {
  LinkClaims want = PageClaims();
  want.kind = v1::EXPORT;
  want.address.set_type(v1::CONTACT_EMAIL);
  want.address.set_hash(kHash);
  const std::string token = Mint(RingK1(), want);
  absl::StatusOr<LinkClaims> got = VerifyLink(RingK1(), "", token, kExpiry - absl::Seconds(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kind, v1::EXPORT);
  EXPECT_EQ(got->target.subject_id(), "customer-42");
  EXPECT_EQ(got->address.type(), v1::CONTACT_EMAIL);
  EXPECT_EQ(got->address.hash(), kHash);
  EXPECT_EQ(LinkUrl("https://p.example/", v1::EXPORT, token), "https://p.example/x/" + token);
  // An export link names a subject and an address, and nothing else.
  LinkClaims no_address = want;
  no_address.address.Clear();
  EXPECT_THAT(std::string(MintLink(RingK1(), no_address).status().message()),
              HasSubstr("claims.address"));
  LinkClaims contact = want;
  contact.target = OneClickClaims().target;
  EXPECT_THAT(std::string(MintLink(RingK1(), contact).status().message()),
              HasSubstr("claims.target"));
}

TEST(LinkTokenTest, RotationSignsWithTheLastKeyAndStillVerifiesOlderOnes) {
  const std::string old_token = Mint(RingK1(), PageClaims());
  const std::string new_token = Mint(RingK1K2(), PageClaims());
  EXPECT_THAT(new_token, StartsWith("v2.k2."));
  EXPECT_EQ(Outcome(VerifyLink(RingK1K2(), "", old_token, absl::UnixEpoch())), "OK");
  EXPECT_EQ(Outcome(VerifyLink(RingK1K2(), "", new_token, absl::UnixEpoch())), "OK");
  // A keyring that dropped (or never had) the key refuses its links.
  EXPECT_EQ(Outcome(VerifyLink(RingK1(), "", new_token, absl::UnixEpoch())),
            "PERMISSION_DENIED token: signed with a key this keyring does not hold");
}

// A new key listed staged everywhere first: links it would sign verify on every process before
// any process signs with it.
TEST(LinkTokenTest, AStagedKeyVerifiesButSignsNothing) {
  const KeyRing staged = Ring(absl::StrCat("keys:\n  - id: k1\n    secret: \"", kSecretK1,
                                           "\"\n  - id: k2\n    secret: \"", std::string(44, 'Q'),
                                           "\"\n    staged: true\n"));
  EXPECT_EQ(staged.Current().id, "k1");
  EXPECT_THAT(Mint(staged, PageClaims()), StartsWith("v2.k1."));
  const std::string new_token = Mint(RingK1K2(), PageClaims());
  EXPECT_EQ(Outcome(VerifyLink(staged, "", new_token, absl::UnixEpoch())), "OK");
  EXPECT_EQ(RingK1K2().Current().id, "k2");
  // Values that name no key (prefcenter's CSRF tokens) are checked against all of them.
  EXPECT_THAT(staged.VerifyingKeys("acme"),
              ElementsAre(*staged.VerifyingKey("k2", "acme"), *staged.VerifyingKey("k1", "acme")));
}

TEST(LinkTokenTest, KeysArePerTenant) {
  KeyRing ring = Ring(absl::StrCat("keys:\n  - id: shared\n    secret: \"", kSecretK1,
                                   "\"\n  - id: acme-own\n    secret: \"", std::string(44, 'Q'),
                                   "\"\n    tenant: acme\n"));
  LinkClaims globex = PageClaims();
  globex.tenant = "globex";
  EXPECT_THAT(Mint(ring, PageClaims()), StartsWith("v2.acme-own."));
  const std::string globex_token = Mint(ring, globex);
  EXPECT_THAT(globex_token, StartsWith("v2.shared."));
  // A globex token re-labelled with acme's own key id does not verify.
  std::string relabelled = globex_token;
  relabelled.replace(3, 6, "acme-own");
  EXPECT_THAT(Outcome(VerifyLink(ring, "", relabelled, absl::UnixEpoch())),
              StartsWith("PERMISSION_DENIED"));
  // A payload changed to name another tenant fails the MAC (that tenant's derived key differs).
  const std::string token = Mint(RingK1(), PageClaims());
  const size_t first = token.find('.', 3), last = token.rfind('.');
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token.substr(first + 1, last - first - 1), &payload));
  payload.replace(0, 4, "acmf");
  const std::string forged =
      token.substr(0, first + 1) + absl::WebSafeBase64Escape(payload) + token.substr(last);
  EXPECT_EQ(Outcome(VerifyLink(RingK1(), "", forged, absl::UnixEpoch())),
            "PERMISSION_DENIED token: signature does not match");
  EXPECT_FALSE(KeyRing::Parse("keys: []").ok());
}

TEST(LinkTokenTest, TamperingAnyCharacterFails) {
  for (const LinkClaims& claims : {PageClaims(), OneClickClaims()}) {
    const std::string token = Mint(RingK1(), claims);
    for (size_t i = 0; i < token.size(); ++i) {
      std::string tampered = token;
      tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
      EXPECT_NE(Outcome(VerifyLink(RingK1(), "", tampered, absl::UnixEpoch())), "OK") << i;
    }
    EXPECT_NE(
        Outcome(VerifyLink(RingK1(), "", token.substr(0, token.size() - 1), absl::UnixEpoch())),
        "OK");
  }
}

TEST(LinkTokenTest, ExpiresAtTheExpiryTime) {
  const std::string token = Mint(RingK1(), OneClickClaims());
  EXPECT_EQ(Outcome(VerifyLink(RingK1(), "", token, kExpiry - absl::Seconds(1))), "OK");
  EXPECT_EQ(Outcome(VerifyLink(RingK1(), "", token, kExpiry)),
            "FAILED_PRECONDITION token: expired at 2026-12-31T00:00:00Z");
}

TEST(LinkTokenTest, MalformedTokensGiveNamedErrors) {
  const KeyRing ring = RingK1();
  auto error = [&](std::string_view token) {
    return Outcome(VerifyLink(ring, "", token, absl::UnixEpoch()));
  };
  EXPECT_EQ(error(""), "INVALID_ARGUMENT token: is empty");
  EXPECT_THAT(error(std::string(3000, 'a')), StartsWith("INVALID_ARGUMENT token: is too long"));
  EXPECT_THAT(error("v3.k1.a.b"), StartsWith("INVALID_ARGUMENT token: unknown version \"v3\""));
  EXPECT_THAT(error("v2.k1.abcd"), StartsWith("INVALID_ARGUMENT token: must have four parts"));
  EXPECT_THAT(error("v2..YWNt." + std::string(43, 'A')),
              StartsWith("INVALID_ARGUMENT token: key id"));
  EXPECT_EQ(error("v2.k1.ab!d." + std::string(43, 'A')),
            "INVALID_ARGUMENT token: payload is not unpadded base64url");
  EXPECT_EQ(error("v2.k1.YWNtZQ.AAAA"),
            "INVALID_ARGUMENT token: signature is not unpadded base64url of 32 bytes");
  auto with_payload = [&](std::string_view payload) {
    return error("v2.k1." + absl::WebSafeBase64Escape(Sv(payload)) + "." + std::string(43, 'A'));
  };
  EXPECT_EQ(with_payload("acme\np\ns:x\n\n0"),
            "INVALID_ARGUMENT token: payload has 5 fields, expected 6");
  EXPECT_EQ(with_payload("acme\nq\ns:x\n\n0\n100"),
            "INVALID_ARGUMENT token: payload field kind must be \"p\", \"u\", \"c\" or \"x\"");
  EXPECT_THAT(with_payload("acme\np\nx:x\n\n0\n100"), HasSubstr("must start with"));
  EXPECT_THAT(with_payload("acme\np\ns:x\nnewsletter\n0\n100"), HasSubstr("names a purpose"));
  EXPECT_THAT(with_payload("acme\nu\ns:x\n\n1\n100"), HasSubstr("payload field purpose_id"));
  EXPECT_THAT(with_payload("acme\nu\nc:fax:" + kHash + "\nn\n1\n100"), HasSubstr("contact type"));
  EXPECT_THAT(with_payload("acme\nu\nc:email:abc\nn\n1\n100"), HasSubstr("payload field hash"));
  EXPECT_THAT(with_payload("acme\nu\ns:x\nn\n01\n100"), HasSubstr("channel is not a number"));
  // Well-formed but signed by nobody: the signature is what fails.
  EXPECT_EQ(with_payload("acme\np\ns:x\n\n0\n100"),
            "PERMISSION_DENIED token: signature does not match");
}

TEST(LinkTokenTest, VersionOneTokensVerifyOnlyWithTheLegacySecret) {
  UnsubscribeClaims old = SubjectClaims();
  const std::string token = Sign(old, DeriveUnsubscribeKey("master-secret", "acme"));
  absl::StatusOr<LinkClaims> got = VerifyLink(RingK1(), "master-secret", token, absl::UnixEpoch());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kind, v1::ONE_CLICK_UNSUBSCRIBE);
  EXPECT_EQ(got->key_id, "v1");
  EXPECT_EQ(got->target.subject_id(), "customer-42");
  EXPECT_EQ(got->purpose_id, "newsletter");
  EXPECT_EQ(got->channel, v1::EMAIL);
  EXPECT_EQ(UnverifiedTenant(token).value_or(""), "acme");
  EXPECT_THAT(Outcome(VerifyLink(RingK1(), "", token, absl::UnixEpoch())),
              StartsWith("PERMISSION_DENIED"));
  EXPECT_THAT(Outcome(VerifyLink(RingK1(), "other-secret", token, absl::UnixEpoch())),
              StartsWith("PERMISSION_DENIED"));
  EXPECT_THAT(Outcome(VerifyLink(RingK1(), "master-secret", token, kExpiry)),
              StartsWith("FAILED_PRECONDITION token: expired"));
}

TEST(LinkTokenTest, MintingRefusesClaimsOutsideTheFormat) {
  auto mint_error = [](const KeyRing& ring, const LinkClaims& claims) {
    absl::StatusOr<std::string> got = MintLink(ring, claims);
    if (got.ok()) return std::string("OK");
    std::string message(got.status().message());
    return absl::StatusCodeToString(got.status().code()) + " " +
           message.substr(0, message.find(": "));
  };
  LinkClaims c = PageClaims();
  c.purpose_id = "newsletter";
  EXPECT_EQ(mint_error(RingK1(), c), "INVALID_ARGUMENT claims.purpose_id");
  c = OneClickClaims();
  c.purpose_id.clear();
  EXPECT_EQ(mint_error(RingK1(), c), "INVALID_ARGUMENT claims.purpose_id");
  c = OneClickClaims();
  c.target.mutable_contact()->set_hash("ann@example.com");
  EXPECT_EQ(mint_error(RingK1(), c), "INVALID_ARGUMENT claims.target.contact.hash");
  c = PageClaims();
  c.kind = v1::LINK_KIND_UNSPECIFIED;
  EXPECT_EQ(mint_error(RingK1(), c), "INVALID_ARGUMENT claims.kind");
  c = PageClaims();
  c.target.set_subject_id("bad\nid");
  EXPECT_EQ(mint_error(RingK1(), c), "INVALID_ARGUMENT claims.target.subject_id");
  KeyRing acme_only =
      Ring(absl::StrCat("keys:\n  - id: a\n    secret: \"", kSecretK1, "\"\n    tenant: acme\n"));
  c = PageClaims();
  c.tenant = "globex";
  EXPECT_EQ(mint_error(acme_only, c), "FAILED_PRECONDITION links");
}

TEST(KeyRingTest, RefusesBadFilesNamingTheFieldAndNeverTheSecret) {
  auto error = [](std::string_view yaml) {
    absl::StatusOr<KeyRing> got = KeyRing::Parse(yaml);
    return got.ok() ? std::string("OK") : std::string(got.status().message());
  };
  EXPECT_EQ(error(absl::StrCat("keys:\n  - id: k1\n    secret: ", kSecretK1)), "OK");
  EXPECT_EQ(error("nothing: here"), "keys: must be a list of keys");
  EXPECT_EQ(error("keys: []"), "keys: must hold at least one key");
  EXPECT_EQ(error("keys:\n  - secret: abc"), "keys[0].id: is required");
  EXPECT_EQ(error(absl::StrCat("keys:\n  - id: \"a b\"\n    secret: ", kSecretK1)),
            "keys[0].id: may hold only A-Z a-z 0-9 _ -");
  EXPECT_EQ(error("keys:\n  - id: k1\n    secret: c2hvcnQtc2VjcmV0"),
            "keys[0].secret: must decode to at least 32 bytes");
  const std::string not_base64 = "keys:\n  - id: k1\n    secret: \"sekrit!!sekrit!!\"";
  EXPECT_EQ(error(not_base64), "keys[0].secret: is not base64");
  EXPECT_EQ(error(absl::StrCat("keys:\n  - id: k1\n    secret: ", kSecretK1, "\n  - id: k1\n",
                               "    secret: ", kSecretK1)),
            "keys[1].id: duplicates key id \"k1\"");
  EXPECT_EQ(error(absl::StrCat("keys:\n  - id: k1\n    secret: ", kSecretK1, "\n    tenant: ACME")),
            "keys[0].tenant: must match [a-z0-9][a-z0-9-]{0,62} ('A' at offset 0)");
  EXPECT_EQ(error(absl::StrCat("keys:\n  - id: k1\n    secret: ", kSecretK1, "\n    staged: yes")),
            "keys[0].staged: must be true or false");
  EXPECT_EQ(error(absl::StrCat("keys:\n  - id: k1\n    secret: ", kSecretK1, "\n    staged: true")),
            "keys: must hold at least one key that is not staged");
  const std::string broken = "keys: [ {id: k1, secret: \"sekrit-value\" ";
  EXPECT_THAT(error(broken), StartsWith("keyring: is not valid YAML"));
  EXPECT_EQ(error(broken).find("sekrit"), std::string::npos);
  EXPECT_EQ(KeyRing::Load("/nonexistent/keyring.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(LinkUrlTest, JoinsTheBaseAndThePath) {
  EXPECT_EQ(LinkUrl("https://prefs.example.com", v1::PREFERENCE_CENTER, "v2.k.a.b"),
            "https://prefs.example.com/p/v2.k.a.b");
  EXPECT_EQ(LinkUrl("https://prefs.example.com:8443/acme/", v1::ONE_CLICK_UNSUBSCRIBE, "t"),
            "https://prefs.example.com:8443/acme/u/t");
  EXPECT_EQ(LinkUrl("https://prefs.example.com", v1::CONFIRMATION, "t"),
            "https://prefs.example.com/c/t");
}

LinkClaims ConfirmClaims() {
  LinkClaims c;
  c.tenant = "acme";
  c.kind = v1::CONFIRMATION;
  c.target.mutable_contact()->set_type(v1::CONTACT_EMAIL);
  c.target.mutable_contact()->set_hash(kHash);
  c.confirm_sequence = 17;
  c.expire_time = kExpiry;
  return c;
}

TEST(LinkTokenTest, ConfirmationLinksCarryTheSequence) {
  const std::string token = Mint(RingK1(), ConfirmClaims());
  absl::StatusOr<LinkClaims> got = VerifyLink(RingK1(), "", token, kExpiry - absl::Seconds(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kind, v1::CONFIRMATION);
  EXPECT_EQ(got->confirm_sequence, 17u);
  EXPECT_EQ(got->target.contact().hash(), kHash);
  EXPECT_EQ(got->purpose_id, "");
  EXPECT_EQ(Outcome(VerifyLink(RingK1(), "", token, kExpiry)),
            "FAILED_PRECONDITION token: expired at 2026-12-31T00:00:00Z");
}

TEST(LinkTokenTest, ConfirmationLinksNeedASequenceAndNoPurpose) {
  LinkClaims no_sequence = ConfirmClaims();
  no_sequence.confirm_sequence = 0;
  EXPECT_THAT(MintLink(RingK1(), no_sequence).status().message(),
              HasSubstr("claims.confirm_sequence"));
  LinkClaims purpose = ConfirmClaims();
  purpose.purpose_id = "newsletter";
  EXPECT_EQ(MintLink(RingK1(), purpose).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace assent::links
