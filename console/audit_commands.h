#ifndef CLS_CONSOLE_AUDIT_COMMANDS_H_
#define CLS_CONSOLE_AUDIT_COMMANDS_H_

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "console/commands.h"

// `clsctl audit export` and `clsctl audit verify`: the audit log leaves the
// coordinator as one JSON document (audit/audit_chain.h), and is
// verified here, independently of the coordinator: every hash and link is
// recomputed and the coordinator's signed checkpoints are checked against
// its certificate, which must chain to the project CA.
namespace cls::console {

struct AuditExportOptions {
  std::string since;  // "" or 2026-11-27 / 2026-11-27T05:16:42Z
  std::string until;
  std::string output;  // "" = stdout
};
// GET /v1/audit?since=&until=. Writes the export (pretty JSON) to `output`
// or ctx.out; a one-line summary goes to ctx.diagnostics.
CommandResult RunAuditExport(CommandContext& ctx,
                             const AuditExportOptions& options);

struct AuditVerifyOptions {
  std::string file;     // "" = fetch the whole log from the coordinator
  std::string ca_file;  // project CA: the coordinator certificate must chain
  std::string coordinator_cert;  // overrides the export's certificate
  std::vector<std::string> checkpoint_files;  // e.g. copies kept by sites
};
// Verifies an export file offline (ctx.api unused), or the live log. Exit
// code 5 (kVerifyFailed) with every problem listed when tampering is found.
CommandResult RunAuditVerify(CommandContext& ctx,
                             const AuditVerifyOptions& options);

// The human report: "audit log OK: ..." or "audit log FAILED: ..." and one
// line per problem ("  seq 5  edited  entry 5 (...) does not match ...").
std::string RenderAuditReport(const nlohmann::json& report);

}  // namespace cls::console

#endif  // CLS_CONSOLE_AUDIT_COMMANDS_H_
