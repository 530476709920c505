#ifndef CLS_CONSOLE_FEDERATION_COMMANDS_H_
#define CLS_CONSOLE_FEDERATION_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "console/commands.h"
#include "console/deployment_commands.h"

namespace cls::console {

// `clsctl federation stats`: GET /v1/federation/stats (the original guide's
// get_federation_statistics) as a key/value block, or the JSON.
CommandResult RunFederationStats(CommandContext& ctx);

// `clsctl versions import FILE`: reads the model file (docs/versions.md
// "Importing a model"), sends POST /v1/versions/import {"model": FILE} and
// prints the new version id. A file that cannot be read or is not a JSON
// object is a usage error before anything is sent.
CommandResult RunVersionsImport(CommandContext& ctx, const std::string& file);

// Adds `federation stats` to the app.
void AddFederationCommands(CLI::App& app, ConsoleAction& action);
// Adds `import FILE` to the `versions` subcommand.
void AddVersionImportCommand(CLI::App& versions, ConsoleAction& action);

}  // namespace cls::console

#endif  // CLS_CONSOLE_FEDERATION_COMMANDS_H_
