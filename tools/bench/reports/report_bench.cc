// GetConsentReport's query time at 10 million decisions. Fills a real store's reports column
// family with the aggregate rows that N decisions spread over D days x P purposes x C channels x
// J jurisdictions x S sources leave (synthetic rows written directly, final counts as one Put per
// row, not through the write path: see RESULTS.md), compacts it, then times
// ledger::BuildConsentReport (what the RPC runs) on typical queries.
//   report_bench --dir DIR [--decisions 10000000] [--days 730] [--purposes 20] [--channels 4]
//                [--jurisdictions 5] [--sources 10] [--queries 200]
// Prints one JSON line per query kind: rows_read, p50_us, p99_us, and the fill time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/clock.h"
#include "ledger/report.h"
#include "rocksdb/write_batch.h"
#include "store/report_keys.h"
#include "store/store.h"

namespace {

using assent::store::ReportCounts;
using assent::store::ReportFamily;
using assent::store::ReportKey;

struct Options {
  std::string dir;
  int64_t decisions = 10'000'000;
  int days = 730, purposes = 20, channels = 4, jurisdictions = 5, sources = 10, queries = 200;
};

const char* kJurisdictions[] = {"US", "DE", "FR", "GB", "US-CA", "ES", "IT", "NL", "BR", "JP"};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

std::string Day(int32_t day) { return absl::FormatCivilTime(absl::CivilDay(1970, 1, 1) + day); }

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--dir")
      o.dir = v;
    else if (flag == "--decisions")
      o.decisions = std::atoll(v);
    else if (flag == "--days")
      o.days = std::atoi(v);
    else if (flag == "--purposes")
      o.purposes = std::atoi(v);
    else if (flag == "--channels")
      o.channels = std::atoi(v);
    else if (flag == "--jurisdictions")
      o.jurisdictions = std::atoi(v);
    else if (flag == "--sources")
      o.sources = std::atoi(v);
    else if (flag == "--queries")
      o.queries = std::atoi(v);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (o.dir.empty()) {
    std::fprintf(stderr, "usage: report_bench --dir DIR [...]\n");
    return 2;
  }
  assent::SystemClock clock;
  assent::store::StoreOptions options;
  options.path = o.dir;
  options.sync_writes = false;
  auto opened = assent::store::Store::Open(options, clock);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  assent::store::Store& store = **opened;
  const std::string tenant = "bench";
  const int32_t last_day =
      static_cast<int32_t>(absl::CivilDay(2026, 12, 1) - absl::CivilDay(1970, 1, 1));
  const int32_t first_day = last_day - o.days;

