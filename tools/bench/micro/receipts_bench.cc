// Consent receipt signing (libs/receipts): the cost per receipt of signing in Merkle batches of N
// against one Ed25519 signature per receipt, building the claims, and verifying a receipt.
// tools/bench/micro/receipts.sh runs it and writes RECEIPTS.md.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "crypto/jws.h"
#include "crypto/signing_keys.h"
#include "receipts/claims.h"
#include "receipts/signer.h"
#include "receipts/verify.h"

namespace assent {
namespace {

std::shared_ptr<const crypto::SigningKeyRing> Ring() {
  std::string der = absl::HexStringToBytes("302e020100300506032b657004220420");
  der.append(32, '\x2a');
  std::string yaml = "keys:\n  - id: bench\n    private_key_pem: |\n";
  absl::StrAppend(&yaml, "      -----BEGIN PRIVATE KEY-----\n      ", absl::Base64Escape(der),
                  "\n      -----END PRIVATE KEY-----\n");
  auto ring = crypto::SigningKeyRing::Parse(yaml, "");
  if (!ring.ok()) std::abort();
  return std::make_shared<const crypto::SigningKeyRing>(*std::move(ring));
}

// A typical RecordDecisions record: one decision, with evidence (not copied into the claims).
v1::HistoryRecord Record(uint64_t sequence) {
  v1::HistoryRecord r;
  r.set_tenant("acme");
  r.mutable_target()->set_subject_id(absl::StrCat("customer-", sequence));
  r.set_sequence(sequence);
  r.set_kind(v1::DECISIONS_RECORDED);
  r.mutable_recorded_time()->set_seconds(1767225600);
  r.mutable_effective_time()->set_seconds(1767225600);
  r.set_actor("spiffe://assent.local/signup");
  r.set_source("web-signup-v3");
  r.set_previous_hash(std::string(32, '\x11'));
  r.set_hash(std::string(32, '\x22'));
  v1::ConsentRecord* after = r.add_decisions()->mutable_after();
  after->set_record_id("01JF3Z6Q8W8T5V0Q6J9Y2K4M7N");
  after->set_purpose_id("marketing.newsletter");
  after->set_purpose_version(3);
  after->set_channel(v1::EMAIL);
  after->set_state(v1::GRANTED);
  after->set_jurisdiction("DE");
  after->mutable_evidence()->set_notice_version(3);
  return r;
}

void BM_Ed25519Sign(benchmark::State& state) {
  auto ring = Ring();
  const std::string message(160, 'm');  // about a batch header and payload
  for (auto _ : state) benchmark::DoNotOptimize(ring->current().key.Sign(message));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Sign);

void BM_ReceiptClaims(benchmark::State& state) {
  const v1::HistoryRecord record = Record(7);
  for (auto _ : state) benchmark::DoNotOptimize(receipts::ReceiptClaims(record));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReceiptClaims);

// One batch of N receipts (claims already built): tree, one signature, proofs. Items are receipts.
void BM_SignBatch(benchmark::State& state) {
  receipts::ReceiptSigner signer(Ring(), SystemClock::Get());
  std::vector<std::string> claims;
  for (int64_t i = 0; i < state.range(0); ++i) claims.push_back(receipts::ReceiptClaims(Record(i)));
  for (auto _ : state) benchmark::DoNotOptimize(signer.SignBatch(claims));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SignBatch)->ArgName("receipts")->Arg(1)->Arg(8)->Arg(64)->Arg(512);

// Through the batch signer's thread, N jobs submitted at once, each making its claims: what
// consentd's write path does per receipt. Items are receipts.
void BM_BatchSignerThroughput(benchmark::State& state) {
  receipts::ReceiptSigner signer(Ring(), SystemClock::Get());
  receipts::BatchSigner batcher(signer);
  const int64_t n = state.range(0);
  for (auto _ : state) {
    absl::Mutex mu;
    int64_t done = 0;
    for (int64_t i = 0; i < n; ++i) {
      batcher.Submit(
          [i]() -> absl::StatusOr<std::vector<std::string>> {
            return std::vector<std::string>{receipts::ReceiptClaims(Record(i))};
          },
          [&](absl::StatusOr<std::vector<v1::Receipt>> r) {
            benchmark::DoNotOptimize(r);
            absl::MutexLock lock(&mu);
            ++done;
          });
    }
    absl::MutexLock lock(&mu);
    auto all = [&] { return done == n; };
    mu.Await(absl::Condition(&all));
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_BatchSignerThroughput)
    ->ArgName("concurrent")
    ->Arg(1)
    ->Arg(64)
    ->Arg(256)
    ->UseRealTime();

void BM_VerifyReceipt(benchmark::State& state) {
  auto ring = Ring();
  receipts::ReceiptSigner signer(ring, SystemClock::Get());
  std::vector<std::string> claims;
  for (int i = 0; i < 64; ++i) claims.push_back(receipts::ReceiptClaims(Record(i)));
  auto batch = signer.SignBatch(claims);
  auto jwks = crypto::Jwks::Parse(ring->JwksJson());
  if (!batch.ok() || !jwks.ok() || !receipts::VerifyReceipt((*batch)[5], *jwks).ok()) std::abort();
  for (auto _ : state) benchmark::DoNotOptimize(receipts::VerifyReceipt((*batch)[5], *jwks));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyReceipt);

}  // namespace
}  // namespace assent

BENCHMARK_MAIN();
