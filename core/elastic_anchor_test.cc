#include "core/elastic_anchor.h"

#include <gtest/gtest.h>

#include <vector>

namespace cls::core {
namespace {

TEST(ElasticAnchorTest, LambdaFollowsRetention) {
  EXPECT_DOUBLE_EQ(ElasticAnchor(0.9, 1.0).lambda(), 9.0);
  EXPECT_DOUBLE_EQ(ElasticAnchor(0.5, 2.0).lambda(), 2.0);
  EXPECT_DOUBLE_EQ(ElasticAnchor(0.0, 1.0).lambda(), 0.0);
}

TEST(ElasticAnchorTest, FisherAccumulatesWithRetentionAndAnchorMoves) {
  ElasticAnchor a(0.5, 1.0);
  ASSERT_TRUE(a.Anchor(std::vector<float>{1, 2}, std::vector<float>{4, 8}));
  ASSERT_TRUE(a.Anchor(std::vector<float>{3, 4}, std::vector<float>{1, 1}));
  EXPECT_EQ(a.fisher(), (std::vector<float>{3, 5}));  // 0.5 * old + new
  EXPECT_EQ(a.anchor_params(), (std::vector<float>{3, 4}));
}

TEST(ElasticAnchorTest, PenaltyAndGradientMatchTheQuadratic) {
  ElasticAnchor a(0.5, 1.0);  // lambda 1
  ASSERT_TRUE(a.Anchor(std::vector<float>{0, 0}, std::vector<float>{2, 4}));
  const std::vector<float> w = {1, -1};
  EXPECT_DOUBLE_EQ(a.Penalty(w), 0.5 * (2 * 1 + 4 * 1));
  std::vector<float> grad = {0, 0};
  a.AddPenaltyGradient(w, grad);
  EXPECT_EQ(grad, (std::vector<float>{2, -4}));
  // Proximal step: w / (1 + lr lambda F), never past the anchor.
  std::vector<float> p = w;
  a.ApplyProximalStep(0.5, p);
  EXPECT_FLOAT_EQ(p[0], 0.5f);
  EXPECT_FLOAT_EQ(p[1], -1.0f / 3.0f);
}

TEST(ElasticAnchorTest, RejectsMismatchedOrInvalidInput) {
  ElasticAnchor a(0.9, 1.0);
  auto s = a.Anchor(std::vector<float>{1, 2}, std::vector<float>{1});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message, "anchor: 2 parameters, 1 Fisher values");
  s = a.Anchor(std::vector<float>{1, 2}, std::vector<float>{1, -1});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(a.Anchor(std::vector<float>{1, 2}, std::vector<float>{1, 1}));
  s = a.Anchor(std::vector<float>{1, 2, 3}, std::vector<float>{1, 1, 1});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message, "anchor: 3 parameters, expected 2");
}

TEST(DiagonalFisherTest, IsMeanSquaredPerExampleGradient) {
  LogisticRegression model(2);  // zero weights: p = 0.5 everywhere
  Eigen::MatrixXf x(2, 2);
  x << 1, 2, -3, 0;
  Eigen::VectorXf y(2);
  y << 1, 0;
  auto f = DiagonalFisher(model, x, y);
  ASSERT_TRUE(f.has_value());
  // residuals -0.5, 0.5 -> squared 0.25.
  EXPECT_FLOAT_EQ((*f)[0], 0.25f * (1 + 9) / 2);
  EXPECT_FLOAT_EQ((*f)[1], 0.25f * (4 + 0) / 2);
  EXPECT_FLOAT_EQ((*f)[2], 0.25f);
}

}  // namespace
}  // namespace cls::core
