// A real consentd process on port 0 with its own data directory, and gRPC stubs to it.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>

#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rpc/tls.h"
#include "testing/process.h"

namespace assent::testing {

// Writes `content` to `path` with mode 0600 (consentd refuses secrets others can read).
inline void WriteSecretFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::trunc) << content;
  ::chmod(path.c_str(), 0600);
}

class ConsentdProcess {
 public:
  // `binary` is consentd's path, `data_dir` its store, `work_dir` holds the log and port file.
  ConsentdProcess(std::string binary, std::string data_dir, std::string work_dir)
      : binary_(std::move(binary)),
        data_dir_(std::move(data_dir)),
        work_dir_(std::move(work_dir)) {}

  // The TLS options of the test's own channel (set before Start when consentd serves TLS).
  void set_client_tls(rpc::TlsOptions tls) { client_tls_ = std::move(tls); }

  // Starts the server and waits until it answers; fails the test otherwise.
  // `extra_args` are appended to consentd's command line (e.g. --kafka-brokers). Without
  // --tls-cert among them, consentd serves plaintext on purpose (--insecure).
  void Start(const std::vector<std::string>& extra_args = {}) {
    const std::string port_file = work_dir_ + "/port";
    std::remove(port_file.c_str());
    std::vector<std::string> args = {"--listen",         "127.0.0.1:0", "--data-dir",  data_dir_,
                                     "--port-file",      port_file,     "--log-level", "info",
                                     "--metrics-listen", "127.0.0.1:0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    // Identifying evidence is sealed as in production unless a test brings its own keyring.
    if (std::find(extra_args.begin(), extra_args.end(), "--evidence-keyring-file") ==
        extra_args.end()) {
      const std::string keyring = work_dir_ + "/evidence-keyring.yaml";
      WriteSecretFile(keyring,
                      "keys:\n  - id: evidence-test-1\n    secret: "
                      "\"ZXZpZGVuY2UtdGVzdC1rZXktb2YtdGhpcnR5LXR3by1ieXRlcw==\"\n");
      args.push_back("--evidence-keyring-file");
      args.push_back(keyring);
    }
    if (std::find(extra_args.begin(), extra_args.end(), "--tls-cert") == extra_args.end()) {
      args.push_back("--insecure");
    }
    process_ = std::make_unique<ChildProcess>(binary_, args, work_dir_ + "/consentd.log");
    address_ = WaitForFile(port_file, absl::Seconds(30));
    ASSERT_FALSE(address_.empty()) << "consentd did not start; log:\n"
                                   << ReadFile(work_dir_ + "/consentd.log");
    const std::string ports = ReadFile(port_file);
    const size_t eol = ports.find('\n');
    metrics_address_ = ports.substr(eol + 1, ports.find('\n', eol + 1) - eol - 1);
    auto channel = rpc::Dial(address_, client_tls_);
    ASSERT_TRUE(channel.ok()) << channel.status();
    channel_ = *std::move(channel);
    ASSERT_TRUE(channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10))));
    catalog_ = v1::CatalogService::NewStub(channel_);
    consent_ = v1::ConsentService::NewStub(channel_);
  }
  // SIGTERM and wait; returns the exit status.
  int Stop() {
    // Close our connection first: an idle client that nobody polls would not notice the
    // server's GOAWAY, and the server would wait out its whole grace period for it.
    catalog_.reset();
    consent_.reset();
    channel_.reset();
    process_->Signal(SIGTERM);
    return process_->Wait(absl::Seconds(30));
  }
  // SIGKILL: no chance to flush anything.
  void Kill() {
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(30));
  }

  const std::string& address() const { return address_; }
  // The /metrics, /healthz, /readyz address.
  const std::string& metrics_address() const { return metrics_address_; }
  pid_t pid() const { return process_->pid(); }
  void Signal(int sig) { process_->Signal(sig); }
  int Wait(absl::Duration timeout) { return process_->Wait(timeout); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  v1::CatalogService::Stub& catalog() { return *catalog_; }

  // Creates tenant "acme" and a MARKETING purpose under CONSENT with notice version 1 on
  // `channels`, the catalog most tests start from.
  ::testing::AssertionResult SeedCatalog(const std::string& purpose_id,
                                         const std::vector<v1::Channel>& channels) {
    auto deadline = [] {
      auto ctx = std::make_unique<grpc::ClientContext>();
      ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      return ctx;
    };
    v1::CreateTenantRequest tenant;
    tenant.mutable_tenant()->set_tenant_id("acme");
    tenant.mutable_tenant()->set_display_name("Acme Retail");
    v1::Tenant created;
    grpc::Status s = catalog_->CreateTenant(deadline().get(), tenant, &created);
    if (!s.ok()) return ::testing::AssertionFailure() << "CreateTenant: " << s.error_message();
    v1::CreatePurposeRequest purpose;
    purpose.set_parent("tenants/acme");
    v1::Purpose* p = purpose.mutable_purpose();
    p->set_purpose_id(purpose_id);
    p->set_display_name(purpose_id);
    p->set_kind(v1::MARKETING);
    p->set_legal_basis(v1::CONSENT);
    for (v1::Channel c : channels) p->add_channels(c);
    p->set_notice_version(1);
    v1::Purpose out;
    s = catalog_->CreatePurpose(deadline().get(), purpose, &out);
    if (!s.ok()) return ::testing::AssertionFailure() << "CreatePurpose: " << s.error_message();
    return ::testing::AssertionSuccess();
  }
  v1::ConsentService::Stub& consent() { return *consent_; }
  std::string log() const { return ReadFile(work_dir_ + "/consentd.log"); }

 private:
  std::string binary_, data_dir_, work_dir_, address_, metrics_address_;
  std::unique_ptr<ChildProcess> process_;
  rpc::TlsOptions client_tls_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CatalogService::Stub> catalog_;
  std::unique_ptr<v1::ConsentService::Stub> consent_;
};

}  // namespace assent::testing
