#ifndef CLS_CONSOLE_OPERATOR_COMMANDS_H_
#define CLS_CONSOLE_OPERATOR_COMMANDS_H_

#include <string>

#include "console/commands.h"

namespace cls::console {

// `version`: `client_line` (clsctl's --version line), then the
// coordinator's version from GET /v1/status. When the coordinator cannot be
// reached, clsctl's line and "coordinator: unreachable (...)" are printed
// and the error is returned (exit 2). With --json: {"client": {"version"},
// "server": {"version", "protocol_versions"} or null}, plus "error" when
// the server did not answer.
CommandResult RunVersion(CommandContext& ctx, const std::string& client_line);

}  // namespace cls::console

#endif  // CLS_CONSOLE_OPERATOR_COMMANDS_H_
