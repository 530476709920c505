#ifndef CLS_CONSOLE_COMMANDS_H_
#define CLS_CONSOLE_COMMANDS_H_

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "common/error.h"
#include "console/admin_client.h"

// The console's commands: each builds its request, sends it through an
// AdminApi and renders the answer (a human table/block, or the server's JSON
// with --json). Commands never print errors; they return them with the exit
// code main() should use.
namespace cls::console {

// clsctl's exit codes (also listed in `clsctl --help` and docs/console.md).
// A code's meaning never changes; new ones are added at the end.
enum class ExitCode : int {
  kOk = 0,
  kUsage = 1,             // bad arguments, missing or unreadable files
  kUnreachable = 2,       // cannot reach the coordinator / TLS failure
  kRefused = 3,           // another HTTP 4xx: the coordinator refused
  kCoordinatorError = 4,  // HTTP 5xx or a malformed response
  kVerifyFailed = 5,      // `audit verify` found tampering
  kForbidden = 6,         // HTTP 403: the role lacks the permission
  kNotFound = 7,          // HTTP 404: no such site, version, ...
  kConflict = 8,          // HTTP 409: not now (e.g. no round is running)
  kRoundAborted = 9,      // `round start --wait`: a round aborted
};

struct CommandError {
  ExitCode exit_code;
  std::string message;  // printed as "clsctl: <message>"
  // The server's error code ("failed_precondition"), or the client's
  // ("unavailable", "invalid_argument"); empty: derived from exit_code.
  std::string code{};
  int http_status = 0;  // 0: there was no HTTP answer
  // The command already put the error in its --json output (stdout).
  bool json_printed = false;
};

// The code --json shows for an error of this side: "invalid_argument",
// "unavailable" (the server's spelling of ErrorCodeName).
std::string ErrorCodeId(ErrorCode code);

// The error as --json prints it on stdout:
// {"error": {"code": ..., "http_status": ..., "message": ...}}.
nlohmann::json ErrorJson(const CommandError& error);

// The error for a non-2xx answer to `what` ("POST /v1/rounds"): the exit
// code for its status, the server's code and message.
CommandError ErrorForResponse(int status, const nlohmann::json& body,
                              const std::string& what);

using CommandResult = std::expected<void, CommandError>;

// The exit code for an error from AdminClient::Create or AdminApi::Send.
ExitCode ExitCodeFor(const Error& error);

// The global options as parsed (flag or environment variable).
struct GlobalOptions {
  std::string coordinator = "127.0.0.1:7444";  // --coordinator / CLS_ADMIN
  std::string ca_file{};                       // --ca / CLS_CA
  std::string cert_file{};                     // --cert / CLS_CERT
  std::string key_file{};                      // --key / CLS_KEY
  bool json = false;                           // --json
  int timeout_seconds = 30;                    // --timeout
};

// Checks the global options and turns them into a client configuration.
// InvalidArgument names the option and the environment variable to set:
// "no operator certificate: pass --cert FILE or set CLS_CERT".
Result<AdminClientConfig> MakeClientConfig(const GlobalOptions& options);

// What a command needs to run. `out` (stdout) gets the command's output;
// `diagnostics` (stderr) gets retry warnings, and `round start --wait`
// progress lines under --json so that `out` stays one JSON document.
struct CommandContext {
  AdminApi& api;
  std::ostream& out;
  std::ostream& diagnostics;
  bool json = false;
  std::chrono::milliseconds poll_interval{1000};
  // Waits between polls; tests replace it to run without sleeping.
  std::function<void(std::chrono::milliseconds)> sleep{};
};

// Percent-encodes one URL path segment (RFC 3986 unreserved kept as is).
std::string EscapePathSegment(std::string_view segment);

// `status`: GET /v1/status.
CommandResult RunStatus(CommandContext& ctx);

// `sites list`: GET /v1/sites.
CommandResult RunSitesList(CommandContext& ctx);
// `sites approve ID`: POST /v1/sites/ID/approve.
CommandResult RunSitesApprove(CommandContext& ctx, std::string_view site_id);

struct RoundStartOptions {
  std::int64_t rounds = 1;
  bool wait = false;
};
// `round start`: POST /v1/rounds {"rounds": N}. With `wait`, polls
// GET /v1/rounds/current every poll_interval, printing a line per stage
// change, until nothing runs or is queued; then prints the history of the
// rounds it started, and fails with kRoundAborted when any of them aborted
// (with --json the history then carries the "error" object).
CommandResult RunRoundStart(CommandContext& ctx,
                            const RoundStartOptions& options);
// `round status`: GET /v1/rounds/current.
CommandResult RunRoundStatus(CommandContext& ctx);
// `round history`: GET /v1/rounds?limit=N.
CommandResult RunRoundHistory(CommandContext& ctx, std::int64_t limit);
// `round abort`: POST /v1/rounds/abort.
CommandResult RunRoundAbort(CommandContext& ctx);
// `round queue clear`: DELETE /v1/rounds/queue.
CommandResult RunRoundQueueClear(CommandContext& ctx);

// `sites show ID`: GET /v1/sites/ID.
CommandResult RunSitesShow(CommandContext& ctx, std::string_view site_id);
// `sites revoke ID [--reason R]`: POST /v1/sites/ID/revoke {"reason": R}.
CommandResult RunSitesRevoke(CommandContext& ctx, std::string_view site_id,
                             const std::string& reason);
// `sites trust ID SCORE`: POST /v1/sites/ID/trust {"trust_score": SCORE}.
CommandResult RunSitesTrust(CommandContext& ctx, std::string_view site_id,
                            double score);

// A command whose answer is shown as a key/value block (or JSON): the
// commands of later issues (versions, drift, privacy, keys) go through it.
// A coordinator that does not serve the route yet answers 404: the error
// then says so ("the coordinator does not support GET /v1/drift yet").
struct GenericCommand {
  HttpMethod method = HttpMethod::kGet;
  std::string target;
  std::optional<nlohmann::json> body;
};
CommandResult RunGeneric(CommandContext& ctx, const GenericCommand& command);
// The coordinator's answer to `command` (always a JSON object), with
// RunGeneric's error handling and exit codes, for commands that render it
// themselves.
std::expected<nlohmann::json, CommandError> FetchJson(
    CommandContext& ctx, const GenericCommand& command);

}  // namespace cls::console

#endif  // CLS_CONSOLE_COMMANDS_H_
