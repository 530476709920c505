#include "console/federation_commands.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "console/render.h"

namespace cls::console {
namespace {

using nlohmann::json;

CommandError Malformed(const std::string& route) {
  return {ExitCode::kCoordinatorError,
          "malformed response from coordinator (" + route + ")"};
}

std::string Epsilon(const json& j) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f",
                j["total_privacy_budget_used"].get<double>());
  return buf;
}

}  // namespace

CommandResult RunFederationStats(CommandContext& ctx) {
  const GenericCommand command{HttpMethod::kGet, "/v1/federation/stats", {}};
  if (ctx.json) return RunGeneric(ctx, command);
  auto answer = FetchJson(ctx, command);
  if (!answer) return std::unexpected(answer.error());
  const json& j = *answer;
  for (const char* key :
       {"total_sites", "active_sites", "total_rounds", "total_samples"}) {
    if (!j.value(key, json()).is_number_integer()) {
      return std::unexpected(Malformed("/v1/federation/stats"));
    }
  }
  if (!j.value("total_privacy_budget_used", json()).is_number() ||
      !j.value("federated", json()).is_boolean()) {
    return std::unexpected(Malformed("/v1/federation/stats"));
  }
  const bool federated = j["federated"].get<bool>();
  ctx.out << RenderBlock(
      {{"mode",
        federated ? "federated" : "single hospital (federated = false)"},
       {"total sites", FormatValue(j, "total_sites")},
       {"active sites", FormatValue(j, "active_sites")},
       {"total rounds", FormatValue(j, "total_rounds")},
       {"total samples", FormatValue(j, "total_samples")},
       {"average accuracy", FormatAccuracy(j, "average_accuracy")},
       {"privacy budget used", Epsilon(j)}});
  return {};
}

CommandResult RunVersionsImport(CommandContext& ctx, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return std::unexpected(
        CommandError{ExitCode::kUsage, "cannot read model file " + file});
  }
  std::ostringstream text;
  text << in.rdbuf();
  json model = json::parse(text.str(), nullptr, false);
  if (model.is_discarded() || !model.is_object()) {
    return std::unexpected(CommandError{
        ExitCode::kUsage, file + " is not a JSON object (a model file, "
                                 "docs/versions.md \"Importing a model\")"});
  }
  const GenericCommand command{HttpMethod::kPost, "/v1/versions/import",
                               json{{"model", std::move(model)}}};
  if (ctx.json) return RunGeneric(ctx, command);
  auto answer = FetchJson(ctx, command);
  if (!answer) return std::unexpected(answer.error());
  const json& j = *answer;
  if (!j.value("version_id", json()).is_string()) {
    return std::unexpected(Malformed("/v1/versions/import"));
  }
  ctx.out << "imported as " << FormatValue(j, "version_id") << " ("
          << FormatValue(j, "parameters") << " parameters, layout "
          << FormatValue(j, "layout") << ", sha256 " << FormatValue(j, "hash")
          << ")\n"
          << "deploy it with: clsctl versions deploy "
          << FormatValue(j, "version_id") << "\n";
  return {};
}

void AddFederationCommands(CLI::App& app, ConsoleAction& action) {
  CLI::App* federation =
      app.add_subcommand("federation", "The federation as a whole");
  federation->require_subcommand(1);
  federation
      ->add_subcommand(
          "stats",
          "Sites (total, active), completed training rounds, the last "
          "round's samples, the current model's accuracy and the privacy "
          "budget spent (the guide's get_federation_statistics)")
      ->callback([&action] { action = RunFederationStats; });
}

void AddVersionImportCommand(CLI::App& versions, ConsoleAction& action) {
  auto file = std::make_shared<std::string>();
  CLI::App* import = versions.add_subcommand(
      "import",
      "Store an externally trained model as a new version, checked against "
      "the federation's model type and parameter layout; deploy it like "
      "any version (docs/versions.md \"Importing a model\")");
  import->add_option("FILE", *file, "The model file (JSON, at most 1 MiB)")
      ->required();
  import->callback([&action, file] {
    action = [file](CommandContext& ctx) {
      return RunVersionsImport(ctx, *file);
};
}  // namespace cls::console
);
}

}  // namespace cls::console