  // Decisions are spread evenly over the cells (day x purpose x channel x jurisdiction x source),
  // each cell's state mix drawn around 55 % granted, 20 % denied, 15 % withdrawn, 5 % pending,
  // 5 % lapsed. Every finer cell is summed into the coarser families.
  const auto fill_start = std::chrono::steady_clock::now();
  const int64_t cells =
      static_cast<int64_t>(o.days) * o.purposes * o.channels * o.jurisdictions * o.sources;
  const double per_cell = static_cast<double>(o.decisions) / static_cast<double>(cells);
  std::mt19937_64 rng(42);
  std::poisson_distribution<int> count(per_cell);
  std::discrete_distribution<int> state({55, 20, 15, 5, 5});
  int64_t total = 0, rows = 0;
  auto put = [&](rocksdb::WriteBatch& batch, const ReportKey& key, const ReportCounts& c) {
    batch.Put(store.Handle(assent::store::Cf::kReports), assent::store::EncodeReportKey(key),
              assent::store::EncodeCounts(c));
    ++rows;
  };
  for (int32_t day = first_day; day < last_day; ++day) {
    rocksdb::WriteBatch batch;
    std::vector<ReportCounts> by_source_only(o.sources);
    for (int p = 0; p < o.purposes; ++p) {
      const std::string purpose = absl::StrCat("purpose-", p);
      std::vector<ReportCounts> by_source(o.sources);
      ReportCounts by_purpose;
      for (int c = 0; c < o.channels; ++c) {
        ReportCounts pc;
        for (int j = 0; j < o.jurisdictions; ++j) {
          ReportCounts pcj;
          for (int s = 0; s < o.sources; ++s) {
            ReportCounts cell;
            const int n = count(rng);
            for (int k = 0; k < n; ++k) cell.n[state(rng)]++;
            total += n;
            if (n == 0) continue;
            ReportKey key{ReportFamily::kFull,       tenant, day, purpose, c + 1, kJurisdictions[j],
                          absl::StrCat("source-", s)};
            put(batch, key, cell);
            for (int i = 0; i < 5; ++i) {
              pcj.n[i] += cell.n[i];
              by_source[s].n[i] += cell.n[i];
              by_source_only[s].n[i] += cell.n[i];
            }
          }
          put(batch,
              {ReportFamily::kJurisdiction, tenant, day, purpose, c + 1, kJurisdictions[j], ""},
              pcj);
          for (int i = 0; i < 5; ++i) pc.n[i] += pcj.n[i];
        }
        put(batch, {ReportFamily::kPurposeChannel, tenant, day, purpose, c + 1, "", ""}, pc);
        for (int i = 0; i < 5; ++i) by_purpose.n[i] += pc.n[i];
      }
      put(batch, {ReportFamily::kPurposeOnly, tenant, day, purpose, 0, "", ""}, by_purpose);
      for (int s = 0; s < o.sources; ++s) {
        put(batch, {ReportFamily::kSource, tenant, day, purpose, 0, "", absl::StrCat("source-", s)},
            by_source[s]);
      }
    }
    for (int s = 0; s < o.sources; ++s) {
      put(batch, {ReportFamily::kSourceOnly, tenant, day, "", 0, "", absl::StrCat("source-", s)},
          by_source_only[s]);
    }
    if (!store.WriteUnsynced(&batch).ok()) return 1;
  }
  // Current counts: one row per purpose x channel x jurisdiction.
  {
    rocksdb::WriteBatch batch;
    for (int p = 0; p < o.purposes; ++p) {
      for (int c = 0; c < o.channels; ++c) {
        for (int j = 0; j < o.jurisdictions; ++j) {
          ReportCounts cur;
          cur.n = {1000, 300, 200, 10, 50};
          put(batch,
              {ReportFamily::kCurrent, tenant, 0, absl::StrCat("purpose-", p), c + 1,
               kJurisdictions[j], ""},
              cur);
        }
      }
    }
    if (!store.WriteUnsynced(&batch).ok()) return 1;
  }
  if (!store.CompactAll().ok()) return 1;
  const double fill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();
  std::printf(
      "{\"kind\":\"fill\",\"decisions\":%lld,\"aggregate_rows\":%lld,\"seconds\":%.1f,"
      "\"days\":%d,\"purposes\":%d,\"channels\":%d,\"jurisdictions\":%d,\"sources\":%d}\n",
      static_cast<long long>(total), static_cast<long long>(rows), fill_s, o.days, o.purposes,
      o.channels, o.jurisdictions, o.sources);

  struct Query {
    std::string name;
    assent::v1::GetConsentReportRequest request;
  };
  using D = assent::v1::ReportDimension;
  auto query = [&](std::string name, int days, std::vector<D> group_by) {
    Query q{std::move(name), {}};
    q.request.set_tenant(tenant);
    q.request.set_start_day(Day(last_day - days));
    q.request.set_end_day(Day(last_day));
    for (D d : group_by) q.request.add_group_by(d);
    return q;
  };
  const std::vector<Query> queries = {
      query("year_by_day_and_purpose", 365,
            {assent::v1::REPORT_DIMENSION_DAY, assent::v1::REPORT_DIMENSION_PURPOSE}),
      query("month_by_source", 30, {assent::v1::REPORT_DIMENSION_SOURCE}),
      query("month_by_day_purpose_channel", 30,
            {assent::v1::REPORT_DIMENSION_DAY, assent::v1::REPORT_DIMENSION_PURPOSE,
             assent::v1::REPORT_DIMENSION_CHANNEL}),
      // The worst case: every dimension (the finest family) over a month.
      query("month_by_every_dimension", 30,
            {assent::v1::REPORT_DIMENSION_DAY, assent::v1::REPORT_DIMENSION_PURPOSE,
             assent::v1::REPORT_DIMENSION_CHANNEL, assent::v1::REPORT_DIMENSION_JURISDICTION,
             assent::v1::REPORT_DIMENSION_SOURCE}),
  };
  for (const Query& q : queries) {
    std::vector<double> us;
    int64_t rows_read = 0, rows_out = 0;
    // Warm-up (block cache), then timed runs.
    for (int i = 0; i < 3; ++i) (void)assent::ledger::BuildConsentReport(store, q.request);
    for (int i = 0; i < o.queries; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = assent::ledger::BuildConsentReport(store, q.request);
      const auto t1 = std::chrono::steady_clock::now();
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        return 1;
      }
      rows_read = r->rows_read();
      rows_out = r->rows_size();
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    std::printf(
        "{\"kind\":\"query\",\"name\":\"%s\",\"rows_read\":%lld,\"rows_out\":%lld,\"p50_us\":%.0f,"
        "\"p99_us\":%.0f}\n",
        q.name.c_str(), static_cast<long long>(rows_read), static_cast<long long>(rows_out),
        Percentile(us, 0.5), Percentile(us, 0.99));
  }
  return 0;
}
