#include "core/robust/robust_rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace cls::core::robust {
namespace {

using Vectors = std::vector<std::vector<float>>;

std::vector<std::span<const float>> Views(const Vectors& v) {
  return {v.begin(), v.end()};
}

Vectors RandomVectors(int n, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Vectors out(static_cast<size_t>(n),
              std::vector<float>(static_cast<size_t>(d)));
  for (auto& v : out) {
    for (float& x : v) x = normal(rng);
  }
  return out;
}

// Reference: sort each coordinate's values.
std::vector<float> SortedTrimmedMean(const Vectors& v, size_t k) {
  const size_t n = v.size(), d = v[0].size();
  std::vector<float> out(d);
  for (size_t c = 0; c < d; ++c) {
    std::vector<double> col;
    for (const auto& x : v) col.push_back(x[c]);
    std::sort(col.begin(), col.end());
    double sum = 0;
    for (size_t i = k; i < n - k; ++i) sum += col[i];
    out[c] = static_cast<float>(sum / static_cast<double>(n - 2 * k));
  }
  return out;
}

std::vector<float> SortedMedian(const Vectors& v) {
  const size_t n = v.size(), d = v[0].size();
  std::vector<float> out(d);
  for (size_t c = 0; c < d; ++c) {
    std::vector<double> col;
    for (const auto& x : v) col.push_back(x[c]);
    std::sort(col.begin(), col.end());
    out[c] = static_cast<float>(n % 2 ? col[n / 2]
                                      : 0.5 * (col[n / 2 - 1] + col[n / 2]));
  }
  return out;
}

void ExpectNear(const std::vector<float>& a, const std::vector<float>& b,
                double tolerance) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], b[i], tolerance) << "coordinate " << i;
  }
}

TEST(RobustRulesTest, WeightedMeanIsTheWeightedAverage) {
  const Vectors v{{1, 2}, {3, 6}};
  const std::vector<double> w{1, 3};
  auto r = WeightedMean(Views(v), w);
  ASSERT_TRUE(r.has_value());
  ExpectNear(r->aggregate, {2.5f, 5.0f}, 1e-6);
}

TEST(RobustRulesTest, CoordinateMedianMatchesSortingForEverySize) {
  // Sizes 1..25 cover the insertion network (n <= 17) and nth_element.
  for (int n = 1; n <= 25; ++n) {
    const Vectors v = RandomVectors(n, 37, static_cast<uint64_t>(n));
    auto r = CoordinateMedian(Views(v));
    ASSERT_TRUE(r.has_value()) << n;
    ExpectNear(r->aggregate, SortedMedian(v), 1e-6);
  }
}

TEST(RobustRulesTest, CoordinateMedianOfKnownValues) {
  const Vectors v{{1, -5}, {7, 0}, {3, 100}};
  auto r = CoordinateMedian(Views(v));
  ASSERT_TRUE(r.has_value());
  ExpectNear(r->aggregate, {3.0f, 0.0f}, 0);
}

TEST(RobustRulesTest, TrimmedMeanMatchesSortingForEverySizeAndBeta) {
  for (int n : {1, 2, 3, 5, 10, 17, 40, 100}) {
    for (double beta : {0.0, 0.1, 0.2, 0.3, 0.45}) {
      const Vectors v = RandomVectors(n, 53, static_cast<uint64_t>(n * 7));
      const size_t k = static_cast<size_t>(std::floor(beta * n));
      auto r = TrimmedMean(Views(v), beta);
      ASSERT_TRUE(r.has_value());
      ExpectNear(r->aggregate, SortedTrimmedMean(v, k), 1e-5);
    }
  }
}

TEST(RobustRulesTest, TrimmedMeanKeepsHonestPrecisionNextToAHugeOutlier) {
  // Nine honest values around 1e-3 and one at 1e30: the trimmed mean must
  // be exactly the mean of the middle eight (no total-minus-extremes).
  Vectors v;
  for (int i = 0; i < 9; ++i) v.push_back({1e-3f * static_cast<float>(i + 1)});
  v.push_back({1e30f});
  auto r = TrimmedMean(Views(v), 0.1);
  ASSERT_TRUE(r.has_value());
  // Drops 1e-3 and 1e30: mean of 2e-3 .. 9e-3 = 5.5e-3.
  EXPECT_NEAR(r->aggregate[0], 5.5e-3f, 1e-9);
  EXPECT_GT(r->anomaly[9], 0.99);
}

