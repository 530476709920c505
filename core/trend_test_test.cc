#include "core/trend_test.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cls::core {
namespace {

TEST(MannKendallTest, StrictlyIncreasingTenPointsIsImproving) {
  std::vector<double> v;
  for (int i = 0; i < 10; ++i) v.push_back(0.5 + 0.01 * i);
  const TrendTestResult r = MannKendall(v);
  EXPECT_EQ(r.s, 45);
  EXPECT_DOUBLE_EQ(r.variance, 125.0);  // 10 * 9 * 25 / 18
  EXPECT_NEAR(r.z, 44.0 / std::sqrt(125.0), 1e-12);
  EXPECT_LT(r.p_value, 0.001);
  EXPECT_NEAR(r.p_value, 8.33e-5, 0.05e-5);
  EXPECT_EQ(r.trend, "improving");
}

TEST(MannKendallTest, StrictlyDecreasingIsDeclining) {
  const std::vector<double> v = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
  const TrendTestResult r = MannKendall(v);
  EXPECT_EQ(r.s, -45);
  EXPECT_LT(r.p_value, 0.001);
  EXPECT_EQ(r.trend, "declining");
}

TEST(MannKendallTest, ConstantSeriesIsStable) {
  const std::vector<double> v(12, 0.8);
  const TrendTestResult r = MannKendall(v);
  EXPECT_EQ(r.s, 0);
  EXPECT_EQ(r.p_value, 1.0);
  EXPECT_EQ(r.trend, "stable");
}

TEST(MannKendallTest, FewerThanFourPointsIsStable) {
  const std::vector<double> v = {0.1, 0.5, 0.9};
  const TrendTestResult r = MannKendall(v);
  EXPECT_EQ(r.trend, "stable");
  EXPECT_EQ(r.p_value, 1.0);
}

TEST(MannKendallTest, TiesReduceTheVariance) {
  const std::vector<double> v = {1, 2, 2, 3, 3, 3, 4};
  const TrendTestResult r = MannKendall(v);
  // Pairs: 21, tied pairs 1 + 3 = 4, all others increasing -> S = 17.
  EXPECT_EQ(r.s, 17);
  // [7*6*19 - 2*1*9 - 3*2*11] / 18 = (798 - 18 - 66) / 18
  EXPECT_NEAR(r.variance, 714.0 / 18.0, 1e-12);
  EXPECT_NEAR(r.z, 16.0 / std::sqrt(714.0 / 18.0), 1e-12);
  EXPECT_NEAR(r.p_value, std::erfc(r.z / std::sqrt(2.0)), 1e-15);
  EXPECT_EQ(r.trend, "improving");
}

TEST(MannKendallTest, NoisyFlatSeriesIsStable) {
  const std::vector<double> v = {0.80, 0.82, 0.79, 0.81, 0.80,
                                 0.83, 0.78, 0.81, 0.80, 0.82};
  const TrendTestResult r = MannKendall(v);
  EXPECT_GT(r.p_value, 0.05);
  EXPECT_EQ(r.trend, "stable");
}

}  // namespace
}  // namespace cls::core
