#ifndef CLS_CORE_DP_SGD_H_
#define CLS_CORE_DP_SGD_H_

#include <Eigen/Dense>
#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"
#include "core/logistic_regression.h"
#include "core/privacy/noise.h"

namespace cls::core {

// What one DP-SGD Train call costs in privacy: `steps` applications of the
// Poisson-subsampled Gaussian with rate `sampling_rate` and the config's
// noise multiplier (privacy::RdpAccountant::ComposeSubsampledGaussian).
struct DpSgdSchedule {
  double sampling_rate = 1.0;   // q = min(1, batch_size / n)
  int64_t steps_per_epoch = 0;  // ceil(n / batch_size)
  int64_t steps = 0;            // epochs * steps_per_epoch
};
DpSgdSchedule DpSgdScheduleFor(int64_t num_rows, const TrainConfig& cfg);

// InvalidArgument unless clip_norm > 0 (inf allowed) and noise_multiplier is
// finite and >= 0; names the key.
Status ValidateDpSgd(const DpSgdConfig& dp);

// The per-step machinery the three models share: batch sampling, per-example
// clip factors and the noise. One per Train call; not thread-safe.
class DpSgdStep {
 public:
  DpSgdStep(const DpSgdConfig& dp, int64_t num_rows, int64_t batch_size);

  // The rows of the next Poisson-sampled batch (ascending), by geometric
  // skips: O(batch) per step, not O(n).
  void SampleBatch(std::vector<Eigen::Index>& rows);

  // s_i = min(1, C / |g_i|) from the per-example squared gradient norms.
  void ClipFactors(const Eigen::ArrayXf& squared_norms,
                   Eigen::ArrayXf& factors) const;

  // What the clipped sum is divided by: the expected batch size q n with
  // Poisson sampling (so a batch's size reveals nothing more), else the
  // batch's own size.
  float Denominator(Eigen::Index batch_rows) const;

  // Adds N(0, (sigma C / denominator)^2) to each value of a mean gradient:
  // the same as noising the clipped sum with sigma C and dividing.
  void AddNoise(std::span<float> mean_gradient, float denominator);

  bool poisson() const { return dp_.poisson_sampling; }

 private:
  double UniformOpen();  // in (0, 1)

  DpSgdConfig dp_;
  int64_t num_rows_;
  double rate_;
  privacy::NoiseRng rng_;
};

}  // namespace cls::core

#endif  // CLS_CORE_DP_SGD_H_
