// The admin API's deployment, comparison and drift routes (issue 5). The
// routes themselves are in RouteTable (admin_api.cc); the work is the
// DeploymentManager's.

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_api.h"
#include "coordinator/admin/admin_api_body.h"
#include "coordinator/admin/version_metrics.h"
#include "core/rollout/sequential_test.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;

json RecordJson(const DeploymentRecord& r) {
  return {{"deployment_id", r.deployment_id},
          {"action", r.action},
          {"actor", r.actor},
          {"reason", OrNull(r.reason)},
          {"automatic", r.automatic},
          {"current_version", r.state.current_version},
          {"candidate_version", OrNull(r.state.candidate_version)},
          {"strategy",
           std::string(rollout::DeploymentStrategyName(r.state.strategy))},
          {"percentage", r.state.percentage},
          {"created_at", r.created_at}};
}

// NaN (no outcomes yet) is null in JSON.
json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json ComparisonJson(const rollout::ComparisonResult& c, const std::string& a,
                    const std::string& b, double alpha) {
  return {{"a", a},
          {"b", b},
          {"effect", c.effect},
          {"ci_low", c.ci_low},
          {"ci_high", c.ci_high},
          {"p_value", c.p_value},
          {"alpha", alpha},
          {"verdict", std::string(rollout::VerdictName(c.verdict))},
          {"counts",
           {{"a", {{"n", c.current.n}, {"correct", c.current.successes}}},
            {"b", {{"n", c.candidate.n}, {"correct", c.candidate.successes}}}}},
          {"description", rollout::DescribeComparison(c, a, b, alpha)}};
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

DeploymentActor ToDeploymentActor(const Actor& actor) {
  return {actor.name, actor.role};
}

}  // namespace

void AdminApi::AddDeploymentHandlers(
    std::map<std::string, decltype(Route::handler)>& handlers) {
  handlers["POST /v1/versions/{id}/deploy"] =
      [this](const AdminRequest& r, const Params& p, const Params&) {
        return Deploy(p.at("id"), r.body, r.actor);
      };
  handlers["POST /v1/versions/{id}/rollout"] =
      [this](const AdminRequest& r, const Params& p, const Params&) {
        return Rollout(p.at("id"), r.body, r.actor);
      };
  handlers["POST /v1/versions/promote"] = [this](const AdminRequest& r,
                                                 const Params&, const Params&) {
    return Promote(r.body, r.actor);
  };
  handlers["POST /v1/versions/rollback"] =
      [this](const AdminRequest& r, const Params&, const Params&) {
        return Rollback(r.body, r.actor);
      };
  handlers["GET /v1/versions/compare"] =
      [this](const AdminRequest&, const Params&, const Params& q) {
        return CompareVersions(q);
      };
  handlers["GET /v1/deployment"] = [this](const AdminRequest&, const Params&,
                                          const Params&) {
    return DeploymentStatus();
  };
  handlers["GET /v1/drift"] = [this](const AdminRequest&, const Params&,
                                     const Params&) { return DriftStatus(); };
  handlers["GET /v1/drift/alerts"] = [this](const AdminRequest&, const Params&,
                                            const Params& q) {
    return DriftAlerts(q);
  };
}

AdminResponse AdminApi::Deploy(const std::string& version_id,
                               const std::string& body, const Actor& actor) {
  const std::string kStrategy =
      "strategy is required: immediate, gradual_rollout, ab_testing or "
      "shadow_mode";
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto strategy = j->String("strategy", 0, std::string::npos, kStrategy);
  if (!strategy) return ErrorResponse(strategy.error());
  if (!*strategy) return BadRequest(kStrategy);
  auto reason = j->Reason();
  if (!reason) return ErrorResponse(reason.error());
  auto record = services_.deployments.Deploy(version_id, **strategy,
                                             ToDeploymentActor(actor), *reason);
  if (!record) return ErrorResponse(record.error());
  return {200, RecordJson(*record)};
}

