#include "site-agent/serving_state.h"

#include <gtest/gtest.h>

#include <fstream>

#include "site-agent/serving_test_util.h"
#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using testing::MakeUpdate;
using testing::MakeVersion;
using testing::TempDir;

TEST(ServingStateTest, DefaultDeploymentServesTheGlobalModelAlone) {
  const ServedVersion v = MakeVersion("v1", 1);
  GlobalModel model{.round_id = 3,
                    .version = "v1",
                    .hash = v.hash,
                    .parameters = v.parameters};
  const ServingDeployment d = DefaultDeployment(model);
  EXPECT_TRUE(d.deployment_id.empty());
  EXPECT_EQ(d.routing.strategy, rollout::DeploymentStrategy::kImmediate);
  EXPECT_FALSE(d.candidate);
  auto state = ServingState::Create(d, 6);
  ASSERT_TRUE(state) << state.error().ToString();
  const auto route = state->Route("encounter-1");
  EXPECT_EQ(route.serve, rollout::Arm::kCurrent);
  EXPECT_EQ(state->VersionFor(route.serve), "v1");
}

TEST(ServingStateTest, AcceptsAGradualRolloutAndRoundTripsItThroughAFile) {
  const ServedVersion v1 = MakeVersion("v1", 1);
  const ServedVersion v2 = MakeVersion("v2", -1);
  auto d = DeploymentFromUpdate(
      MakeUpdate("dep-1", "gradual_rollout", v1, &v2, 25, "salt-a"));
  ASSERT_TRUE(d) << d.error().ToString();
  TempDir dir;
  const auto path = dir.path() / kDeploymentFile;
  ASSERT_TRUE(SaveDeployment(path, *d));
  auto loaded = LoadDeployment(path);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_TRUE(loaded->has_value());
  const ServingDeployment& back = **loaded;
  EXPECT_EQ(back.deployment_id, "dep-1");
  EXPECT_EQ(back.routing.strategy,
            rollout::DeploymentStrategy::kGradualRollout);
  EXPECT_EQ(back.routing.percentage, 25);
  EXPECT_EQ(back.routing.salt, "salt-a");
  EXPECT_EQ(back.current.parameters, v1.parameters);
  ASSERT_TRUE(back.candidate);
  EXPECT_EQ(back.candidate->parameters, v2.parameters);
  EXPECT_EQ(back.candidate->hash, v2.hash);
}

TEST(ServingStateTest, MissingFileIsNoDeployment) {
  TempDir dir;
  auto loaded = LoadDeployment(dir.path() / kDeploymentFile);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->has_value());
}

TEST(ServingStateTest, AnEditedParameterInTheFileIsDataLoss) {
  const ServedVersion v1 = MakeVersion("v1", 1);
  auto d = DeploymentFromUpdate(
      MakeUpdate("dep-1", "immediate", v1, nullptr, 0, ""));
  ASSERT_TRUE(d) << d.error().ToString();
  std::string text = EncodeDeployment(*d);
  const size_t at = text.find("[1.0");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 4, "[2.0");
  auto back = DecodeDeployment(text);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(back.error().message.find("do not match the model hash"),
            std::string::npos)
      << back.error().message;
  auto torn = DecodeDeployment(text.substr(0, text.size() / 2));
  ASSERT_FALSE(torn);
  EXPECT_EQ(torn.error().code, ErrorCode::kDataLoss);
}

