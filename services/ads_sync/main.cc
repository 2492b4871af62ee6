// ads_sync: keeps an ads audience's suppression file (the ad platforms' SHA-256 of every member
// that must not be targeted) current with consent, incrementally as events arrive.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "ads_sync/audience_file.h"
#include "ads_sync/audience_sync.h"
#include "ads_sync/config.h"
#include "common/clock.h"
#include "sender/runtime.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace assent::ads {
namespace {

// How often start-up looks at whether the view caught up, and retries a failed file write.
constexpr absl::Duration kPollInterval = absl::Milliseconds(100);
constexpr absl::Duration kRetryInterval = absl::Seconds(1);

// Fails start-up when the catalog says the purpose does not cover TARGETED_ADS. When the catalog
// does not know the purpose (the service was unreachable, or it does not exist yet), checks fail
// and every member stays suppressed, which is safe; a warning says so.
absl::Status CheckPurpose(const AdsConfig& config, const enforce::Enforcer& enforcer) {
  const v1::Purpose* purpose = enforcer.catalog()->FindPurpose(config.tenant, config.purpose_id);
  if (purpose == nullptr) {
    spdlog::warn(
        "ads sync: purpose {} of tenant {} not in the catalog yet; members stay "
        "suppressed until it can be checked",
        config.purpose_id, config.tenant);
    return absl::OkStatus();
  }
  if (std::find(purpose->channels().begin(), purpose->channels().end(), v1::TARGETED_ADS) ==
      purpose->channels().end()) {
    return absl::InvalidArgumentError("ads.purpose_id: the purpose does not cover TARGETED_ADS");
  }
  return absl::OkStatus();
}

int Run(const AdsConfig& config) {
  const Clock& clock = SystemClock::Get();
  // Signals are taken by a dedicated thread with sigwait, so shutdown runs in ordinary code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Read before anything starts: a bad audience file fails start-up.
  absl::StatusOr<absl::Time> audience_mtime = ModificationTime(config.audience_file);
  absl::StatusOr<std::vector<AudienceEntry>> entries = ReadAudienceFile(config.audience_file);
  if (!audience_mtime.ok() || !entries.ok()) {
    spdlog::critical("ads sync: cannot start: {}",
                     (!entries.ok() ? entries.status() : audience_mtime.status()).ToString());
    return 2;
  }

  ChangeQueue queue(config.tenant);
  // What the suppression file reflects, for the enforcement progress reports: the ads sync has
  // applied a change only once the file written after it was read holds it (or needed no write).
  struct Applied {
    absl::Mutex mu;
    enforce::ChangesProgress progress ABSL_GUARDED_BY(mu);
  };
  auto applied = std::make_shared<Applied>();
  auto runtime = sender::SenderRuntime::Start(
      config.common, clock, [&queue](std::string_view key) { queue.Push(key); },
      [applied] {
        absl::MutexLock lock(&applied->mu);
        return applied->progress;
      });
  if (!runtime.ok()) {
    spdlog::critical("ads sync: cannot start: {}", runtime.status().ToString());
    return 1;
  }
  if (absl::Status s = CheckPurpose(config, (*runtime)->enforcer()); !s.ok()) {
    spdlog::critical("ads sync: cannot start: {}", s.ToString());
    return 2;
  }
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    signalled.store(true);
    spdlog::info("ads sync: signal received: signal={}", signal);
    queue.Stop();
  });

  EnforcerConsent source((*runtime)->enforcer());
  SyncOptions options;
  options.tenant = config.tenant;
  options.purpose_id = config.purpose_id;
  options.suppression_file = config.suppression_file;
  options.platform = config.platform;
  // Held here so the metrics outlive `sync`, which references them.
  const std::shared_ptr<prometheus::Registry> registry = (*runtime)->registry();
  AudienceSync sync(options, source, *registry);
  int exit_code = 0;

  // Never write from a partial view: a member whose withdrawal is not read yet would be missing.
  while (!queue.stopped() && !source.CaughtUp()) queue.Wait(kPollInterval);
  queue.Enable();
  absl::Time next_recheck = clock.Now() + config.recheck_interval;
  absl::Time next_reload = clock.Now() + config.reload_interval;
  if (!queue.stopped()) {
    if (absl::Status s = sync.SetAudience(*entries); !s.ok()) {
      spdlog::critical("ads sync: cannot start: {}", s.ToString());
      queue.Stop();
      exit_code = 2;
    } else {
      spdlog::info("ads sync: view caught up; evaluating {} members", sync.members());
      const enforce::ChangesProgress covered = (*runtime)->enforcer().ChangesProgress();
      sync.EvaluateAll().IgnoreError();  // logged; retried below while write_pending()
      if (!sync.write_pending()) {
        absl::MutexLock lock(&applied->mu);
        applied->progress = covered;
      }
      (*runtime)->SetRunning(true);
    }
  }

  while (!queue.stopped()) {
    absl::Time wake = std::min(next_recheck, next_reload);
    if (sync.write_pending()) wake = std::min(wake, clock.Now() + kRetryInterval);
    // Read before the queue is drained: every change below these offsets has its key queued
    // (the follower queues a key before it advances its offset), so once the keys drained below
    // are applied and the file written, the file covers them. Woken at least every second so the
    // reported progress keeps up with changes that affect no member.
    const enforce::ChangesProgress covered = (*runtime)->enforcer().ChangesProgress();
    wake = std::min(wake, clock.Now() + absl::Seconds(1));
    std::vector<std::string> keys = queue.Wait(std::max(wake - clock.Now(), absl::ZeroDuration()));
    if (queue.stopped()) break;
    if (!keys.empty()) sync.Apply(keys).IgnoreError();  // logged; retried while write_pending()
    const absl::Time now = clock.Now();
    bool reloaded = false;
    if (now >= next_reload) {
      next_reload = now + config.reload_interval;
      absl::StatusOr<absl::Time> mtime = ModificationTime(config.audience_file);
      if (!mtime.ok()) {
        spdlog::warn("ads sync: keeping the current audience: {}", mtime.status().ToString());
      } else if (*mtime != *audience_mtime) {
        absl::StatusOr<std::vector<AudienceEntry>> fresh = ReadAudienceFile(config.audience_file);
        absl::Status s = fresh.ok() ? sync.SetAudience(*fresh) : fresh.status();
        if (s.ok()) {
          audience_mtime = mtime;
          reloaded = true;
          spdlog::info("ads sync: audience reloaded: members={}", sync.members());
        } else {
          // Not remembered as read: retried at the next interval (the file may be mid-edit).
          spdlog::warn("ads sync: keeping the current audience: {}", s.ToString());
        }
      }
    }
    if (reloaded || now >= next_recheck) {
      if (now >= next_recheck) next_recheck = now + config.recheck_interval;
      sync.EvaluateAll().IgnoreError();
    } else if (sync.write_pending()) {
      sync.Flush().IgnoreError();
    }
    if (!sync.write_pending()) {
      absl::MutexLock lock(&applied->mu);
      applied->progress = covered;
    }
  }

  (*runtime)->SetRunning(false);
  sender::ExitAfter(absl::Seconds(10), exit_code);
  // Unless a signal ended the loop, the signal thread is still in sigwait: hand it one.
  if (!signalled.load()) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  runtime->reset();
  spdlog::info("ads sync: stopped");
  return exit_code;
}

}  // namespace
}  // namespace assent::ads

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  spdlog::set_default_logger(spdlog::stderr_logger_mt("ads_sync"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l logger=%n %v",
                      spdlog::pattern_time_type::utc);
  auto settings =
      assent::sender::Settings::Load("ads_sync", assent::ads::kEnvPrefix, assent::ads::AdsSpecs(),
                                     assent::sender::CommonOpenPrefixes(), args, env);
  if (!settings.ok()) {
    if (settings.status().code() == absl::StatusCode::kCancelled) {
      std::cout << settings.status().message();
      return 0;
    }
    std::cerr << "ads_sync: " << settings.status().message() << "\n";
    return 2;
  }
  auto config = assent::ads::ReadConfig(*settings);
  if (!config.ok()) {
    std::cerr << "ads_sync: " << config.status().message() << "\n";
    return 2;
  }
  spdlog::info("ads sync: starting: {}", settings->Describe());
  return assent::ads::Run(*config);
}
