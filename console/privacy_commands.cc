#include "console/privacy_commands.h"

#include <cstdio>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/privacy/calibration.h"

namespace cls::console {
namespace {

std::string Fixed(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string General(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The sites' record-level (DP-SGD) ledgers as they last reported them.
void PrintRecordLevel(CommandContext& ctx, const nlohmann::json& j) {
  const auto it = j.find("record_level");
  if (it == j.end() || !it->is_array() || it->empty()) {
    ctx.out << "\nrecord-level differential privacy (DP-SGD at the sites): no "
               "site reported it\n";
    return;
  }
  ctx.out << "\nrecord-level differential privacy (DP-SGD at the sites):\n";
  for (const auto& r : *it) {
    ctx.out << "  " << r.value("site_id", "") << ": epsilon "
            << Fixed(r.value("epsilon", 0.0)) << " of target "
            << General(r.value("target_epsilon", 0.0)) << " at delta "
            << General(r.value("delta", 0.0)) << ", " << r.value("refusals", 0)
            << " training(s) refused\n";
  }
}

}  // namespace

CommandResult RunPrivacyEpsilon(CommandContext& ctx,
                                const PrivacyEpsilonOptions& options) {
  auto eps =
      core::privacy::ComputeEpsilon(options.noise_multiplier, options.rounds,
                                    options.sampling_rate, options.delta);
  if (!eps) {
    return std::unexpected(CommandError{
        ExitCode::kUsage, "privacy epsilon: " + eps.error().message});
  }
  if (ctx.json) {
    ctx.out << nlohmann::json{{"epsilon", eps->epsilon},
                              {"order", eps->order},
                              {"noise_multiplier", options.noise_multiplier},
                              {"rounds", options.rounds},
                              {"sampling_rate", options.sampling_rate},
                              {"delta", options.delta}}
                   .dump(2)
            << "\n";
    return {};
  }
  ctx.out << "epsilon " << Fixed(eps->epsilon) << " at delta "
          << General(options.delta) << " after " << options.rounds
          << " round(s), noise multiplier " << General(options.noise_multiplier)
          << ", sampling rate " << General(options.sampling_rate)
          << " (optimal RDP order " << General(eps->order) << ")\n";
  return {};
}

CommandResult RunPrivacyStatus(CommandContext& ctx, std::int64_t limit) {
  GenericCommand command{HttpMethod::kGet, "/v1/privacy", {}};
  if (limit > 0) command.target += "?limit=" + std::to_string(limit);
  if (ctx.json) return RunGeneric(ctx, command);
  auto answer = FetchJson(ctx, command);
  if (!answer) return std::unexpected(answer.error());
  const nlohmann::json& j = *answer;
  if (j.value("enabled", true) == false) {
    // The coordinator adds no cross-site noise and keeps no site-level
    // budget; the sites' own record-level guarantee may still exist.
    ctx.out << "cross-site differential privacy: off ([privacy] mode = "
               "\"off\" in the coordinator config; no site-level budget)\n";
    PrintRecordLevel(ctx, j);
    return {};
  }
  if (!j.contains("period") || !j["period"].is_object()) {
    return std::unexpected(
        CommandError{ExitCode::kCoordinatorError,
                     "malformed response from coordinator (GET /v1/privacy)"});
  }
  const auto& period = j["period"];
  ctx.out << "mode:             " << j.value("mode", "")
          << " (noise multiplier " << Fixed(j.value("noise_multiplier", 0.0))
          << ")\n"
          << "budget period:    " << period.value("period_id", 0) << " started "
          << period.value("started_at", "") << " by "
          << period.value("started_by", "") << "\n"
          << "budget:           epsilon "
          << General(period.value("epsilon_budget", 0.0)) << " at delta "
          << General(period.value("delta", 0.0)) << "\n"
          << "spent:            epsilon "
          << Fixed(j.value("spent_epsilon", 0.0)) << " over "
          << j.value("rounds_charged", 0) << " round(s)\n"
          << "remaining:        epsilon "
          << Fixed(j.value("remaining_epsilon", 0.0)) << "\n";
  if (j.contains("history") && j["history"].is_array() &&
      !j["history"].empty()) {
    ctx.out << "\nROUND  MODE         Z_EFF    SITES  ROUND_EPS  TOTAL_EPS  "
               "CHARGED_AT\n";
    for (const auto& e : j["history"]) {
      char line[256];
      std::snprintf(
          line, sizeof line, "%-6lld %-12s %-8s %2d/%-3d %-10s %-10s %s\n",
          static_cast<long long>(e.value("round_id", 0)),
          e.value("mode", "").c_str(),
          Fixed(e.value("effective_noise_multiplier", 0.0), 3).c_str(),
          e.value("sites_contributed", 0), e.value("sites_planned", 0),
          Fixed(e.value("round_epsilon", 0.0)).c_str(),
          Fixed(e.value("epsilon_after", 0.0)).c_str(),
          e.value("charged_at", "").c_str());
      ctx.out << line;
    }
  }
  PrintRecordLevel(ctx, j);
  return {};
}

}  // namespace cls::console
