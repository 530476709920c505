#include "console/commands.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "console/render.h"

namespace cls::console {
namespace {

using nlohmann::json;

// `round start --wait` survives this many failed polls in a row (the
// coordinator restarting, a dropped connection) before giving up.
constexpr int kMaxFailedPolls = 5;
// Extra history entries fetched after --wait, so rounds queued by someone
// else after ours cannot push ours out of the answer.
constexpr std::int64_t kHistorySlack = 16;

std::unexpected<CommandError> Fail(ExitCode code, std::string message) {
  return std::unexpected(CommandError{code, std::move(message)});
}

std::unexpected<CommandError> Fail(const Error& error) {
  return std::unexpected(
      CommandError{ExitCodeFor(error), error.message, ErrorCodeId(error.code)});
}

std::string Describe(HttpMethod method, const std::string& target) {
  switch (method) {
    case HttpMethod::kPost:
      return "POST " + target;
    case HttpMethod::kDelete:
      return "DELETE " + target;
    case HttpMethod::kGet:
      break;
  }
  return "GET " + target;
}

// The code --json reports for an error raised on this side.
std::string ClientCode(ExitCode exit_code) {
  switch (exit_code) {
    case ExitCode::kOk:
      return "ok";
    case ExitCode::kUsage:
      return "invalid_argument";
    case ExitCode::kUnreachable:
      return "unavailable";
    case ExitCode::kRefused:
      return "failed_precondition";
    case ExitCode::kCoordinatorError:
      return "internal";
    case ExitCode::kVerifyFailed:
      return "data_loss";
    case ExitCode::kForbidden:
      return "permission_denied";
    case ExitCode::kNotFound:
      return "not_found";
    case ExitCode::kConflict:
      return "failed_precondition";
    case ExitCode::kRoundAborted:
      return "aborted";
  }
  return "internal";
}

// The coordinator's own words for a refusal: {"error": {"message": ...}},
// or the text of a non-JSON body; empty when it gave none.
std::string ServerMessage(const json& body) {
  if (body.is_string()) return SanitizeText(body.get_ref<const std::string&>());
  if (!body.is_object()) return "";
  const auto error = body.find("error");
  if (error == body.end() || !error->is_object()) return "";
  const auto message = error->find("message");
  if (message == error->end() || !message->is_string()) return "";
  return SanitizeText(message->get_ref<const std::string&>());
}

// 404 for a route the coordinator lists but does not serve yet
// ("unimplemented"), or does not know at all ("no route ...").
bool IsUnsupportedRoute(const json& body) {
  if (!body.is_object() || !body.contains("error") ||
      !body["error"].is_object()) {
    return false;
  }
  const json& error = body["error"];
  if (error.value("code", "") == "unimplemented") return true;
  const auto message = error.find("message");
  return message != error.end() && message->is_string() &&
         message->get_ref<const std::string&>().starts_with("no route ");
}

// Sends one request; a 2xx answer must be a JSON object.
std::expected<json, CommandError> Call(CommandContext& ctx, HttpMethod method,
                                       std::string target,
                                       std::optional<json> body = {}) {
  const std::string what = Describe(method, target);
  auto response = ctx.api.Send(AdminRequest{
      .method = method, .target = std::move(target), .body = std::move(body)});
  if (!response) return Fail(response.error());

  const int status = response->status;
  if (status >= 200 && status < 300) {
    if (!response->body.is_object()) {
      return std::unexpected(
          CommandError{ExitCode::kCoordinatorError,
                       "malformed response from coordinator (" + what +
                           "): expected a JSON object",
                       "data_loss", status});
    }
    return std::move(response->body);
  }
  return std::unexpected(ErrorForResponse(status, response->body, what));
}

// Prints `body` as JSON or through its human renderer.
CommandResult Emit(CommandContext& ctx, const json& body,
                   Result<std::string> (*render)(const json&)) {
  if (ctx.json) {
    ctx.out << RenderJson(body);
    return {};
  }
  auto text = render(body);
  if (!text) return Fail(ExitCode::kCoordinatorError, text.error().message);
  ctx.out << *text;
  return {};
}

std::optional<std::int64_t> IntegerField(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

void Sleep(CommandContext& ctx) {
  if (ctx.sleep) {
    ctx.sleep(ctx.poll_interval);
  } else {
    std::this_thread::sleep_for(ctx.poll_interval);
  }
}

// Polls GET /v1/rounds/current until no round runs and none is queued,
// printing a line whenever the round or its stage changes. Returns the
// highest round id seen.
std::expected<std::int64_t, CommandError> WaitForRounds(
    CommandContext& ctx, std::int64_t first_round) {
  std::ostream& progress = ctx.json ? ctx.diagnostics : ctx.out;
  std::string last_line;
  std::int64_t highest = first_round;
  int failed_polls = 0;
  for (;;) {
    auto current = Call(ctx, HttpMethod::kGet, "/v1/rounds/current");
    if (!current) {
      if (current.error().exit_code != ExitCode::kUnreachable ||
          ++failed_polls > kMaxFailedPolls) {
        return std::unexpected(current.error());
      }
      ctx.diagnostics << "clsctl: " << current.error().message
                      << "; retrying\n";
      Sleep(ctx);
      continue;
    }
    failed_polls = 0;

    const auto queued = IntegerField(*current, "queued_rounds");
    if (!queued) {
      return Fail(ExitCode::kCoordinatorError,
                  "malformed response from coordinator (GET "
                  "/v1/rounds/current): 'queued_rounds' is missing");
    }
    bool running = false;
    const auto round = current->find("round");
    if (round != current->end() && round->is_object()) {
      const std::string line = RenderRoundProgress(*round);
      if (line != last_line) {
        progress << line << "\n" << std::flush;
        last_line = line;
      }
      if (auto id = IntegerField(*round, "round_id")) {
        highest = std::max(highest, *id);
      }
      running = FormatValue(*round, "status") == "running";
    }
    if (!running && *queued == 0) return highest;
    Sleep(ctx);
  }
}

}  // namespace

std::string ErrorCodeId(ErrorCode code) {
  std::string name(ErrorCodeName(code));
  for (char& c : name) {
    if (c == ' ') c = '_';
  }
  return name;
}

nlohmann::json ErrorJson(const CommandError& error) {
  return {
      {"error",
       {{"code", error.code.empty() ? ClientCode(error.exit_code) : error.code},
        {"http_status", error.http_status},
        {"message", error.message}}}};
}

CommandError ErrorForResponse(int status, const json& body,
                              const std::string& what) {
  const std::string message = ServerMessage(body);
  const std::string http = std::to_string(status);
  std::string code;
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const auto c = body["error"].find("code");
    if (c != body["error"].end() && c->is_string()) {
      code = SanitizeText(c->get_ref<const std::string&>());
    }
  }
  auto error = [&](ExitCode exit_code, std::string text) {
    return CommandError{exit_code, std::move(text), code, status};
  };
  // A route this coordinator lists but does not serve yet keeps exit 3.
  if (status == 404 && IsUnsupportedRoute(body)) {
    if (code.empty()) code = "unimplemented";
    return error(ExitCode::kRefused,
                 "the coordinator does not support " + what +
                     " yet; this command needs a newer coordinator");
  }
  const std::string refused =
      message.empty() ? "coordinator refused " + what + " (HTTP " + http + ")"
                      : message;
  switch (status) {
    case 403:
      if (code.empty()) code = "permission_denied";
      return error(ExitCode::kForbidden, refused);
    case 404:
      if (code.empty()) code = "not_found";
      return error(ExitCode::kNotFound, refused);
    case 409:
      if (code.empty()) code = "failed_precondition";
      return error(ExitCode::kConflict, refused);
    default:
      break;
  }
  if (status >= 400 && status < 500) {
    if (code.empty()) code = status == 400 ? "invalid_argument" : "refused";
    return error(ExitCode::kRefused, refused);
  }
  if (code.empty()) code = "internal";
  if (status >= 500 && status < 600) {
    return error(ExitCode::kCoordinatorError,
                 "coordinator error (HTTP " + http + ")" +
                     (message.empty() ? "" : ": " + message));
  }
  return error(ExitCode::kCoordinatorError,
               "unexpected HTTP " + http + " from coordinator (" + what + ")");
}

ExitCode ExitCodeFor(const Error& error) {
  switch (error.code) {
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kAborted:
      return ExitCode::kUnreachable;
    case ErrorCode::kDataLoss:
    case ErrorCode::kInternal:
    case ErrorCode::kResourceExhausted:
      return ExitCode::kCoordinatorError;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kPermissionDenied:
      return ExitCode::kUsage;
  }
  return ExitCode::kCoordinatorError;
}

Result<AdminClientConfig> MakeClientConfig(const GlobalOptions& options) {
  if (options.cert_file.empty()) {
    return InvalidArgument(
        "no operator certificate: pass --cert FILE or set CLS_CERT");
  }
  if (options.key_file.empty()) {
    return InvalidArgument(
        "no operator private key: pass --key FILE or set CLS_KEY");
  }
  if (options.ca_file.empty()) {
    return InvalidArgument(
        "no project CA certificate: pass --ca FILE or set CLS_CA");
  }
  auto endpoint = ParseEndpoint(options.coordinator);
  if (!endpoint) {
    return InvalidArgument("--coordinator (CLS_ADMIN) " +
                           endpoint.error().message);
  }
  if (options.timeout_seconds < 1) {
    return InvalidArgument("--timeout must be at least 1 second");
  }
  return AdminClientConfig{
      .endpoint = std::move(*endpoint),
      .ca_file = options.ca_file,
      .cert_file = options.cert_file,
      .key_file = options.key_file,
      .timeout = std::chrono::seconds(options.timeout_seconds)};
}

std::string EscapePathSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

CommandResult RunStatus(CommandContext& ctx) {
  auto body = Call(ctx, HttpMethod::kGet, "/v1/status");
  if (!body) return std::unexpected(body.error());
  return Emit(ctx, *body, &RenderStatus);
}

CommandResult RunSitesList(CommandContext& ctx) {
  auto body = Call(ctx, HttpMethod::kGet, "/v1/sites");
  if (!body) return std::unexpected(body.error());
  return Emit(ctx, *body, &RenderSites);
}

CommandResult RunSitesApprove(CommandContext& ctx, std::string_view site_id) {
  if (site_id.empty()) return Fail(ExitCode::kUsage, "site id is empty");
  auto body = Call(ctx, HttpMethod::kPost,
                   "/v1/sites/" + EscapePathSegment(site_id) + "/approve");
  if (!body) return std::unexpected(body.error());
  return Emit(ctx, *body, &RenderSiteApproved);
}

CommandResult RunRoundStart(CommandContext& ctx,
                            const RoundStartOptions& options) {
  if (options.rounds < 1) {
    return Fail(ExitCode::kUsage, "--rounds must be at least 1");
  }
  auto started = Call(ctx, HttpMethod::kPost, "/v1/rounds",
                      json{{"rounds", options.rounds}});
  if (!started) return std::unexpected(started.error());
  if (!options.wait) return Emit(ctx, *started, &RenderRoundsStarted);

  const auto first = IntegerField(*started, "first_round");
  const auto queued = IntegerField(*started, "queued");
  if (!first || !queued) {
    return Fail(ExitCode::kCoordinatorError,
                "malformed response from coordinator (POST /v1/rounds): "
                "'first_round' or 'queued' is missing");
  }
  if (!ctx.json) ctx.out << *RenderRoundsStarted(*started);

  auto highest = WaitForRounds(ctx, *first);
  if (!highest) return std::unexpected(highest.error());

  const std::int64_t limit =
      std::max(*queued, *highest - *first + 1) + kHistorySlack;
  auto history =
      Call(ctx, HttpMethod::kGet, "/v1/rounds?limit=" + std::to_string(limit));
  if (!history) return std::unexpected(history.error());
  const auto rounds = history->find("rounds");
  if (rounds == history->end() || !rounds->is_array()) {
    return Fail(ExitCode::kCoordinatorError,
                "malformed response from coordinator (GET /v1/rounds): "
                "'rounds' is missing or not a list");
  }
  json ours = json::array();
  std::vector<std::string> aborted;
  for (const auto& round : *rounds) {
    if (!round.is_object()) continue;
    const auto id = IntegerField(round, "round_id");
    if (!id || *id < *first || *id >= *first + *queued) continue;
    ours.push_back(round);
    if (FormatValue(round, "status") == "aborted") {
      const std::string reason = FormatValue(round, "abort_reason");
      aborted.push_back("round " + std::to_string(*id) +
                        (reason.empty() || reason == "-" ? "" : ": " + reason));
    }
  }
  if (!ctx.json) ctx.out << "\n";
  json result{{"rounds", std::move(ours)}};
  if (aborted.empty()) return Emit(ctx, result, &RenderRoundHistory);
  // Oldest first, as the operator would read them.
  std::reverse(aborted.begin(), aborted.end());
  std::string message = std::to_string(aborted.size()) + " of " +
                        std::to_string(result["rounds"].size()) +
                        " rounds aborted (" + aborted.front();
  for (size_t i = 1; i < aborted.size(); ++i) message += "; " + aborted[i];
  message += ")";
  CommandError error{ExitCode::kRoundAborted, std::move(message), "aborted"};
  if (ctx.json) {
    // One JSON document on stdout: the rounds and the error together.
    result["error"] = ErrorJson(error)["error"];
    error.json_printed = true;
  }
  if (auto shown = Emit(ctx, result, &RenderRoundHistory); !shown) {
    return shown;
  }
  return std::unexpected(std::move(error));
}

CommandResult RunRoundStatus(CommandContext& ctx) {
  auto body = Call(ctx, HttpMethod::kGet, "/v1/rounds/current");
  if (!body) return std::unexpected(body.error());
  return Emit(ctx, *body, &RenderCurrentRound);
}

CommandResult RunRoundHistory(CommandContext& ctx, std::int64_t limit) {
  if (limit < 1) return Fail(ExitCode::kUsage, "--limit must be at least 1");
  auto body =
      Call(ctx, HttpMethod::kGet, "/v1/rounds?limit=" + std::to_string(limit));
  if (!body) return std::unexpected(body.error());
  return Emit(ctx, *body, &RenderRoundHistory);
}

CommandResult RunRoundAbort(CommandContext& ctx) {
  auto body = Call(ctx, HttpMethod::kPost, "/v1/rounds/abort");
  if (!body) return std::unexpected(body.error());
  if (ctx.json) return Emit(ctx, *body, &RenderObject);
  const auto id = IntegerField(*body, "aborted_round");
  if (!id) {
    return Fail(ExitCode::kCoordinatorError,
                "malformed response from coordinator (POST "
                "/v1/rounds/abort): 'aborted_round' is missing");
  }
  ctx.out << "round " << *id
          << " aborted; queued rounds still run (clsctl round queue clear "
             "drops them)\n";
  return {};
}

CommandResult RunRoundQueueClear(CommandContext& ctx) {
  auto body = Call(ctx, HttpMethod::kDelete, "/v1/rounds/queue");
  if (!body) return std::unexpected(body.error());
  if (ctx.json) return Emit(ctx, *body, &RenderObject);
  const auto cleared = IntegerField(*body, "cleared");
  if (!cleared) {
    return Fail(ExitCode::kCoordinatorError,
                "malformed response from coordinator (DELETE "
                "/v1/rounds/queue): 'cleared' is missing");
  }
  ctx.out << "cleared " << *cleared << " queued round"
          << (*cleared == 1 ? "" : "s")
          << "; a running round goes on (clsctl round abort stops it)\n";
  return {};
}

CommandResult RunSitesShow(CommandContext& ctx, std::string_view site_id) {
  if (site_id.empty()) return Fail(ExitCode::kUsage, "site id is empty");
  auto body =
      Call(ctx, HttpMethod::kGet, "/v1/sites/" + EscapePathSegment(site_id));
  if (!body) return std::unexpected(body.error());
  return Emit(ctx, *body, &RenderObject);
}

CommandResult RunSitesRevoke(CommandContext& ctx, std::string_view site_id,
                             const std::string& reason) {
  if (site_id.empty()) return Fail(ExitCode::kUsage, "site id is empty");
  json body = json::object();
  if (!reason.empty()) body["reason"] = reason;
  auto answer =
      Call(ctx, HttpMethod::kPost,
           "/v1/sites/" + EscapePathSegment(site_id) + "/revoke", body);
  if (!answer) return std::unexpected(answer.error());
  return Emit(ctx, *answer, &RenderObject);
}

CommandResult RunSitesTrust(CommandContext& ctx, std::string_view site_id,
                            double score) {
  if (site_id.empty()) return Fail(ExitCode::kUsage, "site id is empty");
  if (!(score >= 0.0 && score <= 1.0)) {
    return Fail(ExitCode::kUsage, "trust score must be from 0 to 1");
  }
  auto answer = Call(ctx, HttpMethod::kPost,
                     "/v1/sites/" + EscapePathSegment(site_id) + "/trust",
                     json{{"trust_score", score}});
  if (!answer) return std::unexpected(answer.error());
  return Emit(ctx, *answer, &RenderObject);
}

std::expected<json, CommandError> FetchJson(CommandContext& ctx,
                                            const GenericCommand& command) {
  return Call(ctx, command.method, command.target, command.body);
}

CommandResult RunGeneric(CommandContext& ctx, const GenericCommand& command) {
  auto answer = FetchJson(ctx, command);
  if (!answer) return std::unexpected(answer.error());
  return Emit(ctx, *answer, &RenderObject);
}

}  // namespace cls::console
