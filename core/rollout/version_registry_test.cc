#include "core/rollout/version_registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace cls::rollout {
namespace {

constexpr int64_t kNow = 1796625600;  // 2026-12-07T06:40:00Z

VersionMetrics Metrics(double accuracy = 0.85) {
  return {accuracy, 0.83, 0.87, 0.85, 10000};
}

std::string NewVersion(VersionRegistry& r, float first = 1.0f) {
  std::vector<float> params = {first, 2.0f, 3.0f};
  auto v = r.Create(Metrics(), params, kNow);
  EXPECT_TRUE(v.has_value()) << v.error().ToString();
  return (*v)->version_id;
}

double ShareServedBy(const VersionRegistry& r, const std::string& id,
                     int n = 20000) {
  int hits = 0;
  for (int i = 0; i < n; ++i) {
    auto routed = r.Route("enc-" + std::to_string(i));
    EXPECT_TRUE(routed.has_value());
    hits += routed->serve == id ? 1 : 0;
  }
  return 100.0 * hits / n;
}

TEST(VersionRegistryTest, CreateNumbersVersionsAndHashesParameters) {
  VersionRegistry r;
  std::vector<float> params = {1.0f, 2.0f, 3.0f};
  auto v1 = r.Create(Metrics(), params, kNow);
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ((*v1)->version_id, "v1_20261207_064000");
  EXPECT_EQ((*v1)->created_at, "2026-12-07T06:40:00Z");
  EXPECT_EQ((*v1)->model_hash.size(), 64u);
  auto same = r.Create(Metrics(), params, kNow + 1);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ((*same)->version_id, "v2_20261207_064001");
  EXPECT_EQ((*same)->model_hash, (*v1)->model_hash);
  params[0] = 1.5f;
  auto other = r.Create(Metrics(), params, kNow);
  ASSERT_TRUE(other.has_value());
  EXPECT_NE((*other)->model_hash, (*v1)->model_hash);
  auto got = r.Get((*v1)->version_id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->role, VersionRole::kCreated);
  EXPECT_FALSE(got->is_active);
  EXPECT_EQ(got->deployment_percentage, 0);
}

TEST(VersionRegistryTest, CreateRefusesBadMetricsAndParameters) {
  VersionRegistry r;
  std::vector<float> params = {1.0f};
  VersionMetrics m = Metrics();
  m.recall = 1.2;
  auto bad = r.Create(m, params, kNow);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("recall"), std::string::npos);
  m = Metrics(std::nan(""));
  auto nan = r.Create(m, params, kNow);
  ASSERT_FALSE(nan.has_value());
  EXPECT_NE(nan.error().message.find("accuracy"), std::string::npos);
  m = Metrics();
  m.training_samples = -1;
  auto negative = r.Create(m, params, kNow);
  ASSERT_FALSE(negative.has_value());
  EXPECT_NE(negative.error().message.find("training_samples"),
            std::string::npos);
  auto empty = r.Create(Metrics(), {}, kNow);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);
  std::vector<float> inf = {1.0f, std::numeric_limits<float>::infinity()};
  auto e = r.Create(Metrics(), inf, kNow);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().message.find("model_params[1]"), std::string::npos);
  EXPECT_TRUE(r.List().empty());
}

TEST(VersionRegistryTest, FirstDeploymentServesEverything) {
  VersionRegistry r;
  const std::string v1 = NewVersion(r);
  EXPECT_EQ(r.Route("enc-1").error().code, ErrorCode::kFailedPrecondition);
  auto p = r.Deploy(v1, DeploymentStrategy::kGradualRollout, "s1");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, 100);
  EXPECT_EQ(ShareServedBy(r, v1, 1000), 100);
}

TEST(VersionRegistryTest, GradualRolloutRoutesItsShareAndPromotesAt100) {
  VersionRegistry r;
  const std::string v1 = NewVersion(r);
  const std::string v2 = NewVersion(r, 9.0f);
  ASSERT_TRUE(r.Deploy(v1, DeploymentStrategy::kImmediate, "s1"));
  auto p = r.Deploy(v2, DeploymentStrategy::kGradualRollout, "s2");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, 10);
  EXPECT_NEAR(ShareServedBy(r, v2), 10, 1.0);
  EXPECT_EQ(r.Get(v1)->deployment_percentage, 90);
  auto up = r.IncreaseRollout(v2, 15);
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(*up, 25);
  EXPECT_NEAR(ShareServedBy(r, v2), 25, 1.5);
  EXPECT_EQ(r.IncreaseRollout(v1, 10).error().code,  // not rolling out
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.IncreaseRollout(v2, -5).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(*r.IncreaseRollout(v2, 25), 50);
  EXPECT_EQ(*r.IncreaseRollout(v2, 80), 100);  // capped, then promoted
  EXPECT_EQ(r.Get(v2)->role, VersionRole::kCurrent);
  EXPECT_EQ(r.Get(v1)->role, VersionRole::kRetired);
  EXPECT_FALSE(r.Get(v1)->is_active);
  EXPECT_EQ(ShareServedBy(r, v2, 1000), 100);
}

