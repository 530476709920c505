#ifndef CLS_SITE_AGENT_PREDICTION_SERVICE_H_
#define CLS_SITE_AGENT_PREDICTION_SERVICE_H_

#include <Eigen/Dense>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "core/dataset.h"
#include "core/drift/data_drift.h"
#include "core/drift/drift_monitor.h"
#include "protocol/messages.h"
#include "site-agent/input_drift.h"
#include "site-agent/local_candidate.h"
#include "site-agent/serving_state.h"

namespace cls::site {

// [serve] limits that the service itself enforces.
struct PredictionServiceOptions {
  // How long a prediction (request key, version, probability, label) is kept
  // for joining its outcome. Features are never kept.
  int64_t retention_s = 24 * 3600;
  // At most this many predictions are tracked; the oldest go first.
  size_t max_tracked = 100'000;
  // The site's defaults; a deployment's [drift] settings override the
  // threshold and window and give each version its baseline.
  drift::DriftMonitorConfig drift;
  // Data drift on the served inputs (docs/drift.md "Data drift at the
  // sites"): the training rows' distribution, null = off.
  std::shared_ptr<const drift::DataDriftDetector> input_reference = {};
  InputDriftOptions input_drift = {};
  // [online] serve_candidate: the site-local candidate (docs/serving.md).
  LocalCandidateOptions local_candidate = {};
};

// What /v1/predict returns.
struct Prediction {
  // P(y = 1) of the served version for a binary model; for K > 2 the
  // predicted class's probability.
  double probability = 0;
  // Binary: probability >= 0.5; K > 2: the predicted class index.
  int label = 0;
  // Every class's probability, in class order, and the predicted class's
  // name (core::ClassNames of the schema).
  std::vector<double> probabilities;
  std::string predicted_class;
  std::string version_id;  // the served version
  uint32_t bucket = 0;     // sticky routing bucket (0 without a rollout)
  // Shadow mode: the candidate's score, logged and kept, never returned.
  std::optional<double> shadow_probability;
  // Which model answered: "deployed" (the coordinator's deployment) or
  // "site_local_candidate" (this site's online model, A/B).
  std::string model = "deployed";
};

// The serving logic of a site, without sockets: routes each request with the
// deployment's sticky router, scores it with the served version (and the
// candidate in shadow mode), remembers the prediction for the retention
// window so a delayed outcome can be joined to it, feeds each joined outcome
// to that version's DriftMonitor, counts everything per version for
// /metrics, and summarises the monitors into DriftReports (counts and
// statistics only). Request keys and predictions stay in memory, bounded by
// retention_s and max_tracked; features are used for scoring and dropped.
// Thread-safe (one mutex); meant for the agent's io_context thread.
class PredictionService {
 public:
  // Standardises raw rows the way the site's model expects
  // (LocalModel::Features).
  using Standardiser = std::function<Eigen::MatrixXf(const core::RawTable&)>;

  static Result<std::unique_ptr<PredictionService>> Create(
      PredictionServiceOptions options, core::DatasetSchema schema,
      Standardiser standardise, std::filesystem::path data_dir);

  // Loads deployment.json from data_dir, or falls back to `latest` as the
  // default deployment (nothing to serve without either). A corrupt file is
  // an error; the caller may still serve `latest`.
  Status Restore(const std::optional<GlobalModel>& latest);

  // A new global model: served at once when no deployment was pushed (the
  // default deployment); ignored otherwise (the coordinator decides).
  Status OnGlobalModel(const GlobalModel& model);

  // The coordinator's deployment: checked, persisted atomically, installed.
  // The ack says whether it was accepted and, if not, why (the previous
  // deployment stays).
  protocol::DeploymentAck OnDeploymentUpdate(
      const protocol::DeploymentUpdate& update);

  // `features`: a JSON object keyed by the [data] column names, raw values
  // (numbers; null or absent = missing, imputed). InvalidArgument for an
  // unknown column, a non-number, a non-finite number or an unknown
  // category (naming the column, never the value); InvalidArgument for an
  // empty or over-long request key; Unavailable when nothing is deployed.
  Result<Prediction> Predict(std::string_view request_key,
                             const nlohmann::json& features, int64_t now_s);

  // Joins a delayed label (0 or 1) to the request's prediction. NotFound when
  // no prediction for the key is kept (never made, expired or evicted);
  // FailedPrecondition when its outcome was already recorded.
  Status RecordOutcome(std::string_view request_key, int outcome,
                       int64_t now_s);

