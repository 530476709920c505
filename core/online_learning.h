#ifndef CLS_CORE_ONLINE_LEARNING_H_
#define CLS_CORE_ONLINE_LEARNING_H_

#include <Eigen/Dense>
#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "core/elastic_anchor.h"
#include "core/logistic_regression.h"
#include "core/model.h"
#include "core/reservoir.h"

namespace cls::core {

struct OnlineLearningConfig {
  double learning_rate = 0.001;  // the user guide's default
  int batch_size = 32;
  // In [0, 1): memory of the elastic anchor (see ElasticAnchor for lambda).
  double retention_rate = 0.9;
  double elastic_strength = 1.0;  // lambda = strength * r / (1 - r)
  int epochs_per_update = 1;
  double l2 = 0.0;
  // Rolling holdout: the last N labelled examples seen before an update.
  int holdout_size = 200;
  // Rehearsal: examples drawn from the reservoir into each update.
  int reservoir_capacity = 1000;
  int rehearsal_samples = 0;
  // Mann-Kendall over the last N validation accuracies (O(N^2)).
  int trend_window = 100;
  uint64_t seed = 1;
  // DP-SGD for every update (core/dp_sgd.h); the caller charges it to its
  // accountant with TrainingRows and the epochs and batch size above.
  DpSgdConfig dp = {};
};

// The result of one IncrementalUpdate.
struct TrainingUpdate {
  std::string update_id;  // "upd_000001", "upd_000002", ...
  // Mean log loss over the training examples (new + rehearsal) of the last
  // epoch, each taken just before its mini-batch step; the elastic penalty
  // is not included.
  double training_loss = 0;
  // Prequential: the new batch scored by the model BEFORE it learns from it.
  // Binary: precision, recall and F1 of class 1 (threshold 0.5); K > 2:
  // their unweighted means over the K classes (macro), argmax predictions.
  double validation_accuracy = 0;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  // The updated model on the rolling holdout (examples from earlier updates,
  // already learned from: this tracks retention of recent data, not
  // generalisation; the prequential figures are the unbiased ones).
  // 0 with holdout_count 0 on the first update.
  double holdout_accuracy = 0;
  int64_t holdout_count = 0;
  int64_t new_samples = 0;
  int64_t rehearsal_samples = 0;
  std::string timestamp;  // ISO 8601 UTC, e.g. "2026-11-27T06:50:35.123Z"
};

struct UpdateStatistics {
  int64_t total_updates = 0;
  int64_t total_samples_processed = 0;    // new samples, rehearsal excluded
  double average_loss = 0;                // mean training_loss over updates
  double latest_accuracy = 0;             // last validation_accuracy
  std::string accuracy_trend = "stable";  // Mann-Kendall, alpha 0.05
  double trend_p_value = 1.0;
};

// Incremental (online) training of any core::Model kind (logistic
// regression, softmax regression, MLP) as labelled batches arrive:
// prequential validation, mini-batch SGD, an elastic anchor against
// catastrophic forgetting (the kind's own diagonal Fisher, Model::
// DiagonalFisher) and reservoir rehearsal.
// Labels are floats holding class indices: 0/1 for a binary model, 0..K-1
// for K classes.
// Not thread-safe; owns its model, anchor and reservoir.
class OnlineLearningSystem {
 public:
  // InvalidArgument on a bad config (named field) or feature count.
  // A zero binary logistic regression over num_features inputs.
  static Result<OnlineLearningSystem> Create(int num_features,
                                             const OnlineLearningConfig& cfg);
  static Result<OnlineLearningSystem> Create(const LogisticRegression& model,
                                             const OnlineLearningConfig& cfg);
  static Result<OnlineLearningSystem> Create(const Model& model,
                                             const OnlineLearningConfig& cfg);

  // Scores (x, y) with the current model, then trains on it (mixed with
  // rehearsal examples) and records the update. InvalidArgument, with
  // counts only, when rows != labels, the feature count is wrong, the batch
  // is empty, a value is non-finite or a label is not a class index (0/1
  // for a binary model); nothing changes then.
  Result<TrainingUpdate> IncrementalUpdate(const Eigen::MatrixXf& x,
                                           const Eigen::VectorXf& y);

