// Consent receipts (libs/receipts): claims, Merkle proofs, batch signing and offline verification.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "crypto/jws.h"
#include "crypto/signing_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "receipts/claims.h"
#include "receipts/merkle.h"
#include "receipts/signer.h"
#include "receipts/verify.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"

namespace assent::receipts {
namespace {

using ::assent::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Pem(char fill) {
  std::string der = absl::HexStringToBytes("302e020100300506032b657004220420");
  der.append(32, fill);
  return absl::StrCat("-----BEGIN PRIVATE KEY-----\n", absl::Base64Escape(der),
                      "\n-----END PRIVATE KEY-----\n");
}

// A keyring of keys "k1".."kN" (fill bytes 1..N); the last signs.
std::shared_ptr<const crypto::SigningKeyRing> Ring(int n) {
  std::string yaml = "keys:\n";
  for (int i = 1; i <= n; ++i) {
    absl::StrAppend(&yaml, "  - id: k", i, "\n    private_key_pem: |\n");
    for (auto line : absl::StrSplit(Pem(static_cast<char>(i)), '\n', absl::SkipEmpty())) {
      absl::StrAppend(&yaml, "      ", std::string(line), "\n");
    }
  }
  auto ring = crypto::SigningKeyRing::Parse(yaml, "");
  EXPECT_TRUE(ring.ok()) << ring.status();
  return std::make_shared<const crypto::SigningKeyRing>(*std::move(ring));
}

crypto::Jwks JwksOf(const crypto::SigningKeyRing& ring) {
  auto jwks = crypto::Jwks::Parse(ring.JwksJson());
  EXPECT_TRUE(jwks.ok()) << jwks.status();
  return *std::move(jwks);
}

v1::HistoryRecord Record(uint64_t sequence) {
  v1::HistoryRecord r;
  r.set_tenant("acme");
  r.mutable_target()->set_subject_id("cust-42");
  r.set_sequence(sequence);
  r.set_kind(v1::DECISIONS_RECORDED);
  r.mutable_recorded_time()->set_seconds(1767225600);
  r.set_actor("signup-service");
  r.set_source("web-signup-v3");
  r.set_hash(std::string(32, static_cast<char>(sequence)));
  v1::ConsentRecord* after = r.add_decisions()->mutable_after();
  after->set_record_id(absl::StrCat("rec-", sequence));
  after->set_purpose_id("marketing.newsletter");
  after->set_channel(v1::EMAIL);
  after->set_state(v1::GRANTED);
  after->mutable_evidence()->set_notice_version(3);
  after->mutable_evidence()->set_ip_address("203.0.113.7");
  after->mutable_evidence()->set_user_agent("Mozilla/5.0 (secret agent)");
  after->mutable_evidence()->mutable_sealed()->set_data_key_id("dk-cust-42");
  after->mutable_evidence()->mutable_sealed()->set_ciphertext("\x01sealed-ciphertext");
  return r;
}

TEST(ClaimsTest, CarriesTheConsentFactsButNoIdentifyingEvidence) {
  const std::string claims = ReceiptClaims(Record(7));
  EXPECT_THAT(claims, HasSubstr(R"("tenant":"acme")"));
  EXPECT_THAT(claims, HasSubstr(R"("target":{"subject_id":"cust-42"})"));
  EXPECT_THAT(claims, HasSubstr(R"("sequence":7)"));
  EXPECT_THAT(claims, HasSubstr(R"("purpose_id":"marketing.newsletter")"));
  EXPECT_THAT(claims, HasSubstr(R"("state":"GRANTED")"));
  EXPECT_THAT(claims, HasSubstr(R"("notice_version":3)"));
  EXPECT_THAT(claims, HasSubstr(R"("record_id":"rec-7")"));
  EXPECT_THAT(claims, HasSubstr(absl::StrCat(
                          R"("hash":")", absl::BytesToHexString(std::string(32, '\x07')), R"(")")));
  EXPECT_THAT(claims, Not(HasSubstr("203.0.113.7")));
  EXPECT_THAT(claims, Not(HasSubstr("Mozilla")));
  EXPECT_THAT(claims, Not(HasSubstr("sealed")));
  EXPECT_THAT(claims, Not(HasSubstr("dk-cust-42")));
  // The same record always gives the same bytes.
  EXPECT_EQ(claims, ReceiptClaims(Record(7)));
}

TEST(MerkleTest, EveryLeafOfEveryTreeSizeProvesTheRoot) {
  for (size_t n = 1; n <= 9; ++n) {
    std::vector<std::string> leaves;
    for (size_t i = 0; i < n; ++i) leaves.push_back(LeafHash(absl::StrCat("claims ", i)));
    MerkleTree tree = BuildMerkleTree(leaves);
    ASSERT_EQ(tree.root.size(), 32u);
    for (size_t i = 0; i < n; ++i) {
      google::protobuf::RepeatedPtrField<v1::ReceiptProofStep> proof(tree.proofs[i].begin(),
                                                                     tree.proofs[i].end());
      EXPECT_EQ(RootFromProof(leaves[i], proof), tree.root) << "n=" << n << " i=" << i;
      // Another leaf does not reach the root with this proof.
      if (n > 1) {
        EXPECT_NE(RootFromProof(leaves[(i + 1) % n], proof), tree.root) << "n=" << n << " i=" << i;
      }
    }
  }
}

TEST(MerkleTest, LeafAndNodeHashesDiffer) {
  // A node's children cannot pose as a leaf's claims.
  const std::string a = LeafHash("a"), b = LeafHash("b");
  EXPECT_NE(NodeHash(a, b), LeafHash(a + b));
}

class ReceiptTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
};

TEST_F(ReceiptTest, BatchReceiptsVerifyOffline) {
  auto ring = Ring(1);
  ReceiptSigner signer(ring, clock_);
  std::vector<std::string> claims;
  for (uint64_t s = 1; s <= 5; ++s) claims.push_back(ReceiptClaims(Record(s)));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Receipt> receipts, signer.SignBatch(claims));
  ASSERT_EQ(receipts.size(), 5u);
  const crypto::Jwks jwks = JwksOf(*ring);
  for (size_t i = 0; i < receipts.size(); ++i) {
    EXPECT_EQ(receipts[i].batch_jws(), receipts[0].batch_jws());  // one signature
    EXPECT_FALSE(receipts[i].proof().empty());
    ASSERT_OK_AND_ASSIGN(VerifiedReceipt v, VerifyReceipt(receipts[i], jwks));
    EXPECT_EQ(v.kid, "k1");
    EXPECT_EQ(v.tenant, "acme");
    EXPECT_EQ(v.target, "subject:cust-42");
    EXPECT_EQ(v.sequence, i + 1);
    EXPECT_EQ(v.kind, "DECISIONS_RECORDED");
    EXPECT_EQ(v.batch_leaves, 5u);
    EXPECT_EQ(v.signed_at, 1767225600);
  }
  // Round trip through the file format.
  ASSERT_OK_AND_ASSIGN(v1::Receipt back, ReceiptFromJson(ReceiptToJson(receipts[3])));
  EXPECT_OK(VerifyReceipt(back, jwks).status());
}

