// consentd's requests as the gRPC layer hands them to the ledger (ledger/ledger.h): the first byte
// chooses the RPC (kRpcs below; tests/fuzz/seeds/proto_seeds.sh uses the same order), the rest is
// the request message's bytes. The ledger runs on a real RocksDB store opened once in a temporary
// directory (sync_writes off), with a catalog made at start: tenant "acme", purposes
// "marketing.newsletter" (MARKETING: EMAIL, SMS), "orders" (TRANSACTIONAL: EMAIL) and a US
// opt-out rule for EMAIL. Writes go through the committer; the harness waits for their callback.
// Properties:
//   - every error is one the API documents for a healthy store: INVALID_ARGUMENT naming the field
//     ("<field>: <why>"), NOT_FOUND, ALREADY_EXISTS or FAILED_PRECONDITION; never UNKNOWN,
//     INTERNAL, UNAVAILABLE, a crash or an abort;
//   - a write that succeeded with an idempotency key, sent again, replays: OK, `replayed` set, and
//     otherwise the same response;
//   - Check answers a verdict and a reason; BatchCheck one result per target;
//   - a link CreateLink made verifies with the keyring, with the claims that were asked for.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_support.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "ledger/ledger.h"
#include "links/keyring.h"
#include "links/token.h"
#include "store/committer.h"
#include "store/store.h"

namespace assent::fuzz {
namespace {

using ledger::Ledger;

const absl::Time kNow = absl::FromUnixSeconds(1796083200);  // 2026-12-01T00:00:00Z

class FixedClock final : public Clock {
 public:
  absl::Time Now() const override { return kNow; }
  // Time never moves here: a sleeper wakes only when cancelled.
  bool SleepUntil(absl::Time deadline, const absl::Notification* cancel) const override {
    if (deadline <= kNow) return true;
    if (cancel != nullptr) cancel->WaitForNotification();
    return false;
  }
};

struct World {
  FixedClock clock;
  std::shared_ptr<const links::KeyRing> keyring;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<store::Committer> committer;
  std::unique_ptr<Ledger> ledger;
};

// Runs a write and waits for it. Consent writes (those that take the caller) are made by an
// authenticated principal, as consentd makes them behind its guard.
template <typename Response, typename Request, typename... Caller>
absl::StatusOr<Response> Write(Ledger& ledger,
                               void (Ledger::*method)(const Request&, absl::Time,
                                                      ledger::Callback<Response>, Caller...),
                               const Request& request) {
  absl::Notification done;
  absl::StatusOr<Response> result = absl::UnknownError("not run");
  auto finished = [&](absl::StatusOr<Response> r) {
    result = std::move(r);
    done.Notify();
  };
  if constexpr (sizeof...(Caller) == 0) {
    (ledger.*method)(request, absl::InfiniteFuture(), finished);
  } else {
    (ledger.*method)(request, absl::InfiniteFuture(), finished,
                     ledger::Caller{"spiffe://assent.fuzz/caller"});
  }
  done.WaitForNotification();
  return result;
}

World& TheWorld() {
  static World* world = [] {
    auto* w = new World;
    w->keyring = std::make_shared<const links::KeyRing>(
        std::vector<links::KeyRing::Key>{{"2026-12", std::string(32, 'k'), ""}});
    store::StoreOptions options;
    options.path = (ProcessDir() / "rpc-store").string();
    options.sync_writes = false;
    options.block_cache_bytes = 8u << 20;
    options.write_buffer_bytes = 4u << 20;
    absl::StatusOr<std::unique_ptr<store::Store>> store = store::Store::Open(options, w->clock);
    Require(store.ok(), "the store opens", store.status().ToString());
    w->store = *std::move(store);
    w->committer = std::make_unique<store::Committer>(*w->store, w->clock);
    ledger::LedgerOptions ledger_options;
    ledger_options.contact_key_secret = "0123456789abcdef0123456789abcdef";
    ledger_options.link_keyring = w->keyring;
    ledger_options.confirmation_keyring = w->keyring;
    ledger_options.link_base_url = "https://prefs.example.com";
    absl::StatusOr<std::unique_ptr<Ledger>> ledger =
        Ledger::Create(*w->store, *w->committer, w->clock, ledger_options);
    Require(ledger.ok(), "the ledger starts", ledger.status().ToString());
    w->ledger = *std::move(ledger);

    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme");
    Require(Write(*w->ledger, &Ledger::CreateTenant, tenant).ok(), "the tenant is created");
    for (const auto& [id, kind] : {std::pair("marketing.newsletter", v1::MARKETING),
                                   std::pair("orders", v1::TRANSACTIONAL)}) {
      v1::CreatePurposeRequest purpose;
      purpose.set_parent("tenants/acme");
      v1::Purpose* p = purpose.mutable_purpose();
      p->set_purpose_id(id);
      p->set_display_name(id);
      p->set_kind(kind);
      p->set_legal_basis(kind == v1::TRANSACTIONAL ? v1::CONTRACT : v1::CONSENT);
      p->add_channels(v1::EMAIL);
      if (kind == v1::MARKETING) p->add_channels(v1::SMS);
      p->set_notice_version(1);
      absl::StatusOr<v1::Purpose> created = Write(*w->ledger, &Ledger::CreatePurpose, purpose);
      Require(created.ok(), "the purposes are created", created.status().ToString());
    }
    v1::SetDefaultPolicyRequest policy;
    policy.set_parent("tenants/acme");
    v1::PolicyRule* rule = policy.mutable_policy()->add_rules();
    rule->set_jurisdiction("US");
    rule->set_channel(v1::EMAIL);
    rule->set_mode(v1::OPT_OUT);
    absl::StatusOr<v1::DefaultPolicy> set = Write(*w->ledger, &Ledger::SetDefaultPolicy, policy);
    Require(set.ok(), "the policy is set", set.status().ToString());
    return w;
  }();
  return *world;
}

void RequireApiError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      RequireInvalidField(status, "");
      return;
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
      return;
    default:
      Require(false, "an error the API documents for a healthy store", status.ToString());
  }
}

