// consentd's consent receipts: signs the history records that a write reports, on the batch
// signer's thread (libs/receipts), and re-signs a stored record on request (GetReceipt). The keys
// come from receipts.keyring_file (crypto/signing_keys.h) and are re-read by Reload (SIGHUP).
//
// Thread-safe. Without a keyring there is no issuer, and responses carry no receipt.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "assent/v1/receipts.pb.h"
#include "assent/v1/types.pb.h"
#include "common/clock.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "receipts/signer.h"
#include "store/store.h"

namespace assent::consentd {

class ReceiptIssuer {
 public:
  // Loads the keyring; its error (naming receipts.keyring_file or the key's field) otherwise.
  // `store` and `clock` must outlive the issuer. Registers assent_receipts_total{result} (the
  // write path's receipts: signed, or failed and left out of the response) in `registry`.
  static absl::StatusOr<std::unique_ptr<ReceiptIssuer>> Create(const std::string& keyring_file,
                                                               const store::Store& store,
                                                               const Clock& clock,
                                                               prometheus::Registry& registry);

  // A history record to sign: `target`'s record at `sequence`; a target of nullopt means the
  // counterpart of the first record of the same request (an unlink's contact point, which its
  // response does not name).
  struct Record {
    std::optional<v1::TargetRef> target;
    uint64_t sequence = 0;
  };
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::vector<v1::Receipt>>)>;
  // Queues the records of one response and returns at once; `done` gets one receipt per record,
  // in order, on the signer thread (or the error of reading a record). With
  // LeaveOutMissingCounterparts, a record after the first that is not stored here (a link's
  // contact point in a partition this instance does not keep in full) gets an empty receipt (no
  // claims) in its place: the caller leaves it out, and GetReceipt signs it where the record is.
  void Issue(std::string tenant, std::vector<Record> records, Done done);

  // The receipt of one stored record, signed now (GetReceipt). NOT_FOUND when there is no such
  // record; UNAVAILABLE on store errors.
  absl::StatusOr<v1::Receipt> SignStored(std::string_view tenant, const v1::TargetRef& target,
                                         uint64_t sequence) const;

  // The JWKS of every key and the id of the key that signs.
  v1::GetReceiptKeysResponse Keys() const;

  // Cluster mode with standbys: a record after the first of a response that is not stored here is
  // left out (Issue) instead of failing the response's receipts. Set once, before writes run.
  void LeaveOutMissingCounterparts() { leave_out_missing_.store(true); }

  // Re-reads the keyring file; on error the keys in use stay and the error is returned.
  absl::Status Reload();

 private:
  ReceiptIssuer(std::string keyring_file, const store::Store& store,
                std::shared_ptr<const crypto::SigningKeyRing> keyring, const Clock& clock,
                prometheus::Registry& registry);

  absl::StatusOr<v1::HistoryRecord> ReadRecord(std::string_view tenant, const v1::TargetRef& target,
                                               uint64_t sequence) const;

  const std::string keyring_file_;
  const store::Store& store_;
  prometheus::Counter& signed_;
  prometheus::Counter& failed_;
  prometheus::Counter& left_out_;
  std::atomic<bool> leave_out_missing_{false};
  receipts::ReceiptSigner signer_;
  receipts::BatchSigner batcher_;  // last: its thread stops before the rest goes
};

}  // namespace assent::consentd
