#ifndef CLS_CORE_ELASTIC_ANCHOR_H_
#define CLS_CORE_ELASTIC_ANCHOR_H_

#include <Eigen/Dense>
#include <span>
#include <vector>

#include "common/error.h"
#include "core/logistic_regression.h"

namespace cls::core {

// Diagonal empirical Fisher information of the mean logistic log loss at the
// model's current parameters: F_j = mean_i ((p_i - y_i) * x_ij)^2, with
// x_i,d = 1 for the bias. One value per model parameter. InvalidArgument on
// a shape mismatch or an empty batch.
Result<std::vector<float>> DiagonalFisher(const LogisticRegression& model,
                                          const Eigen::MatrixXf& x,
                                          const Eigen::VectorXf& y);

// Forgetting control by elastic weight consolidation (Kirkpatrick et al.
// 2017, "Overcoming catastrophic forgetting in neural networks"), kept as ONE
// accumulated quadratic penalty in the style of online EWC (Schwarz et al.
// 2018):
//   penalty(w) = 0.5 * lambda * sum_j F_j (w_j - a_j)^2
// Each Anchor(params, fisher) call folds the new Fisher into the running one,
// F <- retention * F + F_new, and moves the anchor a to params.
//
// Strength: lambda = strength * retention / (1 - retention). retention 0
// gives lambda 0 (no memory: plain SGD); 0.9 gives 9 * strength, i.e. the
// old data weighs nine times as much as a unit of new curvature; as
// retention -> 1 the model is pinned to the anchor.
//
// Not thread-safe; owned by value by its OnlineLearningSystem.
class ElasticAnchor {
 public:
  // retention in [0, 1), strength >= 0 (the caller validates).
  ElasticAnchor(double retention, double strength);

  // InvalidArgument when the sizes differ from each other or from an
  // earlier anchor, or a value is non-finite or a Fisher value negative.
  Status Anchor(std::span<const float> params, std::span<const float> fisher);

  bool active() const { return !anchor_.empty() && lambda_ > 0; }
  double lambda() const { return lambda_; }
  const std::vector<float>& anchor_params() const { return anchor_; }
  const std::vector<float>& fisher() const { return fisher_; }

  // Penalty value and its gradient lambda * F_j (w_j - a_j) (added into
  // grad). No-ops when there is no anchor.
  double Penalty(std::span<const float> params) const;
  void AddPenaltyGradient(std::span<const float> params,
                          std::span<float> grad) const;

  // One SGD step of size lr on the penalty, taken implicitly (the penalty's
  // gradient evaluated at the updated point, i.e. its proximal operator):
  //   w_j <- (w_j + lr lambda F_j a_j) / (1 + lr lambda F_j)
  // For small lr * lambda * F_j this equals w_j -= lr * gradient_j; unlike
  // the explicit step it never overshoots the anchor, so a large lambda
  // (retention near 1) cannot make training diverge.
  void ApplyProximalStep(double lr, std::span<float> params) const;

 private:
  double retention_;
  double lambda_;
  std::vector<float> anchor_;
  std::vector<float> fisher_;
};

}  // namespace cls::core

#endif  // CLS_CORE_ELASTIC_ANCHOR_H_
