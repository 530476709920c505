#include "site-agent/prediction_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <sstream>

#include "core/drift/drift_alert.h"
#include "core/drift/drift_summary.h"
#include "core/text_features.h"

namespace cls::site {
namespace {

constexpr size_t kMaxRequestKeyBytes = 256;

// Prometheus label values: backslash, quote and newline escaped.
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Number(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

// A text feature (a JSON string) hashed into its buckets, or an embedding
// (a JSON array of numbers) copied; errors name the feature, never a value.
Status VectorFromJson(const std::string& name, const core::ColumnSpec& spec,
                      const nlohmann::json& value, std::span<float> out) {
  const std::string where = "feature '" + name + "': ";
  if (spec.kind == core::ColumnSpec::Kind::kText) {
    if (!value.is_string()) return InvalidArgument(where + "not a string");
    auto hashed = core::HashTextTerms(value.get_ref<const std::string&>(), out);
    if (!hashed) return InvalidArgument(where + hashed.error().message);
    return {};
  }
  if (!value.is_array()) {
    return InvalidArgument(where + "not an array of numbers");
  }
  if (value.size() != out.size()) {
    return InvalidArgument(where + "embedding has " +
                           std::to_string(value.size()) + " values, expected " +
                           std::to_string(out.size()));
  }
  for (size_t d = 0; d < out.size(); ++d) {
    const nlohmann::json& e = value[d];
    const double v = e.is_number() ? e.get<double>() : std::nan("");
    if (!std::isfinite(v)) {
      return InvalidArgument(where + "embedding value " +
                             std::to_string(d + 1) + " is not a finite number");
    }
    out[d] = static_cast<float>(v);
  }
  return {};
}

}  // namespace

int HttpStatusFor(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

PredictionService::PredictionService(PredictionServiceOptions options,
                                     core::DatasetSchema schema,
                                     Standardiser standardise,
                                     std::filesystem::path data_dir)
    : options_(std::move(options)),
      schema_(std::move(schema)),
      standardise_(std::move(standardise)),
      data_dir_(std::move(data_dir)),
      inputs_(options_.input_reference ? options_.input_drift
                                       : InputDriftOptions{.window = 0}) {
  size_t at = 0;
  for (size_t i = 0; i < schema_.features.size(); ++i) {
    column_index_.emplace(schema_.features[i].name, i);
    vector_offset_.push_back(at);
    at += static_cast<size_t>(schema_.features[i].VectorWidth());
  }
}

Result<std::unique_ptr<PredictionService>> PredictionService::Create(
    PredictionServiceOptions options, core::DatasetSchema schema,
    Standardiser standardise, std::filesystem::path data_dir) {
  if (options.retention_s <= 0) {
    return InvalidArgument("serve: retention must be positive");
  }
  if (options.max_tracked == 0) {
    return InvalidArgument("serve: max_tracked must be positive");
  }
  if (schema.features.empty()) {
    return InvalidArgument("serve: the schema has no feature columns");
  }
  if (!standardise) return InvalidArgument("serve: no standardiser");
  if (auto m = drift::DriftMonitor::Create(options.drift); !m) {
    return std::unexpected(m.error());
  }
  if (options.input_reference && (options.input_drift.interval_s <= 0 ||
                                  options.input_drift.window > 1'000'000)) {
    return InvalidArgument(
        "serve: input drift needs a positive interval and a window of at "
        "most 1,000,000 rows");
  }
  std::unique_ptr<LocalCandidate> local;
  if (options.local_candidate.mode != LocalCandidateMode::kOff) {
    auto created = LocalCandidate::Create(options.local_candidate);
    if (!created) return std::unexpected(created.error());
    local = std::move(*created);
  }
  std::unique_ptr<PredictionService> service(
      new PredictionService(std::move(options), std::move(schema),
                            std::move(standardise), std::move(data_dir)));
  service->local_ = std::move(local);
  return service;
}

Status PredictionService::Install(ServingDeployment deployment) {
  auto state =
      ServingState::Create(std::move(deployment), schema_.FeatureCount(),
                           schema_.label.NumClasses());
  if (!state) return std::unexpected(state.error());
  auto shared = std::make_shared<const ServingState>(std::move(*state));
  std::lock_guard lock(mu_);
  state_ = std::move(shared);
  return {};
}

Status PredictionService::Restore(const std::optional<GlobalModel>& latest) {
  auto stored = LoadDeployment(data_dir_ / kDeploymentFile);
  if (!stored) return std::unexpected(stored.error());
  if (*stored) return Install(std::move(**stored));
  if (latest) return Install(DefaultDeployment(*latest));
  return {};
}

Status PredictionService::OnGlobalModel(const GlobalModel& model) {
  {
    std::lock_guard lock(mu_);
    if (state_ && !state_->deployment().deployment_id.empty()) return {};
  }
  return Install(DefaultDeployment(model));
}

protocol::DeploymentAck PredictionService::OnDeploymentUpdate(
    const protocol::DeploymentUpdate& update) {
  protocol::DeploymentAck ack;
  ack.deployment_id = update.deployment_id;
  auto refuse = [&](const Error& error) {
    ack.accepted = false;
    ack.reason = error.message;
    spdlog::warn("serve: deployment {} refused: {}", update.deployment_id,
                 error.message);
    return ack;
  };
  if (update.deployment_id.empty()) {
    return refuse(
        Error{ErrorCode::kInvalidArgument, "a pushed deployment needs an id"});
  }
  auto deployment = DeploymentFromUpdate(update);
  if (!deployment) return refuse(deployment.error());
  // Built before saving, so a deployment that does not fit this site's
  // schema is refused without replacing the stored one.
  auto state = ServingState::Create(*deployment, schema_.FeatureCount(),
                                    schema_.label.NumClasses());
  if (!state) return refuse(state.error());
  if (auto s = SaveDeployment(data_dir_ / kDeploymentFile, *deployment); !s) {
    return refuse(s.error());
  }
  {
    std::lock_guard lock(mu_);
    state_ = std::make_shared<const ServingState>(std::move(*state));
  }
  ack.accepted = true;
  ack.current_version = deployment->current.version_id;
  if (deployment->candidate) {
    ack.candidate_version = deployment->candidate->version_id;
  }
  spdlog::info("serve: deployment {} installed: {} {}{}", update.deployment_id,
               update.strategy, ack.current_version,
               ack.candidate_version.empty()
                   ? std::string()
                   : " -> " + ack.candidate_version + " at " +
                         Number(update.rollout_percent) + "%");
  return ack;
}

Result<core::RawTable> PredictionService::RowFromJson(
    const nlohmann::json& features) const {
  if (!features.is_object()) {
    return InvalidArgument("features must be a JSON object keyed by column");
  }
  std::vector<double> row(schema_.features.size(),
                          std::numeric_limits<double>::quiet_NaN());
  // Text and embedding entries; an absent text stays all zero (no words),
  // an absent embedding NaN (imputed with the mean).
  std::vector<float> vectors(static_cast<size_t>(schema_.VectorWidth()), 0.0f);
  for (size_t c = 0, at = 0; c < schema_.features.size(); ++c) {
    const core::ColumnSpec& spec = schema_.features[c];
    if (spec.kind == core::ColumnSpec::Kind::kEmbedding) {
      std::fill_n(vectors.begin() + static_cast<std::ptrdiff_t>(at),
                  spec.dimension, std::numeric_limits<float>::quiet_NaN());
    }
    at += static_cast<size_t>(spec.VectorWidth());
  }
  for (const auto& [name, value] : features.items()) {
    auto it = column_index_.find(name);
    if (it == column_index_.end()) {
      // The name is the client's, but a column name, not a patient value.
      std::string shown = name.substr(0, 64);
      return InvalidArgument("unknown feature '" + shown + "'");
    }
    const core::ColumnSpec& spec = schema_.features[it->second];
    if (value.is_null()) continue;
    if (spec.VectorWidth() > 0) {
      const std::span<float> out(vectors.data() + vector_offset_[it->second],
                                 static_cast<size_t>(spec.VectorWidth()));
      CLS_RETURN_IF_ERROR(VectorFromJson(name, spec, value, out));
      continue;
    }
    if (!value.is_number()) {
      return InvalidArgument("feature '" + name + "': not a number");
    }
    const double v = value.get<double>();
    if (!std::isfinite(v)) {
      return InvalidArgument("feature '" + name + "': not finite");
    }
    if (spec.zero_is_missing && v == 0) continue;
    if (spec.kind == core::ColumnSpec::Kind::kCategorical &&
        std::find(spec.categories.begin(), spec.categories.end(), v) ==
            spec.categories.end()) {
      return InvalidArgument("feature '" + name + "': not a known category");
    }
    row[it->second] = v;
  }
  core::RawTable table;
  table.rows.push_back(std::move(row));
  table.labels.push_back(0);
  if (!vectors.empty()) table.vectors.push_back(std::move(vectors));
  return table;
}

void PredictionService::Expire(int64_t now_s) {
  const int64_t oldest = now_s - options_.retention_s;
  while (!order_.empty()) {
    const auto& [sequence, key] = order_.front();
    auto it = tracked_.find(key);
    if (it != tracked_.end() && it->second.sequence == sequence) {
      if (it->second.time_s > oldest &&
          tracked_.size() <= options_.max_tracked) {
        break;
      }
      tracked_.erase(it);
    }
    order_.pop_front();
  }
}

void PredictionService::Track(std::string_view key,
                              TrackedPrediction prediction) {
  prediction.sequence = next_sequence_++;
  order_.emplace_back(prediction.sequence, std::string(key));
  tracked_.insert_or_assign(std::string(key), std::move(prediction));
  // A re-predicted key leaves a stale entry in order_; dropping stale
  // entries from the front keeps order_ within a small factor of tracked_.
  if (order_.size() > 2 * options_.max_tracked) {
    std::deque<std::pair<uint64_t, std::string>> live;
    for (auto& entry : order_) {
      auto it = tracked_.find(entry.second);
      if (it != tracked_.end() && it->second.sequence == entry.first) {
        live.push_back(std::move(entry));
      }
    }
    order_ = std::move(live);
  }
}

namespace {
// Fills probability, label, probabilities and predicted_class from one row
// of class probabilities.
void SetProbabilities(const Eigen::RowVectorXf& p,
                      const std::vector<std::string>& names, Prediction& out) {
  out.probabilities.assign(p.data(), p.data() + p.size());
  if (p.size() == 2) {
    out.probability = p(1);
    out.label = out.probability >= 0.5 ? 1 : 0;
  } else {
    Eigen::Index best = 0;
    out.probability = p.maxCoeff(&best);
    out.label = static_cast<int>(best);
  }
  if (static_cast<size_t>(out.label) < names.size()) {
    out.predicted_class = names[static_cast<size_t>(out.label)];
  }
}
}  // namespace

Result<Prediction> PredictionService::Predict(std::string_view request_key,
                                              const nlohmann::json& features,
                                              int64_t now_s) {
  if (request_key.empty() || request_key.size() > kMaxRequestKeyBytes) {
    return InvalidArgument("request_key must be 1 to 256 bytes");
  }
  auto row = RowFromJson(features);
  if (!row) return std::unexpected(row.error());
  std::shared_ptr<const ServingState> state = this->state();
  if (!state) {
    return Unavailable("no model deployed yet (waiting for the first round)");
  }
  const Eigen::MatrixXf x = standardise_(*row);
  if (x.rows() != 1 || x.cols() != state->num_features()) {
    return Internal("standardised row has the wrong width");
  }

  const rollout::RouteDecision route = state->Route(request_key);
  Prediction out;
  out.bucket = route.bucket;
  out.version_id = state->VersionFor(route.serve);
  const Eigen::RowVectorXf p = state->Probabilities(route.serve, x);
  const std::vector<std::string> names = core::ClassNames(schema_.label);
  SetProbabilities(p, names, out);
  // The site-local candidate (the model learned online, of any kind)
  // scores every request; in A/B it answers its share of the keys.
  std::optional<LocalScore> local;
  if (local_) local = local_->Score(request_key, x);
  if (local && local->served) {
    out.version_id = std::string(kLocalCandidateVersion);
    const Eigen::Map<const Eigen::RowVectorXf> lp(
        local->probabilities.data(),
        static_cast<Eigen::Index>(local->probabilities.size()));
    SetProbabilities(lp, names, out);
    out.model = "site_local_candidate";
  }
  TrackedPrediction tracked{.version_id = out.version_id,
                            .probability = out.probability,
                            .label = out.label,
                            .shadow = std::nullopt,
                            .local = local,
                            .time_s = now_s};
  if (route.shadow_candidate && state->has_candidate()) {
    const std::string& candidate = state->VersionFor(rollout::Arm::kCandidate);
    Prediction shadow;
    SetProbabilities(state->Probabilities(rollout::Arm::kCandidate, x), names,
                     shadow);
    out.shadow_probability = shadow.probability;
    tracked.shadow =
        TrackedPrediction::Shadow{candidate, shadow.probability, shadow.label};
    // Both predictions are logged; no key, no features.
    spdlog::debug("serve: shadow bucket {}: {} p={:.4f}, {} p={:.4f}",
                  route.bucket, out.version_id, out.probability, candidate,
                  shadow.probability);
  }

  std::lock_guard lock(mu_);
  Expire(now_s);
  // Kept in memory for the input drift test only (never logged).
  inputs_.Record(state->VersionFor(route.serve), row->rows[0], now_s);
  if (tracked.shadow)
    inputs_.Record(tracked.shadow->version_id, row->rows[0], now_s);
  ++counters_[out.version_id].predictions;
  if (tracked.shadow) {
    ++counters_[tracked.shadow->version_id].shadow_predictions;
    if (tracked.shadow->label != out.label) {
      ++shadow_disagreements_;
    }
  }
  Track(request_key, std::move(tracked));
  Expire(now_s);
  return out;
}

Status PredictionService::Feed(const std::string& version_id,
                               double probability, int label, int outcome,
                               int64_t now_s) {
  auto monitor = MonitorFor(version_id);
  if (!monitor) return std::unexpected(monitor.error());
  VersionCounters& counters = counters_[version_id];
  ++counters.outcomes;
  const bool correct = label == outcome;
  if (correct) ++counters.correct;
  // The confidence of the label predicted, as the calibration bins expect
  // (a multi-class probability is already the predicted class's).
  const double confidence = schema_.label.NumClasses() > 2 || label == 1
                                ? probability
                                : 1.0 - probability;
  auto alert = (*monitor)->RecordPrediction(std::clamp(confidence, 0.0, 1.0),
                                            correct, now_s);
  if (!alert) return std::unexpected(alert.error());
  if (*alert) NoteAlert(version_id, **alert, now_s);
  return {};
}

Status PredictionService::RecordOutcome(std::string_view request_key,
                                        int outcome, int64_t now_s) {
  if (request_key.empty() || request_key.size() > kMaxRequestKeyBytes) {
    return InvalidArgument("request_key must be 1 to 256 bytes");
  }
  if (outcome < 0 || outcome >= schema_.label.NumClasses()) {
    return InvalidArgument(
        schema_.label.NumClasses() == 2
            ? "outcome must be 0 or 1"
            : "outcome must be a class index 0.." +
                  std::to_string(schema_.label.NumClasses() - 1));
  }
  std::lock_guard lock(mu_);
  Expire(now_s);
  auto it = tracked_.find(std::string(request_key));
  if (it == tracked_.end()) {
    return NotFound(
        "no prediction for this request_key within the retention window");
  }
  TrackedPrediction& p = it->second;
  if (p.outcome_recorded) {
    return FailedPrecondition("outcome already recorded for this request_key");
  }
  p.outcome_recorded = true;
  if (auto s = Feed(p.version_id, p.probability, p.label, outcome, now_s); !s) {
    return s;
  }
  if (p.local && local_)
    local_->RecordOutcome(*p.local, p.label, outcome, now_s);
  if (p.shadow) {
    return Feed(p.shadow->version_id, p.shadow->probability, p.shadow->label,
                outcome, now_s);
  }
  return {};
}

Status PredictionService::SetLocalCandidate(std::vector<float> parameters,
                                            const core::ModelSpec& spec) {
  if (!local_) return {};
  if (spec.num_features == 0) {
    return local_->Set(std::move(parameters), schema_.FeatureCount());
  }
  if (spec.num_features != schema_.FeatureCount() ||
      spec.num_classes != schema_.label.NumClasses()) {
    return InvalidArgument("local candidate: " + spec.ToString() +
                           " does not fit the served schema");
  }
  return local_->Set(std::move(parameters), spec);
}

void PredictionService::CountRejected(std::string_view reason) {
  std::lock_guard lock(mu_);
  ++rejected_[std::string(reason)];
}

size_t PredictionService::tracked() const {
  std::lock_guard lock(mu_);
  return tracked_.size();
}

std::shared_ptr<const ServingState> PredictionService::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::string PredictionService::MetricsText() const {
  std::lock_guard lock(mu_);
  std::string out;
  auto family = [&](std::string_view name, std::string_view type,
                    std::string_view help) {
    out += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
    out += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
  };
  family("cls_predictions_total", "counter",
         "Predictions returned, by served version.");
  for (const auto& [v, c] : counters_) {
    out += "cls_predictions_total{version=\"" + LabelValue(v) + "\"} " +
           std::to_string(c.predictions) + "\n";
  }
  family("cls_shadow_predictions_total", "counter",
         "Shadow-mode predictions scored and not returned, by version.");
  for (const auto& [v, c] : counters_) {
    out += "cls_shadow_predictions_total{version=\"" + LabelValue(v) + "\"} " +
           std::to_string(c.shadow_predictions) + "\n";
  }
  family("cls_shadow_disagreements_total", "counter",
         "Shadow-mode requests where the two versions' labels differ.");
  out += "cls_shadow_disagreements_total " +
         std::to_string(shadow_disagreements_) + "\n";
  family("cls_outcomes_total", "counter",
         "Outcomes joined to a prediction, by version.");
  for (const auto& [v, c] : counters_) {
    out += "cls_outcomes_total{version=\"" + LabelValue(v) + "\"} " +
           std::to_string(c.outcomes) + "\n";
  }
  family("cls_accuracy", "gauge",
         "Accuracy of the version's predictions with an outcome.");
  for (const auto& [v, c] : counters_) {
    if (c.outcomes == 0) continue;
    out += "cls_accuracy{version=\"" + LabelValue(v) + "\"} " +
           Number(static_cast<double>(c.correct) /
                  static_cast<double>(c.outcomes)) +
           "\n";
  }
  family("cls_drift_alerts_total", "counter",
         "Drift alerts raised by the site's monitors, by version and type.");
  for (const auto& [v, c] : counters_) {
    for (const auto& [type, n] : c.alerts) {
      out += "cls_drift_alerts_total{version=\"" + LabelValue(v) +
             "\",type=\"" + LabelValue(type) + "\"} " + std::to_string(n) +
             "\n";
    }
  }
  family("cls_input_drift_assessments_total", "counter",
         "Windows of served inputs tested against the training rows.");
  for (const auto& [v, c] : input_counters_) {
    out += "cls_input_drift_assessments_total{version=\"" + LabelValue(v) +
           "\"} " + std::to_string(c.assessments) + "\n";
  }
  family("cls_input_drift_detected_total", "counter",
         "Assessed windows whose inputs had drifted.");
  for (const auto& [v, c] : input_counters_) {
    out += "cls_input_drift_detected_total{version=\"" + LabelValue(v) +
           "\"} " + std::to_string(c.drifted) + "\n";
  }
  family("cls_input_drift_max_psi", "gauge",
         "Largest feature PSI of the latest assessed window.");
  for (const auto& [v, c] : input_counters_) {
    out += "cls_input_drift_max_psi{version=\"" + LabelValue(v) + "\"} " +
           Number(c.max_psi) + "\n";
  }
  if (local_) {
    family("cls_local_candidate_active", "gauge",
           "1 while the site-local candidate is scored or served.");
    out += "cls_local_candidate_active " +
           std::to_string(local_->active() ? 1 : 0) + "\n";
    family("cls_local_candidate_withdrawals_total", "counter",
           "Site-local candidates withdrawn automatically.");
    out += "cls_local_candidate_withdrawals_total " +
           std::to_string(local_->withdrawals()) + "\n";
  }
  family("cls_requests_rejected_total", "counter",
         "Requests refused, by reason.");
  for (const auto& [reason, n] : rejected_) {
    out += "cls_requests_rejected_total{reason=\"" + LabelValue(reason) +
           "\"} " + std::to_string(n) + "\n";
  }
  family("cls_tracked_predictions", "gauge",
         "Predictions kept for joining outcomes.");
  out += "cls_tracked_predictions " + std::to_string(tracked_.size()) + "\n";
  return out;
}

protocol::DriftReport PredictionService::TakeDriftReport(int64_t now_s) {
  AssessInputs(now_s);
  std::lock_guard lock(mu_);
  protocol::DriftReport report;
  report.reported_at_s = now_s;
  // The deployed versions only (at most two, well under the protocol's 16):
  // what the coordinator compares and decides on.
  if (state_) {
    std::vector<std::string> versions = {
        state_->deployment().current.version_id};
    if (state_->deployment().candidate) {
      versions.push_back(state_->deployment().candidate->version_id);
    }
    inputs_.Retain(versions);
    for (const auto& version : versions) {
      auto it = monitors_.find(version);
      if (it == monitors_.end()) continue;
      report.summaries.push_back(
          drift::SerializeDriftSummary(it->second.Summary(version)));
    }
  }
  report.alerts = std::move(pending_alerts_);
  pending_alerts_.clear();
  return report;
}

}  // namespace cls::site
