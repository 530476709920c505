#include "core/privacy/rdp_accountant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cls::core::privacy {
namespace {

// 1.000, 1.001, ..., 99.999: the fine grid of dp_accounting's
// test_compute_epsilon_delta_gaussian.
std::vector<double> FineOrders() {
  std::vector<double> orders;
  for (int i = 1000; i < 100000; ++i) orders.push_back(0.001 * i);
  return orders;
}

TEST(RdpAccountantTest, PoissonSubsampledGaussianMatchesDpAccountingValues) {
  // dp_accounting rdp_privacy_accountant_test
  // test_compute_rdp_poisson_sampled_gaussian: q 0.01, sigma 2.5, 50 steps.
  const std::vector<double> orders = {1.5, 2.5, 5, 50, 100};
  const std::vector<double> expected = {6.70579741e-04, 1.08548710e-03,
                                        2.18075656e-03, 2.38460375e-02,
                                        1.67416308e+02};
  RdpAccountant accountant(orders);
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(0.01, 2.5, 50));
  for (size_t k = 0; k < orders.size(); ++k) {
    EXPECT_NEAR(accountant.rdp()[k], expected[k], 1e-4 * expected[k])
        << "order " << orders[k];
  }
}

TEST(RdpAccountantTest, DpSgdOnMnistMatchesTensorFlowPrivacy) {
  // tensorflow_privacy compute_dp_sgd_privacy_test: n 60000, batch 150,
  // sigma 1.3, 15 epochs, delta 1e-5 -> epsilon 0.7242234956 at order 19.
  const double q = 150.0 / 60000.0;
  const int64_t steps = 15 * 60000 / 150;
  RdpAccountant accountant;
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(q, 1.3, steps));
  auto eps = accountant.Epsilon(1e-5);
  ASSERT_TRUE(eps) << eps.error().ToString();
  EXPECT_NEAR(eps->epsilon, 0.7242234956, 1e-6);
  EXPECT_EQ(eps->order, 19.0);
}

TEST(RdpAccountantTest, DpSgdAtRateOnePercentSigma1Point1For10000Steps) {
  // The DP-SGD budget of docs/privacy.md's example: q 0.01, sigma 1.1,
  // 10,000 steps, delta 1e-5. TF Privacy's compute_rdp (_compute_log_a_int)
  // and dp_accounting's conversion over the integer orders 2..256, evaluated
  // independently in Python, give epsilon 5.654308000 at order 5. At integer
  // orders only this accountant must agree; its default orders add
  // fractional ones, which can only lower epsilon.
  std::vector<double> integers;
  for (int a = 2; a <= 256; ++a) integers.push_back(a);
  RdpAccountant exact(integers);
  ASSERT_TRUE(exact.ComposeSubsampledGaussian(0.01, 1.1, 10000));
  auto eps = exact.Epsilon(1e-5);
  ASSERT_TRUE(eps) << eps.error().ToString();
  EXPECT_NEAR(eps->epsilon, 5.654308000, 1e-6);
  EXPECT_EQ(eps->order, 5.0);

  RdpAccountant fine;
  ASSERT_TRUE(fine.ComposeSubsampledGaussian(0.01, 1.1, 10000));
  auto fine_eps = fine.Epsilon(1e-5);
  ASSERT_TRUE(fine_eps);
  EXPECT_LE(fine_eps->epsilon, eps->epsilon);
  EXPECT_GT(fine_eps->epsilon, 5.5);
}

TEST(RdpAccountantTest, SingleGaussianReleaseWithSigma4Point53IsEpsilonOne) {
  // dp_accounting test_compute_epsilon_delta_gaussian: sigma 4.530877117
  // gives exactly (1, 1e-6)-DP on the fine order grid.
  const std::vector<double> orders = FineOrders();
  auto rdp = SubsampledGaussianRdp(1.0, 4.530877117, orders);
  ASSERT_TRUE(rdp);
  auto eps = EpsilonFromRdp(orders, *rdp, 1e-6);
  ASSERT_TRUE(eps);
  EXPECT_NEAR(eps->epsilon, 1.0, 1e-7);
  auto delta = DeltaFromRdp(orders, *rdp, 1.0);
  ASSERT_TRUE(delta);
  EXPECT_NEAR(delta->delta, 1e-6, 1e-10);
}

