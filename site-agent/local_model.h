#ifndef CLS_SITE_AGENT_LOCAL_MODEL_H_
#define CLS_SITE_AGENT_LOCAL_MODEL_H_

#include <Eigen/Dense>
#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"
#include "core/dataset.h"
#include "core/feature_statistics.h"
#include "core/logistic_regression.h"
#include "core/metrics.h"
#include "core/model.h"
#include "core/score_counts.h"
#include "protocol/messages.h"
#include "site-agent/config.h"

namespace cls::site {

// The hospital's data as the model sees it: the CSV loaded and checked, split
// once (stratified, seeded) into train and held-out test rows, preprocessed
// with statistics fitted on the train rows only. It trains the model the
// coordinator names (a core::ModelSpec; without one, DefaultSpec()) from a
// given starting point and evaluates any parameter vector on the held-out
// rows; it also keeps a local-only baseline (trained on this site's data
// alone) for comparison with the federated model.
//
// Standardisation starts site-local (fitted on this site's train rows) and
// switches to federation-wide statistics once the secure statistics round
// has produced them (UseFederationStatistics).
//
// Patient values never leave this object except as model parameters,
// aggregate metrics and the train rows' feature sums that go, masked, into
// secure aggregation; rejected rows are described by line number and reason
// only.
class LocalModel {
 public:
  static constexpr int kBaselineEpochs = 20;

  // Loads, splits, preprocesses, trains and evaluates the baseline.
  // Fails on an unreadable CSV, a header missing a schema column, or no
  // training rows.
  static Result<LocalModel> Load(const DataConfig& config);

  int num_features() const { return num_features_; }
  // 2 for binary labels, else the size of [data] label_classes.
  int num_classes() const { return schema_.label.NumClasses(); }
  // What this site trains when a round names no spec (an older
  // coordinator): logistic regression for binary labels, softmax regression
  // for more classes.
  core::ModelSpec DefaultSpec() const;
  // InvalidArgument, saying what differs, unless `spec` can be built and
  // fits this site's features and classes.
  Status CheckSpec(const core::ModelSpec& spec) const;
  int num_parameters() const {
    return static_cast<int>(DefaultSpec().NumParameters());
  }
  // Training rows: what this site reports as its sample count.
  uint64_t num_samples() const {
    return static_cast<uint64_t>(y_train_.size());
  }
  uint64_t num_test() const { return static_cast<uint64_t>(y_test_.size()); }
  uint64_t rows_accepted() const { return rows_accepted_; }
  const std::vector<core::RejectedRow>& rejected() const { return rejected_; }
  double positive_rate() const { return positive_rate_; }
  // The local-only model (DefaultSpec()), trained with TrainConfig defaults
  // for kBaselineEpochs epochs, evaluated on the test split (for K > 2 the
  // label metrics of the argmax; precision, recall, F1 and AUC stay 0).
  const core::BinaryMetrics& baseline() const { return baseline_; }

  // Counts, sums and sums of squares of the train rows' features (raw,
  // before imputation), for the secure statistics round.
  const core::FeatureStatistics& train_statistics() const {
    return train_statistics_;
  }
  // Re-standardises train and test rows with federation-wide statistics
  // (the flattened sums of core/feature_statistics.h). A no-op if they are
  // the ones in use; InvalidArgument if they do not fit this schema, in which
  // case the current standardisation stays.
  Status UseFederationStatistics(std::span<const double> sums);
  bool uses_federation_statistics() const { return !federation_sums_.empty(); }
  // The federation's positive-label rate (0 until statistics arrive) and
  // this site's, on the train rows.
  double federation_positive_rate() const { return federation_positive_rate_; }
  double train_positive_rate() const;

  const core::DatasetSchema& schema() const { return schema_; }
  // The standardisation in use (a copy of it is what serving reads).
  const core::Preprocessor& preprocessor() const { return preprocessor_; }
  // Features and labels of every row of `table` under the standardisation
  // in use (site-local or federation-wide).
  Eigen::MatrixXf Features(const core::RawTable& table) const;
  Eigen::VectorXf Labels(const core::RawTable& table) const;
  // Newly arrived cases (the online inbox) join the train rows, so the next
  // federated round learns from them too. The held-out rows stay as they
  // are; the feature statistics stay those of the original train rows.
  void AddTrainingRows(const core::RawTable& rows);
  // The train rows as read (raw values, NaN = missing): the reference
  // distribution of serving's data drift test (docs/drift.md).
  core::RawTable TrainTable() const;
  const Eigen::MatrixXf& x_train() const { return x_train_; }
  const Eigen::VectorXf& y_train() const { return y_train_; }

  // Parameters after training a `spec` model from `start` on the train
  // split; the config goes to the model's Train untouched.
  Result<std::vector<float>> Train(const core::ModelSpec& spec,
                                   std::span<const float> start,
                                   const core::TrainConfig& config) const;
  Result<std::vector<float>> Train(std::span<const float> start,
                                   const core::TrainConfig& config) const {
    return Train(DefaultSpec(), start, config);
  }

  // n x K class probabilities of a `spec` model on `x`.
  Result<Eigen::MatrixXf> Predict(const core::ModelSpec& spec,
                                  std::span<const float> parameters,
                                  const Eigen::MatrixXf& x) const;

  // Metrics of `parameters` on the held-out split: the binary metrics for
  // K = 2 (P(class 1)); for K > 2 count, correct, accuracy and log loss.
  Result<core::BinaryMetrics> Evaluate(const core::ModelSpec& spec,
                                       std::span<const float> parameters) const;
  Result<core::BinaryMetrics> Evaluate(
      std::span<const float> parameters) const {
    return Evaluate(DefaultSpec(), parameters);
  }
  // Per-class counts on the held-out split (any K).
  Result<core::ClassCounts> Classes(const core::ModelSpec& spec,
                                    std::span<const float> parameters) const;

  // Confusion counts and score histograms of `parameters` on the held-out
  // split (core/score_counts.h), which the coordinator sums over sites.
  // FailedPrecondition for K > 2.
  Result<core::BinaryScoreCounts> ScoreCounts(
      const core::ModelSpec& spec, std::span<const float> parameters) const;
  Result<core::BinaryScoreCounts> ScoreCounts(
      std::span<const float> parameters) const {
    return ScoreCounts(DefaultSpec(), parameters);
  }

  // The same as the protocol reports it, with the train sample count and,
  // for K > 2, the per-class counts.
  Result<protocol::ValidationMetrics> Validate(
      const core::ModelSpec& spec, std::span<const float> parameters) const;
  Result<protocol::ValidationMetrics> Validate(
      std::span<const float> parameters) const {
    return Validate(DefaultSpec(), parameters);
  }

 private:
  LocalModel() = default;

  core::DatasetSchema schema_;
  core::RawTable table_;
  core::Split split_;
  core::FeatureStatistics train_statistics_;
  core::Preprocessor preprocessor_;
  std::vector<double> federation_sums_;
  double federation_positive_rate_ = 0;
  int num_features_ = 0;
  uint64_t rows_accepted_ = 0;
  std::vector<core::RejectedRow> rejected_;
  double positive_rate_ = 0;
  Eigen::MatrixXf x_train_;
  Eigen::VectorXf y_train_;
  Eigen::MatrixXf x_test_;
  Eigen::VectorXf y_test_;
  core::BinaryMetrics baseline_;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_LOCAL_MODEL_H_
