// What a sender's main does first: log to stderr in the house format, and load its settings from
// the command line, the environment and --config (sender/settings.h).
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "sender/settings.h"

namespace assent::sender {

// Makes `program` the default spdlog logger: stderr, UTC timestamps, logfmt-style lines.
void StartLogging(const std::string& program);

// The settings, or the status main should exit with: 0 after printing the usage for --help, 2
// after printing why the settings are refused ("<program>: <key>: ...").
std::variant<Settings, int> LoadProcessSettings(const std::string& program,
                                                const std::string& env_prefix,
                                                std::vector<SettingSpec> specs,
                                                std::vector<std::string> open_prefixes, int argc,
                                                char** argv);

}  // namespace assent::sender
