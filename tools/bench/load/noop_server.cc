// noop_server: the load harness's baseline. A gRPC server built exactly as consentd builds its own
// (callback API, health checking, reflection, the same 8 MiB receive limit) whose Check and
// RecordDecisions return OK at once with an empty response; every other method is unimplemented.
// Whatever consentd costs beyond this server is the cost of Assent itself.
//
// With --finish-writes-elsewhere, RecordDecisions is answered the way consentd answers a durable
// write: the handler queues the call and returns, and another thread finishes every queued call
// at once (consentd's writer thread, minus the storage). It measures what gRPC itself charges for
// answering from a thread other than the one that received the call; it is not the baseline.
//   noop_server [--listen HOST:PORT] [--port-file PATH] [--finish-writes-elsewhere]
//               [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "assent/v1/consent.grpc.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "rpc/parse_guard.h"
#include "rpc/server.h"
#include "rpc/tls.h"

namespace {

// consentd's default limits.max_message_bytes.
constexpr int kMaxMessageBytes = 8 << 20;

// Built like consentd's service: the same parse-guarding handlers (rpc/parse_guard.h).
class NoopConsentService final
    : public assent::rpc::ParseGuarded<assent::v1::ConsentService::CallbackService> {
 public:
  explicit NoopConsentService(bool finish_writes_elsewhere) {
    GuardParsing("Check", &NoopConsentService::Check);
    GuardParsing("RecordDecisions", &NoopConsentService::RecordDecisions);
    if (finish_writes_elsewhere) finisher_ = std::thread([this] { FinishQueued(); });
  }
  ~NoopConsentService() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (finisher_.joinable()) finisher_.join();
  }

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const assent::v1::CheckRequest* /*request*/,
                                  assent::v1::CheckResponse* /*response*/) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* RecordDecisions(
      grpc::CallbackServerContext* ctx, const assent::v1::RecordDecisionsRequest* /*request*/,
      assent::v1::RecordDecisionsResponse* /*response*/) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    if (finisher_.joinable()) {
      absl::MutexLock lock(&mu_);
      queued_.push_back(reactor);
    } else {
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

 private:
  void FinishQueued() {
    std::vector<grpc::ServerUnaryReactor*> batch;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]()
                         ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queued_.empty(); };
        mu_.Await(absl::Condition(&ready));
        if (queued_.empty()) return;
        batch.swap(queued_);
      }
      for (grpc::ServerUnaryReactor* reactor : batch) reactor->Finish(grpc::Status::OK);
      batch.clear();
    }
  }

  absl::Mutex mu_;
  std::vector<grpc::ServerUnaryReactor*> queued_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread finisher_;
};

int Usage() {
  std::fprintf(stderr,
               "usage: noop_server [--listen HOST:PORT] [--port-file PATH] "
               "[--tls-cert F --tls-key F [--tls-ca F]] "
               "[--finish-writes-elsewhere]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG, which leaves deadlock detection on for every absl::Mutex
  // (gRPC locks several per call): a lock-order graph updated on each acquisition, a debugging
  // aid that costs CPU on every RPC. consentd and noop_server both turn it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  bool finish_writes_elsewhere = false;
  assent::rpc::TlsOptions tls;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--finish-writes-elsewhere") {
      finish_writes_elsewhere = true;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    if (flag == "--listen") {
      listen = argv[++i];
    } else if (flag == "--port-file") {
      port_file = argv[++i];
    } else if (flag == "--tls-cert") {
      tls.cert_file = argv[++i];
    } else if (flag == "--tls-key") {
      tls.key_file = argv[++i];
    } else if (flag == "--tls-ca") {
      tls.ca_file = argv[++i];
    } else {
      return Usage();
    }
  }

  // As in consentd: signals are taken by a dedicated thread so shutdown runs in ordinary code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  NoopConsentService service(finish_writes_elsewhere);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto credentials = assent::rpc::ServerCredentials(tls, /*insecure=*/!tls.enabled());
  if (!credentials.ok()) {
    std::fprintf(stderr, "noop_server: %s\n", credentials.status().ToString().c_str());
    return 2;
  }
  grpc::ServerBuilder builder;
  assent::rpc::ConfigureServerBuilder(builder);
  int port = 0;
  builder.AddListeningPort(listen, *credentials, &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.RegisterService(&service);
  auto started = assent::rpc::BuildAndStart(builder, listen, port);
  if (!started.ok()) {
    std::fprintf(stderr, "noop_server: %s\n", started.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<grpc::Server> server = *std::move(started);
  server->GetHealthCheckService()->SetServingStatus(true);
  const std::string address = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << address << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }

  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    server->Shutdown();
  });
  server->Wait();
  waiter.join();
  return 0;
}
