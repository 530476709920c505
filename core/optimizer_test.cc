#include "core/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace cls::core {
namespace {

// f(p) = sum_i a_i (p_i - c_i)^2 / 2, an ill-conditioned quadratic.
const std::vector<float> kCurvature = {1.0f, 10.0f, 0.5f};
const std::vector<float> kCentre = {3.0f, -2.0f, 1.0f};

std::vector<float> QuadraticGradient(const std::vector<float>& p) {
  std::vector<float> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    g[i] = kCurvature[i] * (p[i] - kCentre[i]);
  }
  return g;
}

TEST(LearningRateScheduleTest, ConstantIsTheSameAtEveryStep) {
  const auto s = LearningRateSchedule::Constant(0.1);
  EXPECT_DOUBLE_EQ(s.Rate(0), 0.1);
  EXPECT_DOUBLE_EQ(s.Rate(1000), 0.1);
}

TEST(LearningRateScheduleTest, InverseSqrtHalvesAtStepThree) {
  const auto s = LearningRateSchedule::InverseSqrt(0.8);
  EXPECT_DOUBLE_EQ(s.Rate(0), 0.8);
  EXPECT_DOUBLE_EQ(s.Rate(3), 0.4);
  EXPECT_DOUBLE_EQ(s.Rate(99), 0.08);
}

TEST(LearningRateScheduleTest, CosineGoesFromBaseToMinimumOverTotalSteps) {
  const auto s = LearningRateSchedule::Cosine(1.0, 100, 0.1);
  EXPECT_DOUBLE_EQ(s.Rate(0), 1.0);
  EXPECT_NEAR(s.Rate(50), 0.55, 1e-12);
  EXPECT_NEAR(s.Rate(25),
              0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4)), 1e-12);
  EXPECT_NEAR(s.Rate(100), 0.1, 1e-12);
  EXPECT_NEAR(s.Rate(500), 0.1, 1e-12);
}

TEST(LearningRateScheduleTest, StepDecaysByGammaEveryNSteps) {
  const auto s = LearningRateSchedule::Step(1.0, 0.5, 10);
  EXPECT_DOUBLE_EQ(s.Rate(0), 1.0);
  EXPECT_DOUBLE_EQ(s.Rate(9), 1.0);
  EXPECT_DOUBLE_EQ(s.Rate(10), 0.5);
  EXPECT_DOUBLE_EQ(s.Rate(25), 0.25);
}

TEST(SgdMomentumTest, ConvergesOnAQuadratic) {
  for (bool nesterov : {false, true}) {
    std::vector<float> p = {0.0f, 0.0f, 0.0f};
    SgdMomentum opt(p.size(), 0.9, nesterov);
    for (int step = 0; step < 300; ++step) {
      ASSERT_TRUE(opt.Step(p, QuadraticGradient(p), 0.05).has_value());
    }
    for (size_t i = 0; i < p.size(); ++i) {
      EXPECT_NEAR(p[i], kCentre[i], 1e-3) << "nesterov=" << nesterov;
    }
  }
}

TEST(SgdMomentumTest, FirstStepWithoutHistoryIsPlainSgd) {
  std::vector<float> p = {1.0f};
  SgdMomentum opt(1, 0.9);
  ASSERT_TRUE(opt.Step(p, std::vector<float>{2.0f}, 0.1).has_value());
  EXPECT_FLOAT_EQ(p[0], 0.8f);
  // v = 0.9 * 2 + 2 = 3.8
  ASSERT_TRUE(opt.Step(p, std::vector<float>{2.0f}, 0.1).has_value());
  EXPECT_FLOAT_EQ(p[0], 0.8f - 0.38f);
}

TEST(AdamTest, ConvergesOnAQuadratic) {
  std::vector<float> p = {0.0f, 0.0f, 0.0f};
  Adam opt(p.size());
  const auto schedule = LearningRateSchedule::Cosine(0.1, 2000, 0.0);
  for (int step = 0; step < 2000; ++step) {
    ASSERT_TRUE(opt.Step(p, QuadraticGradient(p), schedule.Rate(step)));
  }
  EXPECT_EQ(opt.steps(), 2000);
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], kCentre[i], 1e-3);
}

TEST(AdamTest, FirstStepMovesEachCoordinateByTheLearningRate) {
  std::vector<float> p = {0.0f, 0.0f};
  Adam opt(2);
  ASSERT_TRUE(opt.Step(p, std::vector<float>{5.0f, -0.01f}, 0.1));
  EXPECT_NEAR(p[0], -0.1f, 1e-6);
  EXPECT_NEAR(p[1], 0.1f, 1e-4);
}

TEST(OptimizerTest, StepRejectsMismatchedSizes) {
  std::vector<float> p(3, 0.0f);
  Adam adam(3);
  const Status s = adam.Step(p, std::vector<float>(2, 1.0f), 0.1);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message,
            "optimizer: 3 parameters and 2 gradients, expected 3");
  SgdMomentum sgd(4, 0.9);
  EXPECT_FALSE(sgd.Step(p, std::vector<float>(3, 1.0f), 0.1).has_value());
}

}  // namespace
}  // namespace cls::core