TEST(RobustRulesTest, TrimmedMeanRefusesBetaOutsideTheRange) {
  const Vectors v{{1}, {2}};
  for (double beta : {-0.1, 0.5, 0.7, std::nan("")}) {
    auto r = TrimmedMean(Views(v), beta);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("outside [0, 0.5)"), std::string::npos);
  }
}

TEST(RobustRulesTest, BadContributionsAreNamed) {
  const Vectors none;
  EXPECT_EQ(CoordinateMedian(Views(none)).error().message, "no contributions");
  const Vectors ragged{{1, 2, 3}, {1, 2}};
  EXPECT_EQ(TrimmedMean(Views(ragged), 0.1).error().message,
            "contribution 1: 2 values, expected 3");
  Vectors nan{{1, 2}, {3, 4}};
  nan[1][1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(WeightedMean(Views(nan), {}).error().message,
            "contribution 1: value 1 is not finite");
  Vectors inf{{std::numeric_limits<float>::infinity()}};
  EXPECT_EQ(GeometricMedian(Views(inf), {}, {}).error().code,
            ErrorCode::kInvalidArgument);
  const Vectors ok{{1}, {2}};
  EXPECT_EQ(WeightedMean(Views(ok), std::vector<double>{1}).error().message,
            "1 weights for 2 contributions");
  EXPECT_EQ(WeightedMean(Views(ok), std::vector<double>{1, -1}).error().message,
            "weight 1 is negative or not finite");
  EXPECT_EQ(WeightedMean(Views(ok), std::vector<double>{0, 0}).error().message,
            "weights sum to zero");
}

TEST(RobustRulesTest, KrumScoresMatchAHandComputedExample) {
  // 1-D points 0, 1, 2, 10, 11 with f = 1: each scores the sum of squared
  // distances to its n - f - 2 = 2 nearest: 5, 2, 5, 65, 82.
  const Vectors v{{0}, {1}, {2}, {10}, {11}};
  auto krum = MultiKrum(Views(v), {}, 1, 1);
  ASSERT_TRUE(krum.has_value());
  EXPECT_EQ(krum->selected, std::vector<int>{1});
  EXPECT_FLOAT_EQ(krum->aggregate[0], 1.0f);
  auto multi = MultiKrum(Views(v), {}, 1, 3);
  ASSERT_TRUE(multi.has_value());
  EXPECT_EQ(multi->selected, (std::vector<int>{0, 1, 2}));
  EXPECT_FLOAT_EQ(multi->aggregate[0], 1.0f);
  // Weighted average of the selected.
  auto weighted = MultiKrum(Views(v), std::vector<double>{1, 1, 2, 1, 1}, 1, 3);
  ASSERT_TRUE(weighted.has_value());
  EXPECT_FLOAT_EQ(weighted->aggregate[0], 1.25f);
}

TEST(RobustRulesTest, MultiKrumNeedsMoreThanTwoFPlusTwo) {
  const Vectors v{{0}, {1}, {2}, {3}};
  auto r = MultiKrum(Views(v), {}, 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      r.error().message,
      "multi-krum: f = 1 needs more than 2f + 2 = 4 contributions, got 4");
  EXPECT_TRUE(MultiKrum(Views(v), {}, 0).has_value());
}

TEST(RobustRulesTest, CenteredClippingMovesAFarPointByAtMostTau) {
  const Vectors v{{0}, {0}, {0}, {0}, {1000}};
  const std::vector<float> center{0};
  auto r = CenteredClipping(Views(v), {}, center, {.tau = 1, .iterations = 1});
  ASSERT_TRUE(r.has_value());
  EXPECT_FLOAT_EQ(r->aggregate[0], 0.2f);  // 1000 clipped to 1, / 5
}

TEST(RobustRulesTest, CenteredClippingWithALargeRadiusIsTheMean) {
  const Vectors v = RandomVectors(6, 20, 3);
  const std::vector<double> w{1, 2, 3, 4, 5, 6};
  auto cc = CenteredClipping(Views(v), w, {}, {.tau = 1e9, .iterations = 1});
  auto mean = WeightedMean(Views(v), w);
  ASSERT_TRUE(cc.has_value() && mean.has_value());
  ExpectNear(cc->aggregate, mean->aggregate, 1e-5);
}

TEST(RobustRulesTest, CenteredClippingRefusesAMisfitCenter) {
  const Vectors v{{0, 1}};
  const std::vector<float> center{0};
  EXPECT_EQ(CenteredClipping(Views(v), {}, center, {}).error().message,
            "centered clipping: center has 1 values, expected 2");
}

TEST(RobustRulesTest, GeometricMedianOfASquareIsItsCentre) {
  const Vectors v{{0, 0}, {1, 0}, {0, 1}, {1, 1}};
  auto r = GeometricMedian(Views(v), {}, {});
  ASSERT_TRUE(r.has_value());
  ExpectNear(r->aggregate, {0.5f, 0.5f}, 1e-5);
}

TEST(RobustRulesTest, GeometricMedianIgnoresAFarOutlier) {
  // 1-D: the geometric median is the median, 1, whatever the outlier.
  const Vectors v{{0}, {1}, {2}, {1e6}, {1.5}};
  auto r = GeometricMedian(
      Views(v), {},
      {.smoothing = 1e-8, .max_iterations = 1000, .tolerance = 1e-12});
  ASSERT_TRUE(r.has_value());
  EXPECT_NEAR(r->aggregate[0], 1.5, 1e-3);
  EXPECT_GT(r->anomaly[3], 0.99);
}

TEST(RobustRulesTest, AnomalyIsExcessDistanceOverTheLowerMedian) {
  const std::vector<double> d{1, 1, 1, 3};
  EXPECT_EQ(AnomalyFromDistances(d), (std::vector<double>{0, 0, 0, 0.5}));
  const std::vector<double> two{1, 9};
  EXPECT_EQ(AnomalyFromDistances(two), (std::vector<double>{0, 0.8}));
  const std::vector<double> zeros{0, 0, 0};
  EXPECT_EQ(AnomalyFromDistances(zeros), (std::vector<double>{0, 0, 0}));
}

TEST(RobustRulesTest, EveryRuleScoresTheOutlierHighest) {
  Vectors v = RandomVectors(9, 30, 11);
  for (float& x : v[4]) x = 50 + x;
  for (RobustRule rule :
       {RobustRule::kCoordinateMedian, RobustRule::kTrimmedMean,
        RobustRule::kMultiKrum, RobustRule::kCenteredClipping,
        RobustRule::kGeometricMedian}) {
    RobustConfig c;
    c.rule = rule;
    auto r = Aggregate(c, Views(v), {});
    ASSERT_TRUE(r.has_value()) << RobustRuleName(rule);
    const auto top = std::max_element(r->anomaly.begin(), r->anomaly.end());
    EXPECT_EQ(top - r->anomaly.begin(), 4) << RobustRuleName(rule);
    for (double a : r->anomaly) {
      EXPECT_GE(a, 0.0);
      EXPECT_LE(a, 1.0);
    }
    EXPECT_GT(*top, 0.8) << RobustRuleName(rule);
    // The aggregate stays with the honest cloud (|mean| ~ 1 / sqrt(8)).
    double norm = 0;
    for (float x : r->aggregate) norm += static_cast<double>(x) * x;
    EXPECT_LT(std::sqrt(norm), 5.0) << RobustRuleName(rule);
  }
}

TEST(RobustRulesTest, RuleNamesRoundTrip) {
  for (RobustRule rule :
       {RobustRule::kMean, RobustRule::kCoordinateMedian,
        RobustRule::kTrimmedMean, RobustRule::kMultiKrum,
        RobustRule::kCenteredClipping, RobustRule::kGeometricMedian}) {
    EXPECT_EQ(ParseRobustRule(RobustRuleName(rule)).value(), rule);
  }
  EXPECT_EQ(ParseRobustRule("krum").error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cls::core::robust
