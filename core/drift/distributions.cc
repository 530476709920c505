#include "core/drift/distributions.h"

#include <cmath>
#include <limits>
#include <numbers>

namespace cls::drift {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kEps = 1e-15;
constexpr double kTiny = 1e-300;
constexpr int kMaxIterations = 1000;

// Series for P(a, x), valid and fast for x < a + 1.
double GammaSeries(double a, double x) {
  double ap = a;
  double term = 1.0 / a;
  double sum = term;
  for (int i = 0; i < kMaxIterations; ++i) {
    ap += 1.0;
    term *= x / ap;
    sum += term;
    if (std::abs(term) < std::abs(sum) * kEps) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// Continued fraction for Q(a, x), valid for x >= a + 1 (modified Lentz).
double GammaContinuedFraction(double a, double x) {
  double b = x + 1.0 - a;
  double c = 1.0 / kTiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i < kMaxIterations; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1.0) < kEps) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

double BetaContinuedFraction(double a, double b, double x) {
  const double qab = a + b;
  const double qap = a + 1.0;
  const double qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m < kMaxIterations; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1.0) < kEps) break;
  }
  return h;
}

}  // namespace

double RegularizedGammaP(double a, double x) {
  if (!(a > 0) || !(x >= 0) || std::isinf(a)) return kNaN;
  if (x == 0) return 0.0;
  if (std::isinf(x)) return 1.0;
  if (x < a + 1.0) return GammaSeries(a, x);
  return 1.0 - GammaContinuedFraction(a, x);
}

double RegularizedGammaQ(double a, double x) {
  if (!(a > 0) || !(x >= 0) || std::isinf(a)) return kNaN;
  if (x == 0) return 1.0;
  if (std::isinf(x)) return 0.0;
  if (x < a + 1.0) return 1.0 - GammaSeries(a, x);
  return GammaContinuedFraction(a, x);
}

double RegularizedBeta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) return kNaN;
  if (x == 0) return 0.0;
  if (x == 1) return 1.0;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
               a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return front * BetaContinuedFraction(a, b, x) / a;
  }
  return 1.0 - front * BetaContinuedFraction(b, a, 1.0 - x) / b;
}

double ChiSquaredSf(double x, double dof) {
  if (!(dof > 0) || std::isnan(x)) return kNaN;
  if (x <= 0) return 1.0;
  return RegularizedGammaQ(dof / 2.0, x / 2.0);
}

double ChiSquaredIsf(double p, double dof) {
  if (!(dof > 0) || !(p > 0 && p < 1)) return kNaN;
  // Bracket the root: the sf falls from 1 to 0; double hi until below p.
  double lo = 0.0;
  double hi = dof + 10.0;
  while (ChiSquaredSf(hi, dof) > p) hi *= 2.0;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (ChiSquaredSf(mid, dof) > p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

double BinomialCdf(int64_t k, int64_t n, double p) {
  if (n < 0 || !(p >= 0 && p <= 1)) return kNaN;
  if (k < 0) return 0.0;
  if (k >= n) return 1.0;
  if (p == 0) return 1.0;
  if (p == 1) return 0.0;
  return RegularizedBeta(static_cast<double>(n - k), static_cast<double>(k + 1),
                         1.0 - p);
}

double KolmogorovSf(double lambda) {
  if (std::isnan(lambda)) return kNaN;
  if (lambda <= 0) return 1.0;
  if (lambda < 1.18) {
    // P(K <= lambda) by the Jacobi theta form.
    const double w =
        std::numbers::pi * std::numbers::pi / (8 * lambda * lambda);
    double sum = 0;
    for (int k = 1; k < 100; ++k) {
      const double term = std::exp(-(2 * k - 1) * (2 * k - 1) * w);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    const double cdf = std::sqrt(2 * std::numbers::pi) / lambda * sum;
    return 1.0 - cdf;
  }
  double sum = 0;
  double sign = 1.0;
  for (int k = 1; k < 100; ++k) {
    const double term = std::exp(-2.0 * k * k * lambda * lambda);
    sum += sign * term;
    if (term < 1e-17) break;
    sign = -sign;
  }
  return 2.0 * sum;
}

double NormalSf(double z) { return 0.5 * std::erfc(z / std::numbers::sqrt2); }

}  // namespace cls::drift
