#include "core/prior_shift.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/logistic_regression.h"

namespace cls::core {
namespace {

TEST(PriorShift, MovesOnlyTheInterceptByTheLogOddsDifference) {
  const std::vector<float> p{0.5f, -1.0f, 0.25f};
  auto shifted = ShiftInterceptToSitePrior(p, 0.9, 0.5);
  ASSERT_TRUE(shifted.has_value());
  EXPECT_FLOAT_EQ((*shifted)[0], 0.5f);
  EXPECT_FLOAT_EQ((*shifted)[1], -1.0f);
  EXPECT_NEAR((*shifted)[2], 0.25 + std::log(9.0), 1e-5);
}

TEST(PriorShift, SameRateIsTheIdentity) {
  const std::vector<float> p{1.0f, 2.0f};
  auto shifted = ShiftInterceptToSitePrior(p, 0.3, 0.3);
  ASSERT_TRUE(shifted.has_value());
  EXPECT_EQ(*shifted, p);
}

TEST(PriorShift, PosteriorOddsScaleByThePriorOddsRatio) {
  // Bayes: posterior odds under the site prior = federation posterior odds x
  // (site prior odds / federation prior odds).
  LogisticRegression model(1);
  const std::vector<float> p{0.7f, -0.2f};
  ASSERT_TRUE(model.SetParameters(p).has_value());
  Eigen::MatrixXf x(1, 1);
  x << 1.3f;
  const double before = model.PredictProbability(x)(0);
  auto shifted = ShiftInterceptToSitePrior(p, 0.8, 0.4);
  ASSERT_TRUE(model.SetParameters(*shifted).has_value());
  const double after = model.PredictProbability(x)(0);
  const double ratio = (0.8 / 0.2) / (0.4 / 0.6);
  EXPECT_NEAR(after / (1 - after), before / (1 - before) * ratio, 1e-3);
}

TEST(PriorShift, SingleClassSiteGetsAFiniteShift) {
  auto shifted = ShiftInterceptToSitePrior(std::vector<float>{0.0f}, 1.0, 0.5);
  ASSERT_TRUE(shifted.has_value());
  EXPECT_TRUE(std::isfinite((*shifted)[0]));
  EXPECT_GT((*shifted)[0], 6.0f);
}

TEST(PriorShift, RefusesBadInput) {
  EXPECT_FALSE(ShiftInterceptToSitePrior({}, 0.5, 0.5).has_value());
  EXPECT_FALSE(
      ShiftInterceptToSitePrior(std::vector<float>{1}, 1.5, 0.5).has_value());
  EXPECT_FALSE(
      ShiftInterceptToSitePrior(std::vector<float>{1}, 0.5, std::nan(""))
          .has_value());
}

}  // namespace
}  // namespace cls::core
