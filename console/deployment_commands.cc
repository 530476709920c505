#include "console/deployment_commands.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "console/render.h"
#include "console/version_commands.h"

namespace cls::console {
namespace {

using nlohmann::json;

// Runs the request through RunGeneric's error handling and returns the
// coordinator's JSON (ctx.json: printed as is, nullopt returned).
std::expected<std::optional<json>, CommandError> Fetch(
    CommandContext& ctx, const GenericCommand& command) {
  if (ctx.json) {
    if (auto r = RunGeneric(ctx, command); !r) {
      return std::unexpected(r.error());
    }
    return std::nullopt;
  }
  auto j = FetchJson(ctx, command);
  if (!j) return std::unexpected(j.error());
  return std::move(*j);
}

std::string Percent(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", j[key].get<double>());
  return buf;
}

// "current v1, candidate v2 (gradual_rollout, 10%)".
std::string DescribeDeployment(const json& d) {
  std::string out = "current " + FormatValue(d, "current_version");
  if (d.contains("candidate_version") && d["candidate_version"].is_string()) {
    out += ", candidate " + FormatValue(d, "candidate_version") + " (" +
           FormatValue(d, "strategy") + ", " + Percent(d, "percentage") + ")";
  } else {
    out += ", no candidate";
  }
  return out;
}

CommandResult PrintChange(CommandContext& ctx, const GenericCommand& command) {
  auto j = Fetch(ctx, command);
  if (!j) return std::unexpected(j.error());
  if (!*j) return {};
  const json& d = **j;
  ctx.out << "deployment " << FormatValue(d, "deployment_id") << " ("
          << FormatValue(d, "action") << "): " << DescribeDeployment(d) << "\n";
  if (d.contains("reason") && d["reason"].is_string()) {
    ctx.out << "reason: " << FormatValue(d, "reason") << "\n";
  }
  ctx.out << "pushed to the connected sites; a site that is offline gets it "
             "when it reconnects. Acks: clsctl versions deployment\n";
  return {};
}

}  // namespace

CommandResult RunVersionsDeploy(CommandContext& ctx,
                                const DeployOptions& options) {
  json body = {{"strategy", options.strategy}};
  if (!options.reason.empty()) body["reason"] = options.reason;
  return PrintChange(
      ctx, {HttpMethod::kPost,
            "/v1/versions/" + EscapePathSegment(options.version_id) + "/deploy",
            body});
}

CommandResult RunVersionsRollout(CommandContext& ctx,
                                 const std::string& version_id,
                                 double percent) {
  return PrintChange(
      ctx, {HttpMethod::kPost,
            "/v1/versions/" + EscapePathSegment(version_id) + "/rollout",
            json{{"percent", percent}}});
}

CommandResult RunVersionsPromote(CommandContext& ctx,
                                 const std::string& reason) {
  json body = json::object();
  if (!reason.empty()) body["reason"] = reason;
  return PrintChange(ctx, {HttpMethod::kPost, "/v1/versions/promote", body});
}

CommandResult RunVersionsRollback(CommandContext& ctx,
                                  const std::string& reason,
                                  const std::string& to) {
  json body = json::object();
  if (!reason.empty()) body["reason"] = reason;
  if (!to.empty()) body["version_id"] = to;
  return PrintChange(ctx, {HttpMethod::kPost, "/v1/versions/rollback", body});
}

CommandResult RunVersionsCompare(CommandContext& ctx, const std::string& a,
                                 const std::string& b) {
  auto j = Fetch(ctx, {HttpMethod::kGet,
                       "/v1/versions/compare?a=" + EscapePathSegment(a) +
                           "&b=" + EscapePathSegment(b),
                       {}});
  if (!j) return std::unexpected(j.error());
  if (!*j) return {};
  ctx.out << FormatValue(**j, "description") << "\n";
  if (j->value().contains("validation")) {
    ctx.out << RenderValidationComparison((**j)["validation"]);
  }
  return {};
}

CommandResult RunDeploymentStatus(CommandContext& ctx) {
  auto j = Fetch(ctx, {HttpMethod::kGet, "/v1/deployment", {}});
  if (!j) return std::unexpected(j.error());
  if (!*j) return {};
  const json& body = **j;
  if (!body.contains("deployment") || !body["deployment"].is_object()) {
    ctx.out << "nothing deployed yet: sites serve the latest global model "
               "(clsctl versions deploy VERSION --strategy immediate)\n";
    return {};
  }
  const json& d = body["deployment"];
  std::vector<std::pair<std::string, std::string>> lines = {
      {"deployment", FormatValue(d, "deployment_id")},
      {"serving", DescribeDeployment(d)},
      {"last change", FormatValue(d, "action") + " by " +
                          FormatValue(d, "actor") + " at " +
                          FormatValue(d, "created_at") +
                          (d.value("automatic", false) ? " (AUTOMATIC)" : "")},
  };
  if (d.contains("reason") && d["reason"].is_string()) {
    lines.emplace_back("why", FormatValue(d, "reason"));
  }
  if (body.contains("comparison") && body["comparison"].is_object()) {
    lines.emplace_back("comparison",
                       FormatValue(body["comparison"], "description"));
  }
  ctx.out << RenderBlock(lines);
  if (body.contains("sites") && body["sites"].is_array()) {
    Table table(
        {"SITE", "CONNECTED", "ACKED", "ACCEPTED", "UP_TO_DATE", "REASON"});
    for (const auto& s : body["sites"]) {
      table.AddRow({FormatValue(s, "site_id"), FormatValue(s, "connected"),
                    FormatValue(s, "acked_deployment_id"),
                    FormatValue(s, "accepted"), FormatValue(s, "up_to_date"),
                    FormatValue(s, "reason")});
    }
    ctx.out << "\n" << table.Render();
  }
  return {};
}

CommandResult RunDriftStatus(CommandContext& ctx) {
  auto j = Fetch(ctx, {HttpMethod::kGet, "/v1/drift", {}});
  if (!j) return std::unexpected(j.error());
  if (!*j) return {};
  const json& body = **j;
  if (body.contains("deployment") && body["deployment"].is_object()) {
    ctx.out << "deployment " << FormatValue(body["deployment"], "deployment_id")
            << ": " << DescribeDeployment(body["deployment"]) << "\n\n";
  }
  Table versions({"VERSION", "ROLE", "PREDICTIONS", "RECENT_ACC",
                  "BASELINE_ACC", "ALERTS", "ALERTS_7D", "MAX_SEVERITY",
                  "SITES"});
  for (int c : {2, 3, 4, 5, 6, 7, 8}) {
    versions.SetAlign(static_cast<std::size_t>(c), Table::Align::kRight);
  }
  if (body.contains("versions") && body["versions"].is_array()) {
    for (const auto& v : body["versions"]) {
      versions.AddRow(
          {FormatValue(v, "version_id"), FormatValue(v, "role"),
           FormatValue(v, "total_predictions"),
           FormatAccuracy(v, "recent_accuracy"),
           FormatAccuracy(v, "baseline_accuracy"),
           FormatValue(v, "total_alerts"), FormatValue(v, "alerts_last_7_days"),
           FormatAccuracy(v, "max_severity"), FormatValue(v, "sites")});
    }
  }
  ctx.out << versions.Render();
  Table sites({"SITE", "LAST_REPORT", "ALERTS", "ACKED", "UP_TO_DATE"});
  if (body.contains("sites") && body["sites"].is_array()) {
    for (const auto& s : body["sites"]) {
      const json ack =
          s.contains("ack") && s["ack"].is_object() ? s["ack"] : json::object();
      sites.AddRow({FormatValue(s, "site_id"), FormatValue(s, "last_report_at"),
                    FormatValue(s, "alerts"), FormatValue(ack, "deployment_id"),
                    FormatValue(ack, "up_to_date")});
    }
  }
  ctx.out << "\n" << sites.Render();
  return {};
}

CommandResult RunDriftAlerts(CommandContext& ctx, int limit) {
  auto j = Fetch(ctx, {HttpMethod::kGet,
                       "/v1/drift/alerts?limit=" + std::to_string(limit),
                       {}});
  if (!j) return std::unexpected(j.error());
  if (!*j) return {};
  Table table(
      {"ID", "RECEIVED", "SITE", "VERSION", "TYPE", "SEVERITY", "DETECTOR"});
  table.SetAlign(0, Table::Align::kRight);
  table.SetAlign(5, Table::Align::kRight);
  if ((**j).contains("alerts") && (**j)["alerts"].is_array()) {
    for (const auto& a : (**j)["alerts"]) {
      table.AddRow({FormatValue(a, "id"), FormatTimestamp(a, "received_s"),
                    FormatValue(a, "site_id"), FormatValue(a, "version_id"),
                    FormatValue(a, "drift_type"), FormatAccuracy(a, "severity"),
                    FormatValue(a, "detector")});
    }
  }
  ctx.out << table.Render();
  return {};
}

void AddDeploymentCommands(CLI::App& versions, ConsoleAction& action) {
  auto deploy_options = std::make_shared<DeployOptions>();
  CLI::App* deploy = versions.add_subcommand(
      "deploy",
      "Deploy a version to every site. immediate: it serves 100% (the first "
      "deployment must be immediate); gradual_rollout: starts at 10%, raise "
      "with `versions rollout`; ab_testing: 50/50 against the current "
      "version; shadow_mode: it scores every request but only the current "
      "version's answer is returned. A candidate that goes bad is rolled back "
      "automatically (docs/drift.md)");
  deploy->add_option("VERSION_ID", deploy_options->version_id, "The version")
      ->required();
  deploy->add_option("--strategy", deploy_options->strategy, "How to roll out")
      ->check(CLI::IsMember(
          {"immediate", "gradual_rollout", "ab_testing", "shadow_mode"}))
      ->capture_default_str();
  deploy->add_option("--reason", deploy_options->reason,
                     "Why (recorded in the audit log)");
  deploy->callback([&action, deploy_options] {
    action = [deploy_options](CommandContext& ctx) {
      return RunVersionsDeploy(ctx, *deploy_options);
    };
  });

  auto rollout_id = std::make_shared<std::string>();
  auto to = std::make_shared<double>(0);
  CLI::App* rollout = versions.add_subcommand(
      "rollout",
      "Raise the share of requests the version in gradual rollout serves. "
      "Only upwards: an encounter already on the new version stays on it; to "
      "go back, roll back");
  rollout->add_option("VERSION_ID", *rollout_id, "The version rolling out")
      ->required();
  rollout->add_option("--to", *to, "New share in percent, (0, 100]")
      ->type_name("PERCENT")
      ->required()
      ->check(CLI::Range(0.0, 100.0));
  rollout->callback([&action, rollout_id, to] {
    action = [rollout_id, to](CommandContext& ctx) {
      return RunVersionsRollout(ctx, *rollout_id, *to);
    };
  });

  auto promote_reason = std::make_shared<std::string>();
  CLI::App* promote = versions.add_subcommand(
      "promote",
      "Make the candidate the current (stable) version: it serves 100% and "
      "a rollback no longer returns to the previous one");
  promote->add_option("--reason", *promote_reason,
                      "Why (recorded in the audit log)");
  promote->callback([&action, promote_reason] {
    action = [promote_reason](CommandContext& ctx) {
      return RunVersionsPromote(ctx, *promote_reason);
    };
  });

  auto rollback_reason = std::make_shared<std::string>();
  auto rollback_to = std::make_shared<std::string>();
  CLI::App* rollback = versions.add_subcommand(
      "rollback",
      "Return all traffic to the last stable version now (the candidate "
      "stops serving at every site), or with --to to a named earlier "
      "version (any rollout ends)");
  rollback->add_option("--reason", *rollback_reason,
                       "Why (recorded in the audit log)");
  rollback
      ->add_option("--to", *rollback_to,
                   "The version to serve instead (clsctl versions list)")
      ->type_name("VERSION");
  rollback->callback([&action, rollback_reason, rollback_to] {
    action = [rollback_reason, rollback_to](CommandContext& ctx) {
      return RunVersionsRollback(ctx, *rollback_reason, *rollback_to);
    };
  });

  auto a = std::make_shared<std::string>();
  auto b = std::make_shared<std::string>();
  CLI::App* compare = versions.add_subcommand(
      "compare",
      "Compare B against A on the outcomes the sites reported (summed): the "
      "accuracy difference, its always-valid 95% confidence interval, the "
      "p-value and the verdict of the sequential test; then their held-out "
      "validation side by side (per-class F1 and macro F1 for multi-class "
      "models)");
  compare->add_option("A", *a, "Reference version (e.g. the current one)")
      ->required();
  compare->add_option("B", *b, "Challenger version (e.g. the candidate)")
      ->required();
  compare->callback([&action, a, b] {
    action = [a, b](CommandContext& ctx) {
      return RunVersionsCompare(ctx, *a, *b);
    };
  });

  versions
      .add_subcommand("deployment",
                      "Show the deployment in force, why it last changed, the "
                      "running comparison and each site's ack")
      ->callback([&action] {
        action = [](CommandContext& ctx) { return RunDeploymentStatus(ctx); };
      });
}

void AddDriftCommands(CLI::App& drift, ConsoleAction& action) {
  drift
      .add_subcommand(
          "status",
          "Per version, merged over the sites: total predictions with an "
          "outcome, recent and baseline accuracy, alerts (all, last 7 days); "
          "per site: last report and ack state")
      ->callback([&action] {
        action = [](CommandContext& ctx) { return RunDriftStatus(ctx); };
      });
  auto limit = std::make_shared<int>(50);
  CLI::App* alerts =
      drift.add_subcommand("alerts", "Recent drift alerts, newest first");
  alerts->add_option("--limit", *limit, "How many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  alerts->callback([&action, limit] {
    action = [limit](CommandContext& ctx) {
      return RunDriftAlerts(ctx, *limit);
    };
  });
}

}  // namespace cls::console
