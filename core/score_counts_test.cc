#include "core/score_counts.h"

#include <gtest/gtest.h>

#include "core/logistic_regression.h"

namespace cls::core {
namespace {

Eigen::VectorXf Vec(std::initializer_list<float> v) {
  Eigen::VectorXf out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (float x : v) out[i++] = x;
  return out;
}

TEST(ScoreCounts, CountsConfusionAtOneHalfAndBinsEachClass) {
  const auto c = CountBinaryScores(Vec({0.9f, 0.2f, 0.6f, 0.4f, 1.0f, 0.0f}),
                                   Vec({1, 1, 0, 0, 1, 0}), 4);
  EXPECT_EQ(c.true_positives, 2u);
  EXPECT_EQ(c.false_negatives, 1u);
  EXPECT_EQ(c.false_positives, 1u);
  EXPECT_EQ(c.true_negatives, 2u);
  // 1.0 falls in the last bin, 0.0 in the first.
  EXPECT_EQ(c.positive_histogram, (std::vector<uint64_t>{1, 0, 0, 2}));
  EXPECT_EQ(c.negative_histogram, (std::vector<uint64_t>{1, 1, 1, 0}));
}

TEST(ScoreCounts, BinnedAucMatchesTheExactAucWhenScoresSitInDistinctBins) {
  const Eigen::VectorXf p = Vec(
      {0.03f, 0.12f, 0.27f, 0.33f, 0.48f, 0.51f, 0.64f, 0.72f, 0.88f, 0.97f});
  const Eigen::VectorXf y = Vec({0, 0, 1, 0, 0, 1, 0, 1, 1, 1});
  const auto counts = CountBinaryScores(p, y, 20);
  EXPECT_NEAR(SummariseBinaryScores(counts).auc, EvaluateBinary(p, y).auc,
              1e-12);
}

TEST(ScoreCounts, SumsOverSitesGiveTheMetricsOfThePooledData) {
  const Eigen::VectorXf p1 = Vec({0.9f, 0.2f, 0.6f}), y1 = Vec({1, 1, 0});
  const Eigen::VectorXf p2 = Vec({0.4f, 0.8f, 0.1f}), y2 = Vec({0, 1, 0});
  auto sum = CountBinaryScores(p1, y1);
  ASSERT_TRUE(sum.Add(CountBinaryScores(p2, y2)));
  Eigen::VectorXf p(6), y(6);
  p << p1, p2;
  y << y1, y2;
  const auto pooled = EvaluateBinary(p, y);
  const auto summed = SummariseBinaryScores(sum);
  EXPECT_EQ(summed.count, 6u);
  EXPECT_NEAR(summed.accuracy, pooled.accuracy, 1e-9);
  EXPECT_NEAR(summed.precision, pooled.precision, 1e-9);
  EXPECT_NEAR(summed.recall, pooled.recall, 1e-9);
  EXPECT_NEAR(summed.f1, pooled.f1, 1e-9);
  EXPECT_NEAR(summed.auc, pooled.auc, 1e-9);
}

TEST(ScoreCounts, TiesInOneBinCountAsHalf) {
  EXPECT_DOUBLE_EQ(BinnedAuc({0, 2}, {0, 2}), 0.5);
  EXPECT_DOUBLE_EQ(BinnedAuc({0, 1}, {1, 0}), 1.0);
  EXPECT_DOUBLE_EQ(BinnedAuc({1, 0}, {0, 1}), 0.0);
}

TEST(ScoreCounts, AucIsOneHalfWhenAClassIsAbsentAndAddRefusesOtherBinCounts) {
  EXPECT_DOUBLE_EQ(BinnedAuc({3, 1}, {0, 0}), 0.5);
  BinaryScoreCounts a = CountBinaryScores(Vec({0.7f}), Vec({1}), 20);
  const BinaryScoreCounts b = CountBinaryScores(Vec({0.7f}), Vec({1}), 10);
  EXPECT_FALSE(a.Add(b));
  EXPECT_EQ(a.count(), 1u);
}

}  // namespace
}  // namespace cls::core
