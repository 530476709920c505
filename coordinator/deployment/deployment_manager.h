#ifndef CLS_COORDINATOR_DEPLOYMENT_DEPLOYMENT_MANAGER_H_
#define CLS_COORDINATOR_DEPLOYMENT_DEPLOYMENT_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "coordinator/deployment/deployment_store.h"
#include "coordinator/storage/store.h"
#include "core/drift/drift_summary.h"
#include "core/rollout/deployment.h"
#include "core/rollout/rollback_policy.h"
#include "core/rollout/sequential_test.h"
#include "protocol/messages.h"

namespace cls::coordinator {

// How the manager reaches the sites: the Federation in the daemon, a fake in
// tests. `connected_sites` lists the connected, approved sites.
// The [drift] settings sent with each deployment to the sites' monitors
// (docs/drift.md "Settings from the coordinator").
struct DeploymentDriftSettings {
  double performance_threshold = 0;  // 0 = the sites' own defaults
  uint32_t window_size = 0;          // 0 = the sites' own defaults
  bool baseline_validation = false;  // each version's validation accuracy
  double baseline = -1;              // a fixed baseline; < 0 = none
};

struct DeploymentSender {
  std::function<std::vector<std::string>()> connected_sites;
  std::function<void(const std::string& site_id, protocol::Message)> send;
  // The federation-wide standardisation sent with each deployment; may be
  // unset (sent empty).
  std::function<std::vector<double>()> feature_statistics;
  DeploymentDriftSettings drift = {};
};

// One version's statistics merged over the sites' latest reports (the
// original guide's get_drift_statistics, federation-wide).
struct VersionDriftStatistics {
  std::string version_id;
  drift::DriftSummary merged;
  int64_t total_alerts = 0;
  int64_t alerts_last_7_days = 0;
};

// Who asked, by name and role (the Federation's Actor, without the
// dependency).
struct DeploymentActor {
  std::string name;
  std::string role;
};

// The federation's deployment: which versions the sites serve and how
// requests split (core/rollout Deployment), persisted in SQLite so it
// survives restarts; pushed whole to every connected site on each change and
// to a site right after it (re)connects; acks recorded per site. Drift
// reports are validated, kept as the latest cumulative summary per (site,
// version) and merged per version; after every report the sequential test
// compares current and candidate on the summed counts and the rollback
// policy decides, so a bad candidate loses all its traffic within one
// report interval (audited, logged at warn).
//
// Each change gets a new deployment id. A rollout gets a fresh salt when it
// starts and keeps it while its percentage rises: a new salt would reshuffle
// the buckets and move encounters between versions mid-rollout.
//
// Single-threaded: every call on the coordinator's io thread.
class DeploymentManager {
 public:
  static Result<std::unique_ptr<DeploymentManager>> Open(
      CoordinatorStore& store, std::string model_kind, DeploymentSender sender,
      rollout::RollbackPolicy policy = {},
      rollout::SequentialTestConfig test = {});

  // The core::ModelSpec text sent with every served version (empty for a
  // logistic regression configured by parameter count alone).
  void set_model_spec(std::string spec) { model_spec_ = std::move(spec); }

  // Operator actions; each returns the new deployment record.
  // NotFound for an unknown version; FailedPrecondition when the deployment
  // does not allow it (a rollout in progress, nothing deployed yet).
  Result<DeploymentRecord> Deploy(const std::string& version_id,
                                  const std::string& strategy,
                                  const DeploymentActor& actor,
                                  const std::string& reason);
  Result<DeploymentRecord> SetRollout(const std::string& version_id,
                                      double percentage,
                                      const DeploymentActor& actor);
  Result<DeploymentRecord> Promote(const DeploymentActor& actor,
                                   const std::string& reason);
  Result<DeploymentRecord> Rollback(const DeploymentActor& actor,
                                    const std::string& reason);
  // All traffic to `version_id`, a stored version other than the one in
  // force (the guide's rollback_version(version_id)); a rollout in progress
  // ends. NotFound for an unknown version; FailedPrecondition when nothing
  // is deployed, or `version_id` already serves all traffic, or it is the
  // candidate (promote it instead).
  Result<DeploymentRecord> RollbackTo(const std::string& version_id,
                                      const DeploymentActor& actor,
                                      const std::string& reason);

