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
#include "core/score_counts.h"
#include "protocol/messages.h"
#include "site-agent/config.h"

namespace cls::site {

// The hospital's data as the model sees it: the CSV loaded and checked, split
// once (stratified, seeded) into train and held-out test rows, preprocessed
// with statistics fitted on the train rows only. It trains logistic
// regression from a given starting point and evaluates any parameter vector
// on the held-out rows; it also keeps a local-only baseline (trained on this
// site's data alone) for comparison with the federated model.
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
  int num_parameters() const { return num_features_ + 1; }
  // Training rows: what this site reports as its sample count.
  uint64_t num_samples() const {
    return static_cast<uint64_t>(y_train_.size());
  }
  uint64_t num_test() const { return static_cast<uint64_t>(y_test_.size()); }
  uint64_t rows_accepted() const { return rows_accepted_; }
  const std::vector<core::RejectedRow>& rejected() const { return rejected_; }
  double positive_rate() const { return positive_rate_; }
  // The local-only model, trained with TrainConfig defaults for
  // kBaselineEpochs epochs, evaluated on the test split.
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

  // Parameters after training from `start` on the train split.
  Result<std::vector<float>> Train(std::span<const float> start,
                                   const core::TrainConfig& config) const;

  // Metrics of `parameters` on the held-out split.
  Result<core::BinaryMetrics> Evaluate(std::span<const float> parameters) const;

  // Confusion counts and score histograms of `parameters` on the held-out
  // split (core/score_counts.h), which the coordinator sums over sites.
  Result<core::BinaryScoreCounts> ScoreCounts(
      std::span<const float> parameters) const;

  // The same as the protocol reports it, with the train sample count.
  Result<protocol::ValidationMetrics> Validate(
      std::span<const float> parameters) const;

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
