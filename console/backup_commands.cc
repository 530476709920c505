#include "console/backup_commands.h"

#include <cstdio>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "console/render.h"

namespace cls::console {

using nlohmann::json;

CommandResult RunBackup(CommandContext& ctx) {
  GenericCommand command{HttpMethod::kPost, "/v1/backup", json::object()};
  if (ctx.json) return RunGeneric(ctx, command);
  auto answer = FetchJson(ctx, command);
  if (!answer) return std::unexpected(answer.error());
  const json& j = *answer;
  if (!j.contains("file") || !j["file"].is_string() ||
      !j.value("bytes", json()).is_number_integer() ||
      !j.value("sha256", json()).is_string()) {
    return std::unexpected(
        CommandError{ExitCode::kCoordinatorError,
                     "malformed response from coordinator (/v1/backup)"});
  }
  const auto bytes = j["bytes"].get<int64_t>();
  char size[64];
  std::snprintf(size, sizeof size, "%lld bytes (%.1f MiB)",
                static_cast<long long>(bytes), bytes / 1048576.0);
  ctx.out << "backup:  " << SanitizeText(j["file"].get<std::string>()) << "\n"
          << "size:    " << size << "\n"
          << "sha256:  " << SanitizeText(j["sha256"].get<std::string>()) << "\n"
          << "created: " << SanitizeText(j.value("created_at", std::string()))
          << "\n";
  return {};
}

}  // namespace cls::console