  // Site protocol.
  void OnSiteConnected(const std::string& site_id);
  void OnAck(const std::string& site_id, const protocol::DeploymentAck& ack);
  // InvalidArgument when the report was refused (nothing of it is kept).
  Status OnDriftReport(const std::string& site_id,
                       const protocol::DriftReport& report, int64_t now_s);

  // Queries.
  const std::optional<DeploymentRecord>& current() const { return current_; }
  // The alerts the last accepted drift report brought (on known versions).
  const std::vector<StoredAlert>& last_report_alerts() const {
    return last_report_alerts_;
  }
  // The running comparison of the rollout in progress, if any look was made.
  const std::optional<rollout::ComparisonResult>& rollout_comparison() const {
    return rollout_comparison_;
  }
  Result<std::vector<DeploymentRecord>> History(int limit) {
    return deployments_.History(limit);
  }
  Result<std::vector<SiteAckRecord>> Acks() { return deployments_.Acks(); }
  Result<std::vector<SiteReportRecord>> Reports() {
    return deployments_.Reports();
  }
  Result<std::vector<VersionDriftStatistics>> DriftStatistics(int64_t now_s);
  Result<std::vector<StoredAlert>> Alerts(const std::string& version,
                                          int limit) {
    return deployments_.Alerts(version, 0, limit);
  }
  // `a` is the reference, `b` the challenger. The rollout's own running
  // comparison when (a, b) is (current, candidate), else one look at the
  // summed counts. NotFound for a version never reported nor stored.
  Result<rollout::ComparisonResult> Compare(const std::string& a,
                                            const std::string& b);
  const rollout::SequentialTestConfig& test_config() const { return test_; }
  const rollout::RollbackPolicy& policy() const { return policy_; }

 private:
  DeploymentManager(CoordinatorStore& store, DeploymentStore deployments,
                    std::string model_kind, DeploymentSender sender,
                    rollout::RollbackPolicy policy,
                    rollout::SequentialTestConfig test)
      : store_(store),
        deployments_(std::move(deployments)),
        model_kind_(std::move(model_kind)),
        sender_(std::move(sender)),
        policy_(policy),
        test_(test) {}

  Status Load();
  bool KnownVersion(const std::string& version_id);
  // Persists `state` as a new deployment, audits it and pushes it.
  Result<DeploymentRecord> Commit(const rollout::DeploymentState& state,
                                  const std::string& action,
                                  const DeploymentActor& actor,
                                  const std::string& reason, bool automatic,
                                  bool new_rollout);
  Result<protocol::DeploymentUpdate> BuildUpdate(const DeploymentRecord& r);
  void PushToConnectedSites();
  // Merged counts of one version over the sites' latest summaries.
  Result<std::optional<drift::DriftSummary>> Merged(
      const std::string& version_id);
  // The sequential test and the rollback policy, after a report.
  void JudgeRollout();

  CoordinatorStore& store_;
  DeploymentStore deployments_;
  std::string model_kind_;
  std::string model_spec_;
  DeploymentSender sender_;
  rollout::RollbackPolicy policy_;
  rollout::SequentialTestConfig test_;
  std::optional<DeploymentRecord> current_;
  std::optional<protocol::DeploymentUpdate> update_;  // sent to every site
  std::optional<rollout::SequentialComparison> comparison_;
  std::optional<rollout::ComparisonResult> rollout_comparison_;
  std::set<std::string> known_versions_;
  std::vector<StoredAlert> last_report_alerts_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_DEPLOYMENT_DEPLOYMENT_MANAGER_H_
