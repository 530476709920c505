#include "core/online_learning.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <utility>

#include "core/trend_test.h"

namespace cls::core {
namespace {

std::string IsoTimestampNow() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      now.time_since_epoch())
                      .count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char seconds[32];
  std::strftime(seconds, sizeof seconds, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(seconds) + millis;
}

std::string UpdateId(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "upd_%06zu", n);
  return buf;
}

Status ValidateConfig(const OnlineLearningConfig& c) {
  if (!(c.learning_rate > 0) || !std::isfinite(c.learning_rate)) {
    return InvalidArgument("online learning: learning_rate must be > 0");
  }
  if (c.batch_size < 1) {
    return InvalidArgument("online learning: batch_size must be >= 1");
  }
  if (!(c.retention_rate >= 0 && c.retention_rate < 1)) {
    return InvalidArgument("online learning: retention_rate must be in [0, 1)");
  }
  if (!(c.elastic_strength >= 0) || !std::isfinite(c.elastic_strength)) {
    return InvalidArgument("online learning: elastic_strength must be >= 0");
  }
  if (c.epochs_per_update < 1) {
    return InvalidArgument("online learning: epochs_per_update must be >= 1");
  }
  if (!(c.l2 >= 0) || !std::isfinite(c.l2)) {
    return InvalidArgument("online learning: l2 must be >= 0");
  }
  if (c.holdout_size < 0 || c.reservoir_capacity < 0 ||
      c.rehearsal_samples < 0) {
    return InvalidArgument(
        "online learning: holdout_size, reservoir_capacity and "
        "rehearsal_samples must be >= 0");
  }
  if (c.trend_window < kTrendMinPoints) {
    return InvalidArgument("online learning: trend_window must be >= 4");
  }
  return {};
}

}  // namespace

OnlineLearningSystem::OnlineLearningSystem(const Model& model,
                                           const OnlineLearningConfig& cfg)
    : cfg_(cfg),
      model_(model),
      anchor_(cfg.retention_rate, cfg.elastic_strength),
      reservoir_(cfg.reservoir_capacity, model.num_features(),
                 cfg.seed ^ 0x9e3779b97f4a7c15ULL),
      rng_(cfg.seed) {}

Result<OnlineLearningSystem> OnlineLearningSystem::Create(
    int num_features, const OnlineLearningConfig& cfg) {
  if (num_features < 1) {
    return InvalidArgument("online learning: " + std::to_string(num_features) +
                           " features, expected at least 1");
  }
  return Create(LogisticRegression(num_features), cfg);
}

Result<OnlineLearningSystem> OnlineLearningSystem::Create(
    const LogisticRegression& model, const OnlineLearningConfig& cfg) {
  ModelSpec spec;
  spec.kind = ModelKind::kLogisticRegression;
  spec.num_features = model.num_features();
  spec.num_classes = 2;
  if (model.num_features() < 1) {
    return InvalidArgument("online learning: model has no features");
  }
  auto m = Model::FromParameters(spec, model.parameters());
  if (!m) return std::unexpected(m.error());
  return Create(*m, cfg);
}

Result<OnlineLearningSystem> OnlineLearningSystem::Create(
    const Model& model, const OnlineLearningConfig& cfg) {
  if (auto s = ValidateConfig(cfg); !s) return std::unexpected(s.error());
  if (model.num_features() < 1) {
    return InvalidArgument("online learning: model has no features");
  }
  return OnlineLearningSystem(model, cfg);
}

