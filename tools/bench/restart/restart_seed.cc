// restart_seed: fills a consentd data directory with N subjects for the restart benchmark
// (run.sh). It drives the ledger in-process, exactly as consentd's RecordDecisions does, so the
// stored records are the ones a server would have written: tenant "bench", purpose
// "marketing.newsletter" (MARKETING, EMAIL) and one GRANTED decision for each of s0..s<N-1>, with
// its history record. Differences from a server's life, all on purpose:
//   - the WAL is not fsync'ed while seeding (durability of the seed is not what is measured);
//   - the outbox is emptied at the end, as a server with Kafka would have relayed it;
//   - the database is compacted and closed cleanly, so the restart replays no WAL.
//   restart_seed --data-dir DIR --subjects N [--block-cache-mb 256] [--write-buffer-mb 32]
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "bench/bench_catalog.h"
#include "common/clock.h"
#include "ledger/ledger.h"
#include "rocksdb/db.h"
#include "store/committer.h"
#include "store/keys.h"
#include "store/store.h"

namespace {

using assent::ledger::Ledger;

void Must(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "restart_seed: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

void Must(const rocksdb::Status& status, const char* what) {
  if (!status.ok()) Must(absl::InternalError(status.ToString()), what);
}

// Runs one asynchronous ledger write and waits for it.
template <typename Response, typename Request, typename Method>
void Wait(Ledger& ledger, Method method, const Request& request, const char* what) {
  absl::BlockingCounter done(1);
  (ledger.*method)(request, absl::InfiniteFuture(), [&](absl::StatusOr<Response> r) {
    Must(r.status(), what);
    done.DecrementCount();
  });
  done.Wait();
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "restart_seed: %s\nusage: restart_seed --data-dir DIR --subjects N "
               "[--block-cache-mb 256] [--write-buffer-mb 32]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir;
  int64_t subjects = -1;
  int64_t block_cache_mb = 256;
  int64_t write_buffer_mb = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    bool ok = true;
    if (flag == "--data-dir") {
      data_dir = value;
    } else if (flag == "--subjects") {
      ok = absl::SimpleAtoi(value, &subjects) && subjects >= 0;
    } else if (flag == "--block-cache-mb") {
      ok = absl::SimpleAtoi(value, &block_cache_mb) && block_cache_mb > 0;
    } else if (flag == "--write-buffer-mb") {
      ok = absl::SimpleAtoi(value, &write_buffer_mb) && write_buffer_mb > 0;
    } else {
      return Usage("unknown flag");
    }
    if (!ok) return Usage("bad value");
  }
  if (argc % 2 != 1 || data_dir.empty() || subjects < 0) return Usage("missing flags");

  assent::SystemClock clock;
  assent::store::StoreOptions options;
  options.path = data_dir;
  options.block_cache_bytes = static_cast<size_t>(block_cache_mb) << 20;
  options.write_buffer_bytes = static_cast<size_t>(write_buffer_mb) << 20;
  options.sync_writes = false;
  auto store = assent::store::Store::Open(options, clock);
  Must(store.status(), "open store");
  assent::store::CommitterOptions committer_options;
  committer_options.max_group = 2048;
  auto committer = std::make_unique<assent::store::Committer>(**store, clock, committer_options);
  assent::ledger::LedgerOptions ledger_options;
  // The seed writes no contact points, so the key it would derive their hashes from is unused.
  ledger_options.contact_key_secret = "restart-seed-unused-secret";
  auto ledger_or = Ledger::Create(**store, *committer, clock, ledger_options);
  Must(ledger_or.status(), "create ledger");
  Ledger& ledger = **ledger_or;

  const absl::Time start = absl::Now();
  Wait<assent::v1::Tenant>(ledger, &Ledger::CreateTenant, assent::bench::BenchTenantRequest(),
                           "create tenant");
  Wait<assent::v1::Purpose>(ledger, &Ledger::CreatePurpose, assent::bench::BenchPurposeRequest(),
                            "create purpose");

  // Waves well below the committer's queue limit (20000 by default).
  constexpr int64_t kWave = 10000;
  for (int64_t first = 0; first < subjects; first += kWave) {
    const int64_t last = std::min(subjects, first + kWave);
    absl::BlockingCounter done(static_cast<int>(last - first));
    for (int64_t i = first; i < last; ++i) {
      assent::v1::RecordDecisionsRequest request;
      request.set_tenant("bench");
      request.mutable_target()->set_subject_id(absl::StrCat("s", i));
      request.set_source("restart-seed");
      request.set_actor("restart_seed");
      auto* d = request.add_decisions();
      d->set_purpose_id("marketing.newsletter");
      d->set_state(assent::v1::GRANTED);
      ledger.RecordDecisions(request, absl::InfiniteFuture(),
                             [&](absl::StatusOr<assent::v1::RecordDecisionsResponse> r) {
                               Must(r.status(), "record");
                               done.DecrementCount();
                             });
    }
    done.Wait();
    if (last % 1'000'000 == 0 || last == subjects) {
      std::fprintf(stderr, "restart_seed: %lld subjects, %.0f s\n", static_cast<long long>(last),
                   absl::ToDoubleSeconds(absl::Now() - start));
    }
  }
  const absl::Time seeded = absl::Now();

  // As if a relay had published every event: empty the outbox, then compact everything.
  rocksdb::DB* db = (*store)->db();
  const std::string from = assent::store::OutboxKey(0);
  const std::string to = assent::store::OutboxKey(UINT64_MAX);
  Must(db->DeleteRange(rocksdb::WriteOptions(), (*store)->Handle(assent::store::Cf::kOutbox), from,
                       to),
       "empty outbox");
  for (auto cf :
       {assent::store::Cf::kSubjects, assent::store::Cf::kHistory, assent::store::Cf::kOutbox}) {
    Must(db->CompactRange(rocksdb::CompactRangeOptions(), (*store)->Handle(cf), nullptr, nullptr),
         "compact");
  }
  ledger_or->reset();
  committer->Stop();
  committer.reset();
  Must((*store)->Close(), "close");
  std::printf("{\"subjects\":%lld,\"seed_seconds\":%.1f,\"compact_seconds\":%.1f}\n",
              static_cast<long long>(subjects), absl::ToDoubleSeconds(seeded - start),
              absl::ToDoubleSeconds(absl::Now() - seeded));
  return 0;
}
