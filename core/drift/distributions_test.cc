#include "core/drift/distributions.h"

#include <gtest/gtest.h>

#include <cmath>

namespace cls::drift {
namespace {

// Reference values: closed forms where they exist (chi2 with even dof is
// exp(-x/2) times a polynomial; dof 1 is erfc), otherwise the values scipy
// prints (scipy.stats.chi2.isf, scipy.special.kolmogorov) and the classical
// Kolmogorov critical values 1.2238 / 1.3581 / 1.6276 at 10% / 5% / 1%.

TEST(DistributionsTest, ChiSquaredSfMatchesClosedForms) {
  for (double x : {0.1, 1.0, 2.0, 5.0, 10.0, 30.0}) {
    EXPECT_NEAR(ChiSquaredSf(x, 2), std::exp(-x / 2), 1e-13) << x;
    EXPECT_NEAR(ChiSquaredSf(x, 4), std::exp(-x / 2) * (1 + x / 2), 1e-13) << x;
    EXPECT_NEAR(ChiSquaredSf(x, 1), std::erfc(std::sqrt(x / 2)), 1e-13) << x;
  }
  EXPECT_EQ(ChiSquaredSf(0, 3), 1.0);
  EXPECT_TRUE(std::isnan(ChiSquaredSf(1, 0)));
}

TEST(DistributionsTest, ChiSquaredIsfMatchesScipy) {
  EXPECT_NEAR(ChiSquaredIsf(0.05, 1), 3.841458820694124, 1e-9);
  EXPECT_NEAR(ChiSquaredIsf(0.05, 9), 16.918977604620448, 1e-9);
  EXPECT_NEAR(ChiSquaredIsf(0.01, 9), 21.665994333461924, 1e-9);
  EXPECT_NEAR(ChiSquaredIsf(0.001, 2), -2 * std::log(0.001), 1e-9);
}

TEST(DistributionsTest, IncompleteGammaAndBetaSpecialCases) {
  for (double x : {0.01, 0.5, 1.0, 3.0, 20.0}) {
    EXPECT_NEAR(RegularizedGammaP(1, x), 1 - std::exp(-x), 1e-14);
    EXPECT_NEAR(RegularizedGammaP(0.5, x), std::erf(std::sqrt(x)), 1e-13);
    EXPECT_NEAR(RegularizedGammaP(3, x) + RegularizedGammaQ(3, x), 1, 1e-14);
  }
  for (double x : {0.1, 0.3, 0.77}) {
    EXPECT_NEAR(RegularizedBeta(1, 1, x), x, 1e-14);
    EXPECT_NEAR(RegularizedBeta(3, 1, x), x * x * x, 1e-14);
  }
  EXPECT_NEAR(RegularizedBeta(7.5, 7.5, 0.5), 0.5, 1e-14);
}

// Direct sum of the binomial probabilities in log space.
double DirectBinomialCdf(int k, int n, double p) {
  double s = 0;
  for (int i = 0; i <= k; ++i) {
    s += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) -
                  std::lgamma(n - i + 1.0) + i * std::log(p) +
                  (n - i) * std::log1p(-p));
  }
  return s;
}

TEST(DistributionsTest, BinomialCdfMatchesDirectSum) {
  for (int k = 0; k <= 20; ++k) {
    EXPECT_NEAR(BinomialCdf(k, 20, 0.85), DirectBinomialCdf(k, 20, 0.85), 1e-12)
        << k;
  }
  for (int k : {1600, 1650, 1690, 1700}) {
    const double direct = DirectBinomialCdf(k, 2000, 0.85);
    EXPECT_NEAR(BinomialCdf(k, 2000, 0.85) / direct, 1.0, 1e-9) << k;
  }
  EXPECT_EQ(BinomialCdf(-1, 10, 0.5), 0.0);
  EXPECT_EQ(BinomialCdf(10, 10, 0.5), 1.0);
}

TEST(DistributionsTest, KolmogorovSfMatchesScipyAndTables) {
  EXPECT_NEAR(KolmogorovSf(1.0), 0.26999967167735456, 1e-12);
  EXPECT_NEAR(KolmogorovSf(0.5), 0.9639452436648751, 1e-12);
  EXPECT_NEAR(KolmogorovSf(1.2238), 0.10, 2e-4);
  EXPECT_NEAR(KolmogorovSf(1.3581), 0.05, 1e-4);
  EXPECT_NEAR(KolmogorovSf(1.6276), 0.01, 1e-4);
  // The two series agree where they meet.
  EXPECT_NEAR(KolmogorovSf(1.18 - 1e-9), KolmogorovSf(1.18 + 1e-9), 1e-8);
  EXPECT_EQ(KolmogorovSf(0), 1.0);
  EXPECT_LT(KolmogorovSf(5), 1e-20);
}

TEST(DistributionsTest, NormalSf) {
  EXPECT_NEAR(NormalSf(1.959963984540054), 0.025, 1e-14);
  EXPECT_NEAR(NormalSf(0), 0.5, 1e-15);
}

}  // namespace
}  // namespace cls::drift
