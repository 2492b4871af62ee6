#include "ledger/due.h"

#include "common/time_util.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr size_t kTimeBytes = 8;

// Unix microseconds, clamped at 0: a due time before 1970 is simply due.
uint64_t Micros(absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  return micros < 0 ? 0 : static_cast<uint64_t>(micros);
}

}  // namespace

std::string EncodeDueKey(const DueKey& key) {
  std::string out;
  out.reserve(kTimeBytes + 1 + key.tenant.size() + key.entity.size() + key.record_id.size() + 2);
  store::PutBigEndian64(&out, Micros(key.due));
  out.push_back(static_cast<char>(key.kind));
  out.append(key.tenant);
  out.push_back('\0');
  out.append(key.entity);
  out.push_back('\0');
  out.append(key.record_id);
  return out;
}

std::optional<DueKey> DecodeDueKey(std::string_view key) {
  if (key.size() < kTimeBytes + 1) return std::nullopt;
  DueKey out;
  out.due = absl::FromUnixMicros(static_cast<int64_t>(store::ReadBigEndian64(key)));
  const char kind = key[kTimeBytes];
  if (kind != static_cast<char>(DueKind::kRemind) && kind != static_cast<char>(DueKind::kExpire)) {
    return std::nullopt;
  }
  out.kind = static_cast<DueKind>(kind);
  std::string_view rest = key.substr(kTimeBytes + 1);
  const size_t a = rest.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = rest.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  out.tenant = std::string(rest.substr(0, a));
  out.entity = std::string(rest.substr(a + 1, b - a - 1));
  out.record_id = std::string(rest.substr(b + 1));
  if (out.tenant.empty() || out.entity.empty() || out.record_id.empty()) return std::nullopt;
  return out;
}

std::string DueKeyAfter(absl::Time t) {
  std::string out;
  store::PutBigEndian64(&out, Micros(t) + 1);
  return out;
}

namespace {

// IndexDue with the target's entity name and serialized TargetRef made once per change.
void IndexRecord(store::Txn& txn, const Catalog& catalog, std::string_view tenant,
                 const std::string& entity, const std::string& value,
                 const v1::ConsentRecord& record, absl::Time now) {
  const bool granted = record.state() == v1::GRANTED;
  if ((!granted && record.state() != v1::PENDING) || !record.has_expire_time()) return;
  const absl::Time expire = FromProto(record.expire_time());
  DueKey key{expire, DueKind::kExpire, std::string(tenant), entity, record.record_id()};
  // No mutation reads an entry back before it is in the store (the sweeper finds entries by
  // scanning the store), so the entries skip the transaction's read overlay.
  txn.PutNew(store::Cf::kDue, EncodeDueKey(key), value);
  if (!granted) return;
  const v1::Purpose* purpose = catalog.FindPurpose(tenant, record.purpose_id());
  if (purpose == nullptr || !purpose->has_remind_before()) return;
  key.kind = DueKind::kRemind;
  const absl::Time remind = expire - FromProto(purpose->remind_before());
  // An imported grant whose reminder time had passed before it was imported gets none: the
  // customer would otherwise be reminded at once of a consent given elsewhere, long ago.
  if (record.imported() && remind < now) return;
  key.due = std::max(now, remind);
  // A grant recorded already expired (an import of an old grant) needs no reminder.
  if (key.due >= expire) return;
  txn.PutNew(store::Cf::kDue, EncodeDueKey(key), value);
}

bool Expires(const v1::ConsentRecord& record) {
  return record.has_expire_time() &&
         (record.state() == v1::GRANTED || record.state() == v1::PENDING);
}

}  // namespace

void IndexDue(store::Txn& txn, const Catalog& catalog, std::string_view tenant,
              const v1::TargetRef& target, const v1::ConsentRecord& record, absl::Time now) {
  if (!Expires(record)) return;
  IndexRecord(txn, catalog, tenant, store::EntityName(target), target.SerializeAsString(), record,
              now);
}

void IndexDue(store::Txn& txn, const CatalogCache& catalog, const v1::HistoryRecord& change) {
  bool any = false;
  for (const v1::DecisionChange& d : change.decisions()) any = any || Expires(d.after());
  // Most changes set no expiry: they pay for nothing here, not even a catalog snapshot.
  if (!any) return;
  const std::string entity = store::EntityName(change.target());
  const std::string value = change.target().SerializeAsString();
  const auto snapshot = catalog.Snapshot();
  for (const v1::DecisionChange& d : change.decisions()) {
    IndexRecord(txn, *snapshot, change.tenant(), entity, value, d.after(), txn.now());
  }
}

}  // namespace assent::ledger