TEST(RdpAccountantTest, FullParticipationIsAlphaOverTwoSigmaSquared) {
  const std::vector<double> orders = {1.5, 2.0, 3.14159, 64.0};
  auto rdp = SubsampledGaussianRdp(1.0, 2.71828, orders);
  ASSERT_TRUE(rdp);
  for (size_t k = 0; k < orders.size(); ++k) {
    EXPECT_DOUBLE_EQ((*rdp)[k], orders[k] / (2 * 2.71828 * 2.71828));
  }
}

TEST(RdpAccountantTest, SubsamplingNeverCostsMoreThanFullParticipation) {
  const auto orders = DefaultRdpOrders();
  auto sub = SubsampledGaussianRdp(0.1, 1.0, orders);
  auto full = SubsampledGaussianRdp(1.0, 1.0, orders);
  ASSERT_TRUE(sub && full);
  for (size_t k = 0; k < orders.size(); ++k) {
    EXPECT_LE((*sub)[k], (*full)[k] * (1 + 1e-12)) << "order " << orders[k];
    EXPECT_GT((*sub)[k], 0.0);
  }
}

TEST(RdpAccountantTest, RdpIsNonDecreasingInTheOrder) {
  // Holds for every mechanism; checks the fractional series against the
  // integer binomial sums on either side.
  const auto orders = DefaultRdpOrders();
  auto rdp = SubsampledGaussianRdp(0.01, 2.0, orders);
  ASSERT_TRUE(rdp);
  for (size_t k = 1; k < orders.size(); ++k) {
    EXPECT_GE((*rdp)[k], (*rdp)[k - 1] * (1 - 1e-9)) << "order " << orders[k];
  }
}

TEST(RdpAccountantTest, SlowSeriesFallsBackToTheIntegerChordNotInfinity) {
  // q 0.5, sigma 1: the fractional series for small orders does not
  // converge in 1000 terms; the convexity bound stays finite and never
  // claims less than the exact value at the next integer order would allow.
  const std::vector<double> orders = {1.3, 2.0, 2.5, 3.0, 3.7, 4.0};
  auto rdp = SubsampledGaussianRdp(0.5, 1.0, orders);
  ASSERT_TRUE(rdp);
  for (double r : *rdp) EXPECT_TRUE(std::isfinite(r));
  EXPECT_LE((*rdp)[0], (*rdp)[1] * (1 + 1e-12));
  EXPECT_LE((*rdp)[2], (*rdp)[3] * (1 + 1e-12));
  EXPECT_GE((*rdp)[2], (*rdp)[1]);
  EXPECT_LE((*rdp)[4], (*rdp)[5] * (1 + 1e-12));
  EXPECT_GE((*rdp)[4], (*rdp)[3]);
}

TEST(RdpAccountantTest, IdenticalRoundsComposeAsOneMultiply) {
  RdpAccountant one_call, many_calls;
  ASSERT_TRUE(one_call.ComposeSubsampledGaussian(0.2, 1.1, 40));
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(many_calls.ComposeSubsampledGaussian(0.2, 1.1));
  }
  for (size_t k = 0; k < one_call.rdp().size(); ++k) {
    EXPECT_NEAR(one_call.rdp()[k], many_calls.rdp()[k],
                1e-12 * one_call.rdp()[k]);
  }
}

TEST(RdpAccountantTest, HeterogeneousRoundsAddTheirCurves) {
  const auto orders = DefaultRdpOrders();
  auto a = SubsampledGaussianRdp(0.5, 1.0, orders);
  auto b = SubsampledGaussianRdp(1.0, 2.0, orders);
  ASSERT_TRUE(a && b);
  RdpAccountant accountant;
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(0.5, 1.0, 3));
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(1.0, 2.0, 2));
  for (size_t k = 0; k < orders.size(); ++k) {
    EXPECT_NEAR(accountant.rdp()[k], 3 * (*a)[k] + 2 * (*b)[k],
                1e-12 * accountant.rdp()[k]);
  }
  auto direct = EpsilonFromRdp(orders, accountant.rdp(), 1e-5);
  auto cached = accountant.Epsilon(1e-5);
  ASSERT_TRUE(direct && cached);
  EXPECT_DOUBLE_EQ(direct->epsilon, cached->epsilon);
  EXPECT_EQ(direct->order, cached->order);
}