  // Prometheus text exposition (version 0.0.4).
  std::string MetricsText() const;

  // Summaries of every version's monitor and the alerts raised since the
  // previous report (then forgotten). First assesses the windows of served
  // inputs that are due (AssessInputs).
  protocol::DriftReport TakeDriftReport(int64_t now_s);
  // Tests each due window of recent inputs against the training rows and
  // passes the report to its version's monitor (ObserveDataDrift): a
  // data_drift alert when the inputs moved, and the "inputs unchanged"
  // that turns a later performance alert into concept_drift. Returns how
  // many windows were assessed. Runs the test without holding the lock.
  int AssessInputs(int64_t now_s);

  // New parameters of the site's online model: the site-local candidate's
  // next generation (a no-op with serve_candidate = "off"). `spec` is the
  // online model's kind (any; empty: binary logistic regression);
  // InvalidArgument unless it fits the schema's features and classes.
  Status SetLocalCandidate(std::vector<float> parameters,
                           const core::ModelSpec& spec = {});
  const LocalCandidate* local_candidate() const { return local_.get(); }

  // Counts a request refused before it reached the service (e.g. a
  // malformed body) under cls_requests_rejected_total{reason}.
  void CountRejected(std::string_view reason);

  size_t tracked() const;
  const core::DatasetSchema& schema() const { return schema_; }
  std::shared_ptr<const ServingState> state() const;

 private:
  struct TrackedPrediction {
    std::string version_id;
    double probability = 0;
    int label = 0;
    struct Shadow {
      std::string version_id;
      double probability = 0;  // as Prediction::probability
      int label = 0;
    };
    std::optional<Shadow> shadow;
    std::optional<LocalScore> local;  // the site-local candidate's score
    int64_t time_s = 0;
    uint64_t sequence = 0;  // matches its entry in order_
    bool outcome_recorded = false;
  };
  struct VersionCounters {
    int64_t predictions = 0;
    int64_t shadow_predictions = 0;
    int64_t outcomes = 0;
    int64_t correct = 0;
    std::map<std::string, int64_t> alerts;  // drift type -> count
  };

  PredictionService(PredictionServiceOptions options,
                    core::DatasetSchema schema, Standardiser standardise,
                    std::filesystem::path data_dir);
  Result<core::RawTable> RowFromJson(const nlohmann::json& features) const;
  Status Install(ServingDeployment deployment);
  void Expire(int64_t now_s);
  void Track(std::string_view key, TrackedPrediction prediction);
  Status Feed(const std::string& version_id, double probability, int label,
              int outcome, int64_t now_s);
  // The version's monitor, created (or re-created when the deployment's
  // threshold or window changed) with the deployment's drift settings.
  Result<drift::DriftMonitor*> MonitorFor(const std::string& version_id);
  void NoteAlert(const std::string& version_id, const drift::DriftAlert& alert,
                 int64_t now_s);

  const PredictionServiceOptions options_;
  const core::DatasetSchema schema_;
  const Standardiser standardise_;
  const std::filesystem::path data_dir_;
  std::unordered_map<std::string, size_t> column_index_;
  // Per schema column: where its entries start in RawTable::vectors.
  std::vector<size_t> vector_offset_;

  mutable std::mutex mu_;
  std::shared_ptr<const ServingState> state_;
  std::unordered_map<std::string, TrackedPrediction> tracked_;
  std::deque<std::pair<uint64_t, std::string>> order_;  // sequence, key
  uint64_t next_sequence_ = 0;
  std::map<std::string, VersionCounters> counters_;
  std::map<std::string, drift::DriftMonitor> monitors_;
  struct AppliedDrift {  // what each monitor was made with
    double threshold = 0;
    int window = 0;
    double baseline = -1;
  };
  std::map<std::string, AppliedDrift> applied_drift_;
  InputDriftTracker inputs_;
  struct InputCounters {
    int64_t assessments = 0;
    int64_t drifted = 0;
    double max_psi = 0;  // of the latest assessment
  };
  std::map<std::string, InputCounters> input_counters_;
  std::unique_ptr<LocalCandidate> local_;  // null when serve_candidate off
  std::vector<protocol::DriftAlertNote> pending_alerts_;
  std::map<std::string, int64_t> rejected_;
  int64_t shadow_disagreements_ = 0;
};

// Maps an error to the HTTP status the prediction server answers with:
// InvalidArgument 400, NotFound 404, FailedPrecondition 409, Unavailable
// 503, anything else 500.
int HttpStatusFor(const Error& error);

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_PREDICTION_SERVICE_H_
