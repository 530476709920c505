#include "core/rollout/deployment.h"

#include <gtest/gtest.h>

#include <string>

namespace cls::rollout {
namespace {

Deployment Make(const char* current = "v1") {
  auto d = Deployment::Create(current);
  EXPECT_TRUE(d.has_value());
  return std::move(*d);
}

double CandidateShare(const Deployment& d, int n = 20000) {
  int c = 0;
  for (int i = 0; i < n; ++i) {
    c += d.Route("enc-" + std::to_string(i)).serve == Arm::kCandidate ? 1 : 0;
  }
  return static_cast<double>(c) / n;
}

TEST(DeploymentTest, StrategiesStartAtTheGuidesPercentages) {
  struct Case {
    DeploymentStrategy strategy;
    double percentage;
  } cases[] = {{DeploymentStrategy::kImmediate, 100},
               {DeploymentStrategy::kGradualRollout, 10},
               {DeploymentStrategy::kAbTesting, 50},
               {DeploymentStrategy::kShadowMode, 0}};
  for (const Case& c : cases) {
    Deployment d = Make();
    ASSERT_TRUE(d.Deploy("v2", c.strategy, "salt-1").has_value());
    EXPECT_EQ(d.state().percentage, c.percentage);
    EXPECT_NEAR(CandidateShare(d), c.percentage / 100, 0.015)
        << DeploymentStrategyName(c.strategy);
  }
}

TEST(DeploymentTest, ShadowModeServesCurrentAndScoresCandidate) {
  Deployment d = Make();
  ASSERT_TRUE(d.Deploy("v2", DeploymentStrategy::kShadowMode, "s").has_value());
  for (int i = 0; i < 100; ++i) {
    const RouteDecision r = d.Route("enc-" + std::to_string(i));
    EXPECT_EQ(r.serve, Arm::kCurrent);
    EXPECT_TRUE(r.shadow_candidate);
  }
  EXPECT_EQ(d.VersionFor(Arm::kCandidate), "v2");
}

TEST(DeploymentTest, RaisingThePercentageOnlyAddsEncounters) {
  Deployment d = Make();
  ASSERT_TRUE(
      d.Deploy("v2", DeploymentStrategy::kGradualRollout, "s").has_value());
  std::vector<bool> at10;
  for (int i = 0; i < 10000; ++i) {
    at10.push_back(d.Route("enc-" + std::to_string(i)).serve ==
                   Arm::kCandidate);
  }
  ASSERT_TRUE(d.SetRolloutPercentage(25).has_value());
  int moved_in = 0;
  for (int i = 0; i < 10000; ++i) {
    const bool now =
        d.Route("enc-" + std::to_string(i)).serve == Arm::kCandidate;
    if (at10[static_cast<size_t>(i)]) {
      EXPECT_TRUE(now) << i;
    }
    moved_in += now && !at10[static_cast<size_t>(i)] ? 1 : 0;
  }
  EXPECT_NEAR(moved_in / 10000.0, 0.15, 0.015);
  auto to = d.IncreaseRollout(25);
  ASSERT_TRUE(to.has_value());
  EXPECT_EQ(*to, 50);
}

TEST(DeploymentTest, RefusesLoweringAndWrongStrategy) {
  Deployment d = Make();
  ASSERT_TRUE(
      d.Deploy("v2", DeploymentStrategy::kGradualRollout, "s").has_value());
  ASSERT_TRUE(d.SetRolloutPercentage(25).has_value());
  EXPECT_EQ(d.SetRolloutPercentage(20).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(d.SetRolloutPercentage(101).error().code,
            ErrorCode::kInvalidArgument);
  Deployment ab = Make();
  ASSERT_TRUE(ab.Deploy("v2", DeploymentStrategy::kAbTesting, "s").has_value());
  EXPECT_EQ(ab.SetRolloutPercentage(60).error().code,
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(ab.Deploy("v3", DeploymentStrategy::kAbTesting, "t").error().code,
            ErrorCode::kFailedPrecondition);
}

TEST(DeploymentTest, RollbackReturnsEveryoneToTheStableVersion) {
  Deployment d = Make();
  ASSERT_TRUE(d.Deploy("v2", DeploymentStrategy::kAbTesting, "s").has_value());
  ASSERT_TRUE(d.Rollback().has_value());
  EXPECT_FALSE(d.in_rollout());
  EXPECT_EQ(CandidateShare(d), 0.0);
  EXPECT_EQ(d.state().current_version, "v1");
  EXPECT_EQ(d.Rollback().error().code, ErrorCode::kFailedPrecondition);
}

TEST(DeploymentTest, PromoteMakesTheCandidateStable) {
  Deployment d = Make();
  ASSERT_TRUE(d.Deploy("v2", DeploymentStrategy::kImmediate, "s").has_value());
  ASSERT_TRUE(d.Promote().has_value());
  EXPECT_EQ(d.state().current_version, "v2");
  EXPECT_FALSE(d.in_rollout());
}

TEST(DeploymentTest, RestoreValidatesAndRoutesTheSame) {
  Deployment d = Make();
  ASSERT_TRUE(
      d.Deploy("v2", DeploymentStrategy::kGradualRollout, "s9").has_value());
  auto copy = Deployment::Restore(d.state());
  ASSERT_TRUE(copy.has_value());
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "enc-" + std::to_string(i);
    EXPECT_EQ(copy->Route(key).serve, d.Route(key).serve);
  }
  DeploymentState bad = d.state();
  bad.salt.clear();
  EXPECT_EQ(Deployment::Restore(bad).error().code, ErrorCode::kInvalidArgument);
  bad = d.state();
  bad.percentage = 150;
  EXPECT_EQ(Deployment::Restore(bad).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Deployment::Create("").error().code, ErrorCode::kInvalidArgument);
}

TEST(DeploymentStrategyTest, NamesRoundTrip) {
  for (auto s :
       {DeploymentStrategy::kImmediate, DeploymentStrategy::kGradualRollout,
        DeploymentStrategy::kAbTesting, DeploymentStrategy::kShadowMode}) {
    auto parsed = ParseDeploymentStrategy(DeploymentStrategyName(s));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(ParseDeploymentStrategy("canary").error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cls::rollout