TEST_F(ReceiptTest, TamperedClaimsWrongProofWrongKeyAreRefused) {
  auto ring = Ring(1);
  ReceiptSigner signer(ring, clock_);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Receipt> receipts,
                       signer.SignBatch({ReceiptClaims(Record(1)), ReceiptClaims(Record(2)),
                                         ReceiptClaims(Record(3))}));
  const crypto::Jwks jwks = JwksOf(*ring);

  v1::Receipt tampered = receipts[0];
  std::string claims = tampered.claims();
  claims.replace(claims.find("GRANTED"), 7, "DENIED!");
  tampered.set_claims(claims);
  EXPECT_THAT(VerifyReceipt(tampered, jwks).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tampered")));

  v1::Receipt wrong_proof = receipts[0];
  *wrong_proof.mutable_proof() = receipts[1].proof();
  EXPECT_THAT(VerifyReceipt(wrong_proof, jwks).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tampered")));

  v1::Receipt swapped_side = receipts[0];
  swapped_side.mutable_proof(0)->set_sibling_left(!swapped_side.proof(0).sibling_left());
  EXPECT_THAT(VerifyReceipt(swapped_side, jwks).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tampered")));

  // The kid the receipt names, but another key behind it.
  auto impostor = Ring(2);
  ASSERT_OK_AND_ASSIGN(
      crypto::Jwks wrong_key,
      crypto::Jwks::Parse(
          absl::StrCat(R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":")",
                       crypto::Base64UrlEncode(impostor->keys()[1].key.PublicBytes()), R"("}]})")));
  EXPECT_THAT(VerifyReceipt(receipts[0], wrong_key).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));

  ASSERT_OK_AND_ASSIGN(crypto::Jwks empty, crypto::Jwks::Parse(R"({"keys":[]})"));
  EXPECT_THAT(VerifyReceipt(receipts[0], empty).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not in the JWKS")));
}

