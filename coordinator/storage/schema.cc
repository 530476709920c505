#include "coordinator/storage/schema.h"

#include <algorithm>
#include <string>
#include <vector>

namespace cls::coordinator::storage {
namespace {

// Version 1: the layout of every table as the coordinator kept them when
// schema versions began. `IF NOT EXISTS` throughout, because this step also
// adopts databases written before versions were kept, whatever subset of the
// tables they already have.
constexpr const char* kVersion1Tables = R"sql(
-- Sites and rounds.
CREATE TABLE IF NOT EXISTS sites (
  site_id TEXT PRIMARY KEY,
  site_name TEXT NOT NULL DEFAULT '',
  location TEXT NOT NULL DEFAULT '',
  num_samples INTEGER NOT NULL DEFAULT 0,
  trust_score REAL NOT NULL DEFAULT 1.0,
  status TEXT NOT NULL,
  registered_at TEXT NOT NULL,
  last_seen TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS rounds (
  round_id INTEGER PRIMARY KEY,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL DEFAULT '',
  participants TEXT NOT NULL,
  contributors TEXT NOT NULL DEFAULT '[]',
  dropped TEXT NOT NULL DEFAULT '[]',
  model_version TEXT NOT NULL DEFAULT '',
  val_count INTEGER NOT NULL DEFAULT 0,
  val_correct INTEGER NOT NULL DEFAULT 0,
  val_loss_sum REAL NOT NULL DEFAULT 0,
  eval_count INTEGER NOT NULL DEFAULT 0,
  eval_correct INTEGER NOT NULL DEFAULT 0,
  eval_reports INTEGER NOT NULL DEFAULT 0,
  abort_reason TEXT NOT NULL DEFAULT '',
  duration_ms INTEGER NOT NULL DEFAULT 0
);
-- Model versions (artifacts encrypted by model_vault) and their summed
-- evaluations.
CREATE TABLE IF NOT EXISTS models (
  version_id TEXT PRIMARY KEY,
  sequence INTEGER NOT NULL UNIQUE,
  round_id INTEGER NOT NULL,
  parent_version TEXT NOT NULL,
  hash TEXT NOT NULL,
  parameters BLOB NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS model_evaluations (
  version_id TEXT PRIMARY KEY,
  reports INTEGER NOT NULL DEFAULT 0,
  count INTEGER NOT NULL DEFAULT 0,
  correct INTEGER NOT NULL DEFAULT 0,
  loss_sum REAL NOT NULL DEFAULT 0,
  train_samples INTEGER NOT NULL DEFAULT 0,
  true_positives INTEGER NOT NULL DEFAULT 0,
  false_positives INTEGER NOT NULL DEFAULT 0,
  true_negatives INTEGER NOT NULL DEFAULT 0,
  false_negatives INTEGER NOT NULL DEFAULT 0,
  positive_histogram TEXT NOT NULL DEFAULT '[]',
  negative_histogram TEXT NOT NULL DEFAULT '[]'
);
-- The audit chain and the signed checkpoints sent to sites.
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  timestamp TEXT NOT NULL,
  actor TEXT NOT NULL,
  actor_role TEXT NOT NULL,
  event_type TEXT NOT NULL,
  fields TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_timestamp ON audit_log (timestamp);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  coordinator_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  reason TEXT NOT NULL,
  signature TEXT NOT NULL
);
-- The privacy ledger: append-only, guarded by triggers.
CREATE TABLE IF NOT EXISTS privacy_periods (
  period_id INTEGER PRIMARY KEY,
  epsilon_budget REAL NOT NULL,
  delta REAL NOT NULL,
  started_at TEXT NOT NULL,
  started_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  orders TEXT NOT NULL,
  rdp BLOB NOT NULL,
  spent_epsilon REAL NOT NULL DEFAULT 0,
  optimal_order REAL NOT NULL DEFAULT 0,
  rounds_charged INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS privacy_charges (
  charge_id INTEGER PRIMARY KEY,
  period_id INTEGER NOT NULL REFERENCES privacy_periods(period_id),
  round_id INTEGER NOT NULL,
  mode TEXT NOT NULL,
  mechanism TEXT NOT NULL,
  noise_multiplier REAL NOT NULL,
  effective_noise_multiplier REAL NOT NULL,
  sampling_rate REAL NOT NULL,
  sites_planned INTEGER NOT NULL,
  sites_contributed INTEGER NOT NULL,
  round_epsilon REAL NOT NULL,
  epsilon_after REAL NOT NULL,
  order_after REAL NOT NULL,
  rdp BLOB NOT NULL,
  charged_at TEXT NOT NULL,
  UNIQUE (period_id, round_id)
);
CREATE TRIGGER IF NOT EXISTS privacy_charges_no_update
  BEFORE UPDATE ON privacy_charges
  BEGIN SELECT RAISE(ABORT, 'privacy ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS privacy_charges_no_delete
  BEFORE DELETE ON privacy_charges
  BEGIN SELECT RAISE(ABORT, 'privacy ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS privacy_periods_no_delete
  BEFORE DELETE ON privacy_periods
  BEGIN SELECT RAISE(ABORT, 'privacy periods cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS privacy_periods_spend_only_grows
  BEFORE UPDATE ON privacy_periods
  WHEN NEW.epsilon_budget IS NOT OLD.epsilon_budget
    OR NEW.delta IS NOT OLD.delta
    OR NEW.started_at IS NOT OLD.started_at
    OR NEW.started_by IS NOT OLD.started_by
    OR NEW.reason IS NOT OLD.reason
    OR NEW.orders IS NOT OLD.orders
    OR NEW.spent_epsilon < OLD.spent_epsilon
    OR NEW.rounds_charged < OLD.rounds_charged
  BEGIN SELECT RAISE(ABORT, 'a privacy period can only grow its spend'); END;
-- Robust aggregation: each site's trust state.
CREATE TABLE IF NOT EXISTS site_trust (
  site_id TEXT PRIMARY KEY,
  operator_trust REAL NOT NULL,
  good REAL NOT NULL,
  bad REAL NOT NULL,
  rounds_observed INTEGER NOT NULL,
  trust REAL NOT NULL
);
-- Deployments, the sites' acknowledgements, and drift.
CREATE TABLE IF NOT EXISTS deployments (
  sequence INTEGER PRIMARY KEY,
  deployment_id TEXT NOT NULL UNIQUE,
  action TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  automatic INTEGER NOT NULL,
  current_version TEXT NOT NULL,
  candidate_version TEXT NOT NULL,
  strategy TEXT NOT NULL,
  percentage REAL NOT NULL,
  salt TEXT NOT NULL,
  alert_watermark INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deployment_acks (
  site_id TEXT PRIMARY KEY,
  deployment_id TEXT NOT NULL,
  accepted INTEGER NOT NULL,
  current_version TEXT NOT NULL,
  candidate_version TEXT NOT NULL,
  reason TEXT NOT NULL,
  acked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS drift_reports (
  site_id TEXT PRIMARY KEY,
  reported_at_s INTEGER NOT NULL,
  received_at TEXT NOT NULL,
  summaries INTEGER NOT NULL,
  alerts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS drift_summaries (
  site_id TEXT NOT NULL,
  version_id TEXT NOT NULL,
  summary_json TEXT NOT NULL,
  PRIMARY KEY (site_id, version_id)
);
CREATE TABLE IF NOT EXISTS drift_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  site_id TEXT NOT NULL,
  version_id TEXT NOT NULL,
  drift_type TEXT NOT NULL,
  severity REAL NOT NULL,
  detector TEXT NOT NULL,
  timestamp_s INTEGER NOT NULL,
  received_s INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_alerts_version ON drift_alerts (version_id, id);
-- Federation-wide feature statistics (standardisation = "federation").
CREATE TABLE IF NOT EXISTS feature_statistics (
  round_id INTEGER PRIMARY KEY,
  features INTEGER NOT NULL,
  sites INTEGER NOT NULL,
  sums BLOB NOT NULL,
  created_at TEXT NOT NULL
);
)sql";

// Columns artifact encryption added to `models` before versions were kept;
// a pre-versioning database may have any of them already.
constexpr std::pair<const char*, const char*> kEncryptionModelColumns[] = {
    {"model_type", "TEXT NOT NULL DEFAULT ''"},
    {"artifact", "BLOB NOT NULL DEFAULT x''"},
    {"wrapped_key", "BLOB NOT NULL DEFAULT x''"},
    {"kek_id", "TEXT NOT NULL DEFAULT ''"},
};

Status MigrateToVersion1(SqliteDb& db) {
  if (auto s = db.Exec(kVersion1Tables); !s) return s;
  auto present =
      QueryRows<std::string>(db, "PRAGMA table_info(models)", {},
                             [](const SqlStatement& s) { return s.Text(1); });
  if (!present) return std::unexpected(present.error());
  for (const auto& [name, definition] : kEncryptionModelColumns) {
    if (std::ranges::find(*present, name) != present->end()) continue;
    if (auto s = db.Exec(std::string("ALTER TABLE models ADD COLUMN ") + name +
                         " " + definition);
        !s) {
      return s;
    }
  }
  return {};
}

// Version 2: the agent version each site reported in its latest hello
// (clsctl sites list).
Status MigrateToVersion2(SqliteDb& db) {
  return db.Exec(
      "ALTER TABLE sites ADD COLUMN agent_version TEXT NOT NULL DEFAULT ''");
}

// Version 3: per-class counts of multi-class models' evaluations (JSON
// {"correct": [...], "support": [...], "predicted": [...]}; "" for binary).
Status MigrateToVersion3(SqliteDb& db) {
  auto present =
      QueryRows<std::string>(db, "PRAGMA table_info(model_evaluations)", {},
                             [](const SqlStatement& s) { return s.Text(1); });
  if (!present) return std::unexpected(present.error());
  if (std::ranges::find(*present, "class_counts") != present->end()) return {};
  return db.Exec(
      "ALTER TABLE model_evaluations ADD COLUMN class_counts TEXT NOT NULL "
      "DEFAULT ''");
}

// migrations[i] takes a database from version i to i + 1. A new schema
// change is a new function appended here (never an edit of an old one) and
// kSchemaVersion + 1, with a test that opens a database of the previous
// version.
using Migration = Status (*)(SqliteDb&);
constexpr Migration kMigrations[] = {MigrateToVersion1, MigrateToVersion2,
                                     MigrateToVersion3};
static_assert(std::size(kMigrations) == kSchemaVersion);

}  // namespace

Result<int> SchemaVersion(SqliteDb& db) {
  auto rows =
      QueryRows<int64_t>(db, "PRAGMA user_version", {},
                         [](const SqlStatement& s) { return s.Int(0); });
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return Internal("PRAGMA user_version returned no row");
  return static_cast<int>(rows->front());
}

Status Migrate(SqliteDb& db) {
  auto version = SchemaVersion(db);
  if (!version) return std::unexpected(version.error());
  if (*version > kSchemaVersion || *version < 0) {
    return FailedPrecondition(
        "coordinator database has schema version " + std::to_string(*version) +
        "; this coordinator knows versions up to " +
        std::to_string(kSchemaVersion) +
        " (a newer coordinator wrote it: run that version, or restore a "
        "backup taken before the upgrade)");
  }
  for (int from = *version; from < kSchemaVersion; ++from) {
    Status step = db.Transaction([&]() -> Status {
      if (auto s = kMigrations[from](db); !s) return s;
      // PRAGMA takes no bound parameters; `from + 1` is our own integer.
      return db.Exec("PRAGMA user_version = " + std::to_string(from + 1));
    });
    if (!step) {
      return MakeError(step.error().code,
                       "migrating the coordinator database from schema "
                       "version " +
                           std::to_string(from) + " to " +
                           std::to_string(from + 1) + ": " +
                           step.error().message);
    }
  }
  return {};
}

}  // namespace cls::coordinator::storage
