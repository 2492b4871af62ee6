// Ledger::BatchCheck over a real RocksDB store whose subjects are held in the block cache, against
// the same targets asked as single Ledger::Check calls. The store lives in a temporary directory,
// is seeded through the ledger's own RecordDecisions (WAL not fsync'ed: durability is not what is
// measured) and flushed and compacted to SST files, so reads go through the block cache and the
// bloom filters as they do in a long-running server.
#include <stdlib.h>  // mkdtemp

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "ledger/ledger.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::bench {
namespace {

constexpr int kSubjects = 100'000;
constexpr int kBatch = 10'000;
constexpr char kBenchTenant[] = "bench";
constexpr char kPurpose0[] = "marketing.p0";

// Seeding cannot fail on a working machine; if it does, the figures would be meaningless.
void Must(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "batch_check_bench: %s: %s\n", what, status.ToString().c_str());
  std::abort();
}

// Subject ids per population: "d<decisions>-<i>" holds `decisions` grants (purposes p0..).
std::string SubjectId(int decisions, int i) { return absl::StrCat("d", decisions, "-", i); }

// The seeded store, built once for every benchmark of this file and removed at exit.
class SeededLedger {
 public:
  static SeededLedger& Get() {
    static SeededLedger instance;
    return instance;
  }
  const ledger::Ledger& ledger() const { return *ledger_; }

 private:
  SeededLedger() {
    char dir_template[] = "/tmp/assent-batch-bench-XXXXXX";
    Must(mkdtemp(dir_template) != nullptr ? absl::OkStatus() : absl::InternalError("mkdtemp"),
         "temp dir");
    dir_ = dir_template;
    store::StoreOptions options;
    options.path = dir_ + "/db";
    options.sync_writes = false;
    auto store = store::Store::Open(options, clock_);
    Must(store.status(), "open store");
    store_ = *std::move(store);
    committer_ = std::make_unique<store::Committer>(*store_, clock_);
    ledger::LedgerOptions ledger_options;
    ledger_options.contact_key_secret = "0123456789abcdef0123456789abcdef";
    auto ledger = ledger::Ledger::Create(*store_, *committer_, clock_, ledger_options);
    Must(ledger.status(), "create ledger");
    ledger_ = *std::move(ledger);
    Seed();
  }
  ~SeededLedger() {
    ledger_.reset();
    committer_->Stop();
    committer_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  template <typename Response, typename Request, typename Method>
  void Wait(Method method, const Request& request) {
    absl::BlockingCounter done(1);
    (ledger_.get()->*method)(request, absl::InfiniteFuture(), [&](absl::StatusOr<Response> r) {
      Must(r.status(), "seed");
      done.DecrementCount();
    });
    done.Wait();
  }

  void Seed() {
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id(kBenchTenant);
    tenant.mutable_tenant()->set_display_name("Bench");
    Wait<v1::Tenant>(&ledger::Ledger::CreateTenant, tenant);
    for (int p = 0; p < 3; ++p) {
      v1::CreatePurposeRequest purpose;
      purpose.set_parent(absl::StrCat("tenants/", kBenchTenant));
      v1::Purpose* created = purpose.mutable_purpose();
      created->set_purpose_id(absl::StrCat("marketing.p", p));
      created->set_display_name(created->purpose_id());
      created->set_kind(v1::MARKETING);
      created->set_legal_basis(v1::CONSENT);
      created->add_channels(v1::EMAIL);
      created->add_channels(v1::SMS);
      created->set_notice_version(1);
      Wait<v1::Purpose>(&ledger::Ledger::CreatePurpose, purpose);
    }
    // Waves well below the committer's queue limit.
    constexpr int kWave = 2000;
    for (int decisions : {1, 3}) {
      for (int start = 0; start < kSubjects; start += kWave) {
        absl::BlockingCounter done(kWave);
        for (int i = start; i < start + kWave; ++i) {
          v1::RecordDecisionsRequest request;
          request.set_tenant(kBenchTenant);
          request.mutable_target()->set_subject_id(SubjectId(decisions, i));
          request.set_source("web-signup-v3");
          request.set_actor("signup-service");
          for (int p = 0; p < decisions; ++p) {
            auto* d = request.add_decisions();
            d->set_purpose_id(absl::StrCat("marketing.p", p));
            d->set_state(v1::GRANTED);
          }
          ledger_->RecordDecisions(request, absl::InfiniteFuture(),
                                   [&](absl::StatusOr<v1::RecordDecisionsResponse> r) {
                                     Must(r.status(), "seed");
                                     done.DecrementCount();
                                   });
        }
        done.Wait();
      }
    }
    // Into SST files, so that checks read through the block cache as in a long-running server;
    // every column family, so that no flush or compaction runs in the background while timing.
    for (int cf = 0; cf < store::kCfCount; ++cf) {
      rocksdb::Status compacted =
          store_->db()->CompactRange(rocksdb::CompactRangeOptions(),
                                     store_->Handle(static_cast<store::Cf>(cf)), nullptr, nullptr);
      Must(compacted.ok() ? absl::OkStatus() : absl::InternalError(compacted.ToString()),
           "compact");
    }
  }

  SystemClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Committer> committer_;
  std::unique_ptr<ledger::Ledger> ledger_;
};

// kBatch random subjects of the population with `decisions` decisions (fixed seed), checked for
// purpose p0 on EMAIL.
v1::BatchCheckRequest RandomBatch(int decisions) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, kSubjects - 1);
  v1::BatchCheckRequest batch;
  batch.set_tenant(kBenchTenant);
  batch.set_purpose_id(kPurpose0);
  batch.set_channel(v1::EMAIL);
  for (int i = 0; i < kBatch; ++i) {
    batch.add_targets()->set_subject_id(SubjectId(decisions, pick(rng)));
  }
  return batch;
}

