#ifndef CLS_CORE_SOFTMAX_REGRESSION_H_
#define CLS_CORE_SOFTMAX_REGRESSION_H_

#include <Eigen/Dense>
#include <span>
#include <vector>

#include "common/error.h"
#include "core/logistic_regression.h"
#include "core/model_layout.h"

namespace cls::core {

// Row-wise log-softmax, stable for any logits (subtracts the row maximum).
Eigen::MatrixXf LogSoftmax(const Eigen::MatrixXf& logits);

// Multinomial logistic regression over K >= 2 classes. Parameters are one
// flat float vector [W (d x K, row-major), b (K)], described by layout()
// "softmax:w[d x K],b[K]". Not thread-safe; cheap to copy.
class SoftmaxRegression {
 public:
  // InvalidArgument unless num_features >= 1 and num_classes >= 2.
  static Result<SoftmaxRegression> Create(int num_features, int num_classes);

  int num_features() const { return num_features_; }
  int num_classes() const { return num_classes_; }
  const ParameterLayout& layout() const { return layout_; }
  std::span<const float> parameters() const { return params_; }
  // InvalidArgument when params does not fit layout() (see
  // ParameterLayout::Check); the model is unchanged then.
  Status SetParameters(std::span<const float> params);

  // Mini-batch SGD on mean cross-entropy + (l2/2)|W|^2 (biases not
  // regularised), shuffling with cfg.seed each epoch. labels are class
  // indices in [0, K). Returns the mean training loss of the last epoch;
  // InvalidArgument on a shape mismatch or an out-of-range label.
  // `after_batch`, when set, gets the parameters after every mini-batch step
  // (online learning's elastic anchor, as for LogisticRegression::Train).
  Result<double> Train(const Eigen::MatrixXf& x, const Eigen::VectorXi& labels,
                       const TrainConfig& cfg,
                       const LogisticRegression::BatchHook& after_batch = {});

  // Diagonal empirical Fisher of the mean cross-entropy at the current
  // parameters, one value per parameter (layout order): the mean over rows of
  // each squared per-example gradient. Example i's gradient is x_i d_i^T for
  // W and d_i for b, with d_i = p_i - onehot(y_i), so
  //   F(W) = (X o X)^T (D o D) / n,  F(b) = column means of D o D
  // without forming per-example gradients. InvalidArgument on a shape
  // mismatch, an out-of-range label or no rows.
  Result<std::vector<float>> DiagonalFisher(
      const Eigen::MatrixXf& x, const Eigen::VectorXi& labels) const;

  // n x K class probabilities; x must have num_features() columns.
  Eigen::MatrixXf PredictProbability(const Eigen::MatrixXf& x) const;

 private:
  SoftmaxRegression(int num_features, int num_classes);
  Eigen::MatrixXf Logits(const Eigen::MatrixXf& x) const;

  int num_features_;
  int num_classes_;
  ParameterLayout layout_;
  std::vector<float> params_;
};

// InvalidArgument unless x has `features` columns, labels has x.rows()
// entries and every label is in [0, num_classes). Shared by the classifiers.
Status CheckClassificationData(const Eigen::MatrixXf& x,
                               const Eigen::VectorXi& labels, int features,
                               int num_classes);

}  // namespace cls::core

#endif  // CLS_CORE_SOFTMAX_REGRESSION_H_