// The response without its `replayed` flag, serialized (deterministically) for comparison.
std::string WithoutReplayed(google::protobuf::Message& response) {
  const google::protobuf::FieldDescriptor* replayed =
      response.GetDescriptor()->FindFieldByName("replayed");
  if (replayed != nullptr) response.GetReflection()->ClearField(&response, replayed);
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  response.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

template <typename Request, typename Response, typename... Caller>
void FuzzWrite(std::string_view bytes,
               void (Ledger::*method)(const Request&, absl::Time, ledger::Callback<Response>,
                                      Caller...)) {
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  Ledger& ledger = *TheWorld().ledger;
  absl::StatusOr<Response> first = Write(ledger, method, request);
  if (!first.ok()) return RequireApiError(first.status());
  const google::protobuf::FieldDescriptor* key =
      request.GetDescriptor()->FindFieldByName("idempotency_key");
  if (key == nullptr || request.GetReflection()->GetString(request, key).empty()) return;
  absl::StatusOr<Response> again = Write(ledger, method, request);
  Require(again.ok(), "a retry with the same idempotency key succeeds", again.status().ToString());
  const google::protobuf::FieldDescriptor* replayed =
      again->GetDescriptor()->FindFieldByName("replayed");
  Require(replayed == nullptr || again->GetReflection()->GetBool(*again, replayed),
          "a retry is marked replayed");
  Require(WithoutReplayed(*again) == WithoutReplayed(*first),
          "a retry with the same idempotency key returns the first response",
          again->ShortDebugString() + " vs " + first->ShortDebugString());
}

template <typename Request, typename Response>
absl::StatusOr<Response> FuzzRead(std::string_view bytes,
                                  absl::StatusOr<Response> (Ledger::*method)(const Request&) const,
                                  Request* parsed = nullptr) {
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::CancelledError("does not parse");
  }
  absl::StatusOr<Response> response = (TheWorld().ledger.get()->*method)(request);
  if (!response.ok()) RequireApiError(response.status());
  if (parsed != nullptr) *parsed = std::move(request);
  return response;
}

