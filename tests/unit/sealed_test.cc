// mail/sealed.h: values sealed with OpenSSL EVP directly (the format consentd writes) open with
// OpenSealed; anything tampered, another key or another event id does not.
#include "mail/sealed.h"

#include <openssl/evp.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace assent::mail {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kKey(32, '\x42');
const std::string kOtherKey(32, '\x17');
const std::string kNonce = "0123456789ab";

// AES-256-GCM with EVP, independent of the code under test: ciphertext || 16-byte tag.
v1::SealedValue Seal(const std::string& key, const std::string& key_id,
                     const std::string& plaintext, const std::string& aad) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  std::string out(plaintext.size() + 16, '\0');
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr), 1);
  EXPECT_EQ(
      EVP_EncryptInit_ex(ctx, nullptr, nullptr, reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(kNonce.data())),
      1);
  EXPECT_EQ(
      EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())),
      1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())),
            1);
  int total = len;
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + total, &len),
            1);
  total += len;
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + total), 1);
  EVP_CIPHER_CTX_free(ctx);
  v1::SealedValue sealed;
  sealed.set_key_id(key_id);
  sealed.set_nonce(kNonce);
  sealed.set_ciphertext(out);
  return sealed;
}

ConfirmationKeyRing TwoKeys() {
  const std::string yaml =
      absl::StrCat("keys:\n  - id: k1\n    secret: \"", absl::Base64Escape(kKey),
                   "\"\n  - id: k2\n    secret: \"", absl::Base64Escape(kOtherKey), "\"\n");
  absl::StatusOr<ConfirmationKeyRing> ring = ConfirmationKeyRing::Parse(yaml);
  EXPECT_OK(ring.status());
  return ring.ok() ? *ring : ConfirmationKeyRing();
}

TEST(OpenSealed, OpensWhatEvpSealed) {
  ConfirmationKeyRing ring = TwoKeys();
  ASSERT_EQ(ring.size(), 2u);
  const std::string secret = "the confirmation secret \x01\x00 bytes";
  ASSERT_OK_AND_ASSIGN(std::string opened,
                       OpenSealed(ring, Seal(kKey, "k1", secret, "ev-1"), "ev-1"));
  EXPECT_EQ(opened, secret);
  ASSERT_OK_AND_ASSIGN(opened, OpenSealed(ring, Seal(kOtherKey, "k2", secret, "ev-1"), "ev-1"));
  EXPECT_EQ(opened, secret);
  ASSERT_OK_AND_ASSIGN(opened, OpenSealed(ring, Seal(kKey, "k1", "", "ev-1"), "ev-1"));
  EXPECT_EQ(opened, "");
}

TEST(OpenSealed, RefusesAnotherEventId) {
  EXPECT_THAT(OpenSealed(TwoKeys(), Seal(kKey, "k1", "x", "ev-1"), "ev-2"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("sealed")));
}

TEST(OpenSealed, RefusesTamperedCiphertextAndTag) {
  v1::SealedValue sealed = Seal(kKey, "k1", "hello world", "ev");
  std::string c = sealed.ciphertext();
  c[0] ^= 1;
  v1::SealedValue body = sealed;
  body.set_ciphertext(c);
  EXPECT_THAT(OpenSealed(TwoKeys(), body, "ev"),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  c = sealed.ciphertext();
  c.back() ^= 1;
  v1::SealedValue tag = sealed;
  tag.set_ciphertext(c);
  EXPECT_THAT(OpenSealed(TwoKeys(), tag, "ev"),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
}

TEST(OpenSealed, RefusesTheWrongKeyUnderAnId) {
  // Sealed with k2's bytes but labelled k1.
  EXPECT_THAT(OpenSealed(TwoKeys(), Seal(kOtherKey, "k1", "x", "ev"), "ev"),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
}

TEST(OpenSealed, NamesTheFieldAtFault) {
  v1::SealedValue sealed = Seal(kKey, "k1", "x", "ev");
  v1::SealedValue unknown = sealed;
  unknown.set_key_id("k9");
  EXPECT_THAT(OpenSealed(TwoKeys(), unknown, "ev"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("sealed.key_id")));
  v1::SealedValue nonce = sealed;
  nonce.set_nonce("short");
  EXPECT_THAT(OpenSealed(TwoKeys(), nonce, "ev"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sealed.nonce")));
  v1::SealedValue shortc = sealed;
  shortc.set_ciphertext("0123");
  EXPECT_THAT(OpenSealed(TwoKeys(), shortc, "ev"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sealed.ciphertext")));
}

TEST(ConfirmationKeyRing, RefusesBadFiles) {
  EXPECT_THAT(ConfirmationKeyRing::Parse("keys: []\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys")));
  EXPECT_THAT(
      ConfirmationKeyRing::Parse(absl::StrCat("keys:\n  - id: k1\n    secret: \"",
                                              absl::Base64Escape(std::string(31, 'a')), "\"\n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].secret")));
  EXPECT_THAT(ConfirmationKeyRing::Parse("keys:\n  - id: k1\n    secret: \"!!!\"\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].secret")));
  EXPECT_THAT(ConfirmationKeyRing::Parse("keys:\n  - id: \"a b\"\n    secret: x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[0].id")));
  const std::string k = absl::Base64Escape(kKey);
  EXPECT_THAT(ConfirmationKeyRing::Parse(absl::StrCat("keys:\n  - {id: a, secret: \"", k,
                                                      "\"}\n  - {id: a, secret: \"", k, "\"}\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("keys[1].id")));
}

}  // namespace
}  // namespace assent::mail
