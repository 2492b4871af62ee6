// export_bench: the memory a subject export costs (results and the command in RESULTS.md beside
// this file). It drives the ledger in-process as consentd does:
//   1. records --records decisions for one subject (each with ~--evidence-bytes of evidence, so
//      that the history weighs something: 10,000 records of 1 KiB are ~10 MiB);
//   2. reopens the store with a small block cache (--cache-mb) so that the cache cannot hide
//      what the export holds;
//   3. streams the export (Ledger::ExportSubject, pages of --page records) and renders every
//      chunk as JSON Lines as assentctl does, discarding the text, and reports the process's peak
//      RSS (VmHWM, reset through /proc/self/clear_refs just before) against its RSS before;
//   4. for contrast, does the same while keeping every record (what a one-message export would).
//
//   export_bench --data-dir DIR [--records 10000] [--page 100] [--evidence-bytes 1024]
//                [--cache-mb 8] [--seed-only 1]
// --seed-only 1 stops after step 1, leaving DIR for consentd (run.sh measures consentd itself).
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "assentctl/export_format.h"
#include "common/clock.h"
#include "ledger/export.h"
#include "ledger/ledger.h"
#include "store/committer.h"
#include "store/store.h"

namespace {

using assent::ledger::Ledger;

void Must(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "export_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

// A /proc/self/status value in KiB ("VmRSS", "VmHWM").
long StatusKib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0)
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return -1;
}

// Returns freed memory to the system and restarts the peak from the current RSS.
long ResetPeak() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
  return StatusKib("VmRSS");
}

template <typename Response, typename Request, typename Method>
void Wait(Ledger& ledger, Method method, const Request& request, const char* what) {
  absl::Notification done;
  absl::Status status;
  (ledger.*method)(request, absl::InfiniteFuture(), [&](absl::StatusOr<Response> r) {
    status = r.status();
    done.Notify();
  });
  done.WaitForNotification();
  Must(status, what);
}

struct Opened {
  std::unique_ptr<assent::store::Store> store;
  std::unique_ptr<assent::store::Committer> committer;
  std::unique_ptr<Ledger> ledger;
  ~Opened() {
    ledger.reset();
    if (committer) committer->Stop();
  }
};

void Open(Opened& o, const std::string& dir, int cache_mb) {
  assent::store::StoreOptions options;
  options.path = dir;
  options.block_cache_bytes = static_cast<size_t>(cache_mb) << 20;
  options.write_buffer_bytes = 8u << 20;
  auto store = assent::store::Store::Open(options, assent::SystemClock::Get());
  Must(store.status(), "open store");
  o.store = *std::move(store);
  o.committer = std::make_unique<assent::store::Committer>(*o.store, assent::SystemClock::Get());
  assent::ledger::LedgerOptions ledger_options;
  ledger_options.contact_key_secret = "0123456789abcdef0123456789abcdef";
  auto ledger = Ledger::Create(*o.store, *o.committer, assent::SystemClock::Get(), ledger_options);
  Must(ledger.status(), "create ledger");
  o.ledger = *std::move(ledger);
}

void Seed(Ledger& ledger, int records, int evidence_bytes) {
  assent::v1::CreateTenantRequest tenant;
  tenant.mutable_tenant()->set_tenant_id("acme");
  tenant.mutable_tenant()->set_display_name("Acme");
  Wait<assent::v1::Tenant>(ledger, &Ledger::CreateTenant, tenant, "create tenant");
  assent::v1::CreatePurposeRequest purpose;
  purpose.set_parent("tenants/acme");
  auto* p = purpose.mutable_purpose();
  p->set_purpose_id("marketing.newsletter");
  p->set_display_name("Newsletter");
  p->set_kind(assent::v1::MARKETING);
  p->set_legal_basis(assent::v1::CONSENT);
  p->add_channels(assent::v1::EMAIL);
  p->set_notice_version(1);
  Wait<assent::v1::Purpose>(ledger, &Ledger::CreatePurpose, purpose, "create purpose");
  constexpr int kWave = 500;
  for (int start = 0; start < records; start += kWave) {
    const int count = std::min(kWave, records - start);
    std::atomic<int> left{count};
    std::atomic<int> failed{0};
    absl::Notification done;
    for (int i = 0; i < count; ++i) {
      assent::v1::RecordDecisionsRequest r;
      r.set_tenant("acme");
      r.mutable_target()->set_subject_id("subject-1");
      r.set_source("web-signup-v3");
      r.set_actor("bench");
      r.mutable_evidence()->set_ip_address("198.51.100.7");
      r.mutable_evidence()->set_user_agent(std::string(static_cast<size_t>(evidence_bytes), 'u'));
      auto* d = r.add_decisions();
      d->set_purpose_id("marketing.newsletter");
      d->set_channel(assent::v1::EMAIL);
      d->set_state((start + i) % 2 == 0 ? assent::v1::GRANTED : assent::v1::WITHDRAWN);
      ledger.RecordDecisions(r, absl::InfiniteFuture(),
                             [&](absl::StatusOr<assent::v1::RecordDecisionsResponse> res) {
                               if (!res.ok()) failed.fetch_add(1);
                               if (left.fetch_sub(1) == 1) done.Notify();
                             });
    }
    done.WaitForNotification();
    if (failed.load() != 0) Must(absl::InternalError("a write failed"), "record");
  }
}

