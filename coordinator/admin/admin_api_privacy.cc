// The admin API's privacy routes: GET /v1/privacy (the cross-site budget and
// the sites' record-level DP-SGD ledgers) and POST /v1/privacy/reset. The
// routes are in RouteTable (admin_api_routes.cc).

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/admin/admin_api.h"
#include "coordinator/admin/admin_api_body.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;

// The record-level (patient-level) guarantee each DP-SGD site keeps itself
// (issue 14). It exists whether or not the coordinator adds cross-site noise,
// so it is listed in both cases.
json RecordLevelJson(const SiteRegistry& sites) {
  json record_level = json::array();
  for (const auto& [site_id, r] : sites.record_privacy()) {
    record_level.push_back({{"site_id", site_id},
                            {"epsilon", r.epsilon},
                            {"delta", r.delta},
                            {"target_epsilon", r.target_epsilon},
                            {"refusals", r.refusals}});
  }
  return record_level;
}

}  // namespace

AdminResponse AdminApi::PrivacyStatus(const Params& query) {
  int limit = 0;
  if (auto it = query.find("limit"); it != query.end()) {
    try {
      limit = std::stoi(it->second);
    } catch (...) {
      limit = -1;
    }
    if (limit < 1 || limit > 100000) {
      return ErrorResponse(
          {ErrorCode::kInvalidArgument, "limit must be 1..100000"});
    }
  }
  RoundPrivacy* privacy = services_.privacy;
  if (privacy == nullptr) {
    // Cross-site DP off: said explicitly, and the site-level figures are
    // null, never 0, so nobody reads "0 spent" as "private".
    return {200,
            {{"enabled", false},
             {"mode", "off"},
             {"noise_multiplier", nullptr},
             {"privacy_epsilon_per_round", nullptr},
             {"period", nullptr},
             {"spent_epsilon", nullptr},
             {"remaining_epsilon", nullptr},
             {"optimal_order", nullptr},
             {"rounds_charged", nullptr},
             {"history", json::array()},
             {"record_level", RecordLevelJson(services_.sites)}}};
  }
  auto report = privacy->ledger().Snapshot(limit);
  if (!report) return ErrorResponse(report.error());
  json body = ToJson(*report);
  body["enabled"] = true;
  body["mode"] = services_.config.privacy.mode;
  body["noise_multiplier"] = privacy->noise_multiplier();
  body["privacy_epsilon_per_round"] = services_.config.privacy.privacy_epsilon;
  body["record_level"] = RecordLevelJson(services_.sites);
  return {200, body};
}

AdminResponse AdminApi::StartPrivacyPeriod(const std::string& body,
                                           const Actor& actor) {
  RoundPrivacy* privacy = services_.privacy;
  if (privacy == nullptr) {
    return ErrorResponse({ErrorCode::kFailedPrecondition,
                          "differential privacy is off ([privacy] mode = "
                          "\"off\" in the coordinator config)"});
  }
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto reason =
      j->String("reason", 1, 200,
                "a new budget period needs a reason (1..200 characters)");
  if (!reason) return ErrorResponse(reason.error());
  if (!*reason) {
    return BadRequest("a new budget period needs a reason (1..200 characters)");
  }
  PrivacyBudget budget{services_.config.privacy.budget_epsilon,
                       services_.config.privacy.delta};
  const std::string kEpsilon = "budget_epsilon must be a positive number";
  auto epsilon = j->Number("budget_epsilon", kEpsilon);
  if (!epsilon) return ErrorResponse(epsilon.error());
  if (*epsilon) {
    if (!(**epsilon > 0) || !std::isfinite(**epsilon)) {
      return BadRequest(kEpsilon);
    }
    budget.epsilon = **epsilon;
  }
  auto delta = j->Number("delta", "delta must be in (0, 1)");
  if (!delta) return ErrorResponse(delta.error());
  if (*delta) {
    if (!(**delta > 0) || !(**delta < 1)) {
      return BadRequest("delta must be in (0, 1)");
    }
    budget.delta = **delta;
  }
  if (auto round = services_.rounds.CurrentRound(); round) {
    return ErrorResponse({ErrorCode::kFailedPrecondition,
                          "a round is running; start a new budget period "
                          "between rounds"});
  }
  // The ledger audits the new period (privacy_period_started) with actor
  // and reason.
  auto period = privacy->ledger().StartNewPeriod(actor.name, **reason, budget);
  if (!period) return ErrorResponse(period.error());
  return {200,
          {{"period_id", period->period_id},
           {"epsilon_budget", period->epsilon_budget},
           {"delta", period->delta},
           {"started_at", period->started_at},
           {"started_by", period->started_by},
           {"reason", period->reason}}};
}

}  // namespace cls::coordinator
