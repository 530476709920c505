#include "core/robust/robust_pipeline.h"

#include <gtest/gtest.h>

#include <vector>

namespace cls::core::robust {
namespace {

using Vectors = std::vector<std::vector<float>>;

std::vector<std::span<const float>> Views(const Vectors& v) {
  return {v.begin(), v.end()};
}

TEST(RobustPipelineTest, AGroupBeyondItsBoundIsDroppedWhole) {
  // Six sites of weight 1/6 with clip 1 in three pairs: bound 1/3 per group.
  const std::vector<Group> groups{{0, 1}, {2, 3}, {4, 5}};
  const Vectors sums{{0.10f, 0.0f}, {0.12f, 0.0f}, {5.0f, 0.0f}};
  const std::vector<double> weights(6, 1.0 / 6);
  PipelineConfig config;
  config.rule.rule = RobustRule::kCoordinateMedian;
  auto out = AggregateGroupSums(config, groups, Views(sums), weights, {});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->accepted, 2);
  EXPECT_TRUE(out->groups[2].rejected);
  EXPECT_EQ(out->groups[2].anomaly, 1.0);
  EXPECT_NE(out->groups[2].reason.find("exceeds"), std::string::npos);
  // Median of the two group means 0.3 and 0.36.
  EXPECT_NEAR(out->update[0], 0.33, 1e-6);
}

TEST(RobustPipelineTest, GroupsOfOneAreThePerSiteRule) {
  const std::vector<Group> groups{{0}, {1}, {2}, {3}, {4}};
  const std::vector<double> weights{0.1, 0.2, 0.3, 0.2, 0.2};
  Vectors deltas{{0.5f}, {0.4f}, {0.6f}, {0.45f}, {-0.9f}};
  Vectors sums;
  for (size_t i = 0; i < deltas.size(); ++i) {
    sums.push_back({static_cast<float>(deltas[i][0] * weights[i])});
  }
  PipelineConfig config;
  config.rule.rule = RobustRule::kTrimmedMean;
  auto out = AggregateGroupSums(config, groups, Views(sums), weights, {});
  auto direct = TrimmedMean(Views(deltas), 0.2);
  ASSERT_TRUE(out.has_value() && direct.has_value());
  EXPECT_NEAR(out->update[0], direct->aggregate[0], 1e-6);
  EXPECT_EQ(out->accepted, 5);
}

TEST(RobustPipelineTest, TwoGroupsFallBackToCenteredClipping) {
  const std::vector<Group> groups{{0, 1}, {2, 3, 4}};
  const Vectors sums{{0.1f}, {0.3f}};
  const std::vector<double> weights(5, 0.2);
  for (RobustRule rule :
       {RobustRule::kMultiKrum, RobustRule::kGeometricMedian,
        RobustRule::kCoordinateMedian, RobustRule::kTrimmedMean}) {
    PipelineConfig config;
    config.rule.rule = rule;
    auto out = AggregateGroupSums(config, groups, Views(sums), weights, {});
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->rule_used, RobustRule::kCenteredClipping);
    // Neither honest-looking group is scored as fully anomalous.
    EXPECT_LT(out->groups[0].anomaly, 1.0) << RobustRuleName(rule);
  }
}

TEST(RobustPipelineTest, KrumLowersFWithFewGroups) {
  const std::vector<Group> groups{{0}, {1}, {2}, {3}};
  const Vectors sums{{0.1f}, {0.11f}, {0.12f}, {0.5f}};
  const std::vector<double> weights(4, 1.0);
  PipelineConfig config;
  config.rule.rule = RobustRule::kMultiKrum;
  config.rule.krum_f = 2;
  auto out = AggregateGroupSums(config, groups, Views(sums), weights, {});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->rule_used, RobustRule::kMultiKrum);
  EXPECT_GT(out->groups[3].anomaly, out->groups[0].anomaly);
}

TEST(RobustPipelineTest, EveryGroupRejectedMeansNoUpdate) {
  const std::vector<Group> groups{{0}, {1}};
  const Vectors sums{{9.0f}, {-9.0f}};
  const std::vector<double> weights{0.5, 0.5};
  auto out =
      AggregateGroupSums(PipelineConfig{}, groups, Views(sums), weights, {});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->accepted, 0);
  EXPECT_EQ(out->update, std::vector<float>{0.0f});
}

TEST(RobustPipelineTest, InconsistentInputIsRefused) {
  const std::vector<Group> groups{{0}, {1}};
  const Vectors one{{0.1f}};
  const std::vector<double> weights{0.5, 0.5};
  EXPECT_EQ(
      AggregateGroupSums(PipelineConfig{}, groups, Views(one), weights, {})
          .error()
          .message,
      "pipeline: 2 groups, 1 sums");
  const Vectors ragged{{0.1f}, {0.1f, 0.2f}};
  EXPECT_EQ(
      AggregateGroupSums(PipelineConfig{}, groups, Views(ragged), weights, {})
          .error()
          .code,
      ErrorCode::kInvalidArgument);
  const std::vector<Group> stranger{{0}, {7}};
  const Vectors two{{0.1f}, {0.1f}};
  EXPECT_EQ(
      AggregateGroupSums(PipelineConfig{}, stranger, Views(two), weights, {})
          .error()
          .message,
      "pipeline: member 7 has no weight");
}

TEST(RobustPipelineTest, EvidenceLowersTheTrustOfAnAnomalousGroupsMembers) {
  const std::vector<Group> groups{{0, 1}, {2, 3}, {4, 5}};
  const Vectors sums{{0.10f}, {0.12f}, {5.0f}};
  const std::vector<double> weights(6, 1.0 / 6);
  PipelineConfig config;
  config.rule.rule = RobustRule::kCoordinateMedian;
  auto out = AggregateGroupSums(config, groups, Views(sums), weights, {});
  ASSERT_TRUE(out.has_value());
  std::vector<SiteTrust> sites(6);
  auto changes = ApplyGroupEvidence(sites, groups, *out, TrustConfig{});
  ASSERT_TRUE(changes.has_value());
  EXPECT_LT((*changes)[4].after, (*changes)[4].before);
  EXPECT_LT((*changes)[5].after, 1.0);
  EXPECT_DOUBLE_EQ((*changes)[0].after, 1.0);
}

}  // namespace
}  // namespace cls::core::robust
