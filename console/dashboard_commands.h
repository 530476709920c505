#ifndef CLS_CONSOLE_DASHBOARD_COMMANDS_H_
#define CLS_CONSOLE_DASHBOARD_COMMANDS_H_

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "console/cli.h"
#include "console/commands.h"

// `clsctl dashboard`: the web dashboard on a loopback port, serving until
// Ctrl-C or SIGTERM (docs/console.md "Dashboard").
namespace cls::console {

struct DashboardOptions {
  uint16_t port = 0;  // 0: a free one
  std::string listen_host = "127.0.0.1";
  std::string ca_file;  // for the audit page's verification
};

// Prints "Dashboard: http://127.0.0.1:PORT/?token=TOKEN", then serves
// until SIGINT or SIGTERM.
CommandResult RunDashboard(CommandContext& ctx,
                           const DashboardOptions& options);

// Adds the subcommand to clsctl.
void AddDashboardCommand(CLI::App& app, CliState& state);

}  // namespace cls::console

#endif  // CLS_CONSOLE_DASHBOARD_COMMANDS_H_
