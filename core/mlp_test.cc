#include "core/mlp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/logistic_regression.h"
#include "core/metrics.h"

namespace cls::core {
namespace {

// XOR-like: four Gaussian clusters at (+-1, +-1), sd 0.25; label 1 when the
// two coordinates have the same sign. No linear boundary does better than
// about 50-75%.
void MakeXor(int n, uint64_t seed, Eigen::MatrixXf& x, Eigen::VectorXi& y) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.25f);
  x.resize(n, 2);
  y.resize(n);
  for (int i = 0; i < n; ++i) {
    const float a = (i % 2 == 0) ? 1.0f : -1.0f;
    const float b = ((i / 2) % 2 == 0) ? 1.0f : -1.0f;
    x(i, 0) = a + noise(rng);
    x(i, 1) = b + noise(rng);
    y(i) = a * b > 0 ? 1 : 0;
  }
}

double BinaryAccuracy(const Eigen::MatrixXf& p, const Eigen::VectorXi& y) {
  int correct = 0;
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    correct += ((p(i, 0) >= 0.5f) == (y(i) == 1)) ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(y.size());
}

TEST(MlpTest, LayoutNamesEveryLayer) {
  const auto binary = Mlp::Create({13, {16}, 2}, 1);
  ASSERT_TRUE(binary.has_value());
  EXPECT_EQ(binary->layout().ToString(), "mlp:w1[13x16],b1[16],w2[16x1],b2[1]");
  EXPECT_EQ(binary->parameters().size(), 13u * 16 + 16 + 16 + 1);
  const auto deep = Mlp::Create({4, {8, 6}, 3}, 1);
  ASSERT_TRUE(deep.has_value());
  EXPECT_EQ(deep->layout().ToString(),
            "mlp:w1[4x8],b1[8],w2[8x6],b2[6],w3[6x3],b3[3]");
}

TEST(MlpTest, HeInitialisationIsSeededAndScaledByFanIn) {
  const auto a = Mlp::Create({200, {50}, 2}, 42);
  const auto b = Mlp::Create({200, {50}, 2}, 42);
  const auto c = Mlp::Create({200, {50}, 2}, 43);
  ASSERT_TRUE(a && b && c);
  EXPECT_TRUE(std::ranges::equal(a->parameters(), b->parameters()));
  EXPECT_FALSE(std::ranges::equal(a->parameters(), c->parameters()));
  // First weight block: 10000 draws with variance 2 / 200.
  const auto w1 = a->parameters().subspan(0, 200 * 50);
  double sum_sq = 0.0;
  for (float v : w1) sum_sq += static_cast<double>(v) * v;
  EXPECT_NEAR(sum_sq / static_cast<double>(w1.size()), 0.01, 0.001);
  // Biases start at zero.
  const auto b1 = a->parameters().subspan(a->layout().Offset(1), 50);
  EXPECT_TRUE(std::ranges::all_of(b1, [](float v) { return v == 0.0f; }));
}

TEST(MlpTest, LearnsXorWhichLogisticRegressionCannot) {
  Eigen::MatrixXf x, x_test;
  Eigen::VectorXi y, y_test;
  MakeXor(400, 5, x, y);
  MakeXor(200, 6, x_test, y_test);
  TrainConfig cfg;
  cfg.epochs = 60;
  cfg.learning_rate = 0.1;

  LogisticRegression linear(2);
  linear.Train(x, y.cast<float>(), cfg);
  const Eigen::MatrixXf linear_p = linear.PredictProbability(x_test);
  EXPECT_LT(BinaryAccuracy(linear_p, y_test), 0.8);

  auto mlp = Mlp::Create({2, {16}, 2}, 3);
  ASSERT_TRUE(mlp.has_value());
  const auto loss = mlp->Train(x, y, cfg);
  ASSERT_TRUE(loss.has_value());
  EXPECT_LT(*loss, 0.2);
  EXPECT_GT(BinaryAccuracy(mlp->PredictProbability(x_test), y_test), 0.9);
}

