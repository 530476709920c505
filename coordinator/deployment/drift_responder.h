#ifndef CLS_COORDINATOR_DEPLOYMENT_DRIFT_RESPONDER_H_
#define CLS_COORDINATOR_DEPLOYMENT_DRIFT_RESPONDER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "coordinator/config.h"
#include "coordinator/deployment/deployment_store.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

// The original guide's "Automated Responses" by severity (docs/drift.md
// "Severity responses"): above [deployment] rollback_max_severity roll
// back, above [drift] notify_severity notify (and retrain when
// retrain_on_drift), else record.
enum class DriftResponse { kRecord, kNotify, kRollback };
std::string_view DriftResponseName(DriftResponse response);
DriftResponse ClassifyDriftSeverity(double severity,
                                    const CoordinatorConfig& config);

// What a response may do; each may be unset (nothing of that kind).
struct DriftResponseActions {
  // POSTs the JSON alert summary; `done` gets the outcome (on the io
  // thread, later).
  std::function<void(std::string body, std::function<void(Status)> done)>
      notify;
  // Queues one training round; its id, or why not (one already queued).
  std::function<Result<int64_t>()> queue_training_round;
  // Metrics: a response taken; a notification sent or failed.
  std::function<void(DriftResponse)> count_response;
  std::function<void(bool sent)> count_notification;
};

// Responds to each accepted drift report with alerts, once per report, by
// its highest severity: "rollback" when the DeploymentManager rolled the
// candidate back on it, else by ClassifyDriftSeverity (a severity above
// the rollback threshold on a version with nothing to roll back to is a
// notification). Every response is audited (drift_response) with counts,
// types, versions and severities only. The webhook body is the same summary
// ({"event": "drift_alert", ...}); no patient data exists at the
// coordinator to put in it. Single-threaded (io thread).
class DriftResponder {
 public:
  DriftResponder(const CoordinatorConfig& config, CoordinatorStore& store,
                 DriftResponseActions actions)
      : config_(config), store_(store), actions_(std::move(actions)) {}

  // `alerts`: the report's alerts the DeploymentManager kept;
  // `rolled_back`: whether it rolled back on them.
  void OnReport(const std::string& site_id,
                const std::vector<StoredAlert>& alerts, bool rolled_back);

 private:
  const CoordinatorConfig& config_;
  CoordinatorStore& store_;
  DriftResponseActions actions_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_DEPLOYMENT_DRIFT_RESPONDER_H_
