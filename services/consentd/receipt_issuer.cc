#include "consentd/receipt_issuer.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "receipts/claims.h"
#include "store/keys.h"

namespace assent::consentd {

namespace {
prometheus::Family<prometheus::Counter>& ReceiptCounters(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("assent_receipts_total")
      .Help(
          "Receipts of consent writes by result: signed, failed (the write succeeded and its "
          "response carries no receipt), or left_out (cluster mode with standbys: a link's "
          "contact point record kept by another instance; GetReceipt signs it there)")
      .Register(registry);
}
}  // namespace

ReceiptIssuer::ReceiptIssuer(std::string keyring_file, const store::Store& store,
                             std::shared_ptr<const crypto::SigningKeyRing> keyring,
                             const Clock& clock, prometheus::Registry& registry)
    : keyring_file_(std::move(keyring_file)),
      store_(store),
      signed_(ReceiptCounters(registry).Add({{"result", "signed"}})),
      failed_(ReceiptCounters(registry).Add({{"result", "failed"}})),
      left_out_(ReceiptCounters(registry).Add({{"result", "left_out"}})),
      signer_(std::move(keyring), clock),
      batcher_(signer_) {}

absl::StatusOr<std::unique_ptr<ReceiptIssuer>> ReceiptIssuer::Create(
    const std::string& keyring_file, const store::Store& store, const Clock& clock,
    prometheus::Registry& registry) {
  ASSIGN_OR_RETURN(crypto::SigningKeyRing ring, crypto::SigningKeyRing::Load(keyring_file));
  return std::unique_ptr<ReceiptIssuer>(new ReceiptIssuer(
      keyring_file, store, std::make_shared<const crypto::SigningKeyRing>(std::move(ring)), clock,
      registry));
}

absl::StatusOr<v1::HistoryRecord> ReceiptIssuer::ReadRecord(std::string_view tenant,
                                                            const v1::TargetRef& target,
                                                            uint64_t sequence) const {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                   store_.Get(store::Cf::kHistory,
                              store::HistoryKey(tenant, store::EntityName(target), sequence)));
  if (!bytes.has_value()) return NotFound("history record", absl::StrCat("sequence ", sequence));
  v1::HistoryRecord record;
  if (!record.ParseFromString(*bytes)) return Corrupt("history record");
  return record;
}

void ReceiptIssuer::Issue(std::string tenant, std::vector<Record> records, Done done) {
  const size_t count = records.size();
  // Which records were read (and so signed), filled on the signer thread before `done` runs.
  auto present = std::make_shared<std::vector<bool>>(count, false);
  batcher_.Submit(
      [this, tenant = std::move(tenant), records = std::move(records),
       present]() -> absl::StatusOr<std::vector<std::string>> {
        std::vector<std::string> claims;
        std::optional<v1::TargetRef> counterpart;
        for (size_t i = 0; i < records.size(); ++i) {
          const Record& r = records[i];
          const v1::TargetRef* target = r.target.has_value() ? &*r.target : nullptr;
          if (target == nullptr) {
            if (!counterpart.has_value()) return Corrupt("history record without counterpart");
            target = &*counterpart;
          }
          absl::StatusOr<v1::HistoryRecord> record = ReadRecord(tenant, *target, r.sequence);
          if (i > 0 && leave_out_missing_.load() && absl::IsNotFound(record.status())) {
            continue;  // kept by another instance
          }
          if (!record.ok()) return record.status();
          if (!counterpart.has_value() && record->has_counterpart()) {
            counterpart = record->counterpart();
          }
          claims.push_back(receipts::ReceiptClaims(*record));
          (*present)[i] = true;
        }
        return claims;
      },
      [this, count, present,
       done = std::move(done)](absl::StatusOr<std::vector<v1::Receipt>> result) mutable {
        size_t made = 0;
        for (bool p : *present) made += p ? 1 : 0;
        if (!result.ok() || result->size() != made) {
          failed_.Increment(static_cast<double>(count));
          done(std::move(result));
          return;
        }
        signed_.Increment(static_cast<double>(made));
        left_out_.Increment(static_cast<double>(count - made));
        // One slot per record, in order; an empty receipt where a record was not here.
        std::vector<v1::Receipt> slots(count);
        size_t next = 0;
        for (size_t i = 0; i < count; ++i) {
          if ((*present)[i]) slots[i] = std::move((*result)[next++]);
        }
        done(std::move(slots));
      });
}

absl::StatusOr<v1::Receipt> ReceiptIssuer::SignStored(std::string_view tenant,
                                                      const v1::TargetRef& target,
                                                      uint64_t sequence) const {
  ASSIGN_OR_RETURN(v1::HistoryRecord record, ReadRecord(tenant, target, sequence));
  ASSIGN_OR_RETURN(std::vector<v1::Receipt> receipts,
                   signer_.SignBatch({receipts::ReceiptClaims(record)}));
  return std::move(receipts[0]);
}

v1::GetReceiptKeysResponse ReceiptIssuer::Keys() const {
  std::shared_ptr<const crypto::SigningKeyRing> ring = signer_.keyring();
  v1::GetReceiptKeysResponse response;
  response.set_jwks(ring->JwksJson());
  response.set_current_kid(ring->current().id);
  return response;
}

absl::Status ReceiptIssuer::Reload() {
  ASSIGN_OR_RETURN(crypto::SigningKeyRing ring, crypto::SigningKeyRing::Load(keyring_file_));
  signer_.SetKeyRing(std::make_shared<const crypto::SigningKeyRing>(std::move(ring)));
  return absl::OkStatus();
}

}  // namespace assent::consentd
