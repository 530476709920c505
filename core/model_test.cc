#include "core/model.h"

#include <gtest/gtest.h>

#include <random>

namespace cls::core {
namespace {

// Three well-separated Gaussian blobs in 2-D, class = blob.
void Blobs(int n, int classes, Eigen::MatrixXf& x, Eigen::VectorXi& y) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  x.resize(n, 2);
  y.resize(n);
  for (int i = 0; i < n; ++i) {
    const int c = i % classes;
    x(i, 0) = static_cast<float>(c) * 2.0f + noise(rng);
    x(i, 1) = (c % 2 == 0 ? 1.0f : -1.0f) + noise(rng);
    y[i] = c;
  }
}

TEST(ModelSpecTest, TextRoundTripsAndCountsParameters) {
  ModelSpec mlp{ModelKind::kMlp, 13, 2, {32, 16}, "relu"};
  EXPECT_EQ(mlp.ToString(),
            "kind=mlp;features=13;classes=2;hidden=32,16;activation=relu");
  auto parsed = ModelSpec::Parse(mlp.ToString());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(*parsed, mlp);
  EXPECT_EQ(mlp.NumParameters(), 13u * 32 + 32 + 32 * 16 + 16 + 16 + 1);
  ModelSpec softmax{ModelKind::kSoftmaxRegression, 13, 4, {}, "relu"};
  EXPECT_EQ(softmax.NumParameters(), 13u * 4 + 4);
  ModelSpec logreg{ModelKind::kLogisticRegression, 13, 2, {}, "relu"};
  EXPECT_EQ(logreg.NumParameters(), 14u);
  EXPECT_EQ(logreg.ToString(),
            "kind=logistic_regression;features=13;classes=2");
}

TEST(ModelSpecTest, RefusesWhatCannotBeBuilt) {
  EXPECT_FALSE(ModelSpec::Parse("kind=tree;features=3;classes=2"));
  EXPECT_FALSE(
      ModelSpec::Parse("kind=logistic_regression;features=3;classes=3"));
  EXPECT_FALSE(ModelSpec::Parse("kind=mlp;features=3;classes=2"));
  EXPECT_FALSE(ModelSpec::Parse(
      "kind=mlp;features=3;classes=2;hidden=4,4,4;activation=relu"));
  EXPECT_FALSE(ModelSpec::Parse(
      "kind=mlp;features=3;classes=2;hidden=4;activation=tanh"));
  EXPECT_FALSE(ModelSpec::Parse("kind=softmax_regression;features=x"));
  EXPECT_FALSE(ModelSpec::Parse("features=3;classes=2"));
  const auto error = ModelSpec::Parse("kind=tree;features=3").error().message;
  EXPECT_NE(error.find("softmax_regression"), std::string::npos) << error;
}

TEST(ModelTest, EveryKindLearnsSeparableClasses) {
  for (const ModelSpec& spec :
       {ModelSpec{ModelKind::kLogisticRegression, 2, 2, {}, "relu"},
        ModelSpec{ModelKind::kSoftmaxRegression, 2, 3, {}, "relu"},
        ModelSpec{ModelKind::kMlp, 2, 2, {8}, "relu"},
        ModelSpec{ModelKind::kMlp, 2, 3, {8, 8}, "relu"}}) {
    SCOPED_TRACE(spec.ToString());
    Eigen::MatrixXf x;
    Eigen::VectorXi y;
    Blobs(300, spec.num_classes, x, y);
    auto model = Model::Create(spec, 3);
    ASSERT_TRUE(model.has_value()) << model.error().message;
    EXPECT_EQ(model->parameters().size(), spec.NumParameters());
    EXPECT_EQ(model->layout().total_size(), spec.NumParameters());
    TrainConfig cfg;
    cfg.epochs = 30;
    ASSERT_TRUE(model->Train(x, y, cfg).has_value());
    const Eigen::MatrixXf p = model->PredictProbability(x);
    ASSERT_EQ(p.cols(), spec.num_classes);
    EXPECT_NEAR(p.row(0).sum(), 1.0f, 1e-4f);
    const ClassReport report = ReportClasses(CountClasses(p, y));
    EXPECT_GT(report.accuracy, 0.95);
    EXPECT_GT(report.macro_f1, 0.95);
  }
}

TEST(ModelTest, SetParametersRefusesAWrongLayout) {
  auto model =
      Model::Create({ModelKind::kSoftmaxRegression, 3, 3, {}, "relu"}, 1);
  ASSERT_TRUE(model.has_value());
  std::vector<float> wrong(5, 0.0f);
  const Status s = model->SetParameters(wrong);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("softmax"), std::string::npos)
      << s.error().message;
  std::vector<float> right(12, 0.5f);
  EXPECT_TRUE(model->SetParameters(right).has_value());
  EXPECT_EQ(model->parameters()[3], 0.5f);
}

TEST(ModelTest, LabelOutOfRangeIsAnError) {
  auto model =
      Model::Create({ModelKind::kLogisticRegression, 2, 2, {}, "relu"}, 1);
  ASSERT_TRUE(model.has_value());
  Eigen::MatrixXf x = Eigen::MatrixXf::Zero(2, 2);
  Eigen::VectorXi y(2);
  y << 0, 2;
  EXPECT_FALSE(model->Train(x, y, TrainConfig{}).has_value());
}

TEST(ClassMetricsTest, MacroAveragesFromCounts) {
  // Rows: true 0 -> 0, 0 -> 1, 1 -> 1, 2 -> 2, 2 -> 1.
  Eigen::MatrixXf p(5, 3);
  p << 0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8, 0.2, 0.5,
      0.3;
  Eigen::VectorXi y(5);
  y << 0, 0, 1, 2, 2;
  const ClassCounts counts = CountClasses(p, y);
  EXPECT_EQ(counts.correct, (std::vector<uint64_t>{1, 1, 1}));
  EXPECT_EQ(counts.support, (std::vector<uint64_t>{2, 1, 2}));
  EXPECT_EQ(counts.predicted, (std::vector<uint64_t>{1, 3, 1}));
  const ClassReport r = ReportClasses(counts);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.6);
  EXPECT_DOUBLE_EQ(r.precision[1], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.recall[0], 0.5);
  // f1: class 0: 2/3, class 1: 0.5, class 2: 2/3.
  EXPECT_NEAR(r.macro_f1, (2.0 / 3 + 0.5 + 2.0 / 3) / 3, 1e-12);
  ClassCounts twice = counts;
  twice.Add(counts);
  EXPECT_EQ(twice.support[2], 4u);
  EXPECT_NEAR(ReportClasses(twice).macro_f1, r.macro_f1, 1e-12);
  ClassCounts bad = counts;
  bad.correct[0] = 5;
  EXPECT_FALSE(bad.Consistent());
}

}  // namespace
}  // namespace cls::core
