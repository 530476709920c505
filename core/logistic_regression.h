#ifndef CLS_CORE_LOGISTIC_REGRESSION_H_
#define CLS_CORE_LOGISTIC_REGRESSION_H_

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "common/error.h"

namespace cls::core {

// DP-SGD (Abadi et al. 2016) as Opacus and TF Privacy run it: each step
// samples a batch by Poisson sampling (every row independently with rate
// q = batch_size / n), clips each example's gradient to L2 norm clip_norm,
// sums, adds N(0, (noise_multiplier clip_norm)^2) to every coordinate and
// divides by the expected batch size. The L2 and proximal terms depend on
// no example and are added after the noise. An epoch is ceil(n / batch_size)
// steps; core/dp_sgd.h DpSgdSchedule says what to charge the accountant.
// Record-level: neighbouring datasets differ in one row (add/remove).
struct DpSgdConfig {
  bool enabled = false;
  double clip_norm = 1.0;         // C > 0; +inf = no clipping
  double noise_multiplier = 0.0;  // sigma >= 0
  // false: plain SGD's shuffled batches, divided by their actual size. Only
  // for tests (with sigma = 0 and C = inf it is plain SGD bit for bit); the
  // accountant's sampled-Gaussian bound assumes Poisson sampling.
  bool poisson_sampling = true;
  // Tests only: seeds the noise and sampling generator. Unset = the system
  // CSPRNG (privacy::NoiseRng::FromSystemEntropy), as production must.
  std::optional<uint64_t> test_seed;
};

struct TrainConfig {
  int epochs = 5;
  int batch_size = 32;
  double learning_rate = 0.1;
  double l2 = 1e-4;
  uint64_t seed = 1;
  // FedProx: adds (mu/2)|theta - anchor|^2 over all parameters (bias
  // included) to the loss, pulling local training towards the anchor (the
  // global model the round started from). 0 = plain SGD (FedAvg).
  double proximal_mu = 0.0;
  DpSgdConfig dp = {};
};

// Binary logistic regression. Parameters are one flat float vector:
// [w_0 .. w_{d-1}, bias], so a federated delta is a plain vector difference.
// Not thread-safe; cheap to copy.
class LogisticRegression {
 public:
  explicit LogisticRegression(int num_features);

  int num_features() const { return num_features_; }
  int num_parameters() const { return num_features_ + 1; }
  std::span<const float> parameters() const { return params_; }
  // InvalidArgument on a length mismatch ("model: 12 parameters, expected 14").
  Status SetParameters(std::span<const float> params);

  // Mini-batch SGD on log loss + (l2/2)|w|^2 (bias not regularised),
  // shuffling with cfg.seed each epoch. Returns the mean training loss of the
  // last epoch.
  double Train(const Eigen::MatrixXf& x, const Eigen::VectorXf& y,
               const TrainConfig& cfg);
  // The same with the FedProx term anchored at `anchor` (num_parameters()
  // values; an empty span anchors at the parameters training starts from).
  // The returned loss excludes the proximal term. NaN on a size mismatch.
  // `after_batch`, when set, is called with the parameters after every
  // mini-batch step (e.g. an elastic penalty applied as an implicit step).
  using BatchHook = std::function<void(std::span<float> parameters)>;
  double Train(const Eigen::MatrixXf& x, const Eigen::VectorXf& y,
               const TrainConfig& cfg, std::span<const float> anchor,
               const BatchHook& after_batch = {});

  Eigen::VectorXf PredictProbability(const Eigen::MatrixXf& x) const;
  // One request: P(y = 1 | x) for x.size() == num_features() (the caller
  // checks), without allocating; the serving path.
  float PredictOne(std::span<const float> x) const;

 private:
  int num_features_;
  std::vector<float> params_;
};

struct BinaryMetrics {
  int64_t count = 0;
  int64_t correct = 0;
  double accuracy = 0;
  double log_loss = 0;  // mean
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  double auc = 0;  // ROC AUC; 0.5 when only one class is present
};

// Threshold 0.5 for the label metrics.
BinaryMetrics EvaluateBinary(const Eigen::VectorXf& probability,
                             const Eigen::VectorXf& labels);

}  // namespace cls::core

#endif  // CLS_CORE_LOGISTIC_REGRESSION_H_