  // A model was deployed: the current parameters become params, anchored
  // with the given diagonal Fisher (ElasticAnchor::Anchor).
  Status Deploy(std::span<const float> params, std::span<const float> fisher);
  // A model of possibly another kind was deployed (the federation trains an
  // MLP, say, where the online model was the site's default): it replaces
  // the online model and the anchor restarts at it with `fisher`. Reservoir,
  // holdout and history stay (they hold rows and labels, not parameters).
  // InvalidArgument, nothing changed, unless it has the same feature and
  // class counts. The same spec is Deploy(params, fisher).
  Status Deploy(const Model& model, std::span<const float> fisher);
  // Anchors at the current parameters with the diagonal empirical Fisher
  // computed on (x, y) (validated as for IncrementalUpdate).
  Status AnchorToCurrent(const Eigen::MatrixXf& x, const Eigen::VectorXf& y);

  UpdateStatistics GetUpdateStatistics() const;

  // The whole learning state (model, anchor, reservoir, holdout, history,
  // random state) as versioned little-endian bytes, so a restarted site
  // continues exactly where it stopped. It contains patient rows (reservoir,
  // holdout): the site agent stores it encrypted. Deserialize takes the
  // config from the caller (the site's config file may have changed; the
  // anchor strength follows it) and refuses, with DataLoss and sizes only,
  // bytes that Serialize could not have produced or a feature count that
  // differs from `num_features`, or (format 2, which records the model spec)
  // a model spec other than `spec`. Format 1 (before the spec was recorded)
  // is always a binary logistic regression and still reads.
  std::vector<uint8_t> Serialize() const;
  static Result<OnlineLearningSystem> Deserialize(
      std::span<const uint8_t> bytes, const ModelSpec& spec,
      const OnlineLearningConfig& cfg);
  // The model spec recorded in Serialize() bytes (format 1: a binary
  // logistic regression of the stored width), so a restarted owner can
  // check it against its data before Deserialize. DataLoss as Deserialize.
  static Result<ModelSpec> StoredSpec(std::span<const uint8_t> bytes);
  // The same for a binary logistic regression over num_features inputs.
  static Result<OnlineLearningSystem> Deserialize(
      std::span<const uint8_t> bytes, int num_features,
      const OnlineLearningConfig& cfg);

  const Model& model() const { return model_; }
  const ElasticAnchor& anchor() const { return anchor_; }
  const Reservoir& reservoir() const { return reservoir_; }
  // The rows an IncrementalUpdate of `new_rows` rows trains on: the batch
  // plus the rehearsal examples drawn from the reservoir.
  int64_t TrainingRows(int64_t new_rows) const {
    return new_rows + std::min(cfg_.rehearsal_samples, reservoir_.size());
  }
  const std::vector<TrainingUpdate>& history() const { return history_; }
  const OnlineLearningConfig& config() const { return cfg_; }

 private:
  OnlineLearningSystem(const Model& model, const OnlineLearningConfig& cfg);
  Status ValidateBatch(const Eigen::MatrixXf& x,
                       const Eigen::VectorXf& y) const;
  // Accuracy of the current model on (x, y) and, when `labels` is set, its
  // precision, recall and F1 (binary: of class 1; K > 2: macro).
  void Score(const Eigen::MatrixXf& x, const Eigen::VectorXf& y,
             double& accuracy, TrainingUpdate* labels) const;
  // Mini-batch SGD over (x, y); returns the last epoch's mean loss.
  double TrainEpochs(const Eigen::MatrixXf& x, const Eigen::VectorXf& y);

  OnlineLearningConfig cfg_;
  Model model_;
  ElasticAnchor anchor_;
  Reservoir reservoir_;
  std::mt19937_64 rng_;
  std::deque<std::pair<Eigen::VectorXf, float>> holdout_;
  std::vector<TrainingUpdate> history_;
  int64_t total_samples_ = 0;
};

}  // namespace cls::core

#endif  // CLS_CORE_ONLINE_LEARNING_H_
