#include "core/logistic_regression.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/dataset.h"

namespace cls::core {
namespace {

ColumnSpec Numeric(std::string name, bool zero_is_missing = false) {
  ColumnSpec c;
  c.name = std::move(name);
  c.zero_is_missing = zero_is_missing;
  return c;
}

ColumnSpec Categorical(std::string name, std::vector<double> categories) {
  ColumnSpec c;
  c.name = std::move(name);
  c.kind = ColumnSpec::Kind::kCategorical;
  c.categories = std::move(categories);
  return c;
}

// n points in d dimensions labelled by the sign of <true_w, x> + 0.3, with
// a margin of at least 0.1 around the boundary.
void MakeSeparable(int n, int d, uint64_t seed, Eigen::MatrixXf& x,
                   Eigen::VectorXf& y) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Eigen::VectorXf true_w(d);
  for (int j = 0; j < d; ++j) true_w(j) = normal(rng);
  true_w.normalize();
  x.resize(n, d);
  y.resize(n);
  for (int i = 0; i < n;) {
    Eigen::RowVectorXf row(d);
    for (int j = 0; j < d; ++j) row(j) = normal(rng);
    const float score = row.dot(true_w) + 0.3f;
    if (std::abs(score) < 0.1f) continue;
    x.row(i) = row;
    y(i) = score > 0 ? 1.0f : 0.0f;
    ++i;
  }
}

TEST(LogisticRegressionTest, StartsAtZeroWithOneParameterPerFeaturePlusBias) {
  LogisticRegression model(4);
  EXPECT_EQ(model.num_features(), 4);
  EXPECT_EQ(model.num_parameters(), 5);
  for (float p : model.parameters()) EXPECT_EQ(p, 0.0f);
  Eigen::MatrixXf x = Eigen::MatrixXf::Random(3, 4);
  const Eigen::VectorXf prob = model.PredictProbability(x);
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(prob(i), 0.5f);
}

TEST(LogisticRegressionTest, LearnsALinearlySeparableProblem) {
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  MakeSeparable(3000, 10, 1, x, y);
  const Eigen::MatrixXf x_train = x.topRows(2000);
  const Eigen::VectorXf y_train = y.head(2000);
  const Eigen::MatrixXf x_test = x.bottomRows(1000);
  const Eigen::VectorXf y_test = y.tail(1000);
  LogisticRegression model(10);
  TrainConfig cfg{.epochs = 20,
                  .batch_size = 32,
                  .learning_rate = 0.5,
                  .l2 = 1e-5,
                  .seed = 3};
  const double first_loss = LogisticRegression(model).Train(
      x_train, y_train, {.epochs = 1, .seed = 3});
  const double loss = model.Train(x_train, y_train, cfg);
  EXPECT_LT(loss, first_loss);
  const BinaryMetrics train =
      EvaluateBinary(model.PredictProbability(x_train), y_train);
  EXPECT_GT(train.accuracy, 0.95);
  const BinaryMetrics test =
      EvaluateBinary(model.PredictProbability(x_test), y_test);
  EXPECT_GT(test.accuracy, 0.95);
  EXPECT_GT(test.auc, 0.99);
}

TEST(LogisticRegressionTest, TrainingIsDeterministicForASeed) {
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  MakeSeparable(300, 5, 9, x, y);
  TrainConfig cfg{.epochs = 3, .batch_size = 16, .seed = 42};
  LogisticRegression a(5), b(5), c(5);
  const double la = a.Train(x, y, cfg);
  const double lb = b.Train(x, y, cfg);
  EXPECT_EQ(la, lb);
  EXPECT_TRUE(std::equal(a.parameters().begin(), a.parameters().end(),
                         b.parameters().begin()));
  cfg.seed = 43;
  c.Train(x, y, cfg);
  EXPECT_FALSE(std::equal(a.parameters().begin(), a.parameters().end(),
                          c.parameters().begin()));
}

TEST(LogisticRegressionTest, LossIsFiniteForExtremeLogits) {
  // Huge features drive |z| far beyond exp's float range.
  Eigen::MatrixXf x(2, 1);
  x << 1e6f, -1e6f;
  Eigen::VectorXf y(2);
  y << 0.0f, 1.0f;  // confidently wrong after the first step
  LogisticRegression model(1);
  ASSERT_TRUE(model.SetParameters(std::vector<float>{1.0f, 0.0f}).has_value());
  const double loss = model.Train(
      x, y, {.epochs = 1, .batch_size = 2, .learning_rate = 0.0, .l2 = 0.0});
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, 1e6, 1.0);
  const Eigen::VectorXf p = model.PredictProbability(x);
  EXPECT_EQ(p(0), 1.0f);
  EXPECT_EQ(p(1), 0.0f);
}

