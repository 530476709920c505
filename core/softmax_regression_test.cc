#include "core/softmax_regression.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/metrics.h"

namespace cls::core {
namespace {

// n points per class around three well-separated centres in 2-D, sd 0.7.
void MakeBlobs(int per_class, uint64_t seed, Eigen::MatrixXf& x,
               Eigen::VectorXi& y) {
  const float centres[3][2] = {{0.0f, 2.0f}, {-2.0f, -1.0f}, {2.0f, -1.0f}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.7f);
  x.resize(3 * per_class, 2);
  y.resize(3 * per_class);
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < per_class; ++i) {
      const int r = c * per_class + i;
      x(r, 0) = centres[c][0] + noise(rng);
      x(r, 1) = centres[c][1] + noise(rng);
      y(r) = c;
    }
  }
}

TEST(LogSoftmaxTest, IsStableForHugeLogits) {
  Eigen::MatrixXf z(2, 3);
  z << 1000.0f, 1000.0f, 0.0f, -1000.0f, 0.0f, 0.0f;
  const Eigen::MatrixXf lp = LogSoftmax(z);
  ASSERT_TRUE(lp.allFinite());
  EXPECT_NEAR(lp(0, 0), std::log(0.5f), 1e-5);
  EXPECT_NEAR(lp(0, 1), std::log(0.5f), 1e-5);
  EXPECT_NEAR(lp(1, 1), std::log(0.5f), 1e-5);
  EXPECT_LT(lp(1, 0), -999.0f);
}

TEST(SoftmaxRegressionTest, LayoutIsWeightsThenBiases) {
  const auto model = SoftmaxRegression::Create(4, 3);
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->layout().ToString(), "softmax:w[4x3],b[3]");
  EXPECT_EQ(model->parameters().size(), 15u);
}

TEST(SoftmaxRegressionTest, UntrainedModelPredictsUniformProbabilities) {
  const auto model = SoftmaxRegression::Create(2, 4);
  ASSERT_TRUE(model.has_value());
  const Eigen::MatrixXf p =
      model->PredictProbability(Eigen::MatrixXf::Ones(3, 2));
  EXPECT_TRUE(p.isApproxToConstant(0.25f));
}

TEST(SoftmaxRegressionTest, LearnsThreeGaussianBlobs) {
  Eigen::MatrixXf x, x_test;
  Eigen::VectorXi y, y_test;
  MakeBlobs(100, 7, x, y);
  MakeBlobs(50, 8, x_test, y_test);
  auto model = SoftmaxRegression::Create(2, 3);
  ASSERT_TRUE(model.has_value());
  TrainConfig cfg;
  cfg.epochs = 20;
  cfg.learning_rate = 0.2;
  const auto loss = model->Train(x, y, cfg);
  ASSERT_TRUE(loss.has_value());
  EXPECT_LT(*loss, 0.4);
  const Eigen::MatrixXf p = model->PredictProbability(x_test);
  EXPECT_TRUE(p.rowwise().sum().isApproxToConstant(1.0f, 1e-5f));
  const MultiClassMetrics m = EvaluateMultiClass(p, y_test);
  EXPECT_GT(m.accuracy, 0.9);
}

TEST(SoftmaxRegressionTest, TrainingIsReproducibleFromTheSeed) {
  Eigen::MatrixXf x;
  Eigen::VectorXi y;
  MakeBlobs(30, 3, x, y);
  auto a = SoftmaxRegression::Create(2, 3);
  auto b = SoftmaxRegression::Create(2, 3);
  TrainConfig cfg;
  ASSERT_TRUE(a->Train(x, y, cfg).has_value());
  ASSERT_TRUE(b->Train(x, y, cfg).has_value());
  EXPECT_TRUE(std::equal(a->parameters().begin(), a->parameters().end(),
                         b->parameters().begin()));
}

TEST(SoftmaxRegressionTest, TrainRejectsAnOutOfRangeLabel) {
  auto model = SoftmaxRegression::Create(2, 3);
  Eigen::MatrixXf x = Eigen::MatrixXf::Zero(2, 2);
  Eigen::VectorXi y(2);
  y << 0, 3;
  const auto loss = model->Train(x, y, TrainConfig{});
  ASSERT_FALSE(loss.has_value());
  EXPECT_EQ(loss.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(loss.error().message, "data: label 3 in row 1 is outside [0, 3)");
}

TEST(SoftmaxRegressionTest, SetParametersRejectsAWrongSizeWithTheLayout) {
  auto model = SoftmaxRegression::Create(2, 3);
  const std::vector<float> params(8, 0.0f);
  const Status s = model->SetParameters(params);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message,
            "model: 8 parameters, layout softmax:w[2x3],b[3] needs 9");
}

TEST(SoftmaxRegressionTest, CreateRejectsFewerThanTwoClasses) {
  const auto model = SoftmaxRegression::Create(2, 1);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cls::core
