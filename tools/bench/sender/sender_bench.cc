// CPU and memory of the enforcement library's local check (Google Benchmark). See RESULTS.md for
// the table and the command.
//
//   BM_LocalCheck/...      enforce::CheckInView: catalog lookup, view lookup under the shard's
//                          shared lock, the decision rule; for contact points also the linked
//                          subject. The view holds `targets` subjects (and as many contacts).
//   BM_DecideOnly/...      baseline: core::Decide on the same state already in hand.
//   BM_ViewMemory          builds a view of 1,000,000 subjects (3 decisions each, from the state
//                          topic's records) and reports bytes per subject: estimated from the
//                          messages' SpaceUsedLong and measured as the growth of the resident set.
#include <benchmark/benchmark.h>

#include <fstream>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/decision.h"
#include "enforce/enforcer.h"
#include "tools/bench/micro/fixtures.h"

namespace assent::bench {
namespace {

size_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0;
  size_t resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

std::string SubjectName(int i) { return absl::StrCat("cust-", 100000000 + i); }

v1::TargetStateSnapshot SubjectSnapshot(int i, int decisions) {
  v1::TargetStateSnapshot s;
  *s.mutable_subject() = Subject(decisions, /*quiet_hours=*/false);
  s.mutable_subject()->set_subject_id(SubjectName(i));
  s.mutable_subject()->set_sequence(static_cast<uint64_t>(decisions));
  return s;
}

struct Fixture {
  enforce::ConsentView view;
  enforce::Catalog catalog;
  std::vector<enforce::Recipient> subjects;
  std::vector<enforce::Recipient> contacts;

  explicit Fixture(int targets) {
    enforce::TenantCatalog& t = catalog.tenants[kTenant];
    t.purposes[kCheckedPurpose] = CheckedPurpose();
    t.policy = Policy();
    for (int i = 0; i < targets; ++i) {
      enforce::Recipient r;
      r.tenant = kTenant;
      r.ref.set_subject_id(SubjectName(i));
      r.key = enforce::ViewKey(kTenant, r.ref);
      view.Apply(r.key, SubjectSnapshot(i, 3));
      subjects.push_back(r);
      v1::TargetStateSnapshot c;
      *c.mutable_contact() = LinkedContact();
      c.mutable_contact()->set_linked_subject_id(SubjectName(i));
      c.mutable_contact()->mutable_contact()->set_hash(absl::StrCat(i, "f00d"));
      enforce::Recipient cr;
      cr.tenant = kTenant;
      *cr.ref.mutable_contact() = c.contact().contact();
      cr.key = enforce::ViewKey(kTenant, cr.ref);
      view.Apply(cr.key, c);
      contacts.push_back(cr);
    }
  }
};

void BM_LocalCheck(benchmark::State& state) {
  static Fixture* fixtures[2] = {nullptr, nullptr};
  const int targets = static_cast<int>(state.range(0));
  const bool contact = state.range(1) != 0;
  Fixture*& f = fixtures[targets > 1000 ? 1 : 0];
  if (f == nullptr) f = new Fixture(targets);
  enforce::CheckParams params;
  params.tenant = kTenant;
  params.purpose_id = kCheckedPurpose;
  params.channel = kCheckedChannel;
  const absl::Time now = OutsideQuietHours();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(0, targets - 1);
  const auto& recipients = contact ? f->contacts : f->subjects;
  {
    auto v = enforce::CheckInView(f->view, f->catalog, params, recipients[0], now);
    if (!v.ok() || v->verdict() != v1::ALLOW) {
      state.SkipWithError("the fixture does not reach ALLOW");
      return;
    }
  }
  for (auto _ : state) {
    auto v = enforce::CheckInView(f->view, f->catalog, params, recipients[pick(rng)], now);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LocalCheck)
    ->ArgNames({"targets", "contact"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({1000000, 0})
    ->Args({1000000, 1});

void BM_DecideOnly(benchmark::State& state) {
  const bool contact = state.range(0) != 0;
  v1::SubjectState subject = SubjectSnapshot(0, 3).subject();
  enforce::ConsentView::Trim(subject);
  v1::ContactPointState linked = LinkedContact();
  enforce::ConsentView::Trim(linked);
  const v1::Purpose purpose = CheckedPurpose();
  const v1::DefaultPolicy policy = Policy();
  core::CheckInput input;
  input.purpose = &purpose;
  input.policy = &policy;
  input.channel = kCheckedChannel;
  input.now = OutsideQuietHours();
  input.subject = &subject;
  input.contact = contact ? &linked : nullptr;
  for (auto _ : state) {
    auto v = core::Decide(input);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideOnly)->ArgName("contact")->Arg(0)->Arg(1);

void BM_ViewMemory(benchmark::State& state) {
  constexpr int kTargets = 1000000;
  for (auto _ : state) {
    const size_t before = ResidentBytes();
    auto* view = new enforce::ConsentView();
    for (int i = 0; i < kTargets; ++i) {
      view->Apply(absl::StrCat(kTenant, "/", SubjectName(i)), SubjectSnapshot(i, 3));
    }
    const size_t after = ResidentBytes();
    state.counters["estimated_bytes_per_subject"] =
        static_cast<double>(view->MemoryBytes()) / kTargets;
    state.counters["rss_bytes_per_subject"] = static_cast<double>(after - before) / kTargets;
    state.counters["subjects"] = kTargets;
    delete view;
  }
}
BENCHMARK(BM_ViewMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace assent::bench

BENCHMARK_MAIN();