TEST(MlpTest, TwoHiddenLayerSoftmaxLearnsThreeClassXor) {
  Eigen::MatrixXf x, x_test;
  Eigen::VectorXi y, y_test;
  MakeXor(400, 7, x, y);
  MakeXor(200, 8, x_test, y_test);
  // Same clusters, three classes: the (+1, +1) cluster (i % 4 == 0) is
  // class 2, the (-1, -1) cluster stays 1, the other two stay 0.
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    if (i % 4 == 0) y(i) = 2;
  }
  for (Eigen::Index i = 0; i < x_test.rows(); ++i) {
    if (i % 4 == 0) y_test(i) = 2;
  }
  auto mlp = Mlp::Create({2, {16, 8}, 3}, 11);
  ASSERT_TRUE(mlp.has_value());
  TrainConfig cfg;
  cfg.epochs = 60;
  cfg.learning_rate = 0.1;
  ASSERT_TRUE(mlp->Train(x, y, cfg).has_value());
  const Eigen::MatrixXf p = mlp->PredictProbability(x_test);
  ASSERT_EQ(p.cols(), 3);
  EXPECT_GT(EvaluateMultiClass(p, y_test).accuracy, 0.9);
}

// Central differences of the objective against LossAndGradient, on a tiny
// net in float: h = 1e-2 keeps rounding error well below the tolerance.
void CheckGradient(const MlpSpec& spec, uint64_t seed) {
  auto mlp = Mlp::Create(spec, seed);
  ASSERT_TRUE(mlp.has_value());
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Eigen::MatrixXf x(6, spec.num_features);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  Eigen::VectorXi y(6);
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    y(i) = static_cast<int>(i % spec.num_classes);
  }
  // Non-zero biases so units are not all at the same point.
  std::vector<float> params(mlp->parameters().begin(), mlp->parameters().end());
  for (float& p : params) p += 0.1f * normal(rng);
  ASSERT_TRUE(mlp->SetParameters(params));

  const double l2 = 0.05;
  std::vector<float> grad(params.size());
  ASSERT_TRUE(mlp->LossAndGradient(x, y, l2, grad).has_value());
  std::vector<float> scratch(params.size());
  const float h = 1e-2f;
  for (size_t i = 0; i < params.size(); ++i) {
    std::vector<float> plus = params, minus = params;
    plus[i] += h;
    minus[i] -= h;
    ASSERT_TRUE(mlp->SetParameters(plus));
    const double f_plus = *mlp->LossAndGradient(x, y, l2, scratch);
    ASSERT_TRUE(mlp->SetParameters(minus));
    const double f_minus = *mlp->LossAndGradient(x, y, l2, scratch);
    const double numeric = (f_plus - f_minus) / (2.0 * h);
    EXPECT_NEAR(grad[i], numeric, 2e-3 + 2e-2 * std::abs(numeric))
        << "parameter " << i;
  }
}

TEST(MlpTest, BinaryGradientMatchesFiniteDifferences) {
  CheckGradient({3, {4}, 2}, 21);
}

TEST(MlpTest, SoftmaxTwoLayerGradientMatchesFiniteDifferences) {
  CheckGradient({3, {4, 3}, 3}, 22);
}

TEST(MlpTest, SetParametersRejectsAWrongSizeWithTheLayout) {
  auto mlp = Mlp::Create({2, {3}, 2}, 1);
  const std::vector<float> params(12, 0.0f);
  const Status s = mlp->SetParameters(params);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message,
            "model: 12 parameters, layout mlp:w1[2x3],b1[3],w2[3x1],b2[1] "
            "needs 13");
}

TEST(MlpTest, CreateRejectsThreeHiddenLayers) {
  const auto mlp = Mlp::Create({2, {3, 3, 3}, 2}, 1);
  ASSERT_FALSE(mlp.has_value());
  EXPECT_EQ(mlp.error().message, "mlp: 3 hidden layers, supported 1 or 2");
}

TEST(MlpTest, TrainRejectsAFeatureCountMismatch) {
  auto mlp = Mlp::Create({2, {3}, 2}, 1);
  const auto loss =
      mlp->Train(Eigen::MatrixXf::Zero(4, 3), Eigen::VectorXi::Zero(4), {});
  ASSERT_FALSE(loss.has_value());
  EXPECT_EQ(loss.error().message, "data: 3 features, model expects 2");
}

}  // namespace
}  // namespace cls::core
