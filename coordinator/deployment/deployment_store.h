#ifndef CLS_COORDINATOR_DEPLOYMENT_DEPLOYMENT_STORE_H_
#define CLS_COORDINATOR_DEPLOYMENT_DEPLOYMENT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/sqlite_db.h"
#include "core/rollout/deployment.h"

namespace cls::coordinator {

// One change of the federation's deployment (deploy, rollout, promote,
// rollback), as persisted and shown to operators. The latest row is the
// deployment in force.
struct DeploymentRecord {
  int64_t sequence = 0;
  std::string deployment_id;
  std::string action;  // deploy | rollout | promote | rollback
  std::string actor;
  std::string reason;
  bool automatic = false;  // an automatic rollback
  rollout::DeploymentState state;
  // Alerts with a larger id were raised after the candidate was deployed
  // (the rollback policy looks only at those).
  int64_t alert_watermark = 0;
  std::string created_at;
};

// A site's answer to the latest deployment it was sent.
struct SiteAckRecord {
  std::string site_id;
  std::string deployment_id;
  bool accepted = false;
  std::string current_version;
  std::string candidate_version;
  std::string reason;
  std::string acked_at;
};

// When a site last reported drift (counts only).
struct SiteReportRecord {
  std::string site_id;
  int64_t reported_at_s = 0;  // the site's clock
  std::string received_at;    // ours
  int64_t summaries = 0;
  int64_t alerts = 0;
};

// The latest cumulative DriftSummary JSON of one (site, version).
struct StoredSummary {
  std::string site_id;
  std::string version_id;
  std::string summary_json;  // validated by ParseDriftSummary on intake
};

struct StoredAlert {
  int64_t id = 0;
  std::string site_id;
  std::string version_id;
  std::string drift_type;
  double severity = 0;
  std::string detector;
  int64_t timestamp_s = 0;  // the site's clock
  int64_t received_s = 0;   // ours: what "last 7 days" counts on
};

// The deployment tables in the coordinator database: deployments (history),
// deployment_acks, drift_summaries, drift_reports, drift_alerts. Statistics
// and counts only; nothing about a patient is ever stored here.
// The tables are created by coordinator/storage/schema.cc.
// Thread-compatible: the coordinator's io thread.
class DeploymentStore {
 public:
  static Result<DeploymentStore> Open(SqliteDb& db);

  Result<std::optional<DeploymentRecord>> Latest();
  Result<std::vector<DeploymentRecord>> History(int limit);
  Status Insert(const DeploymentRecord& record);
  // Every version a deployment has named, current or candidate.
  Result<std::vector<std::string>> DeployedVersions();

  Status SaveAck(const SiteAckRecord& ack);
  Result<std::vector<SiteAckRecord>> Acks();

  // Replaces the site's summaries and report time in one transaction, and
  // appends its alerts.
  Status SaveReport(const SiteReportRecord& report,
                    const std::vector<StoredSummary>& summaries,
                    const std::vector<StoredAlert>& alerts);
  Result<std::vector<SiteReportRecord>> Reports();
  Result<std::vector<StoredSummary>> Summaries();
  // Newest first; `version` empty = all; only ids > after_id.
  Result<std::vector<StoredAlert>> Alerts(const std::string& version,
                                          int64_t after_id, int limit);
  Result<int64_t> MaxAlertId();

 private:
  explicit DeploymentStore(SqliteDb& db) : db_(&db) {}
  SqliteDb* db_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_DEPLOYMENT_DEPLOYMENT_STORE_H_
