#ifndef CLS_CONSOLE_DEPLOYMENT_COMMANDS_H_
#define CLS_CONSOLE_DEPLOYMENT_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "console/commands.h"

namespace cls::console {

// The command chosen on the command line (main.cc's Action).
using ConsoleAction = std::function<CommandResult(CommandContext&)>;

// `clsctl versions deploy|rollout|promote|rollback|compare|deployment`:
// the federation's deployment (POST /v1/versions/{id}/deploy, .../rollout,
// /v1/versions/promote, /v1/versions/rollback, GET /v1/versions/compare,
// GET /v1/deployment). Added to the `versions` subcommand.
void AddDeploymentCommands(CLI::App& versions, ConsoleAction& action);

// `clsctl drift status|alerts` (GET /v1/drift, GET /v1/drift/alerts).
void AddDriftCommands(CLI::App& drift, ConsoleAction& action);

// The commands themselves (tested with a fake AdminApi). Each prints a short
// human summary, or the coordinator's JSON with ctx.json.
struct DeployOptions {
  std::string version_id;
  std::string strategy = "immediate";
  std::string reason;
};
CommandResult RunVersionsDeploy(CommandContext& ctx,
                                const DeployOptions& options);
CommandResult RunVersionsRollout(CommandContext& ctx,
                                 const std::string& version_id, double percent);
CommandResult RunVersionsPromote(CommandContext& ctx,
                                 const std::string& reason);
// `to` empty: back to the last stable version; else to that version.
CommandResult RunVersionsRollback(CommandContext& ctx,
                                  const std::string& reason,
                                  const std::string& to = "");
// GET /v1/versions/compare: the sequential test's description, then the two
// versions' held-out validation (RenderValidationComparison).
CommandResult RunVersionsCompare(CommandContext& ctx, const std::string& a,
                                 const std::string& b);
CommandResult RunDeploymentStatus(CommandContext& ctx);
CommandResult RunDriftStatus(CommandContext& ctx);
CommandResult RunDriftAlerts(CommandContext& ctx, int limit);

}  // namespace cls::console

#endif  // CLS_CONSOLE_DEPLOYMENT_COMMANDS_H_
