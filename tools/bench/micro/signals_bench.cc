// Web consent signal decoding (libs/signals): strings decoded per second per core for a typical
// TC string (TCF v2.2, policy 5, 321 of 1100 vendors consented as a bitfield, 129 legitimate
// interests, a publisher TC segment; 430 characters) and a typical GPP string (that TC string as
// tcfeuv2 plus usnat with a GPC segment; 454 characters), both encoded by @iabgpp/cmpapi 3.2.0
// (tests/unit/signals_test.cc checks their decoding against the IAB libraries). The baseline is
// base64url-decoding the same characters (signals::BitReader::Reset), the floor of any decoder.
// tools/bench/micro/signals.sh runs it and writes SIGNALS.md.
#include <benchmark/benchmark.h>

#include <string_view>

#include "absl/status/statusor.h"
#include "signals/bit_reader.h"
#include "signals/gpp.h"
#include "signals/signals_json.h"
#include "signals/tcf.h"
#include "testing/signal_strings.h"

namespace assent::signals {
namespace {

constexpr const char* kTypicalTc = testing::kTypicalTcString;
constexpr const char* kTypicalGpp = testing::kTypicalGppString;

void BM_Base64Only(benchmark::State& state) {
  const std::string_view text = kTypicalTc;
  for (auto _ : state) {
    BitReader reader;
    benchmark::DoNotOptimize(reader.Reset(text.substr(0, text.find('.')), "tcf core segment"));
    benchmark::DoNotOptimize(reader.size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Base64Only);

void BM_DecodeTcString(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<TcString> tc = DecodeTcString(kTypicalTc);
    if (!tc.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(tc);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeTcString);

void BM_DecodeGppString(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<GppString> gpp = DecodeGppString(kTypicalGpp);
    if (!gpp.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(gpp);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeGppString);

// What the write path needs of a GPP string: decode and the opt-out question.
void BM_GppOptOutCheck(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<GppString> gpp = DecodeGppString(kTypicalGpp);
    benchmark::DoNotOptimize(gpp.ok() && gpp->OptedOutOfSaleSharingOrTargeting());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GppOptOutCheck);

// For comparison: rendering the decoded GPP string as JSON (assentctl decode-signal), not on any
// hot path.
void BM_RenderGppJson(benchmark::State& state) {
  absl::StatusOr<GppString> gpp = DecodeGppString(kTypicalGpp);
  if (!gpp.ok()) {
    state.SkipWithError("decode failed");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(GppStringToJson(*gpp).dump());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderGppJson);

}  // namespace
}  // namespace assent::signals

BENCHMARK_MAIN();
