#ifndef CLS_COORDINATOR_CONFIG_H_
#define CLS_COORDINATOR_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/logging.h"
#include "core/model_spec.h"
#include "core/robust/robust_pipeline.h"
#include "core/rollout/rollback_policy.h"
#include "core/rollout/sequential_test.h"
#include "crypto/tls_context.h"
#include "protocol/messages.h"

namespace cls::coordinator {

// The original guide's ModelType.
inline constexpr const char* kModelTypes[] = {
    "diagnosis_predictor", "readmission_risk", "medication_recommender",
    "clinical_nlp", "imaging_classifier"};

// [privacy]: site-level differential privacy of each training round
// (docs/privacy.md, "In the daemons").
struct PrivacyConfig {
  std::string mode = "off";  // "off" | "central" | "distributed"
  // The original guide's privacy_epsilon: the per-round target from which the
  // noise multiplier is calibrated (at `delta`, all sites taking part).
  double privacy_epsilon = 1.0;
  double delta = 1e-5;
  double budget_epsilon = 10.0;  // the period's total budget at `delta`
  double noise_multiplier = 0;   // > 0 overrides the calibration
  bool enabled() const { return mode != "off"; }
};

// [robust]: Byzantine-robust aggregation across random groups of sites, and
// trust (docs/robustness.md, "In the daemons").
struct RobustAggregationConfig {
  bool enabled = false;
  int group_size = 3;  // g: each group has at least g members
  // false: secure aggregation off, an operator's audited choice. Every
  // training round runs one group per site, so the rule sees each site's own
  // update and trust is attributed per site directly; the coordinator then
  // sees individual updates (the feature-statistics round stays secure).
  bool secure_aggregation = true;
  core::robust::PipelineConfig pipeline;
  core::robust::TrustConfig trust;
};

// [versions]: model artifacts at rest (docs/versions.md). Each artifact is
// encrypted under its own data key, wrapped by the key-encryption key (KEK)
// read from `kek_file` (mode 0600; created with a random key on first start
// if absent), unless the CLS_MODEL_KEK environment variable holds one.
struct VersionsConfig {
  std::string kek_file;  // "" = <data_dir>/model.kek
};

// [backup]: online copies of the database (docs/operations.md "Backup and
// restore"). Off until `dir` is set; `dir` must not be inside data_dir, so
// losing the state folder does not lose its backups.
struct BackupConfig {
  std::string dir;         // "" = backups off
  int64_t interval_s = 0;  // 0 = only on demand (POST /v1/backup)
  int keep = 7;            // the newest `keep` backups stay; older ones go
  bool enabled() const { return !dir.empty(); }
};

// [deployment]: when a candidate loses its traffic automatically
// (docs/drift.md "Automatic rollback"): the rollback policy and the
// sequential test's settings, validated at load.
struct DeploymentConfig {
  rollout::RollbackPolicy rollback;    // max_severity, rollback_when_worse
  rollout::SequentialTestConfig test;  // alpha, tau, min_outcomes_per_arm
};

// [drift]: the original guide's ModelDriftDetector settings, sent to every
// site with each deployment for its DriftMonitors (docs/drift.md "Settings
// from the coordinator"), and what the coordinator does with a site's drift
// alert on the version in force (docs/drift.md "Severity responses"): above
// rollback severity it rolls back (a candidate, [deployment]); above
// notify_severity it notifies (the webhook, a metric) and, with
// retrain_on_drift, queues a training round; below it only records.
struct DriftConfig {
  double performance_threshold = 0.05;  // alert on a drop of more than this
  int window_size = 100;                // the last N predictions
  // The accuracy each version is expected to keep: "" (absent) = none, each
  // site's monitor measures against the accuracy it has observed so far;
  // "validation" = the version's validation accuracy (the sites' held-out
  // evaluations summed); "fixed" = a number in [0, 1] given in the file
  // (baseline_value).
  std::string baseline;
  double baseline_value = -1;

  std::string notify_webhook;     // "" = no webhook; http://host:port/path
  double notify_severity = 0.5;   // the guide's "moderate" threshold
  bool retrain_on_drift = false;  // queue one training round on a notify
  int64_t webhook_timeout_ms = 5000;
};

// http://host[:port][/path]; port 80 when absent, path "/" when absent.
struct WebhookUrl {
  std::string host;
  std::string port;
  std::string target;
};
// InvalidArgument for anything else (https, user info, a fragment, a bad
// port); [drift] notify_webhook is checked with it at load.
Result<WebhookUrl> ParseWebhookUrl(const std::string& url);

struct CoordinatorConfig {
  std::string coordinator_id = "coordinator";
  std::string data_dir = "./coordinator-state";
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 7443;
  std::string admin_host = "127.0.0.1";
  uint16_t admin_port = 7444;
  int min_sites = 3;
  // [federation] federated: false = one hospital alone (the guide's
  // enable_federated=False): min_sites may be 1, rounds run without secure
  // aggregation or cross-site DP, and status, rounds and audit say so.
  bool federated = true;
  // Site port connection caps (docs/operations.md): all open connections,
  // and those of one site certificate (CN).
  int max_site_connections = 256;
  int max_connections_per_site = 4;
  // The monitoring port (/metrics, /healthz, /readyz); metrics_listen = ""
  // turns it off.
  bool metrics_enabled = true;
  std::string metrics_host = "127.0.0.1";
  uint16_t metrics_port = 9464;
  std::string log_level = "info";
  LogSettings log;
  crypto::TlsFiles tls;

  std::string model_type = "diagnosis_predictor";
  // "logistic_regression" | "softmax_regression" | "mlp" (or, in test and
  // benchmark builds, "benchmark_vector").
  std::string model_kind = "logistic_regression";
  // The parameter count; computed from model_spec when [model] features is
  // given (required for softmax_regression and mlp).
  int64_t model_parameters = 0;
  // [model] features, classes, hidden_layers, activation; num_features 0 =
  // not given (logistic regression from `parameters` alone, as before).
  core::ModelSpec model_spec;
  // "federation": before the first training round, a secure statistics round
  // sums every site's feature counts, sums and squares, and all sites then
  // standardise with the federation-wide means and variances. "site": each
  // site standardises with its own (logistic_regression only).
  std::string standardisation = "federation";

  std::chrono::milliseconds stage_timeout{30000};
  double clip = 1.0;
  int value_bits = 16;
  double server_learning_rate = 1.0;
  // "fedavg" | "fedavgm" | "fedadam" (core/server_optimizer.h). The
  // optimizer's momentum state lives in memory: a restart starts it afresh.
  std::string server_optimizer = "fedavg";
  size_t complete_graph_up_to = 32;
  std::chrono::milliseconds pause_between_rounds{500};

  protocol::TrainingConfig training;
  PrivacyConfig privacy;
  RobustAggregationConfig robust;
  VersionsConfig versions;
  BackupConfig backup;
  DeploymentConfig deployment;
  DriftConfig drift;

  // Audit log and operator access (docs/audit.md, docs/hipaa.md).
  int audit_retention_years = 7;     // [audit] retention_years, at least 6
  int audit_checkpoint_every = 100;  // [audit] checkpoint_every (entries)
  int break_glass_max_hours = 4;     // [admin] break_glass_max_hours
  std::chrono::seconds admin_idle_timeout{300};  // [admin] idle_timeout_s
  std::chrono::seconds admin_session_max{900};   // [admin] session_max_s
};

// Reads a TOML file. Unknown keys, wrong types and impossible values are
// errors that name the key; relative paths resolve against the file's folder.
Result<CoordinatorConfig> LoadCoordinatorConfig(const std::string& path);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_CONFIG_H_
