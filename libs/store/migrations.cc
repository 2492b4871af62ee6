#include "store/migrations.h"

#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "store/store.h"

namespace assent::store {
namespace {

using MigrationFn = std::function<absl::Status(Store&, rocksdb::WriteBatch&)>;

// from_version -> migration to from_version + 1. Format 1 is the first; none exist yet.
const std::map<uint32_t, MigrationFn>& Migrations() {
  static const auto* migrations = new std::map<uint32_t, MigrationFn>();
  return *migrations;
}

}  // namespace

absl::Status Migrate(Store& store, uint32_t from_version, rocksdb::WriteBatch& batch) {
  auto it = Migrations().find(from_version);
  if (it == Migrations().end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no migration from on-disk format ", from_version));
  }
  return it->second(store, batch);
}

}  // namespace assent::store
