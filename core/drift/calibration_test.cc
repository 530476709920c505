#include "core/drift/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace cls::drift {
namespace {

TEST(EceTest, PerfectlyCalibratedBinsGiveZero) {
  // Confidence 0.75 with 3 of 4 correct, 0.25 with 1 of 4.
  const std::vector<double> conf = {0.75, 0.75, 0.75, 0.75,
                                    0.25, 0.25, 0.25, 0.25};
  const std::vector<uint8_t> ok = {1, 1, 1, 0, 1, 0, 0, 0};
  auto ece = ExpectedCalibrationError(conf, ok);
  ASSERT_TRUE(ece.has_value());
  EXPECT_NEAR(*ece, 0.0, 1e-15);
}

TEST(EceTest, HandComputedMixture) {
  // Bin 9: conf 0.95 x 2, both wrong -> gap 0.95, weight 2/4.
  // Bin 6: conf 0.6 x 2, both right -> gap 0.4, weight 2/4.
  const std::vector<double> conf = {0.95, 0.95, 0.6, 0.6};
  const std::vector<uint8_t> ok = {0, 0, 1, 1};
  auto ece = ExpectedCalibrationError(conf, ok);
  ASSERT_TRUE(ece.has_value());
  EXPECT_NEAR(*ece, 0.5 * 0.95 + 0.5 * 0.4, 1e-12);
}

TEST(EceTest, RefusesBadInput) {
  const std::vector<double> conf = {0.5, 1.5};
  const std::vector<uint8_t> ok = {1, 0}, short_ok = {1};
  EXPECT_EQ(ExpectedCalibrationError(conf, ok).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ExpectedCalibrationError(conf, short_ok).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(CalibrationHistogramTest, RemoveUndoesAddAndMergeAdds) {
  CalibrationHistogram a(10), b(10);
  a.Add(0.9, true);
  a.Add(0.3, false);
  a.Remove(0.3, false);
  EXPECT_EQ(a.count(), 1);
  EXPECT_NEAR(a.Ece(), 0.1, 1e-12);
  b.Add(0.9, false);
  ASSERT_TRUE(a.Merge(b).has_value());
  EXPECT_EQ(a.count(), 2);
  EXPECT_NEAR(a.Ece(), std::abs(1 - 1.8) / 2, 1e-12);
  CalibrationHistogram c(5);
  EXPECT_EQ(a.Merge(c).error().code, ErrorCode::kInvalidArgument);
}

TEST(IsotonicCalibratorTest, PoolsAdjacentViolators) {
  const std::vector<double> conf = {0.1, 0.2, 0.3, 0.4};
  const std::vector<uint8_t> ok = {1, 0, 1, 1};
  auto cal = IsotonicCalibrator::Fit(conf, ok);
  ASSERT_TRUE(cal.has_value());
  EXPECT_DOUBLE_EQ(cal->Calibrate(0.05), 0.5);
  EXPECT_DOUBLE_EQ(cal->Calibrate(0.15), 0.5);
  EXPECT_DOUBLE_EQ(cal->Calibrate(0.35), 1.0);
  EXPECT_DOUBLE_EQ(cal->Calibrate(0.99), 1.0);
}

TEST(IsotonicCalibratorTest, OutputIsMonotone) {
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> u;
  std::vector<double> conf(2000);
  std::vector<uint8_t> ok(2000);
  for (size_t i = 0; i < conf.size(); ++i) {
    conf[i] = u(rng);
    ok[i] = u(rng) < conf[i] * conf[i];
  }
  auto cal = IsotonicCalibrator::Fit(conf, ok);
  ASSERT_TRUE(cal.has_value());
  double last = -1;
  for (double c = 0; c <= 1.0; c += 0.001) {
    EXPECT_GE(cal->Calibrate(c), last);
    last = cal->Calibrate(c);
  }
}

// CBPE: an overconfident model (reports sqrt(p) when right with
// probability p). Calibrated on labelled reference data, the label-free
// estimate on fresh data lands within 3 standard errors of the realised
// accuracy, while the raw mean confidence overshoots.
TEST(CbpeTest, EstimatesAccuracyWithoutLabelsAfterCalibration) {
  std::mt19937_64 rng(31);
  std::uniform_real_distribution<double> u;
  auto draw = [&](std::vector<double>& conf, std::vector<uint8_t>& ok,
                  size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const double p = 0.5 + 0.5 * u(rng);
      conf.push_back(std::sqrt(p));
      ok.push_back(u(rng) < p);
    }
  };
  std::vector<double> ref_conf, conf;
  std::vector<uint8_t> ref_ok, ok;
  draw(ref_conf, ref_ok, 20000);
  draw(conf, ok, 5000);
  auto cal = IsotonicCalibrator::Fit(ref_conf, ref_ok);
  ASSERT_TRUE(cal.has_value());
  CbpeAccumulator est, raw;
  double correct = 0;
  for (size_t i = 0; i < conf.size(); ++i) {
    est.Add(cal->Calibrate(conf[i]));
    raw.Add(conf[i]);
    correct += ok[i];
  }
  const double realised = correct / static_cast<double>(conf.size());
  EXPECT_NEAR(est.EstimatedAccuracy(), realised,
              3 * est.StandardError() + 0.005);
  EXPECT_GT(raw.EstimatedAccuracy() - realised, 0.05);
}

}  // namespace
}  // namespace cls::drift