Status OnlineLearningSystem::ValidateBatch(const Eigen::MatrixXf& x,
                                           const Eigen::VectorXf& y) const {
  if (x.rows() != y.size()) {
    return InvalidArgument("online update: " + std::to_string(x.rows()) +
                           " rows, " + std::to_string(y.size()) + " labels");
  }
  if (x.cols() != model_.num_features()) {
    return InvalidArgument("online update: " + std::to_string(x.cols()) +
                           " features, expected " +
                           std::to_string(model_.num_features()));
  }
  if (x.rows() == 0) return InvalidArgument("online update: empty batch");
  const Eigen::Index bad_values = (!x.array().isFinite()).count();
  if (bad_values > 0) {
    return InvalidArgument("online update: " + std::to_string(bad_values) +
                           " non-finite feature values");
  }
  const int k = model_.num_classes();
  if (k == 2) {
    const Eigen::Index bad_labels =
        (y.array() != 0.0f && y.array() != 1.0f).count();
    if (bad_labels > 0) {
      return InvalidArgument("online update: " + std::to_string(bad_labels) +
                             " of " + std::to_string(y.size()) +
                             " labels are not 0 or 1");
    }
    return {};
  }
  // Class indices: whole numbers in [0, K) (NaN fails every comparison).
  const Eigen::Index bad_labels =
      (!(y.array() >= 0.0f && y.array() < static_cast<float>(k) &&
         y.array() == y.array().floor()))
          .count();
  if (bad_labels > 0) {
    return InvalidArgument("online update: " + std::to_string(bad_labels) +
                           " of " + std::to_string(y.size()) +
                           " labels are not class indices in [0, " +
                           std::to_string(k) + ")");
  }
  return {};
}

double OnlineLearningSystem::TrainEpochs(const Eigen::MatrixXf& x,
                                         const Eigen::VectorXf& y) {
  TrainConfig train;
  train.epochs = cfg_.epochs_per_update;
  train.batch_size = cfg_.batch_size;
  train.learning_rate = cfg_.learning_rate;
  train.l2 = cfg_.l2;
  train.seed = rng_();  // a fresh shuffle each update, reproducible overall
  train.dp = cfg_.dp;
  // Elastic penalty 0.5 lambda sum F (w - a)^2 after every mini-batch, taken
  // implicitly (see ElasticAnchor::ApplyProximalStep), for every kind.
  const Result<double> loss =
      model_.Train(x, ClassIndices(y), train, [this](std::span<float> params) {
        anchor_.ApplyProximalStep(cfg_.learning_rate, params);
      });
  if (!loss) return std::numeric_limits<double>::quiet_NaN();
  const auto after = model_.parameters();
  // Diverged: NaN, and the caller restores the model it had.
  const bool finite = std::all_of(after.begin(), after.end(),
                                  [](float v) { return std::isfinite(v); });
  return finite ? *loss : std::numeric_limits<double>::quiet_NaN();
}

Result<TrainingUpdate> OnlineLearningSystem::IncrementalUpdate(
    const Eigen::MatrixXf& x, const Eigen::VectorXf& y) {
  if (auto s = ValidateBatch(x, y); !s) return std::unexpected(s.error());
  TrainingUpdate u;
  u.update_id = UpdateId(history_.size() + 1);
  u.new_samples = x.rows();

  // 1. Prequential scoring: the model has not seen this batch yet.
  Score(x, y, u.validation_accuracy, &u);

  // 2. Training set: the batch plus rehearsal examples from the past.
  Eigen::MatrixXf rx;
  Eigen::VectorXf ry;
  reservoir_.Sample(cfg_.rehearsal_samples, rng_, rx, ry);
  u.rehearsal_samples = rx.rows();
  const std::vector<float> before(model_.parameters().begin(),
                                  model_.parameters().end());
  if (rx.rows() == 0) {
    u.training_loss = TrainEpochs(x, y);  // no copy without rehearsal
  } else {
    Eigen::MatrixXf tx(x.rows() + rx.rows(), x.cols());
    Eigen::VectorXf ty(x.rows() + rx.rows());
    tx << x, rx;
    ty << y, ry;
    u.training_loss = TrainEpochs(tx, ty);
  }
  if (!std::isfinite(u.training_loss)) {
    (void)model_.SetParameters(before);
    return Internal(
        "online update: training diverged (lower learning_rate); model "
        "unchanged");
  }

  // 3. The updated model on the holdout of earlier examples.
  u.holdout_count = static_cast<int64_t>(holdout_.size());
  if (!holdout_.empty()) {
    Eigen::MatrixXf hx(static_cast<Eigen::Index>(holdout_.size()), x.cols());
    Eigen::VectorXf hy(static_cast<Eigen::Index>(holdout_.size()));
    for (size_t i = 0; i < holdout_.size(); ++i) {
      hx.row(static_cast<Eigen::Index>(i)) = holdout_[i].first.transpose();
      hy(static_cast<Eigen::Index>(i)) = holdout_[i].second;
    }
    Score(hx, hy, u.holdout_accuracy, nullptr);
  }
  if (cfg_.holdout_size > 0) {
    const Eigen::Index first =
        std::max<Eigen::Index>(0, x.rows() - cfg_.holdout_size);
    for (Eigen::Index i = first; i < x.rows(); ++i) {
      holdout_.emplace_back(x.row(i).transpose(), y(i));
      if (static_cast<int>(holdout_.size()) > cfg_.holdout_size) {
        holdout_.pop_front();
      }
    }
  }
  reservoir_.AddRows(x, y);
  total_samples_ += x.rows();
  u.timestamp = IsoTimestampNow();
  history_.push_back(u);
  return u;
}