void FuzzCheck(std::string_view bytes) {
  absl::StatusOr<v1::CheckResponse> r = FuzzRead(bytes, &Ledger::Check);
  if (!r.ok()) return;
  Require(r->verdict() != v1::VERDICT_UNSPECIFIED && r->reason() != v1::REASON_UNSPECIFIED,
          "Check answers a verdict and a reason", r->ShortDebugString());
}

void FuzzBatchCheck(std::string_view bytes) {
  v1::BatchCheckRequest request;
  absl::StatusOr<v1::BatchCheckResponse> r = FuzzRead(bytes, &Ledger::BatchCheck, &request);
  if (!r.ok()) return;
  Require(r->results_size() == request.targets_size(), "BatchCheck answers every target");
}

void FuzzCreateLink(std::string_view bytes) {
  v1::CreateLinkRequest request;
  absl::StatusOr<v1::CreateLinkResponse> r = FuzzRead(bytes, &Ledger::CreateLink, &request);
  if (!r.ok()) return;
  absl::StatusOr<links::LinkClaims> claims =
      links::VerifyLink(*TheWorld().keyring, "", r->token(), kNow);
  Require(claims.ok(), "a link CreateLink made verifies", claims.status().ToString());
  Require(claims->tenant == request.tenant() && claims->kind == request.kind() &&
              claims->purpose_id == request.purpose_id() && claims->channel == request.channel(),
          "the link says what was asked", request.ShortDebugString());
  Require(r->url().starts_with("https://prefs.example.com/"), "the url is under the base URL");
}

// ImportDecisions: every row of the message through Ledger::ImportRow, validated (dry run) and
// then imported; each answers an outcome, a rejection names its code, and a row imported once is
// ALREADY_IMPORTED when sent again.
void FuzzImport(std::string_view bytes) {
  v1::ImportDecisionsRequest request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  Ledger& ledger = *TheWorld().ledger;
  auto run = [&](const v1::ImportRow& row, bool dry_run) {
    absl::Notification done;
    absl::StatusOr<v1::ImportRowResult> result = absl::UnknownError("not run");
    ledger.ImportRow(
        request.tenant(), row, dry_run, absl::InfiniteFuture(),
        [&](absl::StatusOr<v1::ImportRowResult> r) {
          result = std::move(r);
          done.Notify();
        },
        ledger::Caller{"spiffe://assent.fuzz/caller"});
    done.WaitForNotification();
    Require(result.ok(), "a row is answered with an outcome", result.status().ToString());
    Require(result->outcome() != v1::ImportRowResult::OUTCOME_UNSPECIFIED, "an outcome is set");
    Require(result->outcome() != v1::ImportRowResult::REJECTED || !result->code().empty(),
            "a rejected row names its code");
    return *result;
  };
  for (int i = 0; i < std::min(request.rows_size(), 8); ++i) {
    const v1::ImportRowResult checked = run(request.rows(i), /*dry_run=*/true);
    const v1::ImportRowResult first = run(request.rows(i), /*dry_run=*/false);
    if (first.outcome() != v1::ImportRowResult::IMPORTED) continue;
    Require(checked.outcome() == v1::ImportRowResult::VALID, "an imported row was valid");
    Require(run(request.rows(i), false).outcome() == v1::ImportRowResult::ALREADY_IMPORTED,
            "a row key imported before is not imported again");
  }
}

struct Rpc {
  const char* name;
  void (*run)(std::string_view bytes);
};

