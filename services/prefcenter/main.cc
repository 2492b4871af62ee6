// prefcenter: the customer's side of Assent (preference center, one-click unsubscribe, JSON API).
// See app.h for the routes and config.h for the settings (`prefcenter --help`).
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "metrics/http_server.h"
#include "prefcenter/app.h"
#include "prefcenter/config.h"
#include "prefcenter/consent_client.h"
#include "prefcenter/resend.h"
#include "rpc/tls.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace {

int Run(int argc, char** argv) {
  using namespace assent;
  using namespace assent::prefcenter;
  spdlog::set_default_logger(spdlog::stderr_logger_mt("prefcenter"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l logger=%n %v",
                      spdlog::pattern_time_type::utc);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  auto settings = sender::Settings::Load("prefcenter", "ASSENT_PREFCENTER_", Specs(),
                                         OpenPrefixes(), args, env);
  if (!settings.ok()) {
    if (settings.status().code() == absl::StatusCode::kCancelled) {
      std::cout << settings.status().message();
      return 0;
    }
    std::cerr << "prefcenter: " << settings.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<Config> config = ReadConfig(*settings);
  if (!config.ok()) {
    std::cerr << "prefcenter: " << config.status().message() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  spdlog::info("msg=\"starting\" config=\"{}\"", config->settings_description);

  // Signals are taken by sigwait below, not by whichever thread they land on.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const Clock& clock = SystemClock::Get();
  auto registry = std::make_shared<prometheus::Registry>();
  auto channel = rpc::Dial(config->consentd, config->consentd_tls);
  if (!channel.ok()) {
    std::cerr << "prefcenter: " << channel.status().message() << "\n";
    return 2;
  }
  ConsentClient client(*channel, clock, config->rpc_deadline, config->catalog_ttl);
  std::unique_ptr<LinkMailer> mailer;
  if (!config->resend_brokers.empty()) {
    auto kafka = KafkaLinkMailer::Create(config->resend_brokers, config->resend_topic,
                                         config->resend_purpose, config->resend_template);
    if (!kafka.ok()) {
      std::cerr << "prefcenter: " << kafka.status().message() << "\n";
      return 2;
    }
    mailer = *std::move(kafka);
  } else {
    spdlog::warn("msg=\"no resend.brokers: 'send me a new link' sends nothing\"");
  }
  std::unique_ptr<metrics::HttpServer> probes;
  if (!config->metrics_listen.empty()) {
    auto started = metrics::HttpServer::Start(config->metrics_listen, {registry}, [&client] {
      return client.Ready() ? metrics::Readiness{true, ""}
                            : metrics::Readiness{false, "consentd does not answer"};
    });
    if (!started.ok()) {
      std::cerr << "prefcenter: metrics_listen: " << started.status().message() << "\n";
      return 2;
    }
    probes = *std::move(started);
  }
  auto server = http::Server::Create(config->http, registry.get());
  if (!server.ok()) {
    std::cerr << "prefcenter: " << server.status().message() << "\n";
    return 2;
  }
  App app(*config, client, clock, mailer.get(), *registry);
  app.Register(**server);
  if (absl::Status s = (*server)->Start(); !s.ok()) {
    std::cerr << "prefcenter: " << s.message() << "\n";
    return 1;
  }
  spdlog::info("msg=\"serving\" address={} tls={}", (*server)->address(),
               config->http.tls_cert_file.empty() ? "off" : "on");
  if (const std::string port_file = settings->String("port_file"); !port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << (*server)->address() << "\n" << (probes ? probes->address() : "") << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("msg=\"signal received\" signal={}", signal);
  (*server)->Stop();
  spdlog::info("msg=\"stopped\"");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
