// Signing consent receipts: ReceiptSigner signs a batch of claims with one Ed25519 signature over
// the root of their Merkle tree (merkle.h), and BatchSigner runs it on its own thread for
// everything submitted while the previous batch was being signed.
//
// Why batches: one Ed25519 signature costs about 37 us of CPU here (`openssl speed ed25519`: about
// 27,000 signatures per second on one core), which at consentd's durable-write rate would cost
// far more than the 15 % budget if every write were signed alone. Under load a batch
// covers every write that completed during the previous signature, so the cost per receipt falls
// with the load; idle, a receipt is signed alone (a batch of one, no proof) at once.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "assent/v1/receipts.pb.h"
#include "common/clock.h"
#include "crypto/signing_keys.h"

namespace assent::receipts {

// The JWS header "typ" of a batch signature.
inline constexpr std::string_view kBatchType = "assent-receipt-batch";
// Version of the batch payload ("v").
inline constexpr int kBatchVersion = 1;

// Thread-safe. The keyring can be replaced (rotation) while signing goes on.
class ReceiptSigner {
 public:
  ReceiptSigner(std::shared_ptr<const crypto::SigningKeyRing> keyring, const Clock& clock)
      : keyring_(std::move(keyring)), clock_(clock) {}

  // One receipt per claims text, in order, all under one signature by the current key.
  // INVALID_ARGUMENT for no claims; INTERNAL when signing fails.
  absl::StatusOr<std::vector<v1::Receipt>> SignBatch(const std::vector<std::string>& claims) const;

  std::shared_ptr<const crypto::SigningKeyRing> keyring() const;
  // New receipts are signed by `keyring`'s current key from now on.
  void SetKeyRing(std::shared_ptr<const crypto::SigningKeyRing> keyring);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const crypto::SigningKeyRing> keyring_ ABSL_GUARDED_BY(mu_);
  const Clock& clock_;
};

// Thread-safe. Owns one thread until destroyed; the destructor signs what is still queued.
class BatchSigner {
 public:
  using Claims = absl::AnyInvocable<absl::StatusOr<std::vector<std::string>>()>;
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::vector<v1::Receipt>>)>;

  // `max_leaves` bounds one batch (default 4096).
  explicit BatchSigner(const ReceiptSigner& signer, size_t max_leaves = 4096);
  ~BatchSigner();
  BatchSigner(const BatchSigner&) = delete;
  BatchSigner& operator=(const BatchSigner&) = delete;

  // Queues a job and returns at once: `claims` runs on the signer thread (so that the submitting
  // thread, e.g. the store's committer, only queues), then `done` gets one receipt per claims
  // text, or the error of `claims` or of signing, on the signer thread.
  void Submit(Claims claims, Done done);

 private:
  struct Job {
    Claims claims;
    Done done;
  };
  void Run();
  void SignJobs(std::vector<Job>& jobs);

  const ReceiptSigner& signer_;
  const size_t max_leaves_;
  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace assent::receipts