TEST(LogisticRegressionTest, L2ShrinksWeightsButNotTheBias) {
  // With all-zero features only the L2 term moves the weights.
  Eigen::MatrixXf x = Eigen::MatrixXf::Zero(4, 2);
  Eigen::VectorXf y(4);
  y << 1, 1, 1, 1;
  LogisticRegression model(2);
  ASSERT_TRUE(
      model.SetParameters(std::vector<float>{1.0f, -2.0f, 0.0f}).has_value());
  model.Train(x, y,
              {.epochs = 1, .batch_size = 4, .learning_rate = 0.1, .l2 = 0.5});
  auto p = model.parameters();
  EXPECT_FLOAT_EQ(p[0], 1.0f * (1 - 0.05f));
  EXPECT_FLOAT_EQ(p[1], -2.0f * (1 - 0.05f));
  EXPECT_FLOAT_EQ(p[2], 0.1f * 0.5f);  // bias: lr * (y - 0.5), no decay
}

TEST(LogisticRegressionTest, ProximalTermPullsTowardsTheAnchor) {
  // All-zero features: only the bias gradient, L2 and the FedProx term act.
  Eigen::MatrixXf x = Eigen::MatrixXf::Zero(4, 2);
  Eigen::VectorXf y(4);
  y << 1, 1, 1, 1;
  const std::vector<float> start{1.0f, -2.0f, 0.0f};
  const std::vector<float> anchor{2.0f, 2.0f, 1.0f};
  const TrainConfig cfg{.epochs = 1,
                        .batch_size = 4,
                        .learning_rate = 0.1,
                        .l2 = 0.0,
                        .proximal_mu = 0.5};
  LogisticRegression model(2);
  ASSERT_TRUE(model.SetParameters(start).has_value());
  EXPECT_TRUE(std::isfinite(model.Train(x, y, cfg, anchor)));
  auto p = model.parameters();
  EXPECT_FLOAT_EQ(p[0], 1.0f - 0.1f * 0.5f * (1.0f - 2.0f));
  EXPECT_FLOAT_EQ(p[1], -2.0f - 0.1f * 0.5f * (-2.0f - 2.0f));
  // Bias: log-loss gradient (0.5 - 1) plus mu (0 - 1).
  EXPECT_FLOAT_EQ(p[2], -0.1f * (-0.5f + 0.5f * (0.0f - 1.0f)));

  // No anchor: anchored at the starting point, so the first step is plain
  // SGD and the weights (no data gradient, no L2) stay put.
  LogisticRegression self_anchored(2);
  ASSERT_TRUE(self_anchored.SetParameters(start).has_value());
  self_anchored.Train(x, y, cfg);
  EXPECT_FLOAT_EQ(self_anchored.parameters()[0], 1.0f);
  EXPECT_FLOAT_EQ(self_anchored.parameters()[1], -2.0f);

  // mu = 0 ignores the anchor: identical to the three-argument Train.
  Eigen::MatrixXf xs;
  Eigen::VectorXf ys;
  MakeSeparable(200, 2, 5, xs, ys);
  LogisticRegression a(2), b(2);
  const TrainConfig plain{.epochs = 2, .batch_size = 16, .seed = 4};
  a.Train(xs, ys, plain);
  b.Train(xs, ys, plain, anchor);
  EXPECT_TRUE(std::equal(a.parameters().begin(), a.parameters().end(),
                         b.parameters().begin()));

  // A strong pull keeps the model closer to the anchor than without it.
  LogisticRegression free_model(2), prox_model(2);
  TrainConfig prox = plain;
  prox.proximal_mu = 5.0;
  free_model.Train(xs, ys, plain);
  prox_model.Train(xs, ys, prox, std::vector<float>(3, 0.0f));
  const auto norm = [](std::span<const float> v) {
    double s = 0;
    for (float f : v) s += double{f} * f;
    return s;
  };
  EXPECT_LT(norm(prox_model.parameters()), norm(free_model.parameters()));

  // A wrong-sized anchor is refused and leaves the model unchanged.
  LogisticRegression wrong(2);
  EXPECT_TRUE(std::isnan(wrong.Train(xs, ys, prox, std::vector<float>(2))));
  for (float v : wrong.parameters()) EXPECT_EQ(v, 0.0f);
}

TEST(LogisticRegressionTest, SetParametersRejectsALengthMismatch) {
  LogisticRegression model(13);
  std::vector<float> wrong(12, 0.5f);
  auto status = model.SetParameters(wrong);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.error().message, "model: 12 parameters, expected 14");
  for (float p : model.parameters()) EXPECT_EQ(p, 0.0f);

  std::vector<float> right(14, 0.5f);
  ASSERT_TRUE(model.SetParameters(right).has_value());
  EXPECT_EQ(model.parameters()[13], 0.5f);

  right[3] = NAN;
  EXPECT_FALSE(model.SetParameters(right).has_value());
}

TEST(EvaluateBinaryTest, AucOfAPerfectRankingIsOneAndOfAReversedOneIsZero) {
  Eigen::VectorXf y(6);
  y << 0, 0, 0, 1, 1, 1;
  Eigen::VectorXf perfect(6);
  perfect << 0.1f, 0.2f, 0.3f, 0.6f, 0.7f, 0.9f;
  EXPECT_DOUBLE_EQ(EvaluateBinary(perfect, y).auc, 1.0);
  Eigen::VectorXf reversed(6);
  reversed << 0.9f, 0.7f, 0.6f, 0.3f, 0.2f, 0.1f;
  EXPECT_DOUBLE_EQ(EvaluateBinary(reversed, y).auc, 0.0);
}