TEST(VersionRegistryTest, GradualRolloutMayStartAtAnotherPercentage) {
  VersionRegistry r;
  const std::string v1 = NewVersion(r);
  const std::string v2 = NewVersion(r, 4.0f);
  // The first version serves everything: no starting share for it.
  EXPECT_EQ(
      r.Deploy(v1, DeploymentStrategy::kGradualRollout, "s1", 5.0).error().code,
      ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(r.Deploy(v1, DeploymentStrategy::kImmediate, "s1"));
  EXPECT_EQ(
      r.Deploy(v2, DeploymentStrategy::kAbTesting, "s2", 5.0).error().code,
      ErrorCode::kInvalidArgument);
  for (double bad : {0.0, -1.0, 100.5, std::nan("")}) {
    EXPECT_EQ(r.Deploy(v2, DeploymentStrategy::kGradualRollout, "s2", bad)
                  .error()
                  .code,
              ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(r.deployment()->in_rollout());  // refusals changed nothing
  auto p = r.Deploy(v2, DeploymentStrategy::kGradualRollout, "s2", 5.0);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, 5);
  EXPECT_NEAR(ShareServedBy(r, v2), 5, 0.8);
  EXPECT_EQ(*r.IncreaseRollout(v2, 5), 10);
  ASSERT_TRUE(r.Rollback(v1));
  // Starting at 100% completes the rollout at once.
  EXPECT_EQ(*r.Deploy(v2, DeploymentStrategy::kGradualRollout, "s3", 100.0),
            100);
  EXPECT_EQ(r.Get(v2)->role, VersionRole::kCurrent);
}

TEST(VersionRegistryTest, AbTestingSplitsAndShadowServesNothing) {
  VersionRegistry r;
  const std::string v1 = NewVersion(r);
  const std::string v2 = NewVersion(r, 5.0f);
  const std::string v3 = NewVersion(r, 7.0f);
  ASSERT_TRUE(r.Deploy(v1, DeploymentStrategy::kImmediate, "s1"));
  EXPECT_EQ(*r.Deploy(v2, DeploymentStrategy::kAbTesting, "s2"), 50);
  EXPECT_NEAR(ShareServedBy(r, v2), 50, 1.5);
  // One rollout at a time.
  auto busy = r.Deploy(v3, DeploymentStrategy::kShadowMode, "s3");
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(r.Rollback(v1));
  EXPECT_EQ(r.Get(v2)->role, VersionRole::kRetired);
  EXPECT_EQ(*r.Deploy(v3, DeploymentStrategy::kShadowMode, "s3"), 0);
  EXPECT_TRUE(r.Get(v3)->is_active);
  auto routed = r.Route("enc-7");
  ASSERT_TRUE(routed.has_value());
  EXPECT_EQ(routed->serve, v1);
  EXPECT_EQ(routed->shadow, v3);
}

TEST(VersionRegistryTest, RollbackOnlyToVersionsThatWereCurrent) {
  VersionRegistry r;
  const std::string v1 = NewVersion(r);
  const std::string v2 = NewVersion(r, 2.0f);
  const std::string v3 = NewVersion(r, 3.0f);
  EXPECT_EQ(r.Rollback(v1).error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(r.Deploy(v1, DeploymentStrategy::kImmediate, "s1"));
  ASSERT_TRUE(r.Deploy(v2, DeploymentStrategy::kImmediate, "s2"));
  // v3 was never current.
  auto never = r.Rollback(v3);
  ASSERT_FALSE(never.has_value());
  EXPECT_NE(never.error().message.find("never"), std::string::npos);
  EXPECT_EQ(r.Rollback(v2).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.Rollback("v9_20261207_080000").error().code,
            ErrorCode::kNotFound);
  ASSERT_TRUE(r.Rollback(v1));
  EXPECT_EQ(r.Get(v1)->role, VersionRole::kCurrent);
  EXPECT_EQ(r.Get(v2)->role, VersionRole::kRetired);
  EXPECT_EQ(ShareServedBy(r, v1, 1000), 100);
}

TEST(VersionRegistryTest, CompareFindsTheWorseCandidate) {
  VersionRegistry r;
  const std::string v1 = NewVersion(r);
  const std::string v2 = NewVersion(r, 2.0f);
  ASSERT_TRUE(r.Deploy(v1, DeploymentStrategy::kImmediate, "s1"));
  EXPECT_EQ(r.Compare().error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(r.Deploy(v2, DeploymentStrategy::kAbTesting, "s2"));
  // Current right 9 times in 10, candidate 6 times in 10.
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(r.RecordOutcome(v1, i % 10 != 0));
    ASSERT_TRUE(r.RecordOutcome(v2, i % 10 < 6));
  }
  auto c = r.Compare();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, Verdict::kCandidateWorse);
  EXPECT_NEAR(c->effect, -0.3, 1e-9);
  EXPECT_EQ(r.Get(v1)->version->outcomes.n, 2000);
  const std::string v3 = NewVersion(r, 3.0f);
  EXPECT_EQ(r.RecordOutcome(v3, true).error().code,  // serves nothing
            ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cls::rollout
