#ifndef CLS_CONSOLE_CLI_H_
#define CLS_CONSOLE_CLI_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "console/commands.h"

// clsctl's command line: the CLI11 app with every subcommand and option,
// and the run from argv to exit code (main.cc only calls RunClsctl).
namespace cls::console {

// The command chosen on the command line, set by its subcommand's callback.
using Action = std::function<CommandResult(CommandContext&)>;

// What parsing fills in. Outlives the app.
struct CliState {
  GlobalOptions globals;
  std::string config_file;  // --config
  std::string context;      // --context
  Action action;
  // Set by commands that need no coordinator (audit verify FILE, privacy
  // epsilon, completion, config contexts).
  bool offline = false;
  // Set by `version`: it answers even when no coordinator can be reached.
  bool version_command = false;
  // Set by `config contexts`, whose action is made once the file is read.
  bool contexts_command = false;
  // The global options given on the command line or in the environment.
  CLI::Option* coordinator_option = nullptr;
  CLI::Option* ca_option = nullptr;
  CLI::Option* cert_option = nullptr;
  CLI::Option* key_option = nullptr;
};

// The exit codes as `clsctl --help` lists them (its footer).
extern const char* const kExitCodes;

// Adds clsctl's options and subcommands to `app`, bound to `state`.
void BuildClsctlApp(CLI::App& app, CliState& state);

// Parses argv and runs the command; the process exit code.
int RunClsctl(int argc, char** argv);

}  // namespace cls::console

#endif  // CLS_CONSOLE_CLI_H_