// The order is the seeds' first byte (tests/fuzz/seeds/proto_seeds.sh): append, never reorder.
constexpr Rpc kRpcs[] = {
    {"CreateTenant", [](std::string_view b) { FuzzWrite(b, &Ledger::CreateTenant); }},
    {"GetTenant", [](std::string_view b) { (void)FuzzRead(b, &Ledger::GetTenant); }},
    {"ListTenants", [](std::string_view b) { (void)FuzzRead(b, &Ledger::ListTenants); }},
    {"CreatePurpose", [](std::string_view b) { FuzzWrite(b, &Ledger::CreatePurpose); }},
    {"UpdatePurpose", [](std::string_view b) { FuzzWrite(b, &Ledger::UpdatePurpose); }},
    {"GetPurpose", [](std::string_view b) { (void)FuzzRead(b, &Ledger::GetPurpose); }},
    {"ListPurposes", [](std::string_view b) { (void)FuzzRead(b, &Ledger::ListPurposes); }},
    {"SetDefaultPolicy", [](std::string_view b) { FuzzWrite(b, &Ledger::SetDefaultPolicy); }},
    {"GetDefaultPolicy", [](std::string_view b) { (void)FuzzRead(b, &Ledger::GetDefaultPolicy); }},
    {"RecordDecisions", [](std::string_view b) { FuzzWrite(b, &Ledger::RecordDecisions); }},
    {"LinkContactPoint", [](std::string_view b) { FuzzWrite(b, &Ledger::LinkContactPoint); }},
    {"UnlinkContactPoint", [](std::string_view b) { FuzzWrite(b, &Ledger::UnlinkContactPoint); }},
    {"SetPreferences", [](std::string_view b) { FuzzWrite(b, &Ledger::SetPreferences); }},
    {"SuppressContactPoint",
     [](std::string_view b) { FuzzWrite(b, &Ledger::SuppressContactPoint); }},
    {"GetSubjectState", [](std::string_view b) { (void)FuzzRead(b, &Ledger::GetSubjectState); }},
    {"GetContactPointState",
     [](std::string_view b) { (void)FuzzRead(b, &Ledger::GetContactPointState); }},
    {"ListHistory", [](std::string_view b) { (void)FuzzRead(b, &Ledger::ListHistory); }},
    {"VerifyHistory", [](std::string_view b) { (void)FuzzRead(b, &Ledger::VerifyHistory); }},
    {"Check", FuzzCheck},
    {"BatchCheck", FuzzBatchCheck},
    {"CreateLink", FuzzCreateLink},
    {"ConfirmDecision", [](std::string_view b) { FuzzWrite(b, &Ledger::ConfirmDecision); }},
    {"ResendConfirmation", [](std::string_view b) { FuzzWrite(b, &Ledger::ResendConfirmation); }},
    {"RequestExportLink", [](std::string_view b) { FuzzWrite(b, &Ledger::RequestExportLink); }},
    {"ListRepermissionRequired",
     [](std::string_view b) { (void)FuzzRead(b, &Ledger::ListRepermissionRequired); }},
    {"EraseSubject", [](std::string_view b) { FuzzWrite(b, &Ledger::EraseSubject); }},
    {"GetErasure", [](std::string_view b) { (void)FuzzRead(b, &Ledger::GetErasure); }},
    {"SetLegalHold", [](std::string_view b) { FuzzWrite(b, &Ledger::SetLegalHold); }},
    {"OffboardTenant", [](std::string_view b) { FuzzWrite(b, &Ledger::OffboardTenant); }},
    {"GetOffboarding", [](std::string_view b) { (void)FuzzRead(b, &Ledger::GetOffboarding); }},
    {"ImportDecisions", FuzzImport},
    {"GetConsentReport", [](std::string_view b) { (void)FuzzRead(b, &Ledger::GetConsentReport); }},
    {"ApplyContactLink", [](std::string_view b) { FuzzWrite(b, &Ledger::ApplyContactLink); }},
};

}  // namespace
}  // namespace assent::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent::fuzz;
  if (size == 0) return 0;
  const Rpc& rpc = kRpcs[data[0] % std::size(kRpcs)];
  rpc.run(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