AdminResponse AdminApi::Rollout(const std::string& version_id,
                                const std::string& body, const Actor& actor) {
  const std::string kPercent = "percent is required: a number in (0, 100]";
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto given = j->Number("percent", kPercent);
  if (!given) return ErrorResponse(given.error());
  if (!*given) return BadRequest(kPercent);
  const double percent = **given;
  if (!std::isfinite(percent) || percent <= 0 || percent > 100) {
    return BadRequest("percent must be in (0, 100]");
  }
  auto record = services_.deployments.SetRollout(version_id, percent,
                                                 ToDeploymentActor(actor));
  if (!record) return ErrorResponse(record.error());
  return {200, RecordJson(*record)};
}

AdminResponse AdminApi::Promote(const std::string& body, const Actor& actor) {
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto reason = j->Reason();
  if (!reason) return ErrorResponse(reason.error());
  auto record =
      services_.deployments.Promote(ToDeploymentActor(actor), *reason);
  if (!record) return ErrorResponse(record.error());
  return {200, RecordJson(*record)};
}

AdminResponse AdminApi::Rollback(const std::string& body, const Actor& actor) {
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  if (auto s = j->OnlyFields({"reason", "version_id"}); !s) {
    return ErrorResponse(s.error());
  }
  auto reason = j->Reason();
  if (!reason) return ErrorResponse(reason.error());
  auto version = j->String("version_id", 1, 128,
                           "version_id must be a version id (a string)");
  if (!version) return ErrorResponse(version.error());
  const std::string why =
      !reason->empty() ? *reason
      : *version       ? "manual rollback to " + **version + " by " + actor.name
                       : "manual rollback by " + actor.name;
  auto record =
      *version ? services_.deployments.RollbackTo(**version,
                                                  ToDeploymentActor(actor), why)
               : services_.deployments.Rollback(ToDeploymentActor(actor), why);
  if (!record) return ErrorResponse(record.error());
  return {200, RecordJson(*record)};
}

AdminResponse AdminApi::CompareVersions(const Params& query) {
  auto a = query.find("a");
  auto b = query.find("b");
  if (a == query.end() || b == query.end() || a->second.empty() ||
      b->second.empty()) {
    return BadRequest("compare needs ?a=VERSION&b=VERSION");
  }
  auto& manager = services_.deployments;
  auto result = manager.Compare(a->second, b->second);
  if (!result) return ErrorResponse(result.error());
  json body = ComparisonJson(*result, a->second, b->second,
                             manager.test_config().alpha);
  // Beside the served outcomes, the two versions' held-out validation (the
  // metrics of GET /v1/versions/{id}), per class for multi-class models.
  auto ea = services_.history.FindVersionEvaluation(a->second);
  if (!ea) return ErrorResponse(ea.error());
  auto eb = services_.history.FindVersionEvaluation(b->second);
  if (!eb) return ErrorResponse(eb.error());
  body["validation"] = ValidationComparisonJson(*ea, *eb);
  return {200, body};
}

AdminResponse AdminApi::DeploymentStatus() {
  auto& manager = services_.deployments;
  json out;
  const auto& current = manager.current();
  out["deployment"] = current ? RecordJson(*current) : json(nullptr);
  const auto& comparison = manager.rollout_comparison();
  out["comparison"] =
      current && comparison && !current->state.candidate_version.empty()
          ? ComparisonJson(*comparison, current->state.current_version,
                           current->state.candidate_version,
                           manager.test_config().alpha)
          : json(nullptr);
  out["policy"] = {
      {"max_severity", manager.policy().max_severity},
      {"rollback_when_worse", manager.policy().rollback_when_worse},
      {"alpha", manager.test_config().alpha},
      {"min_samples_per_arm", manager.test_config().min_samples_per_arm}};
  auto acks = manager.Acks();
  if (!acks) return ErrorResponse(acks.error());
  auto sites = services_.sites.List();
  if (!sites) return ErrorResponse(sites.error());
  json site_list = json::array();
  for (const auto& site : *sites) {
    if (site.status == SiteStatus::kPending) continue;
    json entry = {{"site_id", site.site_id},
                  {"connected", services_.sites.IsConnected(site.site_id)},
                  {"acked_deployment_id", nullptr},
                  {"accepted", nullptr},
                  {"reason", nullptr},
                  {"acked_at", nullptr},
                  {"up_to_date", false}};
    for (const auto& ack : *acks) {
      if (ack.site_id != site.site_id) continue;
      entry["acked_deployment_id"] = ack.deployment_id;
      entry["accepted"] = ack.accepted;
      entry["reason"] = OrNull(ack.reason);
      entry["acked_at"] = ack.acked_at;
      entry["up_to_date"] = current && ack.accepted &&
                            ack.deployment_id == current->deployment_id;
    }
    site_list.push_back(std::move(entry));
  }
  out["sites"] = std::move(site_list);
  auto history = manager.History(20);
  if (!history) return ErrorResponse(history.error());
  json h = json::array();
  for (const auto& r : *history) h.push_back(RecordJson(r));
  out["history"] = std::move(h);
  return {200, out};
}

