#ifndef CLS_CORE_ROLLOUT_SEQUENTIAL_TEST_H_
#define CLS_CORE_ROLLOUT_SEQUENTIAL_TEST_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cls::rollout {

// Outcome counts of one version, summed over sites: predictions with a
// known outcome, and how many were correct.
struct ArmCounts {
  int64_t n = 0;
  int64_t successes = 0;
};

enum class Verdict { kInconclusive, kCandidateBetter, kCandidateWorse };
// "inconclusive", "candidate_better", "candidate_worse".
std::string_view VerdictName(Verdict verdict);

struct SequentialTestConfig {
  double alpha = 0.05;
  // Standard deviation of the normal mixture over the effect (accuracy
  // difference). Power is best for effects near tau; 0.05 = 5 points.
  double tau = 0.05;
  // Before each arm has this many outcomes the test does not judge (the
  // plug-in variance is too rough).
  int64_t min_samples_per_arm = 100;
};

struct ComparisonResult {
  double effect = 0;   // candidate accuracy - current accuracy
  double ci_low = -1;  // always-valid (1 - alpha) confidence interval
  double ci_high = 1;
  double p_value = 1;  // always-valid p-value
  Verdict verdict = Verdict::kInconclusive;
  ArmCounts current;
  ArmCounts candidate;
  double likelihood_ratio = 1;  // mixture likelihood ratio at this look
};

// Mixture sequential probability ratio test (mSPRT) for the difference of
// two Bernoulli proportions, as in Johari, Koomen, Pekelis and Walsh 2017
// ("Peeking at A/B tests"): with theta_hat the observed difference and
// V = p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b its variance,
//   Lambda = sqrt(V / (V + tau^2)) exp(theta_hat^2 tau^2 / (2 V (V + tau^2)))
// and the always-valid p-value is p_n = min(p_{n-1}, 1 / Lambda_n). The
// confidence interval is the set of theta with Lambda(theta) < 1 / alpha,
//   theta_hat +- sqrt(V (V + tau^2) / tau^2 * (2 ln(1/alpha) + ln((V + tau^2)
//   / V))),
// intersected over looks. Because the p-value is a running minimum of an
// e-process, the verdict may be read after every site report without
// inflating the false-positive rate beyond alpha. Once p < alpha the
// verdict is final (candidate better or worse by the sign of the effect).
// Not thread-safe.
class SequentialComparison {
 public:
  static Result<SequentialComparison> Create(
      const SequentialTestConfig& config = {});

  // Takes the cumulative counts of both versions (they may only grow) and
  // returns the state after this look.
  Result<ComparisonResult> Update(ArmCounts current, ArmCounts candidate);
  const ComparisonResult& latest() const { return latest_; }

 private:
  explicit SequentialComparison(const SequentialTestConfig& config)
      : config_(config) {}

  SequentialTestConfig config_;
  ComparisonResult latest_;
};

// One line for `clsctl versions compare A B`, e.g.
// "B vs A: +2.10 points (95% always-valid CI -0.40 to +4.60), p = 0.210,
//  n = 1200 / 1180: inconclusive".
std::string DescribeComparison(const ComparisonResult& result,
                               std::string_view current_version,
                               std::string_view candidate_version,
                               double alpha = 0.05);

}  // namespace cls::rollout

#endif  // CLS_CORE_ROLLOUT_SEQUENTIAL_TEST_H_