struct Run {
  long rss_before_kib = 0;
  long peak_kib = 0;
  uint64_t records = 0;
  size_t json_bytes = 0;
  size_t max_held = 0;
  bool verified = false;
  absl::Duration elapsed;
};

// Streams the export; with `keep`, keeps every record and the whole text (the contrast).
Run Export(Ledger& ledger, int page, bool keep) {
  Run run;
  run.rss_before_kib = ResetPeak();
  const absl::Time start = absl::Now();
  {
    assent::v1::ExportSubjectRequest request;
    request.set_tenant("acme");
    request.set_subject_id("subject-1");
    request.set_page_size(static_cast<uint32_t>(page));
    auto exporter = ledger.ExportSubject(request);
    Must(exporter.status(), "export");
    assent::ctl::ExportWriter writer(assent::ctl::ExportFormat::kJson);
    std::vector<assent::v1::ExportChunk> kept;
    std::string all_text;
    assent::v1::ExportChunk chunk;
    *chunk.mutable_header() = (*exporter)->header();
    run.json_bytes += writer.Render(chunk).size();
    while (true) {
      chunk.Clear();
      auto more = (*exporter)->NextPage(*chunk.mutable_history());
      Must(more.status(), "next page");
      if (!*more) break;
      run.records += static_cast<uint64_t>(chunk.history().records_size());
      std::string text = writer.Render(chunk);
      run.json_bytes += text.size();
      if (keep) {
        kept.push_back(chunk);
        all_text += text;
      }
    }
    run.verified = (*exporter)->Trailer().chain_verified();
    run.max_held = keep ? run.records : (*exporter)->max_records_held();
    run.peak_kib = StatusKib("VmHWM");
  }
  run.elapsed = absl::Now() - start;
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int records = 10000, page = 100, evidence_bytes = 1024, cache_mb = 8, seed_only = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    bool ok = true;
    if (flag == "--data-dir") {
      dir = value;
    } else if (flag == "--records") {
      ok = absl::SimpleAtoi(value, &records);
    } else if (flag == "--page") {
      ok = absl::SimpleAtoi(value, &page);
    } else if (flag == "--evidence-bytes") {
      ok = absl::SimpleAtoi(value, &evidence_bytes);
    } else if (flag == "--cache-mb") {
      ok = absl::SimpleAtoi(value, &cache_mb);
    } else if (flag == "--seed-only") {
      ok = absl::SimpleAtoi(value, &seed_only);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "export_bench: bad flag %s %s\n", flag.c_str(), value.c_str());
      return 64;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr,
                 "usage: export_bench --data-dir DIR [--records N] [--page N] "
                 "[--evidence-bytes N] [--cache-mb N]\n");
    return 64;
  }
  {
    Opened seed;
    Open(seed, dir, cache_mb);
    Seed(*seed.ledger, records, evidence_bytes);
    Must(seed.store->Close(), "close");
  }
  if (seed_only != 0) return 0;
  Opened o;
  Open(o, dir, cache_mb);
  Export(*o.ledger, page, false);  // warm-up: code pages, the catalog, the table readers
  const Run streamed = Export(*o.ledger, page, false);
  const Run kept = Export(*o.ledger, page, true);
  std::printf(
      "| mode | records | page | JSON MiB | max records held | RSS before MiB | peak RSS MiB "
      "| peak - before MiB | chain | seconds |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [name, r] :
       {std::pair{"streamed (export)", streamed}, std::pair{"all kept (contrast)", kept}}) {
    std::printf("| %s | %llu | %d | %.1f | %zu | %.1f | %.1f | %.1f | %s | %.2f |\n", name,
                static_cast<unsigned long long>(r.records), page, r.json_bytes / 1048576.0,
                r.max_held, r.rss_before_kib / 1024.0, r.peak_kib / 1024.0,
                (r.peak_kib - r.rss_before_kib) / 1024.0, r.verified ? "verified" : "BROKEN",
                absl::ToDoubleSeconds(r.elapsed));
  }
  return streamed.verified ? 0 : 1;
}