TEST(RdpAccountantTest, EpsilonGrowsWithRoundsAndShrinksWithNoise) {
  RdpAccountant accountant;
  double previous = 0;
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(accountant.ComposeSubsampledGaussian(1.0, 3.0));
    auto eps = accountant.Epsilon(1e-5);
    ASSERT_TRUE(eps);
    EXPECT_GT(eps->epsilon, previous);
    previous = eps->epsilon;
  }
  RdpAccountant noisier;
  ASSERT_TRUE(noisier.ComposeSubsampledGaussian(1.0, 6.0, 5));
  EXPECT_LT(noisier.Epsilon(1e-5)->epsilon, previous);
}

TEST(RdpAccountantTest, NothingComposedIsEpsilonZero) {
  RdpAccountant accountant;
  auto eps = accountant.Epsilon(1e-5);
  ASSERT_TRUE(eps);
  EXPECT_EQ(eps->epsilon, 0.0);
}

TEST(RdpAccountantTest, DeltaAndEpsilonConversionsAreConsistent) {
  RdpAccountant accountant;
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(0.1, 1.2, 100));
  auto eps = accountant.Epsilon(1e-5);
  ASSERT_TRUE(eps);
  auto delta = accountant.Delta(eps->epsilon);
  ASSERT_TRUE(delta);
  EXPECT_NEAR(delta->delta, 1e-5, 1e-9);
}

TEST(RdpAccountantTest, SkellamApproachesTheGaussianAsVarianceGrows) {
  // Same L2 sensitivity and variance: the Skellam curve is the Gaussian's
  // alpha l2^2 / (2 mu) plus a term that vanishes like 1/mu^2 (or 1/mu).
  const std::vector<double> orders = {2.0, 8.0, 32.0};
  const double l2 = 100, l1 = 1000;
  for (double mu : {1e4, 1e6, 1e8}) {
    auto sk = SkellamRdp(l1, l2, mu, orders);
    auto gauss = SubsampledGaussianRdp(1.0, std::sqrt(mu) / l2, orders);
    ASSERT_TRUE(sk && gauss);
    for (size_t k = 0; k < orders.size(); ++k) {
      EXPECT_GE((*sk)[k], (*gauss)[k]);
      EXPECT_LT((*sk)[k] / (*gauss)[k] - 1, 1e4 / mu) << "mu " << mu;
    }
  }
}

TEST(RdpAccountantTest, RejectsParametersOutsideTheirDomain) {
  const auto orders = DefaultRdpOrders();
  EXPECT_EQ(SubsampledGaussianRdp(0.0, 1.0, orders).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(SubsampledGaussianRdp(1.5, 1.0, orders).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(SubsampledGaussianRdp(0.5, 0.0, orders).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(SubsampledGaussianRdp(0.5, NAN, orders).error().code,
            ErrorCode::kInvalidArgument);
  const std::vector<double> bad_orders = {0.5, 2.0};
  EXPECT_EQ(SubsampledGaussianRdp(0.5, 1.0, bad_orders).error().code,
            ErrorCode::kInvalidArgument);
  const std::vector<double> rdp = {0.1};
  EXPECT_EQ(EpsilonFromRdp(orders, rdp, 1e-5).error().code,
            ErrorCode::kInvalidArgument);
  RdpAccountant accountant;
  auto bad_delta = accountant.Epsilon(0.0);
  ASSERT_FALSE(bad_delta);
  EXPECT_EQ(bad_delta.error().message, "delta must be in (0, 1), got 0");
  EXPECT_FALSE(accountant.Epsilon(1.0));
  EXPECT_FALSE(accountant.ComposeSubsampledGaussian(0.5, 1.0, 0));
  EXPECT_FALSE(accountant.ComposeRdp(rdp));
  EXPECT_FALSE(accountant.Restore(rdp));
  EXPECT_FALSE(SkellamRdp(0.0, 1.0, 1.0, orders));
  EXPECT_FALSE(SkellamRdp(1.0, 1.0, -1.0, orders));
}

}  // namespace
}  // namespace cls::core::privacy
