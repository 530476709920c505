#ifndef CLS_CORE_ROBUST_ROBUST_RULES_H_
#define CLS_CORE_ROBUST_ROBUST_RULES_H_

#include <span>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cls::core::robust {

// Byzantine-robust aggregation rules over a set of contributions: one vector
// per site (secure aggregation off) or one mean per group (secure aggregation
// in groups: group sum / group weight). Every rule returns a robust estimate
// of the mean update and, per contribution, an anomaly score in [0, 1] so the
// caller can attribute it to sites (grouping.h) and update trust (trust.h).
//
// Anomaly score, the same for every rule: with d_i the L2 distance of
// contribution i to the robust aggregate and m the lower median of the d_i
// (an honest distance as long as fewer than half the contributions are bad),
//   anomaly_i = max(0, d_i - m) / (d_i + m)   (0 when d_i = m = 0).
// It is scale-free: 0 at or below the typical distance, 1/3 at twice it, 0.8
// at nine times it, tending to 1. Two contributions: m is the closer one.
//
// All functions are pure, thread-compatible and allocate their result only;
// contributions are borrowed for the call.

using Contribution = std::span<const float>;
using Contributions = std::span<const Contribution>;

enum class RobustRule {
  kMean,  // plain weighted mean (FedAvg): the non-robust reference
  kCoordinateMedian,
  kTrimmedMean,
  kMultiKrum,
  kCenteredClipping,
  kGeometricMedian,
};
std::string_view RobustRuleName(RobustRule rule);
// "mean", "median", "trimmed_mean", "multi_krum", "centered_clipping",
// "geometric_median"; InvalidArgument otherwise.
Result<RobustRule> ParseRobustRule(std::string_view name);

struct RobustResult {
  std::vector<float> aggregate;
  std::vector<double> distance;  // ||x_i - aggregate||_2
  std::vector<double> anomaly;   // in [0, 1], see above
  // Multi-Krum only: the indices averaged, ascending.
  std::vector<int> selected;
};

// Checks the common preconditions: at least one contribution, all of the same
// non-zero length, every value finite; weights empty (all 1) or one per
// contribution, finite, >= 0 and not all 0. Messages name the first offender:
// "contribution 3: 12 values, expected 14", "contribution 1: value 7 is not
// finite".
Status ValidateContributions(Contributions contributions,
                             std::span<const double> weights);

// Weighted mean sum_i w_i x_i / sum_i w_i (weights empty = equal).
Result<RobustResult> WeightedMean(Contributions contributions,
                                  std::span<const double> weights);

// Coordinate-wise median (Yin et al. 2018); for an even count, the mean of
// the two middle values. Unweighted: a weight would let one heavy site move
// every coordinate's median to its own value.
Result<RobustResult> CoordinateMedian(Contributions contributions);

// Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate drop the
// k = floor(beta n) smallest and k largest values and average the rest.
// beta in [0, 0.5). Unweighted, like the median.
Result<RobustResult> TrimmedMean(Contributions contributions, double beta);

// Multi-Krum (Blanchard et al. 2017; El Mhamdi et al. 2018): score each
// contribution by the sum of squared distances to its n - f - 2 nearest
// others, average (with the weights) the m lowest-scoring ones. Needs
// n > 2f + 2. m = 0 means n - f.
Result<RobustResult> MultiKrum(Contributions contributions,
                               std::span<const double> weights, int f,
                               int m = 0);

// Centered clipping (Karimireddy, He and Jaggi 2021):
//   v <- v + sum_i w_i clip_tau(x_i - v) / sum_i w_i,  clip_tau(z) = z
//   min(1, tau / ||z||), repeated `iterations` times from `center` (the
// previous round's aggregate: the paper's momentum; empty = the coordinate
// median). tau <= 0 picks tau = the lower median of ||x_i - center||, so at
// least half the contributions pass unclipped and a far one moves v by at
// most tau w_i / sum w per iteration.
struct CenteredClippingOptions {
  double tau = 0.0;
  int iterations = 3;
};
Result<RobustResult> CenteredClipping(Contributions contributions,
                                      std::span<const double> weights,
                                      std::span<const float> center,
                                      const CenteredClippingOptions& options);

// Geometric median by smoothed Weiszfeld (Pillutla, Kakade and Harchaoui
// 2022, RFA): z <- sum_i b_i x_i / sum_i b_i, b_i = w_i / max(nu, ||x_i - z||),
// from the weighted mean, until the weighted sum of distances improves by
// less than `tolerance` (relative) or `max_iterations`.
struct GeometricMedianOptions {
  double smoothing = 1e-6;  // nu
  int max_iterations = 100;
  double tolerance = 1e-6;
};
Result<RobustResult> GeometricMedian(Contributions contributions,
                                     std::span<const double> weights,
                                     const GeometricMedianOptions& options);

// One configured rule, as the coordinator would read it from its config.
struct RobustConfig {
  RobustRule rule = RobustRule::kTrimmedMean;
  double trim_beta = 0.2;  // trimmed mean
  int krum_f = 1;          // Multi-Krum: assumed Byzantine contributions
  int krum_m = 0;          // Multi-Krum: how many to average (0 = n - f)
  CenteredClippingOptions clipping;
  GeometricMedianOptions weiszfeld;
};

// Dispatches to the rule; `center` is used by centered clipping only,
// weights by the mean, Multi-Krum, centered clipping and geometric median.
Result<RobustResult> Aggregate(const RobustConfig& config,
                               Contributions contributions,
                               std::span<const double> weights,
                               std::span<const float> center = {});

// The anomaly scores for given distances (the formula above), exposed for
// the pipeline's rejected contributions and for tests.
std::vector<double> AnomalyFromDistances(std::span<const double> distances);

}  // namespace cls::core::robust

#endif  // CLS_CORE_ROBUST_ROBUST_RULES_H_
