// Sealed values (links/sealed.h): AES-256-GCM under a keyring key, bound to a context.
#include "links/sealed.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace assent::links {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

KeyRing Ring(std::vector<std::string> ids) {
  std::vector<KeyRing::Key> keys;
  for (const std::string& id : ids) {
    keys.push_back({id, std::string(32, static_cast<char>('a' + keys.size())), ""});
  }
  return KeyRing(std::move(keys));
}

constexpr std::string_view kAad = "acme/c:email:00/3/confirmation";
constexpr std::string_view kSecret = "jane@example.com and a bearer link";

TEST(SealedTest, RoundTripWithTheNewestKey) {
  KeyRing ring = Ring({"old", "new"});
  auto sealed = Seal(ring, kSecret, kAad);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->key_id(), "new");
  EXPECT_EQ(sealed->nonce().size(), kSealNonceBytes);
  EXPECT_EQ(sealed->ciphertext().size(), kSecret.size() + kSealTagBytes);
  EXPECT_THAT(sealed->ciphertext(), Not(HasSubstr("jane")));
  auto opened = Open(ring, *sealed, kAad);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kSecret);
}

TEST(SealedTest, FreshNonceEachTime) {
  KeyRing ring = Ring({"k"});
  auto a = Seal(ring, kSecret, kAad);
  auto b = Seal(ring, kSecret, kAad);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->nonce(), b->nonce());
  EXPECT_NE(a->ciphertext(), b->ciphertext());
}

TEST(SealedTest, AnOlderKeyStillOpensAfterRotation) {
  auto sealed = Seal(Ring({"old"}), kSecret, kAad);
  ASSERT_TRUE(sealed.ok());
  auto opened = Open(Ring({"old", "new"}), *sealed, kAad);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kSecret);
}

TEST(SealedTest, UnknownKeyIdIsNotFound) {
  auto sealed = Seal(Ring({"k1"}), kSecret, kAad);
  ASSERT_TRUE(sealed.ok());
  sealed->set_key_id("k2");
  auto opened = Open(Ring({"k1"}), *sealed, kAad);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(opened.status().message(), HasSubstr("sealed.key_id"));
}

TEST(SealedTest, SameIdOtherSecretDoesNotOpen) {
  auto sealed = Seal(Ring({"k"}), kSecret, kAad);
  ASSERT_TRUE(sealed.ok());
  KeyRing other({{"k", std::string(32, 'z'), ""}});
  EXPECT_EQ(Open(other, *sealed, kAad).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(SealedTest, TamperedCiphertextTagOrNonceDoesNotOpen) {
  KeyRing ring = Ring({"k"});
  auto sealed = Seal(ring, kSecret, kAad);
  ASSERT_TRUE(sealed.ok());
  for (size_t i : {size_t{0}, kSecret.size() - 1, sealed->ciphertext().size() - 1}) {
    v1::SealedValue bad = *sealed;
    (*bad.mutable_ciphertext())[i] ^= 0x01;
    EXPECT_EQ(Open(ring, bad, kAad).status().code(), absl::StatusCode::kPermissionDenied) << i;
  }
  v1::SealedValue bad_nonce = *sealed;
  (*bad_nonce.mutable_nonce())[0] ^= 0x01;
  EXPECT_EQ(Open(ring, bad_nonce, kAad).status().code(), absl::StatusCode::kPermissionDenied);
  v1::SealedValue short_nonce = *sealed;
  short_nonce.mutable_nonce()->resize(8);
  EXPECT_EQ(Open(ring, short_nonce, kAad).status().code(), absl::StatusCode::kInvalidArgument);
  v1::SealedValue truncated = *sealed;
  truncated.mutable_ciphertext()->resize(4);
  EXPECT_EQ(Open(ring, truncated, kAad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SealedTest, WrongAadDoesNotOpen) {
  KeyRing ring = Ring({"k"});
  auto sealed = Seal(ring, kSecret, kAad);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(Open(ring, *sealed, "acme/c:email:00/3/confirmation/1").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(SealedTest, EmptyKeyringCannotSeal) {
  EXPECT_EQ(Seal(KeyRing(), kSecret, kAad).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace assent::links
