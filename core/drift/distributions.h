#ifndef CLS_CORE_DRIFT_DISTRIBUTIONS_H_
#define CLS_CORE_DRIFT_DISTRIBUTIONS_H_

#include <cstdint>

namespace cls::drift {

// The distribution functions the drift tests need, implemented here so that
// core/ carries no statistics dependency. Pure functions, thread-safe.
// Arguments outside the domain return NaN (callers validate input first).

// Regularized lower / upper incomplete gamma P(a, x), Q(a, x) = 1 - P:
// series for x < a + 1, Lentz continued fraction otherwise (Numerical
// Recipes 6.2), relative accuracy ~1e-14.
double RegularizedGammaP(double a, double x);
double RegularizedGammaQ(double a, double x);

// Regularized incomplete beta I_x(a, b) (continued fraction, NR 6.4).
double RegularizedBeta(double a, double b, double x);

// Chi-squared survival function P(X >= x), X ~ chi2(dof) = Q(dof/2, x/2),
// and its inverse: the x with ChiSquaredSf(x, dof) = p (bisection).
double ChiSquaredSf(double x, double dof);
double ChiSquaredIsf(double p, double dof);

// P(X <= k) for X ~ Binomial(n, p) = I_{1-p}(n - k, k + 1).
double BinomialCdf(int64_t k, int64_t n, double p);

// Kolmogorov distribution survival function Q(lambda) = P(K > lambda),
// K = sup |Brownian bridge| (scipy.special.kolmogorov):
//   Q = 2 sum_{k>=1} (-1)^{k-1} exp(-2 k^2 lambda^2)          (lambda >= 1.18)
//   Q = 1 - sqrt(2 pi)/lambda sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 lambda^2))
// (the second form converges fast for small lambda).
double KolmogorovSf(double lambda);

// Standard normal survival function P(Z > z).
double NormalSf(double z);

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_DISTRIBUTIONS_H_
