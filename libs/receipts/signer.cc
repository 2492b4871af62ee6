#include "receipts/signer.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crypto/jws.h"
#include "nlohmann/json.hpp"
#include "receipts/merkle.h"

namespace assent::receipts {

absl::StatusOr<std::vector<v1::Receipt>> ReceiptSigner::SignBatch(
    const std::vector<std::string>& claims) const {
  if (claims.empty()) return absl::InvalidArgumentError("receipts: a batch needs claims");
  std::shared_ptr<const crypto::SigningKeyRing> ring = keyring();
  const crypto::SigningKeyRing::Key& key = ring->current();
  std::vector<std::string> leaves;
  leaves.reserve(claims.size());
  for (const std::string& c : claims) leaves.push_back(LeafHash(c));
  MerkleTree tree = BuildMerkleTree(leaves);
  const nlohmann::json header{{"alg", "EdDSA"}, {"kid", key.id}, {"typ", kBatchType}};
  const nlohmann::json payload{{"v", kBatchVersion},
                               {"root", crypto::Base64UrlEncode(tree.root)},
                               {"leaves", claims.size()},
                               {"iat", absl::ToUnixSeconds(clock_.Now())}};
  absl::StatusOr<std::string> jws = crypto::SignCompactJws(key.key, header.dump(), payload.dump());
  if (!jws.ok()) return jws.status();
  std::vector<v1::Receipt> receipts(claims.size());
  for (size_t i = 0; i < claims.size(); ++i) {
    receipts[i].set_claims(claims[i]);
    receipts[i].set_batch_jws(*jws);
    receipts[i].set_kid(key.id);
    for (v1::ReceiptProofStep& step : tree.proofs[i]) *receipts[i].add_proof() = std::move(step);
  }
  return receipts;
}

std::shared_ptr<const crypto::SigningKeyRing> ReceiptSigner::keyring() const {
  absl::MutexLock lock(&mu_);
  return keyring_;
}

void ReceiptSigner::SetKeyRing(std::shared_ptr<const crypto::SigningKeyRing> keyring) {
  absl::MutexLock lock(&mu_);
  keyring_ = std::move(keyring);
}

BatchSigner::BatchSigner(const ReceiptSigner& signer, size_t max_leaves)
    : signer_(signer), max_leaves_(max_leaves == 0 ? 1 : max_leaves) {
  thread_ = std::thread([this] { Run(); });
}

BatchSigner::~BatchSigner() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void BatchSigner::Submit(Claims claims, Done done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(Job{std::move(claims), std::move(done)});
}

void BatchSigner::Run() {
  while (true) {
    std::vector<Job> jobs;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything queued is signed
      // Every job queued so far, up to the batch bound (a job of several claims counts as one
      // here; the bound keeps a batch's proofs short, not exact).
      while (!queue_.empty() && jobs.size() < max_leaves_) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    SignJobs(jobs);
  }
}

void BatchSigner::SignJobs(std::vector<Job>& jobs) {
  std::vector<std::string> claims;
  // Where each job's claims start in `claims`, or the job's error.
  std::vector<absl::StatusOr<std::pair<size_t, size_t>>> spans;
  spans.reserve(jobs.size());
  for (Job& job : jobs) {
    absl::StatusOr<std::vector<std::string>> made = job.claims();
    if (!made.ok()) {
      spans.push_back(made.status());
      continue;
    }
    spans.push_back(std::make_pair(claims.size(), made->size()));
    for (std::string& c : *made) claims.push_back(std::move(c));
  }
  absl::StatusOr<std::vector<v1::Receipt>> receipts =
      claims.empty() ? absl::StatusOr<std::vector<v1::Receipt>>(std::vector<v1::Receipt>())
                     : signer_.SignBatch(claims);
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!spans[j].ok()) {
      jobs[j].done(spans[j].status());
    } else if (!receipts.ok()) {
      jobs[j].done(receipts.status());
    } else {
      const auto [begin, count] = *spans[j];
      std::vector<v1::Receipt> mine(std::make_move_iterator(receipts->begin() + begin),
                                    std::make_move_iterator(receipts->begin() + begin + count));
      jobs[j].done(std::move(mine));
    }
  }
}

}  // namespace assent::receipts
