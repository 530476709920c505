#ifndef CLS_CORE_TREND_TEST_H_
#define CLS_CORE_TREND_TEST_H_

#include <span>
#include <string>

namespace cls::core {

// Mann-Kendall test for a monotonic trend in a sequence (Mann 1945,
// Kendall 1975). S = sum over i < j of sign(x_j - x_i); its variance under
// "no trend" with tie correction is
//   Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18
// (t = size of each group of equal values); Z uses a continuity correction,
// Z = (S - sign(S)) / sqrt(Var(S)), and the two-sided p-value is taken from
// the normal approximation, p = erfc(|Z| / sqrt(2)).
struct TrendTestResult {
  int n = 0;
  double s = 0;
  double variance = 0;
  double z = 0;
  double p_value = 1.0;
  // "improving" (p < alpha, S > 0), "declining" (p < alpha, S < 0),
  // otherwise "stable"; always "stable" for fewer than kMinPoints values.
  std::string trend = "stable";
};

inline constexpr int kTrendMinPoints = 4;

// Values are compared exactly (equal values form a tie group). Non-finite
// values are a caller bug; they are skipped. Pure function, thread-safe.
TrendTestResult MannKendall(std::span<const double> values,
                            double alpha = 0.05);

}  // namespace cls::core

#endif  // CLS_CORE_TREND_TEST_H_
