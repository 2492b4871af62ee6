// lifecycle_bench: what time-driven consent costs, measured in one run against the durable write
// path it must not slow down (results and the command in RESULTS.md beside this file).
//
//   1. The expiry index on the write path: durable RecordDecisions throughput (fsync'ed, group-
//      committed, --inflight concurrent writes) of grants without expiry (baseline) against
//      grants with an expiry and a reminder (two due-index entries in the same batch), in
//      alternating rounds so that drift affects both alike. Target: the index costs <= 5 %.
//   2. The sweeper: --grants grants, all indexed and due, expired by Ledger::SweepDue rounds
//      (uncapped; consentd caps them with sweeper.max_rate) against the baseline durable write
//      rate of step 1. Target: >= 50 %.
// It drives the ledger in-process as consentd does, on a clock it moves past the expiries.
//
//   lifecycle_bench --data-dir DIR [--grants 1000000] [--seconds 5] [--rounds 3] [--inflight 64]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "common/clock.h"
#include "common/time_util.h"
#include "ledger/ledger.h"
#include "store/committer.h"
#include "store/store.h"

namespace {

using assent::ledger::Ledger;

void Must(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "lifecycle_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

// The wall clock moved forward by a settable offset: the sweep happens "later" without waiting.
class ShiftedClock final : public assent::Clock {
 public:
  absl::Time Now() const override { return absl::Now() + offset_.load(); }
  bool SleepUntil(absl::Time deadline, const absl::Notification* cancel) const override {
    return assent::SystemClock::Get().SleepUntil(deadline - offset_.load(), cancel);
  }
  void Shift(absl::Duration d) { offset_.store(offset_.load() + d); }

 private:
  std::atomic<absl::Duration> offset_{absl::ZeroDuration()};
};

template <typename Response, typename Request, typename Method>
void Wait(Ledger& ledger, Method method, const Request& request, const char* what) {
  absl::BlockingCounter done(1);
  (ledger.*method)(request, absl::InfiniteFuture(), [&](absl::StatusOr<Response> r) {
    Must(r.status(), what);
    done.DecrementCount();
  });
  done.Wait();
}

assent::v1::CreatePurposeRequest Purpose(const std::string& id, bool remind) {
  assent::v1::CreatePurposeRequest request;
  request.set_parent("tenants/bench");
  assent::v1::Purpose* p = request.mutable_purpose();
  p->set_purpose_id(id);
  p->set_display_name(id);
  p->set_kind(assent::v1::MARKETING);
  p->set_legal_basis(assent::v1::CONSENT);
  p->add_channels(assent::v1::EMAIL);
  p->set_notice_version(1);
  if (remind) *p->mutable_remind_before() = assent::ToProtoDuration(absl::Hours(24 * 30));
  return request;
}

// Keeps `inflight` RecordDecisions in flight for `seconds` (or until `count` writes when count >
// 0); returns writes per second. Each write is one GRANTED for a fresh subject; with `expire`,
// it expires `expire_in` from now.
double Write(Ledger& ledger, const assent::Clock& clock, const std::string& purpose, bool expire,
             absl::Duration expire_in, int inflight, absl::Duration seconds, int64_t count,
             int64_t* next_subject) {
  absl::Mutex mu;
  int outstanding = 0;
  int64_t done = 0;
  const absl::Time start = absl::Now();
  const absl::Time end = start + seconds;
  int64_t issued = 0;
  while (count > 0 ? issued < count : absl::Now() < end) {
    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return outstanding < inflight; };
      mu.Await(absl::Condition(&room));
      ++outstanding;
    }
    assent::v1::RecordDecisionsRequest request;
    request.set_tenant("bench");
    request.mutable_target()->set_subject_id(absl::StrCat("s", (*next_subject)++));
    request.set_source("bench");
    request.set_actor("lifecycle_bench");
    auto* d = request.add_decisions();
    d->set_purpose_id(purpose);
    d->set_state(assent::v1::GRANTED);
    if (expire) *d->mutable_expire_time() = assent::ToProto(clock.Now() + expire_in);
    ++issued;
    ledger.RecordDecisions(request, absl::InfiniteFuture(),
                           [&](absl::StatusOr<assent::v1::RecordDecisionsResponse> r) {
                             Must(r.status(), "record");
                             absl::MutexLock lock(&mu);
                             --outstanding;
                             ++done;
                           });
  }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &outstanding));
  return static_cast<double>(done) / absl::ToDoubleSeconds(absl::Now() - start);
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "lifecycle_bench: %s\nusage: lifecycle_bench --data-dir DIR [--grants N] "
               "[--seconds S] [--rounds R] [--inflight N]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir;
  int64_t grants = 1'000'000, seconds = 5, rounds = 3, inflight = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    bool ok = true;
    if (flag == "--data-dir") {
      data_dir = value;
    } else if (flag == "--grants") {
      ok = absl::SimpleAtoi(value, &grants) && grants > 0;
    } else if (flag == "--seconds") {
      ok = absl::SimpleAtoi(value, &seconds) && seconds > 0;
    } else if (flag == "--rounds") {
      ok = absl::SimpleAtoi(value, &rounds) && rounds > 0;
    } else if (flag == "--inflight") {
      ok = absl::SimpleAtoi(value, &inflight) && inflight > 0 && inflight <= 10000;
    } else {
      return Usage("unknown flag");
    }
    if (!ok) return Usage("bad value");
  }
  if (argc % 2 != 1 || data_dir.empty()) return Usage("missing flags");

  ShiftedClock clock;
  assent::store::StoreOptions options;
  options.path = data_dir;
  options.sync_writes = true;  // the durable path consentd serves
  auto store = assent::store::Store::Open(options, clock);
  Must(store.status(), "open store");
  auto committer = std::make_unique<assent::store::Committer>(**store, clock);
  assent::ledger::LedgerOptions ledger_options;
  ledger_options.contact_key_secret = "lifecycle-bench-unused-secret";
  auto ledger_or = Ledger::Create(**store, *committer, clock, ledger_options);
  Must(ledger_or.status(), "create ledger");
  Ledger& ledger = **ledger_or;
  assent::v1::CreateTenantRequest tenant;
  tenant.mutable_tenant()->set_tenant_id("bench");
  tenant.mutable_tenant()->set_display_name("bench");
  Wait<assent::v1::Tenant>(ledger, &Ledger::CreateTenant, tenant, "create tenant");
  Wait<assent::v1::Purpose>(ledger, &Ledger::CreatePurpose, Purpose("plain", false), "purpose");
  Wait<assent::v1::Purpose>(ledger, &Ledger::CreatePurpose, Purpose("expiring", true), "purpose");
  Wait<assent::v1::Purpose>(ledger, &Ledger::CreatePurpose, Purpose("sweep", false), "purpose");

  int64_t subject = 0;
  const absl::Duration phase = absl::Seconds(seconds);
  // Warm-up, then alternating rounds.
  Write(ledger, clock, "plain", false, absl::ZeroDuration(), static_cast<int>(inflight), phase, 0,
        &subject);
  double plain = 0, expiring = 0;
  std::printf("| round | durable writes/s, no expiry | with expiry + reminder | ratio |\n");
  std::printf("|---|---|---|---|\n");
  for (int r = 1; r <= rounds; ++r) {
    const double a = Write(ledger, clock, "plain", false, absl::ZeroDuration(),
                           static_cast<int>(inflight), phase, 0, &subject);
    // Expiries a year away: indexed, never due during the run.
    const double b = Write(ledger, clock, "expiring", true, absl::Hours(24 * 365),
                           static_cast<int>(inflight), phase, 0, &subject);
    plain += a;
    expiring += b;
    std::printf("| %d | %.0f | %.0f | %.3f |\n", r, a, b, b / a);
    std::fflush(stdout);
  }
  plain /= static_cast<double>(rounds);
  expiring /= static_cast<double>(rounds);
  std::printf("| mean | %.0f | %.0f | **%.3f** (index cost %.1f %%) |\n\n", plain, expiring,
              expiring / plain, 100.0 * (1 - expiring / plain));

  // Fill: `grants` grants all expiring 10 minutes from now, then move the clock past them.
  const absl::Time fill_start = absl::Now();
  Write(ledger, clock, "sweep", true, absl::Minutes(10), static_cast<int>(inflight),
        absl::ZeroDuration(), grants, &subject);
  std::fprintf(stderr, "lifecycle_bench: %lld grants indexed in %.0f s\n",
               static_cast<long long>(grants), absl::ToDoubleSeconds(absl::Now() - fill_start));
  clock.Shift(absl::Minutes(11));
  const absl::Time sweep_start = absl::Now();
  int64_t expired = 0;
  while (true) {
    auto stats = ledger.SweepDue(clock.Now(), 1000);
    Must(stats.status(), "sweep");
    expired += stats->expired;
    if (!stats->more) break;
  }
  const double sweep_seconds = absl::ToDoubleSeconds(absl::Now() - sweep_start);
  const double sweep_rate = static_cast<double>(expired) / sweep_seconds;
  std::printf("| sweeper | grants expired | seconds | expired/s | ratio to durable writes/s |\n");
  std::printf("|---|---|---|---|---|\n");
  std::printf("| %lld indexed | %lld | %.1f | %.0f | **%.3f** |\n", static_cast<long long>(grants),
              static_cast<long long>(expired), sweep_seconds, sweep_rate, sweep_rate / plain);
  committer->Stop();
  return expired == grants ? 0 : 1;
}
