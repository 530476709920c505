#include "core/trend_test.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cls::core {

TrendTestResult MannKendall(std::span<const double> values, double alpha) {
  std::vector<double> x;
  x.reserve(values.size());
  for (double v : values) {
    if (std::isfinite(v)) x.push_back(v);
  }
  TrendTestResult r;
  r.n = static_cast<int>(x.size());
  if (r.n < kTrendMinPoints) return r;

  const size_t n = x.size();
  long long s = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      s += (x[j] > x[i]) - (x[j] < x[i]);
    }
  }
  std::vector<double> sorted = x;
  std::sort(sorted.begin(), sorted.end());
  double tie_term = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && sorted[j] == sorted[i]) ++j;
    const double t = static_cast<double>(j - i);
    tie_term += t * (t - 1) * (2 * t + 5);
    i = j;
  }
  const double nd = static_cast<double>(n);
  r.s = static_cast<double>(s);
  r.variance = (nd * (nd - 1) * (2 * nd + 5) - tie_term) / 18.0;
  if (r.variance <= 0 || s == 0) return r;  // all equal, or no trend at all
  const double corrected = s > 0 ? r.s - 1 : r.s + 1;
  r.z = corrected / std::sqrt(r.variance);
  r.p_value = std::erfc(std::abs(r.z) / std::sqrt(2.0));
  if (r.p_value < alpha) r.trend = s > 0 ? "improving" : "declining";
  return r;
}

}  // namespace cls::core
