#include "sender/startup.h"

#include <iostream>

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace assent::sender {

void StartLogging(const std::string& program) {
  spdlog::set_default_logger(spdlog::stderr_logger_mt(program));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l logger=%n %v",
                      spdlog::pattern_time_type::utc);
}

std::variant<Settings, int> LoadProcessSettings(const std::string& program,
                                                const std::string& env_prefix,
                                                std::vector<SettingSpec> specs,
                                                std::vector<std::string> open_prefixes, int argc,
                                                char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  auto settings =
      Settings::Load(program, env_prefix, std::move(specs), std::move(open_prefixes), args, env);
  if (settings.ok()) return *std::move(settings);
  if (settings.status().code() == absl::StatusCode::kCancelled) {
    std::cout << settings.status().message();
    return 0;
  }
  std::cerr << program << ": " << settings.status().message() << "\n";
  return 2;
}

}  // namespace assent::sender
