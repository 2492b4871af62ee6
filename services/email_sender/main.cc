// email_sender: the reference email sender. See email_sender.h and the README's "Senders".
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "email_sender/email_sender.h"
#include "events/kafka.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace {

std::atomic<assent::sender::SendLoop*> g_loop{nullptr};
std::atomic<assent::sender::SendLoop*> g_lifecycle_loop{nullptr};

void OnSignal(int) {
  if (auto* loop = g_loop.load()) loop->Stop();
  if (auto* loop = g_lifecycle_loop.load()) loop->Stop();
}

int Run(int argc, char** argv) {
  using namespace assent;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  // One product logs one way: consentd's structured line format.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("email_sender"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l logger=%n %v",
                      spdlog::pattern_time_type::utc);
  std::vector<sender::SettingSpec> specs = sender::CommonSpecs("email");
  for (auto& s : email::EmailSpecs()) specs.push_back(std::move(s));
  std::vector<std::string> prefixes = sender::CommonOpenPrefixes();
  for (auto& p : email::EmailOpenPrefixes()) prefixes.push_back(std::move(p));
  auto settings =
      sender::Settings::Load("email_sender", "ASSENT_EMAIL_", specs, prefixes, args, env);
  if (!settings.ok()) {
    if (settings.status().code() == absl::StatusCode::kCancelled) {
      std::cout << settings.status().message();
      return 0;
    }
    std::cerr << "email_sender: " << settings.status().message() << "\n";
    return 2;
  }
  auto common = sender::ReadCommon("email", *settings);
  auto config = common.ok() ? email::ReadEmailConfig(*settings, common->topic_prefix)
                            : absl::StatusOr<email::EmailConfig>(common.status());
  if (!config.ok()) {
    std::cerr << "email_sender: " << config.status().message() << "\n";
    return 2;
  }
  spdlog::info("msg=\"starting\" config=\"{}\"", settings->Describe());
  // The admin connects as the consumer does (security.protocol, ssl.*, sasl.*).
  absl::Status topics = events::CreateTopics(
      {common->kafka_brokers, events::ConnectionSettings(common->consumer_overrides),
       "kafka.consumer."},
      {{config->requests_topic, 3, 1, {}}, {config->outcomes_topic, 3, 1, {}}}, absl::Seconds(30));
  if (!topics.ok()) spdlog::warn("msg=\"topics not created\" error=\"{}\"", topics.ToString());
  auto runtime = sender::SenderRuntime::Start(*common, SystemClock::Get());
  if (!runtime.ok()) {
    std::cerr << "email_sender: " << runtime.status().message() << "\n";
    return 2;
  }
  email::EmailSender handler(*config, **runtime);
  if (absl::Status s = handler.Init(); !s.ok()) {
    std::cerr << "email_sender: " << s.message() << "\n";
    return 2;
  }
  sender::SendLoopOptions loop_options;
  loop_options.brokers = common->kafka_brokers;
  loop_options.group_id = common->group_id;
  loop_options.transactional_id = absl::StrCat(common->group_id, "-", common->instance_id);
  loop_options.topics = {config->requests_topic};
  loop_options.consumer_overrides = common->consumer_overrides;
  loop_options.producer_overrides = common->producer_overrides;
  sender::SendLoop loop(
      loop_options, [&](const rd_kafka_message_t& m) { return handler.Handle(m); },
      SystemClock::Get());
  g_loop.store(&loop);
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  if (absl::Status s = loop.Start(absl::Seconds(60)); !s.ok()) {
    std::cerr << "email_sender: " << s.message() << "\n";
    return 1;
  }
  // Confirmations follow the lifecycle topic in their own consumer group and transactions.
  std::unique_ptr<email::ConfirmationMailer> mailer;
  std::unique_ptr<sender::SendLoop> lifecycle_loop;
  std::thread lifecycle_thread;
  std::atomic<bool> lifecycle_failed{false};
  if (config->confirmation.enabled) {
    mailer = std::make_unique<email::ConfirmationMailer>(config->confirmation, **runtime,
                                                         handler.spool());
    sender::SendLoopOptions lifecycle_options = loop_options;
    lifecycle_options.group_id = absl::StrCat(common->group_id, "-confirmations");
    lifecycle_options.transactional_id =
        absl::StrCat(lifecycle_options.group_id, "-", common->instance_id);
    lifecycle_options.topics = {config->confirmation.topic};
    lifecycle_loop = std::make_unique<sender::SendLoop>(
        lifecycle_options, [&](const rd_kafka_message_t& m) { return mailer->Handle(m); },
        SystemClock::Get());
    if (absl::Status s = lifecycle_loop->Start(absl::Seconds(60)); !s.ok()) {
      std::cerr << "email_sender: " << s.message() << "\n";
      return 1;
    }
    g_lifecycle_loop.store(lifecycle_loop.get());
    lifecycle_thread = std::thread([&] {
      absl::Status s = lifecycle_loop->Run();
      if (!s.ok()) {
        spdlog::error("msg=\"confirmations stopped on error\" error=\"{}\"", s.ToString());
        lifecycle_failed.store(true);
        loop.Stop();
      }
    });
  }
  (*runtime)->SetRunning(true);
  spdlog::info("msg=\"running\"");
  absl::Status s = loop.Run();
  if (lifecycle_loop != nullptr) {
    lifecycle_loop->Stop();
    lifecycle_thread.join();
    g_lifecycle_loop.store(nullptr);
    // A fatal error of the confirmations' loop ends the process like one of the requests' loop.
    if (s.ok() && lifecycle_failed.load()) s = absl::InternalError("confirmations loop failed");
  }
  sender::ExitAfter(absl::Seconds(10), s.ok() ? 0 : 1);
  (*runtime)->SetRunning(false);
  g_loop.store(nullptr);
  if (!s.ok()) {
    spdlog::error("msg=\"stopped on error\" error=\"{}\"", s.ToString());
    return 1;
  }
  spdlog::info("msg=\"stopped\"");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