AdminResponse AdminApi::DriftStatus() {
  auto& manager = services_.deployments;
  auto stats = manager.DriftStatistics(NowSeconds());
  if (!stats) return ErrorResponse(stats.error());
  json versions = json::array();
  const auto& current = manager.current();
  for (const auto& v : *stats) {
    const auto& m = v.merged;
    std::string role;
    if (current && v.version_id == current->state.current_version) {
      role = "current";
    } else if (current && v.version_id == current->state.candidate_version) {
      role = "candidate";
    }
    const double recent =
        m.window_predictions > 0
            ? static_cast<double>(m.window_correct) / m.window_predictions
            : NAN;
    versions.push_back(
        {{"version_id", v.version_id},
         {"role", OrNull(role)},
         {"total_predictions", m.predictions},
         {"recent_accuracy", Number(recent)},
         {"overall_accuracy", Number(m.Accuracy())},
         // The guide's baseline: the accuracy of all outcomes so far, the
         // reference each site's monitor compares its recent window against.
         {"baseline_accuracy", Number(m.Accuracy())},
         {"total_alerts", v.total_alerts},
         {"alerts_last_7_days", v.alerts_last_7_days},
         {"max_severity", m.max_severity},
         {"unlabelled_predictions", m.unlabelled},
         {"estimated_accuracy", Number(m.CbpeAccuracy())},
         {"ece", Number(m.Ece())},
         {"sites_with_data_drift", m.sites_with_data_drift},
         {"max_psi", m.max_psi},
         {"sites", m.sites}});
  }
  auto reports = manager.Reports();
  if (!reports) return ErrorResponse(reports.error());
  auto acks = manager.Acks();
  if (!acks) return ErrorResponse(acks.error());
  json sites = json::array();
  for (const auto& r : *reports) {
    json entry = {{"site_id", r.site_id},
                  {"last_report_at", r.received_at},
                  {"summaries", r.summaries},
                  {"alerts", r.alerts},
                  {"ack", nullptr}};
    for (const auto& a : *acks) {
      if (a.site_id != r.site_id) continue;
      entry["ack"] = {
          {"deployment_id", a.deployment_id},
          {"accepted", a.accepted},
          {"reason", OrNull(a.reason)},
          {"up_to_date",
           current && a.accepted && a.deployment_id == current->deployment_id}};
    }
    sites.push_back(std::move(entry));
  }
  return {200,
          {{"deployment", current ? RecordJson(*current) : json(nullptr)},
           {"versions", versions},
           {"sites", sites}}};
}

AdminResponse AdminApi::DriftAlerts(const Params& query) {
  int limit = 100;
  if (auto it = query.find("limit"); it != query.end()) {
    try {
      size_t used = 0;
      limit = std::stoi(it->second, &used);
      if (used != it->second.size()) limit = -1;
    } catch (...) {
      limit = -1;
    }
    if (limit < 1 || limit > 10000) {
      return BadRequest("limit must be an integer in [1, 10000]");
    }
  }
  std::string version;
  if (auto it = query.find("version"); it != query.end()) version = it->second;
  auto alerts = services_.deployments.Alerts(version, limit);
  if (!alerts) return ErrorResponse(alerts.error());
  json list = json::array();
  for (const auto& a : *alerts) {
    list.push_back({{"id", a.id},
                    {"site_id", a.site_id},
                    {"version_id", a.version_id},
                    {"drift_type", a.drift_type},
                    {"severity", a.severity},
                    {"detector", a.detector},
                    {"timestamp_s", a.timestamp_s},
                    {"received_s", a.received_s}});
  }
  return {200, {{"alerts", list}}};
}

}  // namespace cls::coordinator