// Stops the benchmark with an error unless every target was granted by its stored decision.
bool AllGranted(benchmark::State& state, const absl::StatusOr<v1::BatchCheckResponse>& response) {
  if (!response.ok()) {
    state.SkipWithError(response.status().ToString().c_str());
    return false;
  }
  for (const auto& r : response->results()) {
    if (r.verdict() != v1::ALLOW || r.reason() != v1::EXPLICIT_GRANT) {
      state.SkipWithError(absl::StrCat("unexpected verdict: ", r.ShortDebugString()).c_str());
      return false;
    }
  }
  return true;
}

// One BatchCheck of kBatch subject targets per iteration; items = checks.
void BM_BatchCheck(benchmark::State& state) {
  const ledger::Ledger& ledger = SeededLedger::Get().ledger();
  const v1::BatchCheckRequest batch = RandomBatch(static_cast<int>(state.range(0)));
  if (!AllGranted(state, ledger.BatchCheck(batch))) return;  // also warms the block cache
  for (auto _ : state) {
    absl::StatusOr<v1::BatchCheckResponse> response = ledger.BatchCheck(batch);
    benchmark::DoNotOptimize(response);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
}

// Baseline: the same kBatch targets as kBatch single Ledger::Check calls per iteration.
void BM_SingleChecks(benchmark::State& state) {
  const ledger::Ledger& ledger = SeededLedger::Get().ledger();
  const v1::BatchCheckRequest batch = RandomBatch(static_cast<int>(state.range(0)));
  std::vector<v1::CheckRequest> checks(kBatch);
  for (int i = 0; i < kBatch; ++i) {
    checks[i].set_tenant(batch.tenant());
    checks[i].set_purpose_id(batch.purpose_id());
    checks[i].set_channel(batch.channel());
    *checks[i].mutable_target() = batch.targets(i);
  }
  if (!AllGranted(state, ledger.BatchCheck(batch))) return;
  for (const auto& check : checks) {
    if (!ledger.Check(check).ok()) {
      state.SkipWithError("check failed");
      return;
    }
  }
  for (auto _ : state) {
    for (const auto& check : checks) {
      absl::StatusOr<v1::CheckResponse> response = ledger.Check(check);
      benchmark::DoNotOptimize(response);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
}

BENCHMARK(BM_BatchCheck)->ArgName("decisions")->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SingleChecks)->ArgName("decisions")->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace assent::bench
