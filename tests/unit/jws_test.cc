// Ed25519, compact JWS and the receipt keyring (crypto/jws.h, crypto/signing_keys.h).
#include "crypto/jws.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "crypto/signing_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace assent::crypto {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// RFC 8037 Appendix A.1: the Ed25519 private key d and public key x.
constexpr std::string_view kRfcD = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kRfcX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
// Appendix A.4: the JWS of "Example of Ed25519 signing" under header {"alg":"EdDSA"}.
constexpr std::string_view kRfcJws =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-"
    "09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

std::string Decode(std::string_view b64url) {
  std::string out;
  EXPECT_TRUE(Base64UrlDecode(b64url, &out)) << b64url;
  return out;
}

// The PKCS #8 PEM of an Ed25519 seed (the fixed DER prefix of RFC 8410 and the 32 bytes).
std::string PemFromSeed(std::string_view seed) {
  std::string der = absl::HexStringToBytes("302e020100300506032b657004220420");
  der.append(seed);
  return absl::StrCat("-----BEGIN PRIVATE KEY-----\n", absl::Base64Escape(der),
                      "\n-----END PRIVATE KEY-----\n");
}

TEST(JwsTest, SignsRfc8037Vector) {
  ASSERT_OK_AND_ASSIGN(Ed25519Key key, Ed25519Key::FromPrivateSeed(Decode(kRfcD)));
  EXPECT_EQ(Base64UrlEncode(key.PublicBytes()), kRfcX);
  ASSERT_OK_AND_ASSIGN(std::string jws,
                       SignCompactJws(key, R"({"alg":"EdDSA"})", "Example of Ed25519 signing"));
  EXPECT_EQ(jws, kRfcJws);
}

TEST(JwsTest, VerifiesRfc8037VectorWithThePublicKeyAlone) {
  ASSERT_OK_AND_ASSIGN(Ed25519Key key, Ed25519Key::FromPublicBytes(Decode(kRfcX)));
  EXPECT_FALSE(key.has_private());
  ASSERT_OK_AND_ASSIGN(ParsedJws parsed, ParseCompactJws("jws", kRfcJws));
  EXPECT_EQ(parsed.alg, "EdDSA");
  EXPECT_EQ(parsed.payload, "Example of Ed25519 signing");
  EXPECT_OK(VerifyParsedJws(parsed, key));
  EXPECT_THAT(key.Sign("x").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("public")));
}

TEST(JwsTest, RefusesTamperedPayloadAndOtherKey) {
  ASSERT_OK_AND_ASSIGN(Ed25519Key key, Ed25519Key::FromPublicBytes(Decode(kRfcX)));
  std::string tampered(kRfcJws);
  tampered.replace(tampered.find('.') + 1, 4, Base64UrlEncode("Exbm").substr(0, 4));
  ASSERT_OK_AND_ASSIGN(ParsedJws parsed, ParseCompactJws("jws", tampered));
  EXPECT_THAT(VerifyParsedJws(parsed, key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
  ASSERT_OK_AND_ASSIGN(Ed25519Key other, Ed25519Key::FromPrivateSeed(std::string(32, '\x07')));
  ASSERT_OK_AND_ASSIGN(ParsedJws good, ParseCompactJws("jws", kRfcJws));
  EXPECT_THAT(VerifyParsedJws(good, other),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
}

TEST(JwsTest, ParseNamesTheField) {
  EXPECT_THAT(ParseCompactJws("batch_jws", "a.b").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_jws")));
  EXPECT_THAT(ParseCompactJws("batch_jws", "e30.e30=.AA").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "batch_jws: payload is not base64url"));
  // {} has no alg.
  EXPECT_THAT(ParseCompactJws("batch_jws", "e30.e30.AA").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"alg\"")));
}

TEST(JwsTest, Base64UrlIsStrictAndUnpadded) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  std::string out;
  EXPECT_FALSE(Base64UrlDecode("-_8=", &out));
  EXPECT_FALSE(Base64UrlDecode("+/8", &out));
  EXPECT_FALSE(Base64UrlDecode("-_9", &out));  // not canonical
  EXPECT_TRUE(Base64UrlDecode("-_8", &out));
  EXPECT_EQ(out, "\xfb\xff");
}

class KeyRingTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::string path = dir_.Sub(name);
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  static std::string Inline(std::string_view pem) {
    std::string out = "    private_key_pem: |\n";
    for (auto line : absl::StrSplit(Sv(pem), '\n', absl::SkipEmpty())) {
      absl::StrAppend(&out, "      ", line, "\n");
    }
    return out;
  }
  testing::TempDir dir_;
};

