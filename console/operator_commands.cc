#include "console/operator_commands.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "console/render.h"

namespace cls::console {
namespace {

using nlohmann::json;

// "clsctl 0.1.0 (git abc)" -> "0.1.0 (git abc)".
std::string VersionOf(const std::string& line) {
  const auto space = line.find(' ');
  return space == std::string::npos ? line : line.substr(space + 1);
}

}  // namespace

CommandResult RunVersion(CommandContext& ctx, const std::string& client_line) {
  if (!ctx.json) ctx.out << client_line << "\n" << std::flush;
  auto status = FetchJson(ctx, {HttpMethod::kGet, "/v1/status", {}});
  json server = nullptr;
  if (status) {
    server = {{"version", status->value("version", "")},
              {"protocol_versions",
               status->value("protocol_versions", json::array())}};
  }
  if (ctx.json) {
    json out = {{"client", {{"version", VersionOf(client_line)}}},
                {"server", server}};
    if (!status) {
      CommandError error = status.error();
      out["error"] = ErrorJson(error)["error"];
      error.json_printed = true;
      ctx.out << RenderJson(out);
      return std::unexpected(std::move(error));
    }
    ctx.out << RenderJson(out);
    return {};
  }
  if (!status) {
    CommandError error = status.error();
    const bool unreachable = error.exit_code == ExitCode::kUnreachable;
    ctx.out << "coordinator: " << (unreachable ? "unreachable" : "no answer")
            << " (" << error.message << ")\n";
    return std::unexpected(std::move(error));
  }
  const std::string version =
      server.is_object() ? server.value("version", "") : "";
  std::string protocols;
  if (server.is_object()) {
    for (const auto& p : server["protocol_versions"]) {
      protocols += (protocols.empty() ? "" : ", ") + p.dump();
    }
  }
  ctx.out << "coordinator "
          << (version.empty() ? "(version not reported; an older coordinator)"
                              : SanitizeText(version))
          << (protocols.empty() ? "" : ", protocol " + protocols) << "\n";
  return {};
}

}  // namespace cls::console
