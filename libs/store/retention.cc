#include "store/retention.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/rights.pb.h"
#include "assent/v1/types.pb.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/keys.h"
#include "store/retention_filters.h"

namespace assent::store {

absl::Duration RetentionOptions::HistoryFor(std::string_view tenant) const {
  auto it = tenants.find(tenant);
  if (it != tenants.end() && it->second.history.has_value()) return *it->second.history;
  return history;
}

absl::Duration RetentionOptions::ErasureStubsFor(std::string_view tenant) const {
  auto it = tenants.find(tenant);
  if (it != tenants.end() && it->second.erasure_stubs.has_value()) {
    return *it->second.erasure_stubs;
  }
  return erasure_stubs;
}

namespace {

absl::Status CheckPeriod(std::string_view field, absl::Duration period) {
  if (period < kMinRetention) {
    return InvalidField(
        field, absl::StrCat("must be at least ", absl::FormatDuration(kMinRetention), " (got ",
                            absl::FormatDuration(period), ")"));
  }
  return absl::OkStatus();
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// One compaction's filter over Cf::kHistory (keys tenant \0 entity \0 seq(be64)).
class HistoryRetentionFilter final : public rocksdb::CompactionFilter {
 public:
  HistoryRetentionFilter(const RetentionOptions& options, const Clock& clock, rocksdb::DB* db,
                         rocksdb::ColumnFamilyHandle* subjects,
                         rocksdb::ColumnFamilyHandle* contacts, rocksdb::ColumnFamilyHandle* rights)
      : options_(options),
        clock_(clock),
        db_(db),
        subjects_(subjects),
        contacts_(contacts),
        rights_(rights) {}

  bool Filter(int /*level*/, const rocksdb::Slice& key, const rocksdb::Slice& /*value*/,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    const std::string_view k = View(key);
    const std::optional<uint64_t> sequence = HistoryKeySequence(k);
    if (!sequence.has_value()) return false;
    // tenant \0 entity: the same bytes for every record of one target.
    const std::string_view target = k.substr(0, k.size() - 9);
    if (target != cached_target_) {
      cached_target_.assign(target);
      cached_ = Decide(target);
    }
    return *sequence < cached_.drop_below;
  }
  const char* Name() const override { return "assent.HistoryRetentionFilter"; }

 private:
  // Records of a target with a sequence below drop_below are removed.
  struct Verdict {
    uint64_t drop_below = 0;
  };
  static constexpr Verdict kKeep{0};
  static constexpr Verdict kDropAll{UINT64_MAX};

  // A target with a state past retention loses every record but its last (the state's
  // sequence): that record stays as the anchor VerifyHistory links a later record to, and its
  // time shows that what came before it was past retention when it went (history.h). Any doubt (a
  // read error, a state that does not parse or has no update time, an unknown entity kind) keeps
  // everything.
  static Verdict ForState(uint64_t state_sequence, absl::Time last_activity,
                          absl::Duration retention, absl::Time now) {
    if (!PastRetention(last_activity, retention, now)) return kKeep;
    return Verdict{state_sequence};
  }

  Verdict Decide(std::string_view target) const {
    const size_t sep = target.find('\0');
    if (sep == std::string_view::npos) return kKeep;
    const std::string_view tenant = target.substr(0, sep);
    const std::string_view entity = target.substr(sep + 1);
    // Read now, not at the compaction's start: a target written since (active again) is seen.
    const absl::Time now = clock_.Now();
    const absl::Duration retention = options_.HistoryFor(tenant);
    std::string value;
    if (entity.starts_with("s:")) {
      const std::string_view subject = entity.substr(2);
      rocksdb::Status s =
          db_->Get(rocksdb::ReadOptions(), subjects_, SubjectKey(tenant, subject), &value);
      if (s.ok()) {
        v1::SubjectState state;
        if (!state.ParseFromString(value) || !state.has_update_time()) return kKeep;
        return ForState(state.sequence(), FromProto(state.update_time()), retention, now);
      }
      if (!s.IsNotFound()) return kKeep;
      // Erased: the stub keeps the chain's end (sequence and head), so nothing needs to stay.
      s = db_->Get(rocksdb::ReadOptions(), rights_, ErasureStubKey(tenant, subject), &value);
      if (s.IsNotFound()) return kDropAll;  // no state and no stub: an orphan
      if (!s.ok()) return kKeep;
      v1::ErasureStub stub;
      if (!stub.ParseFromString(value) || !stub.has_erase_time()) return kKeep;
      return PastRetention(FromProto(stub.erase_time()), retention, now) ? kDropAll : kKeep;
    }
    if (entity.starts_with("c:")) {
      // A contact point's state key is the history target itself (tenant \0 entity).
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), contacts_,
                                   rocksdb::Slice(target.data(), target.size()), &value);
      if (s.IsNotFound()) return kDropAll;  // an orphan
      if (!s.ok()) return kKeep;
      v1::ContactPointState state;
      if (!state.ParseFromString(value) || !state.has_update_time()) return kKeep;
      return ForState(state.sequence(), FromProto(state.update_time()), retention, now);
    }
    return kKeep;
  }

