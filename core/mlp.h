#ifndef CLS_CORE_MLP_H_
#define CLS_CORE_MLP_H_

#include <Eigen/Dense>
#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"
#include "core/logistic_regression.h"
#include "core/model_layout.h"

namespace cls::core {

class DpSgdStep;

struct MlpSpec {
  int num_features = 0;
  std::vector<int> hidden;  // one or two ReLU layer widths
  // 2: one sigmoid output, P(y = 1); K > 2: K softmax outputs.
  int num_classes = 2;
};

// A multilayer perceptron: one or two ReLU hidden layers and a sigmoid
// (binary) or softmax (K > 2) output, trained on cross-entropy. Parameters
// are one flat float vector described by layout(), e.g.
// "mlp:w1[13x16],b1[16],w2[16x1],b2[1]" (weights in x out, row-major), so a
// federated delta is a plain vector difference. Forward and backward passes
// run in float; losses are accumulated in double. Not thread-safe; cheap to
// copy.
class Mlp {
 public:
  // Weights He-initialised (normal, sd sqrt(2 / fan_in)) from `seed`, the
  // same on every platform; biases 0. InvalidArgument unless num_features
  // >= 1, 1 or 2 hidden layers of width >= 1 and num_classes >= 2.
  static Result<Mlp> Create(const MlpSpec& spec, uint64_t seed);

  const MlpSpec& spec() const { return spec_; }
  int num_outputs() const {
    return spec_.num_classes == 2 ? 1 : spec_.num_classes;
  }
  const ParameterLayout& layout() const { return layout_; }
  std::span<const float> parameters() const { return params_; }
  // InvalidArgument when params does not fit layout(); model unchanged then.
  Status SetParameters(std::span<const float> params);

  // Objective: mean cross-entropy over the rows + (l2/2) |weights|^2 (biases
  // not regularised). Writes its gradient into grad (layout().total_size()
  // values) and returns the objective. labels are class indices in
  // [0, num_classes). InvalidArgument on a shape or label mismatch.
  Result<double> LossAndGradient(const Eigen::MatrixXf& x,
                                 const Eigen::VectorXi& labels, double l2,
                                 std::span<float> grad) const;

  // Mini-batch SGD on the objective above, shuffling with cfg.seed each
  // epoch. Returns the mean training cross-entropy of the last epoch.
  // `after_batch`, when set, gets the parameters after every mini-batch step
  // (online learning's elastic anchor, as for LogisticRegression::Train).
  Result<double> Train(const Eigen::MatrixXf& x, const Eigen::VectorXi& labels,
                       const TrainConfig& cfg,
                       const LogisticRegression::BatchHook& after_batch = {});

  // Diagonal empirical Fisher of the mean cross-entropy at the current
  // parameters, one value per parameter (layout order): the mean over rows of
  // each squared per-example gradient. Example i's gradient in layer l is
  // a_i delta_i^T (weights) and delta_i (biases), with a_i the layer's input
  // and delta_i the back-propagated error at its output, so per layer
  //   F(W) = (A o A)^T (Delta o Delta) / n,  F(b) = column means of Delta^2
  // from one batched backward pass. InvalidArgument on a shape mismatch, an
  // out-of-range label or no rows.
  Result<std::vector<float>> DiagonalFisher(
      const Eigen::MatrixXf& x, const Eigen::VectorXi& labels) const;

  // n x num_outputs(): P(y = 1) for a binary model, else class probabilities.
  Eigen::MatrixXf PredictProbability(const Eigen::MatrixXf& x) const;

 private:
  Mlp(const MlpSpec& spec, ParameterLayout layout);
  int num_layers() const { return static_cast<int>(spec_.hidden.size()) + 1; }
  Eigen::MatrixXf OutputLogits(const Eigen::MatrixXf& x) const;
  // Forward and backward pass over the rows: hidden[l] is the input of
  // layer l + 1, deltas[l] d loss_i / d z_l (one row per example). Returns
  // the sum of the rows' cross-entropy.
  double Backprop(const Eigen::MatrixXf& x, const int* labels,
                  std::vector<Eigen::MatrixXf>& hidden,
                  std::vector<Eigen::MatrixXf>& deltas) const;
  // Sum of the rows' cross-entropy; grad gets the mean gradient + l2 weights.
  // With `dp`: each example's gradient clipped, the sum divided by
  // dp->Denominator and noised (DP-SGD) before the l2 term.
  double BatchGradient(const Eigen::MatrixXf& x, const int* labels, float l2,
                       float* grad, DpSgdStep* dp = nullptr) const;

  MlpSpec spec_;
  ParameterLayout layout_;
  std::vector<float> params_;
};

}  // namespace cls::core

#endif  // CLS_CORE_MLP_H_
