#include "core/dp_sgd.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace cls::core {
namespace {

privacy::NoiseRng MakeRng(const DpSgdConfig& dp) {
  if (!dp.test_seed) return privacy::NoiseRng::FromSystemEntropy();
  Key32 key{};
  for (int i = 0; i < 8; ++i) {
    key[static_cast<size_t>(i)] =
        static_cast<uint8_t>(*dp.test_seed >> (8 * i));
  }
  key[31] = 0xd5;  // never the all-zero key of an unset seed
  return privacy::NoiseRng(key);
}

}  // namespace

DpSgdSchedule DpSgdScheduleFor(int64_t num_rows, const TrainConfig& cfg) {
  DpSgdSchedule s;
  if (num_rows <= 0) return s;
  const int64_t batch = cfg.batch_size <= 0
                            ? num_rows
                            : std::min<int64_t>(cfg.batch_size, num_rows);
  s.sampling_rate = static_cast<double>(batch) / static_cast<double>(num_rows);
  s.steps_per_epoch = (num_rows + batch - 1) / batch;
  s.steps = std::max(cfg.epochs, 0) * s.steps_per_epoch;
  return s;
}

Status ValidateDpSgd(const DpSgdConfig& dp) {
  if (!(dp.clip_norm > 0)) {
    return InvalidArgument("'clip_norm' must be > 0 (inf: no clipping)");
  }
  if (!(dp.noise_multiplier >= 0) || !std::isfinite(dp.noise_multiplier)) {
    return InvalidArgument("'noise_multiplier' must be finite and >= 0");
  }
  if (dp.noise_multiplier > 0 && !std::isfinite(dp.clip_norm)) {
    return InvalidArgument(
        "'noise_multiplier' > 0 needs a finite 'clip_norm' (the noise is "
        "sigma * C)");
  }
  return {};
}

DpSgdStep::DpSgdStep(const DpSgdConfig& dp, int64_t num_rows,
                     int64_t batch_size)
    : dp_(dp),
      num_rows_(num_rows),
      rate_(num_rows > 0 ? std::min(1.0, static_cast<double>(batch_size) /
                                             static_cast<double>(num_rows))
                         : 1.0),
      rng_(MakeRng(dp)) {}

double DpSgdStep::UniformOpen() {
  constexpr double kScale = 1.0 / 9007199254740992.0;  // 2^-53
  return (static_cast<double>(rng_() >> 11) + 0.5) * kScale;
}

void DpSgdStep::SampleBatch(std::vector<Eigen::Index>& rows) {
  rows.clear();
  if (rate_ >= 1.0) {
    for (Eigen::Index i = 0; i < num_rows_; ++i) rows.push_back(i);
    return;
  }
  // The gap to the next sampled row is Geometric(q): floor(log U / log(1-q)).
  const double log_keep = std::log1p(-rate_);
  double next = -1.0;
  while (true) {
    next += 1.0 + std::floor(std::log(UniformOpen()) / log_keep);
    if (next >= static_cast<double>(num_rows_)) break;
    rows.push_back(static_cast<Eigen::Index>(next));
  }
}

void DpSgdStep::ClipFactors(const Eigen::ArrayXf& squared_norms,
                            Eigen::ArrayXf& factors) const {
  const float clip = static_cast<float>(dp_.clip_norm);
  // C / |g| >= 1 for |g| = 0 (inf) and C = inf: both keep the gradient.
  factors = (clip / squared_norms.sqrt()).min(1.0f);
}

float DpSgdStep::Denominator(Eigen::Index batch_rows) const {
  if (dp_.poisson_sampling) {
    return static_cast<float>(rate_ * static_cast<double>(num_rows_));
  }
  return static_cast<float>(std::max<Eigen::Index>(batch_rows, 1));
}

void DpSgdStep::AddNoise(std::span<float> mean_gradient, float denominator) {
  if (dp_.noise_multiplier == 0.0) return;  // sigma = 0: exactly no noise
  const double stddev = dp_.noise_multiplier * dp_.clip_norm / denominator;
  // Finite and >= 0 for a config ValidateDpSgd accepted.
  (void)privacy::AddGaussianNoise(mean_gradient, stddev, rng_);
}

}  // namespace cls::core