TEST(EvaluateBinaryTest, TiedScoresCountAsHalf) {
  Eigen::VectorXf y(4);
  y << 0, 1, 0, 1;
  Eigen::VectorXf all_same = Eigen::VectorXf::Constant(4, 0.4f);
  EXPECT_DOUBLE_EQ(EvaluateBinary(all_same, y).auc, 0.5);
  // Pairs (neg, pos): (0.2, 0.5) win, (0.2, 0.8) win, (0.5, 0.5) tie,
  // (0.5, 0.8) win -> 3.5 / 4.
  Eigen::VectorXf p(4);
  p << 0.2f, 0.5f, 0.5f, 0.8f;
  EXPECT_DOUBLE_EQ(EvaluateBinary(p, y).auc, 3.5 / 4);
}

TEST(EvaluateBinaryTest, ComputesAccuracyLogLossPrecisionRecallAndF1) {
  Eigen::VectorXf y(5);
  y << 1, 1, 0, 0, 1;
  Eigen::VectorXf p(5);
  p << 0.9f, 0.4f, 0.6f, 0.1f, 1.0f;  // TP, FN, FP, TN, TP
  const BinaryMetrics m = EvaluateBinary(p, y);
  EXPECT_EQ(m.count, 5);
  EXPECT_EQ(m.correct, 3);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  EXPECT_NEAR(m.precision, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.recall, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.f1, 2.0 / 3, 1e-12);
  const double expected_loss =
      -(std::log(0.9f) + std::log(0.4f) + std::log1p(-0.6f) +
        std::log1p(-0.1f) + std::log(1 - 1e-7)) /
      5;
  EXPECT_NEAR(m.log_loss, expected_loss, 1e-6);
}

TEST(EvaluateBinaryTest, UndefinedMetricsAreZeroAndSingleClassAucIsHalf) {
  Eigen::VectorXf y = Eigen::VectorXf::Zero(3);
  Eigen::VectorXf p(3);
  p << 0.1f, 0.2f, 0.0f;  // no positive predicted, none actual
  const BinaryMetrics m = EvaluateBinary(p, y);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.recall, 0.0);
  EXPECT_EQ(m.f1, 0.0);
  EXPECT_EQ(m.auc, 0.5);
  EXPECT_DOUBLE_EQ(m.accuracy, 1.0);
  EXPECT_TRUE(std::isfinite(m.log_loss));  // p = 0 is clamped
}

// The Cleveland Clinic site of the UCI heart-disease data, read in place.
TEST(ClevelandTest, HeldOutAccuracyIsAboveSeventyFivePercent) {
  const std::string path = CLS_HEART_DATA_DIR "/cleveland.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";

  DatasetSchema schema;
  schema.features = {
      Numeric("age"),
      Numeric("sex"),
      Categorical("cp", {1, 2, 3, 4}),
      Numeric("trestbps"),
      Numeric("chol", true),
      Numeric("fbs"),
      Categorical("restecg", {0, 1, 2}),
      Numeric("thalach"),
      Numeric("exang"),
      Numeric("oldpeak"),
      Categorical("slope", {1, 2, 3}),
      Numeric("ca"),
      Categorical("thal", {3, 6, 7}),
  };
  schema.label = {.column = "num", .positive_above = 0.0};

  auto loaded = LoadCsv(path, schema);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_TRUE(loaded->rejected.empty());
  const RawTable& table = loaded->table;
  EXPECT_EQ(table.rows.size(), 303u);

  const Split split = StratifiedSplit(table.labels, 0.2, 7);
  auto pre = Preprocessor::Fit(schema, table, split.train);
  ASSERT_TRUE(pre.has_value()) << pre.error().ToString();
  ASSERT_EQ(pre->FeatureCount(), 22);
  const Eigen::MatrixXf x_train = pre->Transform(table, split.train);
  const Eigen::VectorXf y_train = pre->Labels(table, split.train);
  const Eigen::MatrixXf x_test = pre->Transform(table, split.test);
  const Eigen::VectorXf y_test = pre->Labels(table, split.test);

  LogisticRegression model(pre->FeatureCount());
  model.Train(x_train, y_train, {.epochs = 20, .seed = 7});
  const BinaryMetrics m =
      EvaluateBinary(model.PredictProbability(x_test), y_test);
  RecordProperty("held_out_accuracy", std::to_string(m.accuracy));
  std::printf(
      "Cleveland held-out (n=%lld): accuracy %.4f, AUC %.4f, "
      "log loss %.4f, F1 %.4f\n",
      static_cast<long long>(m.count), m.accuracy, m.auc, m.log_loss, m.f1);
  EXPECT_GT(m.accuracy, 0.75);
}

}  // namespace
}  // namespace cls::core
