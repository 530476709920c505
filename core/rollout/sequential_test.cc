#include "core/rollout/sequential_test.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cls::rollout {

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kInconclusive:
      return "inconclusive";
    case Verdict::kCandidateBetter:
      return "candidate_better";
    case Verdict::kCandidateWorse:
      return "candidate_worse";
  }
  return "unknown";
}

Result<SequentialComparison> SequentialComparison::Create(
    const SequentialTestConfig& config) {
  if (!(config.alpha > 0 && config.alpha < 1)) {
    return InvalidArgument("sequential test: alpha must be in (0, 1)");
  }
  if (!(config.tau > 0 && config.tau <= 1)) {
    return InvalidArgument("sequential test: tau must be in (0, 1]");
  }
  if (config.min_samples_per_arm < 1) {
    return InvalidArgument(
        "sequential test: min_samples_per_arm must be "
        ">= 1");
  }
  return SequentialComparison(config);
}

Result<ComparisonResult> SequentialComparison::Update(ArmCounts current,
                                                      ArmCounts candidate) {
  for (const ArmCounts& c : {current, candidate}) {
    if (c.n < 0 || c.successes < 0 || c.successes > c.n) {
      return InvalidArgument(
          "sequential test: counts need 0 <= successes "
          "<= n");
    }
  }
  if (current.n < latest_.current.n || candidate.n < latest_.candidate.n ||
      current.successes < latest_.current.successes ||
      candidate.successes < latest_.candidate.successes) {
    return InvalidArgument("sequential test: cumulative counts went down");
  }
  ComparisonResult r = latest_;
  r.current = current;
  r.candidate = candidate;
  if (current.n == 0 || candidate.n == 0) {
    latest_ = r;
    return r;
  }
  const double na = static_cast<double>(current.n);
  const double nb = static_cast<double>(candidate.n);
  const double pa = static_cast<double>(current.successes) / na;
  const double pb = static_cast<double>(candidate.successes) / nb;
  r.effect = pb - pa;
  if (current.n < config_.min_samples_per_arm ||
      candidate.n < config_.min_samples_per_arm) {
    latest_ = r;
    return r;
  }
  // Variance with the proportions pulled half a count towards 1/2, so an
  // arm with all (or no) successes still has a positive variance.
  const double sa = (static_cast<double>(current.successes) + 0.5) / (na + 1);
  const double sb = (static_cast<double>(candidate.successes) + 0.5) / (nb + 1);
  const double v = sa * (1 - sa) / na + sb * (1 - sb) / nb;
  const double tau2 = config_.tau * config_.tau;
  const double log_lr = 0.5 * std::log(v / (v + tau2)) +
                        r.effect * r.effect * tau2 / (2 * v * (v + tau2));
  r.likelihood_ratio = std::exp(std::min(log_lr, 700.0));
  r.p_value = std::min(r.p_value, std::min(1.0, std::exp(-log_lr)));
  const double half =
      std::sqrt(v * (v + tau2) / tau2 *
                (2 * std::log(1 / config_.alpha) + std::log((v + tau2) / v)));
  r.ci_low = std::max(r.ci_low, r.effect - half);
  r.ci_high = std::min(r.ci_high, r.effect + half);
  if (r.ci_low > r.ci_high) {
    // The intersection emptied (possible only by chance, at rate < alpha):
    // keep the latest interval rather than an empty one.
    r.ci_low = r.effect - half;
    r.ci_high = r.effect + half;
  }
  if (r.verdict == Verdict::kInconclusive && r.p_value < config_.alpha) {
    r.verdict =
        r.effect > 0 ? Verdict::kCandidateBetter : Verdict::kCandidateWorse;
  }
  latest_ = r;
  return r;
}

std::string DescribeComparison(const ComparisonResult& r,
                               std::string_view current_version,
                               std::string_view candidate_version,
                               double alpha) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                ": %+.2f points (%.0f%% always-valid CI %+.2f to %+.2f), "
                "p = %.3g, n = %lld / %lld: ",
                100 * r.effect, 100 * (1 - alpha), 100 * r.ci_low,
                100 * r.ci_high, r.p_value,
                static_cast<long long>(r.candidate.n),
                static_cast<long long>(r.current.n));
  return std::string(candidate_version) + " vs " +
         std::string(current_version) + buf +
         std::string(VerdictName(r.verdict));
}

}  // namespace cls::rollout
