// webhook_forwarder: consumes <prefix>consent.changes.v1 and POSTs each change, signed in the
// style of Standard Webhooks, to the configured endpoints (docs/WEBHOOKS.md). Exit status: 0
// after SIGTERM/SIGINT, 1 for a fatal error at run time, 2 for bad settings.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>
#include <variant>

#include "metrics/http_server.h"
#include "sender/settings.h"
#include "sender/startup.h"
#include "spdlog/spdlog.h"
#include "webhook_forwarder/config.h"
#include "webhook_forwarder/forwarder.h"

namespace assent {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);

int RunForwarder(int argc, char** argv) {
  sender::StartLogging("webhook_forwarder");
  auto log = spdlog::default_logger();
  auto loaded = sender::LoadProcessSettings("webhook_forwarder", webhooks::kEnvPrefix,
                                            webhooks::WebhookSpecs(),
                                            webhooks::WebhookOpenPrefixes(), argc, argv);
  if (const int* exit_code = std::get_if<int>(&loaded)) return *exit_code;
  const sender::Settings* settings = &std::get<sender::Settings>(loaded);
  auto config = webhooks::ReadWebhookConfig(*settings);
  if (!config.ok()) {
    std::cerr << "webhook_forwarder: " << config.status().message() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  // Endpoint URLs may carry tokens: the start-up line names the endpoints only.
  std::string names;
  for (const auto& e : config->endpoints) names += (names.empty() ? "" : ",") + e.name;
  log->info("msg=\"starting\" endpoints={} group={}", names, config->group_id);

  sender::BlockStopSignals();

  if (absl::Status s = webhooks::EnsureDeadLetterTopic(*config, kStartTimeout); !s.ok()) {
    log->critical("msg=\"cannot create the dead-letter topic\" error=\"{}\"", s.ToString());
    return 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  auto forwarder = webhooks::Forwarder::Create(*config, registry);
  if (!forwarder.ok()) {
    std::cerr << "webhook_forwarder: " << forwarder.status().message() << "\n";
    return forwarder.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  webhooks::Forwarder* raw = forwarder->get();
  std::unique_ptr<metrics::HttpServer> http;
  if (!config->metrics_listen.empty()) {
    auto started = metrics::HttpServer::Start(config->metrics_listen, {registry},
                                              [raw]() -> metrics::Readiness {
                                                if (!raw->assigned())
                                                  return {false, "no partitions assigned yet"};
                                                return {true, ""};
                                              });
    if (!started.ok()) {
      log->critical("msg=\"cannot serve metrics\" error=\"{}\"", started.status().ToString());
      return 1;
    }
    http = *std::move(started);
    log->info("msg=\"metrics serving\" address={}", http->address());
    if (!config->port_file.empty()) {
      std::ofstream out(config->port_file + ".tmp");
      out << http->address() << "\n";
      out.close();
      std::rename((config->port_file + ".tmp").c_str(), config->port_file.c_str());
    }
  }

  std::optional<sender::StopSignalWaiter> waiter;
  waiter.emplace([&](int signal) {
    log->info("msg=\"signal received\" signal={}", signal);
    raw->Stop();
  });
  log->info("msg=\"running\"");
  const absl::Status run = raw->Run();
  waiter.reset();
  forwarder->reset();
  if (!run.ok()) {
    log->critical("msg=\"fatal\" error=\"{}\"", run.ToString());
    return 1;
  }
  log->info("msg=\"stopped\"");
  return 0;
}

}  // namespace
}  // namespace assent

int main(int argc, char** argv) { return assent::RunForwarder(argc, argv); }
