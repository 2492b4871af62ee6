// CPU cost of the pure parts of Assent's request paths, with a baseline beside each composite so
// that ratios can be read from one run: Decide() on realistic states, the Check read path minus
// RocksDB (parse the stored state, decide) against parsing alone, key encoding, the history hash
// against raw SHA-256 of the same number of bytes, and contact normalisation and keyed hashing.
// tools/bench/micro/run.sh runs it and writes RESULTS.md.
#include <openssl/sha.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "assent/v1/consent.pb.h"
#include "benchmark/benchmark.h"
#include "contact/normalize.h"
#include "core/check_state.h"
#include "core/decision.h"
#include "google/protobuf/arena.h"
#include "ledger/history.h"
#include "store/keys.h"
#include "tools/bench/micro/fixtures.h"

namespace assent::bench {
namespace {

// One check's input over the given states, asking about the checked purpose, channel and topic.
core::CheckInput Input(const v1::Purpose& purpose, const v1::DefaultPolicy& policy,
                       const v1::SubjectState* subject, const v1::ContactPointState* contact,
                       absl::Time now) {
  core::CheckInput input;
  input.purpose = &purpose;
  input.policy = &policy;
  input.channel = kCheckedChannel;
  input.topic = kCheckedTopic;
  input.now = now;
  input.subject = subject;
  input.contact = contact;
  return input;
}

// Runs the input once outside the timed loop; a benchmark whose input does not reach the verdict
// it is meant to measure would time the wrong path, so it stops with an error instead.
bool DecidesAs(benchmark::State& state, const core::CheckInput& input, v1::Verdict verdict,
               v1::Reason reason) {
  absl::StatusOr<v1::CheckResponse> response = core::Decide(input);
  if (response.ok() && response->verdict() == verdict && response->reason() == reason) return true;
  state.SkipWithError(
      response.ok() ? absl::StrCat("unexpected verdict: ", response->ShortDebugString()).c_str()
                    : response.status().ToString().c_str());
  return false;
}

void TimeDecide(benchmark::State& state, const core::CheckInput& input) {
  for (auto _ : state) {
    absl::StatusOr<v1::CheckResponse> response = core::Decide(input);
    benchmark::DoNotOptimize(response);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

enum class Quiet { kNone, kOutside, kInside };

// Decide() for a subject with `decisions` stored decisions, checked directly or through a linked
// contact point, with quiet hours absent, set but not in force, or in force.
void BM_Decide(benchmark::State& state, int decisions, bool via_contact, Quiet quiet) {
  const v1::Purpose purpose = CheckedPurpose();
  const v1::DefaultPolicy policy = Policy();
  const v1::SubjectState subject = Subject(decisions, quiet != Quiet::kNone);
  const v1::ContactPointState contact = LinkedContact();
  const core::CheckInput input =
      Input(purpose, policy, &subject, via_contact ? &contact : nullptr,
            quiet == Quiet::kInside ? InsideQuietHours() : OutsideQuietHours());
  const bool in_force = quiet == Quiet::kInside;
  if (!DecidesAs(state, input, in_force ? v1::DENY : v1::ALLOW,
                 in_force ? v1::QUIET_HOURS : v1::EXPLICIT_GRANT)) {
    return;
  }
  TimeDecide(state, input);
}

// Decide() with no stored decision: the default policy answers (DE: opt-in, US email: opt-out).
void BM_DecideDefaultPolicy(benchmark::State& state, const std::string& jurisdiction,
                            v1::Verdict verdict, v1::Reason reason) {
  const v1::Purpose purpose = CheckedPurpose();
  const v1::DefaultPolicy policy = Policy();
  const v1::SubjectState subject = Subject(0, /*quiet_hours=*/false, jurisdiction);
  const core::CheckInput input = Input(purpose, policy, &subject, nullptr, OutsideQuietHours());
  if (!DecidesAs(state, input, verdict, reason)) return;
  TimeDecide(state, input);
}

// What the read path did with the stored bytes before it decoded only what the rule reads: the
// full parse (Ledger::GetSubjectState still does it).
void BM_ParseSubjectState(benchmark::State& state) {
  const std::string bytes = Subject(static_cast<int>(state.range(0)), false).SerializeAsString();
  for (auto _ : state) {
    v1::SubjectState parsed;
    if (!parsed.ParseFromString(bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
  state.counters["state_bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_ParseSubjectState)->ArgName("decisions")->Arg(1)->Arg(10)->Arg(100);

// An arena as Ledger::Check uses one: starting in a 2 KiB buffer on the stack.
class CheckArena {
 public:
  CheckArena() : arena_(Options(initial_, sizeof(initial_))) {}
  google::protobuf::Arena& get() { return arena_; }

 private:
  static google::protobuf::ArenaOptions Options(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }
  alignas(16) char initial_[2048];
  google::protobuf::Arena arena_;
};

// What the check path decodes of the same bytes instead: only the fields the rule reads
// (core::ParseForCheck), into a CheckArena. Baseline for BM_CheckPath.
void BM_ParseForCheck(benchmark::State& state) {
  const std::string bytes = Subject(static_cast<int>(state.range(0)), false).SerializeAsString();
  for (auto _ : state) {
    CheckArena arena;
    auto* parsed = google::protobuf::Arena::CreateMessage<v1::SubjectState>(&arena.get());
    if (!core::ParseForCheck(bytes, *parsed)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["state_bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_ParseForCheck)->ArgName("decisions")->Arg(1)->Arg(10)->Arg(100);

// The CPU of a subject Check besides the store read: decode the stored state, then decide, as
// Ledger::Check does (the catalog lookup is a cache hit and is not included).
void BM_CheckPath(benchmark::State& state) {
  const std::string bytes = Subject(static_cast<int>(state.range(0)), false).SerializeAsString();
  const v1::Purpose purpose = CheckedPurpose();
  const v1::DefaultPolicy policy = Policy();
  for (auto _ : state) {
    CheckArena arena;
    auto* parsed = google::protobuf::Arena::CreateMessage<v1::SubjectState>(&arena.get());
    if (!core::ParseForCheck(bytes, *parsed)) state.SkipWithError("parse failed");
    absl::StatusOr<v1::CheckResponse> response =
        core::Decide(Input(purpose, policy, parsed, nullptr, OutsideQuietHours()));
    benchmark::DoNotOptimize(response);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["state_bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_CheckPath)->ArgName("decisions")->Arg(1)->Arg(10)->Arg(100);

void BM_SubjectKey(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(store::SubjectKey(kTenant, kSubjectId));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SubjectKey);

void BM_HistoryKey(benchmark::State& state) {
  const std::string entity = store::SubjectEntity(kSubjectId);
  uint64_t sequence = 1000;
  for (auto _ : state) benchmark::DoNotOptimize(store::HistoryKey(kTenant, entity, ++sequence));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_HistoryKey);

void BM_ContactKey(benchmark::State& state) {
  const v1::ContactRef ref = LinkedContact().contact();
  for (auto _ : state) benchmark::DoNotOptimize(store::ContactKey(kTenant, ref));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ContactKey);

void BM_ReadBigEndian64(benchmark::State& state) {
  std::string bytes;
  store::PutBigEndian64(&bytes, 0x0123456789abcdefULL);
  for (auto _ : state) {
    benchmark::DoNotOptimize(bytes.data());  // the read cannot be hoisted out of the loop
    benchmark::DoNotOptimize(store::ReadBigEndian64(bytes));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ReadBigEndian64);

// The bytes HistoryHash digests: previous_hash then the record serialized without `hash`.
size_t HashedBytes(const v1::HistoryRecord& record) {
  return record.previous_hash().size() + record.ByteSizeLong();
}

void BM_HistoryHash(benchmark::State& state) {
  const v1::HistoryRecord record = History(static_cast<int>(state.range(0)));
  const size_t bytes = HashedBytes(record);
  for (auto _ : state) benchmark::DoNotOptimize(ledger::HistoryHash(record));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["hashed_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_HistoryHash)->ArgName("changes")->Arg(1)->Arg(10);

// Baseline for BM_HistoryHash: OpenSSL's one-shot SHA256() over a buffer of the same length.
void BM_Sha256SameBytes(benchmark::State& state) {
  const std::string input(HashedBytes(History(static_cast<int>(state.range(0)))), 'x');
  unsigned char digest[SHA256_DIGEST_LENGTH];
  for (auto _ : state) {
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    benchmark::DoNotOptimize(digest);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["hashed_bytes"] = static_cast<double>(input.size());
}
BENCHMARK(BM_Sha256SameBytes)->ArgName("changes")->Arg(1)->Arg(10);

void BM_Normalize(benchmark::State& state, v1::ContactType type, const std::string& value,
                  const std::string& region, const std::string& expected) {
  v1::ContactPoint point;
  point.set_type(type);
  point.set_value(value);
  point.set_default_region(region);
  absl::StatusOr<std::string> once = contact::Normalize("contact_point", point);
  if (!once.ok() || *once != expected) {
    state.SkipWithError(once.ok() ? ("normalised to " + *once).c_str()
                                  : once.status().ToString().c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(contact::Normalize("contact_point", point));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_Normalize, email_ascii, v1::CONTACT_EMAIL, " Jane.Doe@Example.COM ", "",
                  "Jane.Doe@example.com");
BENCHMARK_CAPTURE(BM_Normalize, email_idn, v1::CONTACT_EMAIL, "jane@Bücher.Example", "",
                  "jane@xn--bcher-kva.example");
BENCHMARK_CAPTURE(BM_Normalize, phone_e164, v1::CONTACT_PHONE, "+49 151 23456789", "",
                  "+4915123456789");
BENCHMARK_CAPTURE(BM_Normalize, phone_national, v1::CONTACT_PHONE, "0151 23456789", "DE",
                  "+4915123456789");

void BM_KeyedHash(benchmark::State& state) {
  const std::string key = contact::DeriveTenantKey("0123456789abcdef0123456789abcdef", kTenant);
  for (auto _ : state) {
    benchmark::DoNotOptimize(contact::KeyedHash(key, v1::CONTACT_EMAIL, "Jane.Doe@example.com"));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_KeyedHash);

// The Decide grid, registered with readable names: decisions x target x quiet hours.
void RegisterDecide() {
  struct QuietCase {
    Quiet quiet;
    const char* name;
  };
  static constexpr QuietCase kQuiet[] = {
      {Quiet::kNone, "none"}, {Quiet::kOutside, "set_outside"}, {Quiet::kInside, "in_force"}};
  for (int decisions : {1, 10, 100}) {
    for (bool via_contact : {false, true}) {
      for (const QuietCase& q : kQuiet) {
        const std::string name =
            absl::StrCat("BM_Decide/decisions:", decisions,
                         "/target:", via_contact ? "contact" : "subject", "/quiet_hours:", q.name);
        benchmark::RegisterBenchmark(name.c_str(), BM_Decide, decisions, via_contact, q.quiet);
      }
    }
  }
  benchmark::RegisterBenchmark("BM_Decide/decisions:0/default_policy:opt_in",
                               BM_DecideDefaultPolicy, std::string("DE"), v1::DENY, v1::NO_CONSENT);
  benchmark::RegisterBenchmark("BM_Decide/decisions:0/default_policy:opt_out",
                               BM_DecideDefaultPolicy, std::string("US"), v1::ALLOW,
                               v1::DEFAULT_OPT_OUT);
}

}  // namespace
}  // namespace assent::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  assent::bench::RegisterDecide();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
