// sms_sender: the reference SMS sender. Consumes SendRequests (and requests deferred by quiet
// hours) and inbound SMS, enforces consent, hands allowed messages to the spool transport and
// publishes outcomes. Exit status: 0 after SIGTERM/SIGINT, 1 for a fatal error at run time (Kafka
// fenced the producer, the brokers never answered), 2 for bad settings.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "rpc/tls.h"
#include "sender/runtime.h"
#include "sender/send_loop.h"
#include "sender/settings.h"
#include "sms_sender/config.h"
#include "sms_sender/contact_client.h"
#include "sms_sender/handler.h"
#include "sms_sender/topics.h"
#include "sms_sender/transport.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace assent {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);

int RunSender(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);

  auto log = spdlog::stderr_logger_mt("sms_sender");
  spdlog::set_default_logger(log);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l logger=%n %v",
                      spdlog::pattern_time_type::utc);

  auto settings =
      sender::Settings::Load("sms_sender", sms_sender::kEnvPrefix, sms_sender::SmsSpecs(),
                             sender::CommonOpenPrefixes(), args, env);
  if (!settings.ok()) {
    if (settings.status().code() == absl::StatusCode::kCancelled) {
      std::cout << settings.status().message();
      return 0;
    }
    std::cerr << "sms_sender: " << settings.status().message() << "\n";
    return 2;
  }
  auto common = sender::ReadCommon("sms", *settings);  // also sets the log level
  if (!common.ok()) {
    std::cerr << "sms_sender: " << common.status().message() << "\n";
    return 2;
  }
  auto config = sms_sender::ReadSmsConfig(*settings);
  if (!config.ok()) {
    std::cerr << "sms_sender: " << config.status().message() << "\n";
    return 2;
  }
  log->info("msg=\"starting\" config=\"{}\"", settings->Describe());

  // Signals are taken by a dedicated thread with sigwait, so shutdown runs in ordinary code. They
  // are blocked before any thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const Clock& clock = SystemClock::Get();
  // The admin connects as the consumer does (security.protocol, ssl.*, sasl.*).
  absl::Status topics = sms_sender::EnsureTopics(
      {common->kafka_brokers, events::ConnectionSettings(common->consumer_overrides),
       "kafka.consumer."},
      {config->requests_topic, config->retry_topic, config->inbound_topic, config->outcomes_topic},
      config->topic_partitions, kStartTimeout);
  if (!topics.ok()) {
    log->critical("msg=\"cannot create topics\" error=\"{}\"", topics.ToString());
    return 1;
  }
  sms_sender::SpoolTransport transport(config->spool_dir);
  if (absl::Status s = transport.Init(); !s.ok()) {
    log->critical("msg=\"cannot open the spool\" error=\"{}\"", s.ToString());
    return 1;
  }
  auto runtime = sender::SenderRuntime::Start(*common, clock);
  if (!runtime.ok()) {
    log->critical("msg=\"cannot start\" error=\"{}\"", runtime.status().ToString());
    return 1;
  }
  auto channel = rpc::Dial(common->service, common->service_tls);
  if (!channel.ok()) {
    log->critical("msg=\"cannot reach consentd\" error=\"{}\"", channel.status().ToString());
    return 1;
  }
  sms_sender::GrpcContactPointClient service(*channel, config->write_deadline);
  sms_sender::SmsHandler handler(*config, **runtime, transport, service);

  sender::SendLoopOptions options;
  options.brokers = common->kafka_brokers;
  options.group_id = common->group_id;
  options.transactional_id = absl::StrCat(common->group_id, "-", common->instance_id);
  options.topics = {config->requests_topic, config->retry_topic, config->inbound_topic};
  options.consumer_overrides = common->consumer_overrides;
  options.producer_overrides = common->producer_overrides;
  sender::SendLoop loop(
      options, [&handler](const rd_kafka_message_t& m) { return handler.Handle(m); }, clock);

  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    signalled.store(true);
    log->info("msg=\"signal received\" signal={}", signal);
    loop.Stop();
  });
  auto stop_waiter = [&] {
    // The waiter is blocked in sigwait unless a signal came: wake it with one.
    if (!signalled.load()) pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
  };

  if (absl::Status s = loop.Start(kStartTimeout); !s.ok()) {
    log->critical("msg=\"cannot start the send loop\" error=\"{}\"", s.ToString());
    stop_waiter();
    return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  (*runtime)->SetRunning(true);
  log->info("msg=\"running\"");
  const absl::Status run = loop.Run();
  sender::ExitAfter(absl::Seconds(10), run.ok() ? 0 : 1);
  (*runtime)->SetRunning(false);
  stop_waiter();
  if (!run.ok()) {
    log->critical("msg=\"fatal\" error=\"{}\"", run.ToString());
    return 1;
  }
  log->info("msg=\"stopped\"");
  return 0;
}

}  // namespace
}  // namespace assent

int main(int argc, char** argv) { return assent::RunSender(argc, argv); }
