#include "core/privacy/calibration.h"

#include <gtest/gtest.h>

#include <vector>

namespace cls::core::privacy {
namespace {

TEST(CalibrationTest, RecoversTheNoiseOfThePublishedSingleGaussianRelease) {
  // dp_accounting: sigma 4.530877117 is exactly (1, 1e-6)-DP on the orders
  // 1.000..99.999; calibrating the other way must find it again.
  std::vector<double> orders;
  for (int i = 1000; i < 100000; i += 1) orders.push_back(0.001 * i);
  auto z = CalibrateNoiseMultiplier(1.0, 1e-6, 1.0, 1, orders);
  ASSERT_TRUE(z) << z.error().ToString();
  EXPECT_NEAR(*z, 4.530877117, 1e-6);
}

TEST(CalibrationTest, DefaultOrdersGiveSlightlyMoreNoiseNeverLess) {
  auto z = CalibrateNoiseMultiplier(1.0, 1e-6);
  ASSERT_TRUE(z);
  EXPECT_GE(*z, 4.530877117 - 1e-6);
  EXPECT_LT(*z, 4.530877117 * 1.01);
}

TEST(CalibrationTest, CalibratedNoiseMeetsTheTargetAndLessWouldNot) {
  for (double q : {1.0, 0.3}) {
    for (int64_t rounds : {1, 20}) {
      auto z = CalibrateNoiseMultiplier(2.0, 1e-5, q, rounds);
      ASSERT_TRUE(z) << z.error().ToString();
      auto at = ComputeEpsilon(*z, rounds, q, 1e-5);
      auto below = ComputeEpsilon(*z * (1 - 1e-6), rounds, q, 1e-5);
      ASSERT_TRUE(at && below);
      EXPECT_LE(at->epsilon, 2.0);
      EXPECT_GT(below->epsilon, 2.0);
    }
  }
}

TEST(CalibrationTest, CalculatorMatchesTheDpSgdReference) {
  auto eps = ComputeEpsilon(1.3, 6000, 150.0 / 60000.0, 1e-5);
  ASSERT_TRUE(eps);
  EXPECT_NEAR(eps->epsilon, 0.7242234956, 1e-6);
  EXPECT_EQ(eps->order, 19.0);
}

TEST(CalibrationTest, ImpossibleParametersAreRefusedWithTheReason) {
  auto no_eps = CalibrateNoiseMultiplier(0.0, 1e-5);
  ASSERT_FALSE(no_eps);
  EXPECT_EQ(no_eps.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(no_eps.error().message, "target epsilon must be positive, got 0");
  EXPECT_EQ(CalibrateNoiseMultiplier(-1.0, 1e-5).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CalibrateNoiseMultiplier(1.0, 0.0).error().message,
            "delta must be in (0, 1), got 0");
  EXPECT_FALSE(CalibrateNoiseMultiplier(1.0, 1.0));
  EXPECT_EQ(CalibrateNoiseMultiplier(1.0, 1e-5, 0.0).error().message,
            "sampling rate must be in (0, 1], got 0");
  EXPECT_FALSE(CalibrateNoiseMultiplier(1.0, 1e-5, 1.5));
  EXPECT_EQ(CalibrateNoiseMultiplier(1.0, 1e-5, 1.0, 0).error().message,
            "rounds must be at least 1, got 0");
  EXPECT_EQ(ComputeEpsilon(0.0, 1, 1.0, 1e-5).error().message,
            "noise multiplier must be positive, got 0");
  EXPECT_FALSE(ComputeEpsilon(-2.0, 1, 1.0, 1e-5));
  EXPECT_FALSE(ComputeEpsilon(1.0, 0, 1.0, 1e-5));
  EXPECT_FALSE(ComputeEpsilon(1.0, 1, 1.0, 2.0));
}

TEST(CalibrationTest, UnreachableTargetIsAnErrorNotAnEndlessSearch) {
  auto z = CalibrateNoiseMultiplier(1e-9, 1e-12, 1.0, 1000000);
  ASSERT_FALSE(z);
  EXPECT_EQ(z.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cls::core::privacy