TEST(ServingStateTest, RefusesBadUpdatesWithTheReason) {
  const ServedVersion v1 = MakeVersion("v1", 1);
  const ServedVersion v2 = MakeVersion("v2", -1);
  struct Case {
    protocol::DeploymentUpdate update;
    std::string expected;
  };
  std::vector<Case> cases;
  cases.push_back({MakeUpdate("d", "canary", v1, &v2, 10, "s"),
                   "deployment strategy: unknown name"});
  auto tampered = MakeUpdate("d", "ab_testing", v1, &v2, 50, "s");
  tampered.candidate.parameters[0] = 5;
  cases.push_back({tampered, "do not match the model hash"});
  cases.push_back({MakeUpdate("d", "ab_testing", v1, &v2, 50, ""),
                   "a rollout needs a salt"});
  cases.push_back({MakeUpdate("d", "gradual_rollout", v1, &v2, 150, "s"),
                   "percentage must be in [0, 100]"});
  auto kind = MakeUpdate("d", "immediate", v1, nullptr, 0, "");
  kind.current.model_kind = "benchmark_vector";
  cases.push_back({kind, "unknown model kind 'benchmark_vector'"});
  auto nan = MakeUpdate("d", "immediate", v1, nullptr, 0, "");
  nan.current.parameters[1] = std::nanf("");
  nan.current.model_hash = ModelHash(nan.current.parameters);
  cases.push_back({nan, "non-finite parameter"});
  for (const auto& c : cases) {
    auto d = DeploymentFromUpdate(c.update);
    ASSERT_FALSE(d) << c.expected;
    EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(d.error().message.find(c.expected), std::string::npos)
        << d.error().message << " vs " << c.expected;
  }
}

TEST(ServingStateTest, ServesEveryKindByItsSpec) {
  // Softmax regression over the 6 inputs, 3 classes: class 2 favoured.
  const core::ModelSpec spec{
      core::ModelKind::kSoftmaxRegression, 6, 3, {}, "relu"};
  std::vector<float> p(spec.NumParameters(), 0.0f);
  p[p.size() - 1] = 2.0f;  // bias of class 2
  const ServedVersion v{"v7", ModelHash(p), p, spec.ToString()};
  auto d =
      DeploymentFromUpdate(MakeUpdate("dep-7", "immediate", v, nullptr, 0, ""));
  ASSERT_TRUE(d) << d.error().ToString();
  auto state = ServingState::Create(*d, 6, 3);
  ASSERT_TRUE(state) << state.error().ToString();
  const Eigen::MatrixXf x = Eigen::MatrixXf::Zero(1, 6);
  const Eigen::RowVectorXf probs =
      state->Probabilities(rollout::Arm::kCurrent, x);
  ASSERT_EQ(probs.size(), 3);
  EXPECT_NEAR(probs.sum(), 1.0f, 1e-5f);
  EXPECT_GT(probs(2), probs(0));
  EXPECT_FLOAT_EQ(state->Predict(rollout::Arm::kCurrent, x), probs(2));
  // The spec survives the deployment file.
  auto decoded = DecodeDeployment(EncodeDeployment(*d));
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->current.spec, spec.ToString());

  // A site with binary labels cannot serve it, nor another input width.
  auto binary = ServingState::Create(*d, 6, 2);
  ASSERT_FALSE(binary);
  EXPECT_NE(binary.error().message.find("classes=3"), std::string::npos)
      << binary.error().message;
  EXPECT_FALSE(ServingState::Create(*d, 7, 3));
  // A kind that disagrees with its spec, or that names no spec, is refused.
  auto update = MakeUpdate("dep-8", "immediate", v, nullptr, 0, "");
  update.current.model_kind = "mlp";
  EXPECT_FALSE(DeploymentFromUpdate(update));
  update.current.model_spec.clear();
  EXPECT_FALSE(DeploymentFromUpdate(update));
  update.current.model_kind = "random_forest";
  auto unknown = DeploymentFromUpdate(update);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("random_forest"), std::string::npos);
}

TEST(ServingStateTest, RefusesAVersionThatDoesNotFitTheSchema) {
  auto d = DeploymentFromUpdate(
      MakeUpdate("d", "immediate", MakeVersion("v1", 1), nullptr, 0, ""));
  ASSERT_TRUE(d);
  auto state = ServingState::Create(*d, 9);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(state.error().message.find("7 parameters"), std::string::npos);
}

}  // namespace
}  // namespace cls::site
