#include "core/server_optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace cls::core {
namespace {

ServerOptimizer Make(const ServerOptimizer::Options& o, size_t n) {
  auto opt = ServerOptimizer::Create(o, n);
  EXPECT_TRUE(opt.has_value());
  return *std::move(opt);
}

TEST(ServerOptimizerTest, ParsesTheThreeKindNames) {
  EXPECT_EQ(ServerOptimizer::ParseKind("fedavg").value(),
            ServerOptimizer::Kind::kFedAvg);
  EXPECT_EQ(ServerOptimizer::ParseKind("fedavgm").value(),
            ServerOptimizer::Kind::kFedAvgM);
  EXPECT_EQ(ServerOptimizer::ParseKind("fedadam").value(),
            ServerOptimizer::Kind::kFedAdam);
  EXPECT_EQ(ServerOptimizer::KindName(ServerOptimizer::Kind::kFedAdam),
            "fedadam");
}

TEST(ServerOptimizerTest, UnknownKindNameIsAnInvalidArgument) {
  const auto kind = ServerOptimizer::ParseKind("fedyogi");
  ASSERT_FALSE(kind.has_value());
  EXPECT_EQ(kind.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(kind.error().message,
            "server optimizer: unknown kind 'fedyogi', expected fedavg, "
            "fedavgm or fedadam");
}

TEST(ServerOptimizerTest, FedAvgAddsTheScaledDelta) {
  ServerOptimizer::Options o;
  o.learning_rate = 0.5;
  ServerOptimizer opt = Make(o, 2);
  std::vector<float> x = {1.0f, -1.0f};
  ASSERT_TRUE(opt.Apply(x, std::vector<float>{0.2f, 0.4f}));
  EXPECT_FLOAT_EQ(x[0], 1.1f);
  EXPECT_FLOAT_EQ(x[1], -0.8f);
}

TEST(ServerOptimizerTest, FedAvgMAccumulatesServerMomentum) {
  ServerOptimizer::Options o;
  o.kind = ServerOptimizer::Kind::kFedAvgM;
  o.learning_rate = 1.0;
  o.momentum = 0.5;
  ServerOptimizer opt = Make(o, 2);
  std::vector<float> x = {0.0f, 0.0f};
  // Round 1: v = d = (1, -2), x = (1, -2).
  ASSERT_TRUE(opt.Apply(x, std::vector<float>{1.0f, -2.0f}));
  EXPECT_FLOAT_EQ(x[0], 1.0f);
  EXPECT_FLOAT_EQ(x[1], -2.0f);
  // Round 2: v = 0.5 (1, -2) + (1, 0) = (1.5, -1), x = (2.5, -3).
  ASSERT_TRUE(opt.Apply(x, std::vector<float>{1.0f, 0.0f}));
  EXPECT_FLOAT_EQ(x[0], 2.5f);
  EXPECT_FLOAT_EQ(x[1], -3.0f);
}

TEST(ServerOptimizerTest, FedAdamMatchesAHandComputedUpdate) {
  ServerOptimizer::Options o;
  o.kind = ServerOptimizer::Kind::kFedAdam;
  o.learning_rate = 0.1;
  o.beta1 = 0.9;
  o.beta2 = 0.99;
  o.tau = 0.01;
  ServerOptimizer opt = Make(o, 2);
  std::vector<float> x = {0.0f, 1.0f};
  // Round 1, d = (1, -0.5):
  //   m = (0.1, -0.05), v = (0.01, 0.0025), sqrt v = (0.1, 0.05)
  //   x += 0.1 * (0.1 / 0.11, -0.05 / 0.06)
  ASSERT_TRUE(opt.Apply(x, std::vector<float>{1.0f, -0.5f}));
  EXPECT_NEAR(x[0], 0.1 * 0.1 / 0.11, 1e-6);
  EXPECT_NEAR(x[1], 1.0 - 0.1 * 0.05 / 0.06, 1e-6);
  // Round 2, d = (1, 0):
  //   m = (0.19, -0.045), v = (0.0199, 0.002475)
  const double x0 = 0.1 * 0.1 / 0.11 + 0.1 * 0.19 / (std::sqrt(0.0199) + 0.01);
  const double x1 =
      1.0 - 0.1 * 0.05 / 0.06 - 0.1 * 0.045 / (std::sqrt(0.002475) + 0.01);
  ASSERT_TRUE(opt.Apply(x, std::vector<float>{1.0f, 0.0f}));
  EXPECT_NEAR(x[0], x0, 1e-6);
  EXPECT_NEAR(x[1], x1, 1e-6);
}

TEST(ServerOptimizerTest, ApplyRejectsASizeMismatchWithoutChangingParams) {
  ServerOptimizer opt = Make({}, 3);
  std::vector<float> x = {1.0f, 2.0f, 3.0f};
  const Status s = opt.Apply(x, std::vector<float>{1.0f, 1.0f});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message,
            "server optimizer: 3 parameters and 2 delta values, expected 3");
  EXPECT_EQ(x, (std::vector<float>{1.0f, 2.0f, 3.0f}));
}

TEST(ServerOptimizerTest, ApplyRejectsANonFiniteDeltaWithoutChangingParams) {
  ServerOptimizer::Options o;
  o.kind = ServerOptimizer::Kind::kFedAvgM;
  ServerOptimizer opt = Make(o, 2);
  std::vector<float> x = {1.0f, 2.0f};
  const Status s = opt.Apply(
      x, std::vector<float>{0.5f, std::numeric_limits<float>::infinity()});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message, "server optimizer: delta value 1 is not finite");
  EXPECT_EQ(x, (std::vector<float>{1.0f, 2.0f}));
  // The momentum was not polluted: the next good round is a plain first step.
  ASSERT_TRUE(opt.Apply(x, std::vector<float>{1.0f, 1.0f}));
  EXPECT_FLOAT_EQ(x[0], 2.0f);
}

TEST(ServerOptimizerTest, CreateRejectsBadHyperparameters) {
  ServerOptimizer::Options o;
  o.kind = ServerOptimizer::Kind::kFedAdam;
  o.tau = 0.0;
  const auto opt = ServerOptimizer::Create(o, 2);
  ASSERT_FALSE(opt.has_value());
  EXPECT_EQ(opt.error().message, "server optimizer: tau must be > 0");
  o = {};
  o.learning_rate = -1.0;
  EXPECT_FALSE(ServerOptimizer::Create(o, 2).has_value());
}

}  // namespace
}  // namespace cls::core
