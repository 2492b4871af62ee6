// Consent report aggregates: staged with every history record, read by GetConsentReport.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "ledger/ledger.h"
#include "ledger/report.h"
#include "store/keys.h"
#include "store/report_keys.h"

namespace assent::ledger {
namespace {

using store::ReportFamily;
using store::ReportKey;

absl::Mutex settings_mu;
ReportSettings& Settings() ABSL_EXCLUSIVE_LOCKS_REQUIRED(settings_mu) {
  static ReportSettings* settings = new ReportSettings();
  return *settings;
}

// The source bucket a decision counts under on `day`: the source itself while the day has
// admitted fewer than `limit` distinct sources (or already admitted it), else "other".
std::string SourceBucket(store::Txn& txn, const std::string& tenant, int32_t day,
                         const std::string& source, int limit) {
  if (source.empty()) return source;
  if (source.find('\0') != std::string::npos || source == kOtherSource) {
    return std::string(kOtherSource);
  }
  const std::string admitted = store::ReportSourceAdmittedKey(tenant, day, source);
  auto found = txn.Get(store::Cf::kReports, admitted);
  if (!found.ok()) return std::string(kOtherSource);
  if (found->has_value()) return source;
  const std::string count_key = store::ReportSourceCountKey(tenant, day);
  auto count_raw = txn.Get(store::Cf::kReports, count_key);
  if (!count_raw.ok()) return std::string(kOtherSource);
  uint32_t count = 0;
  if (count_raw->has_value() && (*count_raw)->size() == 4) {
    count = store::ReadBigEndian32(**count_raw);
  }
  if (count >= static_cast<uint32_t>(limit)) return std::string(kOtherSource);
  std::string next;
  store::PutBigEndian32(&next, count + 1);
  txn.Put(store::Cf::kReports, count_key, std::move(next));
  txn.Put(store::Cf::kReports, admitted, "");
  return source;
}

void MergeCurrent(store::Txn& txn, const std::string& tenant, const v1::ConsentRecord& r,
                  int64_t delta) {
  const int index = store::ReportStateIndex(r.state());
  if (index < 0) return;
  ReportKey key;
  key.family = ReportFamily::kCurrent;
  key.tenant = tenant;
  key.purpose = r.purpose_id();
  key.channel = r.channel();
  key.jurisdiction = r.jurisdiction();
  txn.Merge(store::Cf::kReports, store::EncodeReportKey(key), store::CountsDelta(index, delta));
}

// ---- queries ----

constexpr int kDimCount = 6;

absl::StatusOr<int32_t> ParseDay(std::string_view field, const std::string& text) {
  absl::CivilDay day;
  if (text.empty()) return InvalidField(field, "required, as YYYY-MM-DD");
  if (text.size() != 10 || !absl::ParseCivilTime(Sv(text), &day)) {
    return InvalidField(field, "must be a day as YYYY-MM-DD");
  }
  return static_cast<int32_t>(day - absl::CivilDay(1970, 1, 1));
}

std::string FormatDay(int32_t day) {
  return absl::FormatCivilTime(absl::CivilDay(1970, 1, 1) + day);
}

void AddCounts(const store::ReportCounts& from, store::ReportCounts& to) {
  for (int i = 0; i < store::kReportStates; ++i) to.n[i] += from.n[i];
}

v1::ReportCounts ToProto(const store::ReportCounts& c) {
  v1::ReportCounts out;
  out.set_grants(c.n[0]);
  out.set_refusals(c.n[1]);
  out.set_withdrawals(c.n[2]);
  out.set_pending(c.n[3]);
  out.set_lapsed(c.n[4]);
  const int64_t denominator = c.n[0] + c.n[1] + c.n[2];
  if (denominator > 0) {
    out.set_opt_in_rate(static_cast<double>(c.n[0]) / static_cast<double>(denominator));
  }
  return out;
}

struct Filters {
  std::set<std::string, std::less<>> purposes;
  std::set<int> channels;
  std::set<std::string, std::less<>> jurisdictions;
  std::set<std::string, std::less<>> sources;
  // Whether a key passes; dimensions the key's family does not have are not checked.
  bool Pass(const store::ReportKeyView& k, bool has_purpose, bool has_channel,
            bool has_jurisdiction, bool has_source) const {
    if (has_purpose && !purposes.empty() && !purposes.count(k.purpose)) return false;
    if (has_channel && !channels.empty() && !channels.count(k.channel)) return false;
    if (has_jurisdiction && !jurisdictions.empty() && !jurisdictions.count(k.jurisdiction)) {
      return false;
    }
    if (has_source && !sources.empty() && !sources.count(k.source)) return false;
    return true;
  }
};

struct FamilyDims {
  bool purpose, channel, jurisdiction, source;
};
FamilyDims DimsOf(ReportFamily f) {
  switch (f) {
    case ReportFamily::kPurposeChannel:
      return {true, true, false, false};
    case ReportFamily::kJurisdiction:
      return {true, true, true, false};
    case ReportFamily::kSource:
      return {true, false, false, true};
    case ReportFamily::kSourceOnly:
      return {false, false, false, true};
    case ReportFamily::kPurposeOnly:
      return {true, false, false, false};
    case ReportFamily::kFull:
    case ReportFamily::kCurrent:
      break;
  }
  return {true, true, true, true};
}

// The smallest family with every needed dimension.
ReportFamily ChooseFamily(bool purpose, bool channel, bool jurisdiction, bool source) {
  if (source) {
    if (channel || jurisdiction) return ReportFamily::kFull;
    return purpose ? ReportFamily::kSource : ReportFamily::kSourceOnly;
  }
  if (jurisdiction) return ReportFamily::kJurisdiction;
  return channel ? ReportFamily::kPurposeChannel : ReportFamily::kPurposeOnly;
}

// The key and counts of the aggregate row `it` is at; INTERNAL when either does not decode.
absl::StatusOr<store::ReportKeyView> DecodeRow(const rocksdb::Iterator& it,
                                               store::ReportCounts& counts) {
  auto key = store::DecodeReportKeyView(std::string_view(it.key().data(), it.key().size()));
  if (!key.has_value() ||
      !store::DecodeCounts(std::string_view(it.value().data(), it.value().size()), &counts)) {
    return Corrupt("report aggregate");
  }
  return *key;
}

// Calls fn(key, counts) for every row of `family` with start <= day < end that passes `filters`.
template <typename Fn>
absl::Status ScanDays(const store::Store& store, ReportFamily family, const std::string& tenant,
                      int32_t start, int32_t end, const Filters& filters, int64_t& rows_read,
                      Fn fn) {
  const std::string lower = store::ReportDayStart(family, tenant, start);
  const std::string upper = store::ReportDayStart(family, tenant, end);
  rocksdb::ReadOptions options;
  rocksdb::Slice upper_slice(upper);
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(
      store.db()->NewIterator(options, store.Handle(store::Cf::kReports)));
  const FamilyDims dims = DimsOf(family);
  for (it->Seek(lower); it->Valid(); it->Next()) {
    ++rows_read;
    store::ReportCounts counts;
    ASSIGN_OR_RETURN(const store::ReportKeyView key, DecodeRow(*it, counts));
    if (!filters.Pass(key, dims.purpose, dims.channel, dims.jurisdiction, dims.source)) continue;
    fn(key, counts);
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  return absl::OkStatus();
}

}  // namespace

void SetReportSettings(const ReportSettings& settings) {
  absl::MutexLock lock(&settings_mu);
  Settings() = settings;
}

ReportSettings GetReportSettings() {
  absl::MutexLock lock(&settings_mu);
  return Settings();
}

void StageReportCounts(store::Txn& txn, const v1::HistoryRecord& record,
                       const google::protobuf::RepeatedPtrField<v1::ConsentRecord>& in_force) {
  if (record.decisions().empty()) return;
  const ReportSettings settings = GetReportSettings();
  if (!settings.enabled) return;
  const std::string& tenant = record.tenant();
  std::vector<ReportEvent> events;
  for (const v1::DecisionChange& change : record.decisions()) {
    if (!change.has_after()) continue;
    const v1::ConsentRecord& after = change.after();
    const int index = store::ReportStateIndex(after.state());
    if (index < 0) continue;
    // The current counts move only when the decision is in force after the change (an import
    // older than the decision in force is history only).
    const bool replaced =
        std::any_of(in_force.begin(), in_force.end(),
                    [&](const v1::ConsentRecord& r) { return r.record_id() == after.record_id(); });
    if (replaced) {
      if (change.has_before()) MergeCurrent(txn, tenant, change.before(), -1);
      MergeCurrent(txn, tenant, after, +1);
    }
    const int64_t seconds = after.has_effective_time() ? after.effective_time().seconds()
                                                       : record.effective_time().seconds();
    ReportKey key;
    key.tenant = tenant;
    key.day = store::UnixDay(seconds);
    key.purpose = after.purpose_id();
    key.channel = after.channel();
    key.jurisdiction = after.jurisdiction();
    const std::string& source = after.source().empty() ? record.source() : after.source();
    if (settings.observer != nullptr) {
      events.push_back({after.purpose_id(), after.channel(), after.state(), source});
    }
    key.source = SourceBucket(txn, tenant, key.day, source, settings.max_sources_per_day);
    const std::string delta = store::CountsDelta(index, 1);
    for (ReportFamily family :
         {ReportFamily::kPurposeOnly, ReportFamily::kPurposeChannel, ReportFamily::kJurisdiction,
          ReportFamily::kSource, ReportFamily::kSourceOnly, ReportFamily::kFull}) {
      key.family = family;
      txn.Merge(store::Cf::kReports, store::EncodeReportKey(key), delta);
    }
  }
  if (!events.empty()) {
    txn.OnCommit([observer = settings.observer, tenant, events = std::move(events)] {
      observer->OnReportEvents(tenant, events);
    });
  }
}

void StageErasureCounts(store::Txn& txn, const v1::SubjectState& state) {
  if (!GetReportSettings().enabled) return;
  for (const v1::ConsentRecord& r : state.decisions()) MergeCurrent(txn, state.tenant(), r, -1);
}

absl::StatusOr<v1::GetConsentReportResponse> BuildConsentReport(
    const store::Store& store, const v1::GetConsentReportRequest& request) {
  ASSIGN_OR_RETURN(const int32_t start, ParseDay("start_day", request.start_day()));
  ASSIGN_OR_RETURN(const int32_t end, ParseDay("end_day", request.end_day()));
  if (end <= start) return InvalidField("end_day", "must be after start_day");
  if (end - start > kMaxReportDays) {
    return InvalidField("end_day",
                        absl::StrCat("at most ", kMaxReportDays, " days after start_day"));
  }
  if (request.top_sources() > 100) return InvalidField("top_sources", "at most 100");
  bool grouped[kDimCount] = {};
  for (int d : request.group_by()) {
    if (d <= v1::REPORT_DIMENSION_UNSPECIFIED || d >= kDimCount) {
      return InvalidField("group_by", "unknown dimension");
    }
    if (grouped[d]) return InvalidField("group_by", "a dimension is listed twice");
    grouped[d] = true;
  }
  Filters filters;
  filters.purposes.insert(request.purpose_ids().begin(), request.purpose_ids().end());
  for (int c : request.channels()) filters.channels.insert(c);
  filters.jurisdictions.insert(request.jurisdictions().begin(), request.jurisdictions().end());
  filters.sources.insert(request.sources().begin(), request.sources().end());

  const bool need_purpose = grouped[v1::REPORT_DIMENSION_PURPOSE] || !filters.purposes.empty();
  const bool need_channel = grouped[v1::REPORT_DIMENSION_CHANNEL] || !filters.channels.empty();
  const bool need_jurisdiction =
      grouped[v1::REPORT_DIMENSION_JURISDICTION] || !filters.jurisdictions.empty();
  const bool need_source = grouped[v1::REPORT_DIMENSION_SOURCE] || !filters.sources.empty();
  const ReportFamily family =
      ChooseFamily(need_purpose, need_channel, need_jurisdiction, need_source);

  v1::GetConsentReportResponse response;
  int64_t rows_read = 0;
  // Group key: day, purpose, channel, jurisdiction, source (unset dimensions left default).
  using Group = std::tuple<int32_t, std::string, int, std::string, std::string>;
  std::map<Group, store::ReportCounts> groups;
  store::ReportCounts total;
  std::map<std::string, int64_t, std::less<>> withdrawals_by_source;
  auto count_withdrawals = [&](std::string_view source, int64_t n) {
    if (n == 0) return;
    auto it = withdrawals_by_source.find(source);
    if (it == withdrawals_by_source.end()) {
      it = withdrawals_by_source.emplace(std::string(source), 0).first;
    }
    it->second += n;
  };
  const bool main_has_source = DimsOf(family).source;
  Group last_group;
  store::ReportCounts* last = nullptr;
  RETURN_IF_ERROR(ScanDays(
      store, family, request.tenant(), start, end, filters, rows_read,
      [&](const store::ReportKeyView& k, const store::ReportCounts& c) {
        const int32_t day = grouped[v1::REPORT_DIMENSION_DAY] ? k.day : 0;
        const std::string_view purpose =
            grouped[v1::REPORT_DIMENSION_PURPOSE] ? k.purpose : std::string_view();
        const int channel = grouped[v1::REPORT_DIMENSION_CHANNEL] ? k.channel : 0;
        const std::string_view jurisdiction =
            grouped[v1::REPORT_DIMENSION_JURISDICTION] ? k.jurisdiction : std::string_view();
        const std::string_view source =
            grouped[v1::REPORT_DIMENSION_SOURCE] ? k.source : std::string_view();
        // Rows arrive in key order, so consecutive rows often share a group: the group is built
        // and the map searched only when it changes.
        if (last == nullptr || day != std::get<0>(last_group) ||
            purpose != std::get<1>(last_group) || channel != std::get<2>(last_group) ||
            jurisdiction != std::get<3>(last_group) || source != std::get<4>(last_group)) {
          Group g{day, std::string(purpose), channel, std::string(jurisdiction),
                  std::string(source)};
          last = &groups[g];
          last_group = std::move(g);
        }
        AddCounts(c, *last);
        AddCounts(c, total);
        if (main_has_source) count_withdrawals(k.source, c.n[2]);
      }));
  if (!main_has_source) {
    // Top sources under the same filters (the group-by does not matter) from the smallest family
    // with a source.
    const ReportFamily source_family = ChooseFamily(
        !filters.purposes.empty(), !filters.channels.empty(), !filters.jurisdictions.empty(), true);
    RETURN_IF_ERROR(ScanDays(store, source_family, request.tenant(), start, end, filters, rows_read,
                             [&](const store::ReportKeyView& k, const store::ReportCounts& c) {
                               count_withdrawals(k.source, c.n[2]);
                             }));
  }
  response.mutable_rows()->Reserve(static_cast<int>(groups.size()));
  int32_t formatted_day = 0;
  std::string day_text;
  for (const auto& [g, c] : groups) {
    v1::ReportRow& row = *response.add_rows();
    if (grouped[v1::REPORT_DIMENSION_DAY]) {
      if (day_text.empty() || formatted_day != std::get<0>(g)) {
        formatted_day = std::get<0>(g);
        day_text = FormatDay(formatted_day);
      }
      row.set_day(day_text);
    }
    row.set_purpose_id(std::get<1>(g));
    row.set_channel(static_cast<v1::Channel>(std::get<2>(g)));
    row.set_jurisdiction(std::get<3>(g));
    row.set_source(std::get<4>(g));
    *row.mutable_counts() = ToProto(c);
  }
  *response.mutable_total() = ToProto(total);

  std::vector<std::pair<std::string, int64_t>> sources(withdrawals_by_source.begin(),
                                                       withdrawals_by_source.end());
  std::stable_sort(sources.begin(), sources.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  const size_t top = request.top_sources() == 0 ? 10 : request.top_sources();
  for (size_t i = 0; i < sources.size() && i < top; ++i) {
    v1::SourceCount& s = *response.add_top_withdrawal_sources();
    s.set_source(sources[i].first);
    s.set_withdrawals(sources[i].second);
  }

  // Current decisions.
  const std::string prefix = store::ReportCurrentPrefix(request.tenant());
  std::unique_ptr<rocksdb::Iterator> it(store.NewIterator(store::Cf::kReports));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    ++rows_read;
    store::ReportCounts counts;
    ASSIGN_OR_RETURN(const store::ReportKeyView key, DecodeRow(*it, counts));
    if (!filters.Pass(key, true, true, true, false)) continue;
    if (counts == store::ReportCounts()) continue;
    v1::CurrentCount& c = *response.add_current();
    c.set_purpose_id(std::string(key.purpose));
    c.set_channel(static_cast<v1::Channel>(key.channel));
    c.set_jurisdiction(std::string(key.jurisdiction));
    *c.mutable_counts() = ToProto(counts);
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  response.set_rows_read(rows_read);
  return response;
}

absl::StatusOr<v1::GetConsentReportResponse> Ledger::GetConsentReport(
    const v1::GetConsentReportRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  return BuildConsentReport(store_, request);
}

}  // namespace assent::ledger
