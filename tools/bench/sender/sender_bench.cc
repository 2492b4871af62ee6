// CPU and memory of the enforcement library's local check (Google Benchmark). See RESULTS.md for
// the table and the command.
//
//   BM_LocalCheck/...      enforce::CheckInView: catalog lookup, view lookup under the shard's
//                          shared lock, parse, the decision rule; for contact points also the
//                          linked subject (contact:1 with records of its own, contact:2 only a
//                          link). The view holds `targets` subjects and 2x as many contacts.
//   BM_DecideOnly/...      baseline: core::Decide on the same state already in hand.
//   BM_ViewMemory          builds a view of 1,000,000 subjects (3 decisions each, from the state
//                          topic's records) and reports bytes per subject: estimated from the
//                          messages' SpaceUsedLong and measured as the growth of the resident set.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
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

// A view of `targets` subjects and as many linked contact points. The keys to check are kept in
// one contiguous buffer in random order, read sequentially: like a sender that has the recipient
// of the request in hand, so the timed work is the library's (the view entry is cold, the
// recipient is not).
struct Fixture {
  static constexpr size_t kKeyWidth = 96;
  enforce::ConsentView view;
  enforce::Catalog catalog;
  std::string subject_keys;  // fixed-width, NUL-padded, random order
  std::string contact_keys;
  std::string bare_keys;  // contact points that only link to their subject
  int targets = 0;

  explicit Fixture(int n) : targets(n) {
    enforce::TenantCatalog& t = catalog.tenants[kTenant];
    t.purposes[kCheckedPurpose] = CheckedPurpose();
    t.policy = Policy();
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    subject_keys.assign(static_cast<size_t>(n) * kKeyWidth, '\0');
    contact_keys.assign(static_cast<size_t>(n) * kKeyWidth, '\0');
    bare_keys.assign(static_cast<size_t>(n) * kKeyWidth, '\0');
    for (int i = 0; i < n; ++i) {
      v1::TargetRef subject;
      subject.set_subject_id(SubjectName(i));
      const std::string subject_key = enforce::ViewKey(kTenant, subject);
      view.Apply(subject_key, SubjectSnapshot(i, 3));
      v1::TargetStateSnapshot c;
      *c.mutable_contact() = LinkedContact();
      c.mutable_contact()->set_linked_subject_id(SubjectName(i));
      c.mutable_contact()->mutable_contact()->set_hash(absl::StrCat(i, "f00d"));
      v1::TargetRef contact;
      *contact.mutable_contact() = c.contact().contact();
      const std::string contact_key = enforce::ViewKey(kTenant, contact);
      view.Apply(contact_key, c);
      v1::TargetStateSnapshot b;
      b.mutable_contact()->set_linked_subject_id(SubjectName(i));
      b.mutable_contact()->set_sequence(1);
      b.mutable_contact()->mutable_contact()->set_type(v1::CONTACT_EMAIL);
      b.mutable_contact()->mutable_contact()->set_hash(absl::StrCat(i, "beef"));
      v1::TargetRef bare;
      *bare.mutable_contact() = b.contact().contact();
      const std::string bare_key = enforce::ViewKey(kTenant, bare);
      view.Apply(bare_key, b);
      const size_t slot = static_cast<size_t>(order[i]) * kKeyWidth;
      subject_keys.replace(slot, subject_key.size(), subject_key);
      contact_keys.replace(slot, contact_key.size(), contact_key);
      bare_keys.replace(slot, bare_key.size(), bare_key);
    }
  }
};

void BM_LocalCheck(benchmark::State& state) {
  static Fixture* fixtures[2] = {nullptr, nullptr};
  const int targets = static_cast<int>(state.range(0));
  // 0: subject; 1: contact point with records of its own (+ linked subject); 2: contact point
  // that only links to its subject.
  const int contact = static_cast<int>(state.range(1));
  Fixture*& f = fixtures[targets > 1000 ? 1 : 0];
  if (f == nullptr) f = new Fixture(targets);
  enforce::CheckParams params;
  params.tenant = kTenant;
  params.purpose_id = kCheckedPurpose;
  params.channel = kCheckedChannel;
  const absl::Time now = OutsideQuietHours();
  enforce::Recipient recipient;
  recipient.tenant = kTenant;
  if (contact) {
    recipient.ref.mutable_contact()->set_type(v1::CONTACT_EMAIL);
  } else {
    recipient.ref.set_subject_id("x");
  }
  const std::string& keys = contact == 2   ? f->bare_keys
                            : contact == 1 ? f->contact_keys
                                           : f->subject_keys;
  auto key_at = [&](size_t i) {
    const char* p = keys.data() + (i % f->targets) * Fixture::kKeyWidth;
    return std::string_view(p, strnlen(p, Fixture::kKeyWidth));
  };
  recipient.key = key_at(0);
  {
    auto v = enforce::CheckInView(f->view, f->catalog, params, recipient, now);
    if (!v.ok() || v->verdict() != v1::ALLOW) {
      state.SkipWithError("the fixture does not reach ALLOW");
      return;
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    recipient.key.assign(key_at(i++));
    auto v = enforce::CheckInView(f->view, f->catalog, params, recipient, now);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LocalCheck)
    ->ArgNames({"targets", "contact"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({1000, 2})
    ->Args({1000000, 0})
    ->Args({1000000, 1})
    ->Args({1000000, 2});

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

// Experiment: the trimmed state kept serialized and parsed into a reused message per check.
void BM_ParseTrimmedReused(benchmark::State& state) {
  v1::SubjectState subject = SubjectSnapshot(0, 3).subject();
  enforce::ConsentView::Trim(subject);
  const std::string bytes = subject.SerializeAsString();
  v1::SubjectState reused;
  for (auto _ : state) {
    reused.ParseFromString(bytes);
    benchmark::DoNotOptimize(reused);
  }
  state.counters["bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_ParseTrimmedReused);

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
// One repetition in a process of its own (run.sh): a second one, or other benchmarks before it,
// would reuse freed heap and under-report.
BENCHMARK(BM_ViewMemory)->Iterations(1)->Repetitions(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace assent::bench

BENCHMARK_MAIN();
