#include "store/migrations.h"

#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "store/keys.h"
#include "store/store.h"

namespace assent::store {
namespace {

using MigrationFn = std::function<absl::Status(Store&, absl::Time, rocksdb::WriteBatch&)>;

// 1 -> 2: the due index (column family "due") is new. Indexing every stored grant here would
// hold the restart for as long as a full scan takes, so the migration only leaves a backfill
// cursor at the start of the subjects; consentd serves at once and indexes them in the
// background (ledger::Ledger::BackfillDue), resuming from the cursor after a restart.
absl::Status AddDueIndex(Store& store, absl::Time, rocksdb::WriteBatch& batch) {
  std::string cursor(1, 's');
  PutBigEndian64(&cursor, 0);
  rocksdb::Status s = batch.Put(store.Handle(Cf::kMeta), std::string(kDueBackfillKey), cursor);
  if (!s.ok()) return absl::InternalError(absl::StrCat("stage migration: ", s.ToString()));
  return absl::OkStatus();
}

// 2 -> 3: identifying evidence is sealed per target from now on (column family "keys" is new,
// and "rights" holds legal holds and erasure stubs). Records already written keep their
// evidence as written: rewriting them would change their hashes and break every chain. The
// migration notes its time instead; an erasure redacts the identifying evidence of the
// subject's records recorded before it (ledger/erase_ops.cc) and marks them redacted.
absl::Status SealEvidenceFromNow(Store& store, absl::Time now, rocksdb::WriteBatch& batch) {
  std::string when;
  PutBigEndian64(&when, static_cast<uint64_t>(absl::ToUnixMicros(now)));
  rocksdb::Status s =
      batch.Put(store.Handle(Cf::kMeta), std::string(kPlainEvidenceBeforeKey), when);
  if (!s.ok()) return absl::InternalError(absl::StrCat("stage migration: ", s.ToString()));
  return absl::OkStatus();
}

// from_version -> migration to from_version + 1.
const std::map<uint32_t, MigrationFn>& Migrations() {
  static const auto* migrations =
      new std::map<uint32_t, MigrationFn>{{1, AddDueIndex}, {2, SealEvidenceFromNow}};
  return *migrations;
}

}  // namespace

absl::Status Migrate(Store& store, uint32_t from_version, absl::Time now,
                     rocksdb::WriteBatch& batch) {
  auto it = Migrations().find(from_version);
  if (it == Migrations().end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no migration from on-disk format ", from_version));
  }
  return it->second(store, now, batch);
}

}  // namespace assent::store
