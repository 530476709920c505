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

  core::TrainConfig train;
  train.epochs = kBaselineEpochs;
  const core::ModelSpec spec = model.DefaultSpec();
  auto baseline = core::Model::Create(spec, train.seed);
  if (!baseline) return std::unexpected(baseline.error());
  auto trained = model.Train(spec, baseline->parameters(), train);
  if (!trained) return std::unexpected(trained.error());
  auto metrics = model.Evaluate(spec, *trained);
  if (!metrics) return std::unexpected(metrics.error());
  model.baseline_ = *metrics;
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

core::ModelSpec LocalModel::DefaultSpec() const {
  core::ModelSpec spec;
  spec.kind = num_classes() == 2 ? core::ModelKind::kLogisticRegression
                                 : core::ModelKind::kSoftmaxRegression;
  spec.num_features = num_features_;
  spec.num_classes = num_classes();
  return spec;
}

Status LocalModel::CheckSpec(const core::ModelSpec& spec) const {
  if (auto s = spec.Validate(); !s) return s;
  if (spec.num_features != num_features_) {
    return InvalidArgument("model " + spec.ToString() + " has " +
                           std::to_string(spec.num_features) +
                           " features; this site's columns give " +
                           std::to_string(num_features_));
  }
  if (spec.num_classes != num_classes()) {
    return InvalidArgument(
        "model " + spec.ToString() + " has " +
        std::to_string(spec.num_classes) + " classes; this site's labels " +
        (schema_.label.classes.empty()
             ? std::string("are binary (set [data] label_classes)")
             : "have " + std::to_string(num_classes()) + " label_classes"));
  }
  return {};
}

Result<std::vector<float>> LocalModel::Train(
    const core::ModelSpec& spec, std::span<const float> start,
    const core::TrainConfig& config) const {
  if (config.epochs < 0 || config.batch_size < 1 ||
      !std::isfinite(config.learning_rate) || config.learning_rate <= 0 ||
      !std::isfinite(config.l2) || config.l2 < 0) {
    return InvalidArgument(
        "training config: epochs, batch size, learning rate "
        "or l2 out of range");
  }
  if (auto s = CheckSpec(spec); !s) return std::unexpected(s.error());
  auto model = core::Model::FromParameters(spec, start);
  if (!model) return std::unexpected(model.error());
  auto loss = model->Train(x_train_, core::ClassIndices(y_train_), config);
  if (!loss) return std::unexpected(loss.error());
  auto params = model->parameters();
  return std::vector<float>(params.begin(), params.end());
}

Result<Eigen::MatrixXf> LocalModel::Predict(const core::ModelSpec& spec,
                                            std::span<const float> parameters,
                                            const Eigen::MatrixXf& x) const {
  if (auto s = CheckSpec(spec); !s) return std::unexpected(s.error());
  auto model = core::Model::FromParameters(spec, parameters);
  if (!model) return std::unexpected(model.error());
  return model->PredictProbability(x);
}

Result<core::BinaryMetrics> LocalModel::Evaluate(
    const core::ModelSpec& spec, std::span<const float> parameters) const {
  auto p = Predict(spec, parameters, x_test_);
  if (!p) return std::unexpected(p.error());
  if (p->cols() == 2) {
    return core::EvaluateBinary(p->col(1), y_test_);
  }
  const core::MultiClassMetrics m =
      core::EvaluateMultiClass(*p, core::ClassIndices(y_test_));
  core::BinaryMetrics out;
  out.count = m.count;
  out.correct = m.correct;
  out.accuracy = m.accuracy;
  out.log_loss = m.log_loss;
  return out;
}

Result<core::ClassCounts> LocalModel::Classes(
    const core::ModelSpec& spec, std::span<const float> parameters) const {
  auto p = Predict(spec, parameters, x_test_);
  if (!p) return std::unexpected(p.error());
  return core::CountClasses(*p, core::ClassIndices(y_test_));
}

Result<core::BinaryScoreCounts> LocalModel::ScoreCounts(
    const core::ModelSpec& spec, std::span<const float> parameters) const {
  if (spec.num_classes != 2) {
    return FailedPrecondition("score counts are for binary models");
  }
  auto p = Predict(spec, parameters, x_test_);
  if (!p) return std::unexpected(p.error());
  return core::CountBinaryScores(p->col(1), y_test_);
}

Result<protocol::ValidationMetrics> LocalModel::Validate(
    const core::ModelSpec& spec, std::span<const float> parameters) const {
  auto metrics = Evaluate(spec, parameters);
  if (!metrics) return std::unexpected(metrics.error());
  protocol::ValidationMetrics out;
  out.count = static_cast<uint64_t>(metrics->count);
  out.correct = static_cast<uint64_t>(metrics->correct);
  out.loss_sum = metrics->log_loss * static_cast<double>(metrics->count);
  out.train_samples = num_samples();
  if (spec.num_classes > 2) {
    auto classes = Classes(spec, parameters);
    if (!classes) return std::unexpected(classes.error());
    out.class_correct = std::move(classes->correct);
    out.class_support = std::move(classes->support);
    out.class_predicted = std::move(classes->predicted);
  }
  return out;
}

}  // namespace cls::site
