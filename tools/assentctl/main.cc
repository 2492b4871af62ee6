// assentctl: the command-line client of Assent. Everything but collecting the process's arguments
// and environment is in assentctl_lib (see cli.h).
#include <iostream>
#include <string>
#include <vector>

#include "assentctl/cli.h"

extern char** environ;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  assent::ctl::Environment env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return assent::ctl::Run(args, env, std::cout, std::cerr);
}
