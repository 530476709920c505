#ifndef CLS_CORE_ROBUST_ATTACKS_H_
#define CLS_CORE_ROBUST_ATTACKS_H_

#include <Eigen/Dense>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cls::core::robust {

// Byzantine behaviours of a malicious site, for the attack suite and tests.
// Model-poisoning attacks replace the site's update (its delta before
// weighting); label flipping acts on the site's training data and the site
// otherwise follows the protocol. The strongest published threat model is
// assumed: the attacker knows every benign update of the round (ALIE and IPM
// need their mean and standard deviation).
enum class AttackKind {
  kNone,
  kSignFlip,         // -delta
  kScaling,          // scale x delta (a "boosted" update, skipping clipping)
  kGaussianNoise,    // N(0, noise_std^2) per coordinate instead of delta
  kLabelFlip,        // trains on 1 - y (data poisoning)
  kALittleIsEnough,  // mean - z std of the benign updates (Baruch et al. 2019)
  kInnerProductManipulation,  // -epsilon mean of benign (Xie et al. 2019)
};
std::string_view AttackKindName(AttackKind kind);

struct AttackSpec {
  AttackKind kind = AttackKind::kNone;
  double scale = 10.0;     // kScaling
  double noise_std = 1.0;  // kGaussianNoise
  double epsilon = 0.1;    // kInnerProductManipulation
  // kALittleIsEnough: z; <= 0 uses Baruch et al.'s z_max for (n, f).
  double z = 0.0;
};

// Baruch et al. 2019: s = floor(n / 2 + 1) - f sites must be won over;
// z_max = Phi^-1((n - s) / n). 0 when (n - s) / n <= 1/2.
double AlieZ(int num_participants, int num_malicious);

// Standard normal quantile (bisection on erfc, |error| < 1e-12).
double NormalQuantile(double p);

// The malicious update. `own` is what the site would honestly send (its
// clipped delta), `benign` the honest updates of the round. InvalidArgument
// for label flipping (not a model-poisoning attack), a length mismatch, or
// ALIE / IPM without benign updates.
Result<std::vector<float>> PoisonUpdate(
    const AttackSpec& spec, std::span<const float> own,
    std::span<const std::span<const float>> benign, int num_participants,
    int num_malicious, std::mt19937_64& rng);

// Label flipping: binary labels y -> 1 - y.
Eigen::VectorXf FlipLabels(const Eigen::VectorXf& labels);

}  // namespace cls::core::robust

#endif  // CLS_CORE_ROBUST_ATTACKS_H_
