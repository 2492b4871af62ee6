// A ledger over a real RocksDB store in a fresh temporary directory, with a fake clock, plus
// synchronous wrappers around the asynchronous write calls.
#pragma once

#include <memory>
#include <string>
#include <type_traits>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "store/committer.h"
#include "store/store.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace assent::testing {

inline constexpr char kTestSecret[] = "0123456789abcdef0123456789abcdef";

class LedgerFixture : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  void Open() {
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    ConfigureStore(options);
    auto store = store::Store::Open(options, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    committer_ = std::make_unique<store::Committer>(*store_, clock_);
    ledger::LedgerOptions ledger_options;
    ledger_options.contact_key_secret = kTestSecret;
    // Evidence is sealed as in production (a test may turn it off in Configure).
    ledger_options.evidence_keyring = TestEvidenceKeyring();
    Configure(ledger_options);
    auto ledger = ledger::Ledger::Create(*store_, *committer_, clock_, ledger_options);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = *std::move(ledger);
  }
  // A fixed evidence master keyring (ledger/evidence.h), the same on every Open.
  static std::shared_ptr<const links::KeyRing> TestEvidenceKeyring() {
    static const auto* keyring =
        new std::shared_ptr<const links::KeyRing>(std::make_shared<const links::KeyRing>(
            std::vector<links::KeyRing::Key>{{"evidence-test-1", std::string(32, 'e'), ""}}));
    return *keyring;
  }
  // Lets a test set store options (retention) before the store is opened.
  virtual void ConfigureStore(store::StoreOptions&) {}
  // Lets a test set ledger options (keyrings, limits) before the ledger is created.
  virtual void Configure(ledger::LedgerOptions&) {}
  void Close() {
    ledger_.reset();
    if (committer_) committer_->Stop();
    committer_.reset();
    store_.reset();
  }
  void Reopen() {
    Close();
    Open();
  }

  // Creates tenant `id` (display name `id`).
  absl::Status CreateTenant(const std::string& id) {
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id(id);
    tenant.mutable_tenant()->set_display_name(id);
    return Sync<v1::Tenant>(&ledger::Ledger::CreateTenant, tenant).status();
  }

  // Every key and value in every column family, to prove that nothing changed.
  std::string DumpStore() {
    std::string out;
    for (int cf = 0; cf < store::kCfCount; ++cf) {
      auto it = store_->NewIterator(static_cast<store::Cf>(cf));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        out +=
            std::to_string(cf) + "|" + it->key().ToString() + "|" + it->value().ToString() + "\n";
      }
    }
    return out;
  }

  // Runs an asynchronous ledger write and waits for it; consent writes are made by `caller`
  // (default: unauthenticated, the request's actor stands).
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Sync(Method method, const Request& request,
                                const ledger::Caller& caller = ledger::Caller()) {
    absl::Notification done;
    absl::StatusOr<Response> result = absl::UnknownError("not run");
    auto callback = [&](absl::StatusOr<Response> r) {
      result = std::move(r);
      done.Notify();
    };
    if constexpr (std::is_invocable_v<Method, ledger::Ledger*, const Request&, absl::Time,
                                      ledger::Callback<Response>, const ledger::Caller&>) {
      (ledger_.get()->*method)(request, absl::InfiniteFuture(), callback, caller);
    } else {
      (ledger_.get()->*method)(request, absl::InfiniteFuture(), callback);
    }
    done.WaitForNotification();
    return result;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Committer> committer_;
  std::unique_ptr<ledger::Ledger> ledger_;
};

}  // namespace assent::testing