TEST_F(KeyRingTest, LastKeySignsAndEveryKeyIsPublished) {
  Write("old.pem", PemFromSeed(Decode(kRfcD)));
  const std::string path = Write(
      "keyring.yaml", absl::StrCat("keys:\n  - id: old\n    "
                                   "private_key_file: old.pem\n",
                                   "  - id: new\n", Inline(PemFromSeed(std::string(32, '\x01')))));
  ASSERT_OK_AND_ASSIGN(SigningKeyRing ring, SigningKeyRing::Load(path));
  EXPECT_EQ(ring.current().id, "new");
  ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(ring.JwksJson()));
  EXPECT_EQ(jwks.size(), 2u);
  ASSERT_NE(jwks.Find("old"), nullptr);
  EXPECT_EQ(Base64UrlEncode(jwks.Find("old")->PublicBytes()), kRfcX);
  EXPECT_EQ(jwks.Find("nope"), nullptr);
  EXPECT_THAT(ring.JwksJson(), Not(HasSubstr(std::string(kRfcD))));
}

TEST_F(KeyRingTest, CurrentMarksTheSigningKey) {
  const std::string yaml =
      absl::StrCat("keys:\n  - id: a\n", Inline(PemFromSeed(std::string(32, '\x01'))),
                   "    current: true\n  - id: b\n", Inline(PemFromSeed(std::string(32, '\x02'))));
  ASSERT_OK_AND_ASSIGN(SigningKeyRing ring, SigningKeyRing::Parse(yaml, dir_.path()));
  EXPECT_EQ(ring.current().id, "a");
}

TEST_F(KeyRingTest, ErrorsNameTheField) {
  const std::string pem = Inline(PemFromSeed(std::string(32, '\x01')));
  auto parse = [&](const std::string& yaml) {
    return SigningKeyRing::Parse(yaml, dir_.path()).status();
  };
  EXPECT_THAT(parse("keys: []\n"), StatusIs(absl::StatusCode::kInvalidArgument,
                                            "keys: must "
                                            "hold at least "
                                            "one key"));
  EXPECT_THAT(parse("nokeys: 1\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys")));
  EXPECT_THAT(parse(absl::StrCat("keys:\n  - id: \"bad id\"\n", pem)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].id")));
  EXPECT_THAT(parse(absl::StrCat("keys:\n  - id: a\n", pem, "  - id: a\n", pem)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[1].id: duplicates")));
  EXPECT_THAT(parse("keys:\n  - id: a\n"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("keys[0]: needs exactly one")));
  EXPECT_THAT(parse("keys:\n  - id: a\n    private_key_pem: \"not a key\"\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "keys[0].private_key_pem: is not a PEM private key"));
  EXPECT_THAT(parse("keys:\n  - id: a\n    private_key_file: missing.pem\n"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.pem")));
  EXPECT_THAT(parse(absl::StrCat("keys:\n  - id: a\n", pem, "    current: maybe\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].current")));
  EXPECT_THAT(parse(absl::StrCat("keys:\n  - id: a\n", pem, "    current: true\n  - id: b\n", pem,
                                 "    current: true\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[1].current")));
}

TEST_F(KeyRingTest, RefusesAKeyOfAnotherType) {
  // A PEM private key, but X25519 (key agreement), not Ed25519.
  std::string der = absl::HexStringToBytes("302e020100300506032b656e04220420");  // X25519
  der.append(32, '\x05');
  const std::string pem = absl::StrCat("-----BEGIN PRIVATE KEY-----\n", absl::Base64Escape(der),
                                       "\n-----END PRIVATE KEY-----\n");
  EXPECT_THAT(
      SigningKeyRing::Parse(absl::StrCat("keys:\n  - id: a\n", Inline(pem)), dir_.path()).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("keys[0].private_key_pem: is not an Ed25519 key")));
}

TEST_F(KeyRingTest, RefusesWorldReadableFiles) {
  Write("k.pem", PemFromSeed(std::string(32, '\x01')), 0644);
  const std::string ring = Write("ring.yaml", "keys:\n  - id: a\n    private_key_file: k.pem\n");
  EXPECT_THAT(SigningKeyRing::Load(ring).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].private_key_file")));
  const std::string open_ring =
      Write("open.yaml",
            absl::StrCat("keys:\n  - id: a\n", Inline(PemFromSeed("0123456789abcdef"
                                                                  "0123456789abcdef"))),
            0644);
  EXPECT_THAT(SigningKeyRing::Load(open_ring).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("receipts.keyring_file")));
}

TEST(JwksTest, ParseErrorsNameTheField) {
  EXPECT_THAT(Jwks::Parse("[]").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("jwks")));
  EXPECT_THAT(
      Jwks::Parse(R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AA"}]})").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].x")));
  EXPECT_THAT(Jwks::Parse(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].kid")));
  ASSERT_OK_AND_ASSIGN(Jwks jwks, Jwks::Parse(R"({"keys":[{"kty":"RSA","kid":"r"}]})"));
  EXPECT_EQ(jwks.size(), 0u);
}

}  // namespace
}  // namespace assent::crypto
