#include "site-agent/local_model.h"

#include <algorithm>
#include <cmath>

namespace cls::site {

Result<LocalModel> LocalModel::Load(const DataConfig& config) {
  auto loaded = core::LoadCsv(config.csv, config.schema);
  if (!loaded) return std::unexpected(loaded.error());

  LocalModel model;
  model.schema_ = config.schema;
  model.table_ = std::move(loaded->table);
  const core::RawTable& table = model.table_;
  model.num_features_ = config.schema.FeatureCount();
  model.rows_accepted_ = table.rows.size();
  model.rejected_ = std::move(loaded->rejected);
  if (!table.labels.empty()) {
    double positives = 0;
    for (float label : table.labels) positives += label;
    model.positive_rate_ = positives / static_cast<double>(table.labels.size());
  }

  model.split_ = core::StratifiedSplit(table.labels, config.test_fraction,
                                       config.split_seed);
  const core::Split& split = model.split_;
  if (split.train.empty()) {
    return InvalidArgument("dataset: no training rows after the split (" +
                           std::to_string(table.rows.size()) +
                           " rows accepted)");
  }
  // Imputation and standardisation are fitted on the train rows only, so the
  // held-out rows stay unseen.
  auto pre = core::Preprocessor::Fit(config.schema, table, split.train);
  if (!pre) return std::unexpected(pre.error());
  model.x_train_ = pre->Transform(table, split.train);
  model.y_train_ = pre->Labels(table, split.train);
  model.x_test_ = pre->Transform(table, split.test);
  model.y_test_ = pre->Labels(table, split.test);
  model.preprocessor_ = *pre;
  auto statistics =
      core::ComputeFeatureStatistics(config.schema, table, split.train);
  if (!statistics) return std::unexpected(statistics.error());
  model.train_statistics_ = std::move(*statistics);

  core::LogisticRegression baseline(model.num_features_);
  core::TrainConfig train;
  train.epochs = kBaselineEpochs;
  baseline.Train(model.x_train_, model.y_train_, train);
  model.baseline_ = core::EvaluateBinary(
      baseline.PredictProbability(model.x_test_), model.y_test_);
  return model;
}

Status LocalModel::UseFederationStatistics(std::span<const double> sums) {
  if (std::equal(sums.begin(), sums.end(), federation_sums_.begin(),
                 federation_sums_.end())) {
    return {};
  }
  auto stats = core::FeatureStatistics::Unflatten(sums, num_features_);
  if (!stats) return std::unexpected(stats.error());
  auto pre = core::PreprocessorFromStatistics(schema_, *stats);
  if (!pre) return std::unexpected(pre.error());
  x_train_ = pre->Transform(table_, split_.train);
  x_test_ = pre->Transform(table_, split_.test);
  preprocessor_ = std::move(*pre);
  federation_sums_.assign(sums.begin(), sums.end());
  federation_positive_rate_ = stats->positive_rate();
  return {};
}

namespace {
std::vector<int> AllRows(const core::RawTable& table) {
  std::vector<int> rows(table.rows.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int>(i);
  return rows;
}
}  // namespace

Eigen::MatrixXf LocalModel::Features(const core::RawTable& table) const {
  return preprocessor_.Transform(table, AllRows(table));
}

Eigen::VectorXf LocalModel::Labels(const core::RawTable& table) const {
  return preprocessor_.Labels(table, AllRows(table));
}

void LocalModel::AddTrainingRows(const core::RawTable& rows) {
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    split_.train.push_back(static_cast<int>(table_.rows.size()));
    table_.rows.push_back(rows.rows[i]);
    table_.labels.push_back(rows.labels[i]);
    // Text and embedding columns' entries (empty without such columns).
    if (i < rows.vectors.size()) table_.vectors.push_back(rows.vectors[i]);
  }
  x_train_ = preprocessor_.Transform(table_, split_.train);
  y_train_ = preprocessor_.Labels(table_, split_.train);
}

core::RawTable LocalModel::TrainTable() const {
  core::RawTable out;
  for (int i : split_.train) {
    out.rows.push_back(table_.rows[i]);
    out.labels.push_back(table_.labels[i]);
  }
  return out;
}

double LocalModel::train_positive_rate() const {
  return y_train_.size() > 0 ? static_cast<double>(y_train_.mean()) : 0.0;
}

Result<std::vector<float>> LocalModel::Train(
    std::span<const float> start, const core::TrainConfig& config) const {
  if (config.epochs < 0 || config.batch_size < 1 ||
      !std::isfinite(config.learning_rate) || config.learning_rate <= 0 ||
      !std::isfinite(config.l2) || config.l2 < 0) {
    return InvalidArgument(
        "training config: epochs, batch size, learning rate "
        "or l2 out of range");
  }
  core::LogisticRegression model(num_features_);
  if (auto s = model.SetParameters(start); !s)
    return std::unexpected(s.error());
  model.Train(x_train_, y_train_, config);
  auto params = model.parameters();
  return std::vector<float>(params.begin(), params.end());
}

Result<core::BinaryMetrics> LocalModel::Evaluate(
    std::span<const float> parameters) const {
  core::LogisticRegression model(num_features_);
  if (auto s = model.SetParameters(parameters); !s) {
    return std::unexpected(s.error());
  }
  return core::EvaluateBinary(model.PredictProbability(x_test_), y_test_);
}

Result<core::BinaryScoreCounts> LocalModel::ScoreCounts(
    std::span<const float> parameters) const {
  core::LogisticRegression model(num_features_);
  if (auto s = model.SetParameters(parameters); !s) {
    return std::unexpected(s.error());
  }
  return core::CountBinaryScores(model.PredictProbability(x_test_), y_test_);
}

Result<protocol::ValidationMetrics> LocalModel::Validate(
    std::span<const float> parameters) const {
  auto metrics = Evaluate(parameters);
  if (!metrics) return std::unexpected(metrics.error());
  protocol::ValidationMetrics out;
  out.count = static_cast<uint64_t>(metrics->count);
  out.correct = static_cast<uint64_t>(metrics->correct);
  out.loss_sum = metrics->log_loss * static_cast<double>(metrics->count);
  out.train_samples = num_samples();
  return out;
}

}  // namespace cls::site
