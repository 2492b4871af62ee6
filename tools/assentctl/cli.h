// assentctl's command table, usage text and entry point.
//
//   assentctl [global flags] COMMAND [SUBCOMMAND] [operands] [flags]
//
// Flags may come before or after the command words. Exit statuses are in actions.h and in
// `assentctl --help`: 0 success / ALLOW / chain valid, 1 DENY / chain broken, 2 failed call or
// unreadable file, 64 usage error.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "assentctl/actions.h"
#include "assentctl/flags.h"
#include "assentctl/requests.h"

namespace assent::ctl {

struct Command {
  std::string_view words;       // "tenant create"
  std::string synopsis;         // operands and flags, after the words ("TARGET" for a target)
  std::string summary;          // what it does
  size_t max_operands;          // positional words after the command words
  std::vector<FlagSpec> flags;  // besides the global ones
  Action action;
};

// Every command, in the order `--help` lists them.
const std::vector<Command>& Commands();
// Flags every command accepts: --server, --tenant, --json, --timeout, --help.
std::span<const FlagSpec> GlobalFlags();

// A command line, resolved.
struct Invocation {
  // Null when no command was named ("assentctl --help", "assentctl help").
  const Command* command = nullptr;
  // The flags, and the operands (the positional words after the command words).
  Args args;
  bool help = false;
};

// Resolves `argv` (without the program name) to a command and checks that each flag applies to it
// and that there are not too many operands. INVALID_ARGUMENT (a usage error) otherwise.
absl::StatusOr<Invocation> ParseCommandLine(const std::vector<std::string>& argv);

// The full usage text (`assentctl --help`), and one command's ("usage: assentctl check ...").
std::string Usage();
std::string CommandUsage(const Command& command);

// Runs one invocation against the server named by --server / $ASSENT_SERVER: output to `out`,
// errors to `err`. Returns the exit status.
int Run(const std::vector<std::string>& argv, const Environment& env, std::ostream& out,
        std::ostream& err);

}  // namespace assent::ctl