TEST_F(ReceiptTest, RotatedKeyStillVerifiesOldReceipts) {
  auto old_ring = Ring(1);
  ReceiptSigner signer(old_ring, clock_);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Receipt> old_receipts,
                       signer.SignBatch({ReceiptClaims(Record(1))}));
  EXPECT_TRUE(old_receipts[0].proof().empty());  // a batch of one
  auto new_ring = Ring(2);
  signer.SetKeyRing(new_ring);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Receipt> new_receipts,
                       signer.SignBatch({ReceiptClaims(Record(2))}));
  EXPECT_EQ(new_receipts[0].kid(), "k2");
  const crypto::Jwks jwks = JwksOf(*new_ring);
  ASSERT_OK_AND_ASSIGN(VerifiedReceipt old_v, VerifyReceipt(old_receipts[0], jwks));
  EXPECT_EQ(old_v.kid, "k1");
  ASSERT_OK_AND_ASSIGN(VerifiedReceipt new_v, VerifyReceipt(new_receipts[0], jwks));
  EXPECT_EQ(new_v.kid, "k2");
  // The old JWKS does not know the new key.
  EXPECT_THAT(VerifyReceipt(new_receipts[0], JwksOf(*old_ring)).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not in the JWKS")));
}

TEST_F(ReceiptTest, BatchSignerAnswersEveryJobWithItsOwnReceipts) {
  auto ring = Ring(1);
  ReceiptSigner signer(ring, clock_);
  const crypto::Jwks jwks = JwksOf(*ring);
  constexpr int kJobs = 50;
  absl::Mutex mu;
  std::vector<absl::StatusOr<std::vector<v1::Receipt>>> results(kJobs);
  int done = 0;
  {
    BatchSigner batcher(signer);
    for (int j = 0; j < kJobs; ++j) {
      batcher.Submit(
          [j]() -> absl::StatusOr<std::vector<std::string>> {
            if (j == 13) return absl::NotFoundError("no such record");
            return std::vector<std::string>{ReceiptClaims(Record(2 * j + 1)),
                                            ReceiptClaims(Record(2 * j + 2))};
          },
          [&, j](absl::StatusOr<std::vector<v1::Receipt>> r) {
            absl::MutexLock lock(&mu);
            results[j] = std::move(r);
            ++done;
          });
    }
  }  // the destructor signs what is queued
  EXPECT_EQ(done, kJobs);
  for (int j = 0; j < kJobs; ++j) {
    if (j == 13) {
      EXPECT_THAT(results[j].status(), StatusIs(absl::StatusCode::kNotFound, "no such record"));
      continue;
    }
    ASSERT_OK(results[j].status());
    ASSERT_EQ(results[j]->size(), 2u);
    for (int k = 0; k < 2; ++k) {
      ASSERT_OK_AND_ASSIGN(VerifiedReceipt v, VerifyReceipt((*results[j])[k], jwks));
      EXPECT_EQ(v.sequence, static_cast<uint64_t>(2 * j + k + 1));
    }
  }
}

}  // namespace
}  // namespace assent::receipts