  const RetentionOptions& options_;
  const Clock& clock_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* subjects_;
  rocksdb::ColumnFamilyHandle* contacts_;
  rocksdb::ColumnFamilyHandle* rights_;
  // The last target seen and its answer (Filter is const in RocksDB's interface; each filter
  // object is used by one compaction thread).
  mutable std::string cached_target_;
  mutable Verdict cached_ = kKeep;
};

}  // namespace

absl::Status ValidateRetention(const RetentionOptions& options) {
  RETURN_IF_ERROR(CheckPeriod("retention.history", options.history));
  RETURN_IF_ERROR(CheckPeriod("retention.erasure_stubs", options.erasure_stubs));
  for (const auto& [tenant, overrides] : options.tenants) {
    if (overrides.history.has_value()) {
      RETURN_IF_ERROR(
          CheckPeriod(absl::StrCat("retention.tenants.", tenant, ".history"), *overrides.history));
    }
    if (overrides.erasure_stubs.has_value()) {
      RETURN_IF_ERROR(CheckPeriod(absl::StrCat("retention.tenants.", tenant, ".erasure_stubs"),
                                  *overrides.erasure_stubs));
    }
  }
  return absl::OkStatus();
}

void HistoryRetentionFilterFactory::Attach(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* subjects,
                                           rocksdb::ColumnFamilyHandle* contacts,
                                           rocksdb::ColumnFamilyHandle* rights) {
  subjects_ = subjects;
  contacts_ = contacts;
  rights_ = rights;
  db_.store(db, std::memory_order_release);
}

std::unique_ptr<rocksdb::CompactionFilter> HistoryRetentionFilterFactory::CreateCompactionFilter(
    const rocksdb::CompactionFilter::Context& /*context*/) {
  rocksdb::DB* db = db_.load(std::memory_order_acquire);
  if (db == nullptr) return nullptr;  // not attached: keep everything
  return std::make_unique<HistoryRetentionFilter>(options_, clock_, db, subjects_, contacts_,
                                                  rights_);
}

bool ErasureStubRetentionFilter::Filter(int /*level*/, const rocksdb::Slice& key,
                                        const rocksdb::Slice& value, std::string* /*new_value*/,
                                        bool* /*value_changed*/) const {
  const std::string_view k = View(key);
  // Every key this filter judges is a one-letter kind, \0, the tenant, \0, the rest.
  if (k.size() < 3 || k[1] != '\0') return false;
  const std::string_view rest = k.substr(2);
  const size_t sep = rest.find('\0');
  if (sep == std::string_view::npos) return false;
  const std::string_view tenant = rest.substr(0, sep);
  const absl::Time now = clock_.Now();
  if (k[0] == 'n' || k[0] == 'j') {
    // Link intents' fencing records (a subject's last intent number, the last half a contact
    // point applied for a subject): an intent's number is its start time in microseconds since
    // the epoch (ledger NextLinkIntentNumber), and a record is needed only while its intent
    // and late copies of its calls can still arrive (seconds). They go with the erasure stubs'
    // period (at least a day), so that nothing naming an erased subject outlives its stub.
    uint64_t number = 0;
    if (k[0] == 'n') {
      if (value.size() != 8) return false;
      number = ReadBigEndian64(View(value));
    } else {
      storage::v1::LinkHalfRecord record;
      if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
      number = record.intent_number();
    }
    // Numbers before 2001 are counters of the builds that counted 1, 2, ...: their age is
    // unknown, so they stay (a handful per subject that had a link change over two owners).
    constexpr uint64_t kFirstTimeNumber = 1'000'000'000'000'000;  // 2001-09-09, in microseconds
    if (number < kFirstTimeNumber) return false;
    if (number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    return PastRetention(absl::FromUnixMicros(static_cast<int64_t>(number)),
                         options_.ErasureStubsFor(tenant), now);
  }
  if (k[0] != 'e') return false;
  v1::ErasureStub stub;
  if (!stub.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
      !stub.has_erase_time()) {
    return false;
  }
  return PastRetention(FromProto(stub.erase_time()), options_.ErasureStubsFor(tenant), now);
}

}  // namespace assent::store
