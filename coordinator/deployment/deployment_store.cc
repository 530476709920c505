#include "coordinator/deployment/deployment_store.h"

#include <utility>

namespace cls::coordinator {
namespace {

constexpr const char* kDeploymentColumns =
    "sequence, deployment_id, action, actor, reason, automatic, "
    "current_version, candidate_version, strategy, percentage, salt, "
    "alert_watermark, created_at";

Result<DeploymentRecord> ReadDeployment(const SqlStatement& s) {
  DeploymentRecord r;
  r.sequence = s.Int(0);
  r.deployment_id = s.Text(1);
  r.action = s.Text(2);
  r.actor = s.Text(3);
  r.reason = s.Text(4);
  r.automatic = s.Int(5) != 0;
  r.state.current_version = s.Text(6);
  r.state.candidate_version = s.Text(7);
  auto strategy = rollout::ParseDeploymentStrategy(s.Text(8));
  if (!strategy) {
    return DataLoss("deployment " + r.deployment_id + ": " +
                    strategy.error().message);
  }
  r.state.strategy = *strategy;
  r.state.percentage = s.Double(9);
  r.state.salt = s.Text(10);
  r.alert_watermark = s.Int(11);
  r.created_at = s.Text(12);
  return r;
}

}  // namespace

Result<DeploymentStore> DeploymentStore::Open(SqliteDb& db) {
  return DeploymentStore(db);
}

Result<std::optional<DeploymentRecord>> DeploymentStore::Latest() {
  auto rows = History(1);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  return std::move(rows->front());
}

Result<std::vector<DeploymentRecord>> DeploymentStore::History(int limit) {
  auto stmt = db_->Prepare(std::string("SELECT ") + kDeploymentColumns +
                           " FROM deployments ORDER BY sequence DESC LIMIT ?");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind({int64_t{limit}}); !s) {
    return std::unexpected(s.error());
  }
  std::vector<DeploymentRecord> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto r = ReadDeployment(*stmt);
    if (!r) return std::unexpected(r.error());
    out.push_back(std::move(*r));
  }
  return out;
}

Status DeploymentStore::Insert(const DeploymentRecord& r) {
  return db_->Run(
      std::string("INSERT INTO deployments (") + kDeploymentColumns +
          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {r.sequence, r.deployment_id, r.action, r.actor, r.reason,
       int64_t{r.automatic ? 1 : 0}, r.state.current_version,
       r.state.candidate_version,
       std::string(rollout::DeploymentStrategyName(r.state.strategy)),
       r.state.percentage, r.state.salt, r.alert_watermark, r.created_at});
}

Result<std::vector<std::string>> DeploymentStore::DeployedVersions() {
  auto stmt = db_->Prepare(
      "SELECT current_version FROM deployments UNION SELECT "
      "candidate_version FROM deployments WHERE candidate_version != ''");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<std::string> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out.push_back(stmt->Text(0));
  }
  return out;
}

Status DeploymentStore::SaveAck(const SiteAckRecord& a) {
  return db_->Run(
      "INSERT INTO deployment_acks (site_id, deployment_id, accepted, "
      "current_version, candidate_version, reason, acked_at) VALUES (?, ?, "
      "?, ?, ?, ?, ?) ON CONFLICT (site_id) DO UPDATE SET deployment_id = "
      "excluded.deployment_id, accepted = excluded.accepted, current_version "
      "= excluded.current_version, candidate_version = "
      "excluded.candidate_version, reason = excluded.reason, acked_at = "
      "excluded.acked_at",
      {a.site_id, a.deployment_id, int64_t{a.accepted ? 1 : 0},
       a.current_version, a.candidate_version, a.reason, a.acked_at});
}

Result<std::vector<SiteAckRecord>> DeploymentStore::Acks() {
  auto stmt = db_->Prepare(
      "SELECT site_id, deployment_id, accepted, current_version, "
      "candidate_version, reason, acked_at FROM deployment_acks ORDER BY "
      "site_id");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<SiteAckRecord> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out.push_back({stmt->Text(0), stmt->Text(1), stmt->Int(2) != 0,
                   stmt->Text(3), stmt->Text(4), stmt->Text(5), stmt->Text(6)});
  }
  return out;
}

Status DeploymentStore::SaveReport(const SiteReportRecord& report,
                                   const std::vector<StoredSummary>& summaries,
                                   const std::vector<StoredAlert>& alerts) {
  return db_->Transaction([&]() -> Status {
    if (auto s = db_->Run(
            "INSERT INTO drift_reports (site_id, reported_at_s, received_at, "
            "summaries, alerts) VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_id) "
            "DO UPDATE SET reported_at_s = excluded.reported_at_s, "
            "received_at = excluded.received_at, summaries = "
            "excluded.summaries, alerts = excluded.alerts",
            {report.site_id, report.reported_at_s, report.received_at,
             report.summaries, report.alerts});
        !s) {
      return s;
    }
    for (const auto& summary : summaries) {
      if (auto s = db_->Run(
              "INSERT INTO drift_summaries (site_id, version_id, "
              "summary_json) VALUES (?, ?, ?) ON CONFLICT (site_id, "
              "version_id) DO UPDATE SET summary_json = "
              "excluded.summary_json",
              {summary.site_id, summary.version_id, summary.summary_json});
          !s) {
        return s;
      }
    }
    for (const auto& a : alerts) {
      if (auto s = db_->Run(
              "INSERT INTO drift_alerts (site_id, version_id, drift_type, "
              "severity, detector, timestamp_s, received_s) VALUES (?, ?, ?, "
              "?, ?, ?, ?)",
              {a.site_id, a.version_id, a.drift_type, a.severity, a.detector,
               a.timestamp_s, a.received_s});
          !s) {
        return s;
      }
    }
    return {};
  });
}

Result<std::vector<SiteReportRecord>> DeploymentStore::Reports() {
  auto stmt = db_->Prepare(
      "SELECT site_id, reported_at_s, received_at, summaries, alerts FROM "
      "drift_reports ORDER BY site_id");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<SiteReportRecord> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out.push_back({stmt->Text(0), stmt->Int(1), stmt->Text(2), stmt->Int(3),
                   stmt->Int(4)});
  }
  return out;
}

Result<std::vector<StoredSummary>> DeploymentStore::Summaries() {
  auto stmt = db_->Prepare(
      "SELECT site_id, version_id, summary_json FROM drift_summaries ORDER "
      "BY version_id, site_id");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<StoredSummary> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out.push_back({stmt->Text(0), stmt->Text(1), stmt->Text(2)});
  }
  return out;
}

Result<std::vector<StoredAlert>> DeploymentStore::Alerts(
    const std::string& version, int64_t after_id, int limit) {
  auto stmt = db_->Prepare(
      "SELECT id, site_id, version_id, drift_type, severity, detector, "
      "timestamp_s, received_s FROM drift_alerts WHERE (? = '' OR "
      "version_id = ?) AND id > ? ORDER BY id DESC LIMIT ?");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind({version, version, after_id, int64_t{limit}}); !s) {
    return std::unexpected(s.error());
  }
  std::vector<StoredAlert> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out.push_back({stmt->Int(0), stmt->Text(1), stmt->Text(2), stmt->Text(3),
                   stmt->Double(4), stmt->Text(5), stmt->Int(6), stmt->Int(7)});
  }
  return out;
}

Result<int64_t> DeploymentStore::MaxAlertId() {
  auto stmt = db_->Prepare("SELECT COALESCE(MAX(id), 0) FROM drift_alerts");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row ? stmt->Int(0) : 0;
}

}  // namespace cls::coordinator
