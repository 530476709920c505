#include "core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace cls::core {
namespace {

Eigen::VectorXf Vec(std::initializer_list<float> v) {
  Eigen::VectorXf out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (float x : v) out(i++) = x;
  return out;
}

TEST(CalibrationTest, BrierScoreIsTheMeanSquaredError) {
  const auto m = EvaluateBinaryCalibration(Vec({0.9f, 0.2f, 0.6f, 0.0f}),
                                           Vec({1, 0, 0, 0}));
  // (0.01 + 0.04 + 0.36 + 0) / 4
  EXPECT_NEAR(m.brier, 0.1025, 1e-6);
}

TEST(CalibrationTest, EceWeighsEachBinGapByItsShare) {
  // Bin 9: p = 0.95, 0.95, labels 1, 0 -> mean p 0.95, mean y 0.5, gap 0.45.
  // Bin 1: p = 0.15, 0.15, labels 0, 0 -> gap 0.15.
  // ECE = 2/4 * 0.45 + 2/4 * 0.15 = 0.3
  const auto m = EvaluateBinaryCalibration(Vec({0.95f, 0.95f, 0.15f, 0.15f}),
                                           Vec({1, 0, 0, 0}));
  EXPECT_NEAR(m.ece, 0.3, 1e-6);
}

TEST(CalibrationTest, PerfectlyCalibratedBinsGiveZeroEce) {
  // Bin 5 holds p = 0.5 twice with one positive: calibrated.
  // p = 1.0 falls in the last bin with a positive label.
  const auto m =
      EvaluateBinaryCalibration(Vec({0.5f, 0.5f, 1.0f}), Vec({1, 0, 1}));
  EXPECT_NEAR(m.ece, 0.0, 1e-9);
  EXPECT_NEAR(m.brier, (0.25 + 0.25 + 0.0) / 3, 1e-9);
}

TEST(CalibrationTest, EmptyInputGivesZeros) {
  const auto m =
      EvaluateBinaryCalibration(Eigen::VectorXf(), Eigen::VectorXf());
  EXPECT_EQ(m.brier, 0.0);
  EXPECT_EQ(m.ece, 0.0);
}

TEST(MultiClassMetricsTest, CountsPerClassPrecisionRecallAndF1) {
  Eigen::MatrixXf p(5, 3);
  p << 0.7f, 0.2f, 0.1f,  // true 0, pred 0
      0.1f, 0.8f, 0.1f,   // true 1, pred 1
      0.6f, 0.3f, 0.1f,   // true 1, pred 0
      0.2f, 0.2f, 0.6f,   // true 2, pred 2
      0.1f, 0.5f, 0.4f;   // true 2, pred 1
  Eigen::VectorXi y(5);
  y << 0, 1, 1, 2, 2;
  const auto m = EvaluateMultiClass(p, y);
  EXPECT_EQ(m.count, 5);
  EXPECT_EQ(m.correct, 3);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  EXPECT_DOUBLE_EQ(m.precision[0], 0.5);
  EXPECT_DOUBLE_EQ(m.recall[0], 1.0);
  EXPECT_DOUBLE_EQ(m.precision[1], 0.5);
  EXPECT_DOUBLE_EQ(m.recall[1], 0.5);
  EXPECT_DOUBLE_EQ(m.precision[2], 1.0);
  EXPECT_DOUBLE_EQ(m.recall[2], 0.5);
  EXPECT_NEAR(m.f1[0], 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.f1[1], 0.5, 1e-12);
  EXPECT_NEAR(m.f1[2], 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.macro_f1, (2.0 / 3.0 + 0.5 + 2.0 / 3.0) / 3.0, 1e-12);
  const double loss = -(std::log(0.7) + std::log(0.8) + std::log(0.3) +
                        std::log(0.6) + std::log(0.4)) /
                      5.0;
  EXPECT_NEAR(m.log_loss, loss, 1e-6);
  EXPECT_EQ(m.confusion(1, 0), 1);
  EXPECT_EQ(m.confusion(2, 1), 1);
}

TEST(MultiClassMetricsTest, ClassNeverPredictedHasZeroPrecision) {
  Eigen::MatrixXf p(2, 2);
  p << 0.9f, 0.1f, 0.8f, 0.2f;
  Eigen::VectorXi y(2);
  y << 0, 1;
  const auto m = EvaluateMultiClass(p, y);
  EXPECT_DOUBLE_EQ(m.precision[1], 0.0);
  EXPECT_DOUBLE_EQ(m.recall[1], 0.0);
  EXPECT_DOUBLE_EQ(m.f1[1], 0.0);
  EXPECT_NEAR(m.macro_f1, (2.0 / 3.0) / 2.0, 1e-12);
}

}  // namespace
}  // namespace cls::core
