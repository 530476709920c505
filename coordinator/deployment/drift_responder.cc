#include "coordinator/deployment/drift_responder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace cls::coordinator {

using nlohmann::json;

std::string_view DriftResponseName(DriftResponse response) {
  switch (response) {
    case DriftResponse::kRecord:
      return "record";
    case DriftResponse::kNotify:
      return "notify";
    case DriftResponse::kRollback:
      return "rollback";
  }
  return "record";
}

DriftResponse ClassifyDriftSeverity(double severity,
                                    const CoordinatorConfig& config) {
  if (severity > config.deployment.rollback.max_severity) {
    return DriftResponse::kRollback;
  }
  if (severity > config.drift.notify_severity) return DriftResponse::kNotify;
  return DriftResponse::kRecord;
}

void DriftResponder::OnReport(const std::string& site_id,
                              const std::vector<StoredAlert>& alerts,
                              bool rolled_back) {
  if (alerts.empty()) return;
  double max_severity = 0;
  std::map<std::string, int> by_type;
  std::set<std::string> versions;
  for (const auto& a : alerts) {
    max_severity = std::max(max_severity, a.severity);
    ++by_type[a.drift_type];
    versions.insert(a.version_id);
  }
  DriftResponse response = ClassifyDriftSeverity(max_severity, config_);
  // Only the DeploymentManager rolls back (a candidate, on performance or
  // concept drift); above the threshold without that, the team is told.
  if (rolled_back) {
    response = DriftResponse::kRollback;
  } else if (response == DriftResponse::kRollback) {
    response = DriftResponse::kNotify;
  }
  json fields = {{"site_id", site_id},
                 {"response", std::string(DriftResponseName(response))},
                 {"alerts", alerts.size()},
                 {"by_type", by_type},
                 {"versions", versions},
                 {"max_severity", max_severity},
                 {"retraining_round", nullptr},
                 {"webhook", nullptr}};
  if (response != DriftResponse::kRecord) {
    if (config_.drift.retrain_on_drift && actions_.queue_training_round) {
      auto round = actions_.queue_training_round();
      if (round) {
        fields["retraining_round"] = *round;
      } else {
        fields["retraining_not_queued"] = round.error().message;
      }
    }
    if (actions_.notify) fields["webhook"] = "sent";
  }
  if (auto s = store_.Audit("coordinator", "system", "drift_response", fields);
      !s) {
    spdlog::error("audit entry drift_response could not be written: {}",
                  s.error().message);
  }
  if (actions_.count_response) actions_.count_response(response);
  spdlog::log(response == DriftResponse::kRecord ? spdlog::level::info
                                                 : spdlog::level::warn,
              "drift response to site {}: {} ({} alert(s), max severity "
              "{:.2f})",
              site_id, DriftResponseName(response), alerts.size(),
              max_severity);
  if (response == DriftResponse::kRecord || !actions_.notify) return;
  json body = fields;
  body.erase("webhook");
  body["event"] = "drift_alert";
  body["coordinator_id"] = config_.coordinator_id;
  actions_.notify(
      body.dump(), [count = actions_.count_notification, site_id](Status sent) {
        if (count) count(sent.has_value());
        if (!sent) {
          spdlog::warn("drift notification for site {} not delivered: {}",
                       site_id, sent.error().message);
        }
      });
}

}  // namespace cls::coordinator
