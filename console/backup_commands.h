#ifndef CLS_CONSOLE_BACKUP_COMMANDS_H_
#define CLS_CONSOLE_BACKUP_COMMANDS_H_

#include "console/commands.h"

namespace cls::console {

// `clsctl backup`: POST /v1/backup. The coordinator copies its database
// online into its [backup] dir and answers when the copy is checked; prints
// the file (its path on the coordinator's host), its size and its sha256
// (--json: the answer as is). Exit code 3 (409) when the coordinator has no
// [backup] dir.
CommandResult RunBackup(CommandContext& ctx);

}  // namespace cls::console

#endif  // CLS_CONSOLE_BACKUP_COMMANDS_H_