void OnlineLearningSystem::Score(const Eigen::MatrixXf& x,
                                 const Eigen::VectorXf& y, double& accuracy,
                                 TrainingUpdate* labels) const {
  const Eigen::MatrixXf p = model_.PredictProbability(x);
  if (model_.num_classes() == 2) {
    // Exactly the binary figures of before (threshold 0.5 on P(class 1)).
    const BinaryMetrics m = EvaluateBinary(p.col(1), y);
    accuracy = m.accuracy;
    if (labels) {
      labels->precision = m.precision;
      labels->recall = m.recall;
      labels->f1 = m.f1;
    }
    return;
  }
  const ClassReport r = ReportClasses(CountClasses(p, ClassIndices(y)));
  accuracy = r.accuracy;
  if (labels) {
    labels->precision = r.macro_precision;
    labels->recall = r.macro_recall;
    labels->f1 = r.macro_f1;
  }
}

Status OnlineLearningSystem::Deploy(std::span<const float> params,
                                    std::span<const float> fisher) {
  const std::vector<float> before(model_.parameters().begin(),
                                  model_.parameters().end());
  if (auto s = model_.SetParameters(params); !s) return s;
  if (auto s = anchor_.Anchor(params, fisher); !s) {
    (void)model_.SetParameters(before);
    return s;
  }
  return {};
}

Status OnlineLearningSystem::Deploy(const Model& model,
                                    std::span<const float> fisher) {
  if (model.spec().ToString() == model_.spec().ToString()) {
    return Deploy(model.parameters(), fisher);
  }
  if (model.num_features() != model_.num_features() ||
      model.num_classes() != model_.num_classes()) {
    return InvalidArgument(
        "online learning: the deployed model has " +
        std::to_string(model.num_features()) + " features and " +
        std::to_string(model.num_classes()) + " classes, the online model " +
        std::to_string(model_.num_features()) + " and " +
        std::to_string(model_.num_classes()));
  }
  ElasticAnchor anchor(cfg_.retention_rate, cfg_.elastic_strength);
  if (auto s = anchor.Anchor(model.parameters(), fisher); !s) return s;
  model_ = model;
  anchor_ = std::move(anchor);
  return {};
}

Status OnlineLearningSystem::AnchorToCurrent(const Eigen::MatrixXf& x,
                                             const Eigen::VectorXf& y) {
  if (auto s = ValidateBatch(x, y); !s) return s;
  auto fisher = model_.DiagonalFisher(x, ClassIndices(y));
  if (!fisher) return std::unexpected(fisher.error());
  return anchor_.Anchor(model_.parameters(), *fisher);
}

UpdateStatistics OnlineLearningSystem::GetUpdateStatistics() const {
  UpdateStatistics s;
  s.total_updates = static_cast<int64_t>(history_.size());
  s.total_samples_processed = total_samples_;
  if (history_.empty()) return s;
  double loss = 0;
  for (const auto& u : history_) loss += u.training_loss;
  s.average_loss = loss / static_cast<double>(history_.size());
  s.latest_accuracy = history_.back().validation_accuracy;
  const size_t window =
      std::min(history_.size(), static_cast<size_t>(cfg_.trend_window));
  std::vector<double> acc;
  acc.reserve(window);
  for (size_t i = history_.size() - window; i < history_.size(); ++i) {
    acc.push_back(history_[i].validation_accuracy);
  }
  const TrendTestResult t = MannKendall(acc, 0.05);
  s.accuracy_trend = t.trend;
  s.trend_p_value = t.p_value;
  return s;
}

}  // namespace cls::core
