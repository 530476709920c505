#include "site-agent/local_model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <sstream>

#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using testing::SyntheticCsv;
using testing::SyntheticDataConfig;
using testing::TempDir;

// The real data sits beside the checkout (../shared); never in the repo.
constexpr const char* kCleveland = CLS_HEART_DATA_DIR "/cleveland.csv";

TEST(LocalModelTest, LoadsSplitsAndTrainsABaselineOnASmallCsv) {
  TempDir dir;
  const auto csv = dir.Write("data.csv", SyntheticCsv(200));
  auto model = LocalModel::Load(SyntheticDataConfig(csv.string()));
  ASSERT_TRUE(model) << model.error().ToString();

  EXPECT_EQ(model->rows_accepted(), 200u);
  EXPECT_EQ(model->num_features(), 2 + 3);
  EXPECT_EQ(model->num_parameters(), 6);
  EXPECT_EQ(model->num_samples() + model->num_test(), 200u);
  EXPECT_EQ(model->num_test(), 50u);  // 25% of each class, rounded
  EXPECT_GT(model->positive_rate(), 0.3);
  EXPECT_LT(model->positive_rate(), 0.7);
  EXPECT_EQ(model->baseline().count, 50);
  EXPECT_GT(model->baseline().accuracy, 0.85);
  EXPECT_GT(model->baseline().auc, 0.9);
}

TEST(LocalModelTest, RejectedRowsCarryLineNumbersAndNoCellValues) {
  TempDir dir;
  const auto csv = dir.Write("data.csv", SyntheticCsv(30));
  auto model = LocalModel::Load(SyntheticDataConfig(csv.string()));
  ASSERT_TRUE(model) << model.error().ToString();
  ASSERT_EQ(model->rejected().size(), 2u);
  // Header is line 1, 30 good rows, then the two bad ones.
  EXPECT_EQ(model->rejected()[0].line, 32);
  EXPECT_EQ(model->rejected()[1].line, 33);
  for (const auto& row : model->rejected()) {
    EXPECT_EQ(row.reason.find("abc"), std::string::npos) << row.reason;
    EXPECT_EQ(row.reason.find('9'), std::string::npos) << row.reason;
  }
}

TEST(LocalModelTest, TrainingFromZeroImprovesHeldOutLoss) {
  TempDir dir;
  const auto csv = dir.Write("data.csv", SyntheticCsv(200));
  auto model = LocalModel::Load(SyntheticDataConfig(csv.string()));
  ASSERT_TRUE(model);
  const std::vector<float> zero(model->num_parameters(), 0.0f);
  core::TrainConfig config;
  config.epochs = 5;
  auto trained = model->Train(zero, config);
  ASSERT_TRUE(trained) << trained.error().ToString();
  ASSERT_EQ(trained->size(), zero.size());

  auto before = model->Validate(zero);
  auto after = model->Validate(*trained);
  ASSERT_TRUE(before && after);
  EXPECT_EQ(after->count, 50u);
  EXPECT_EQ(after->train_samples, model->num_samples());
  EXPECT_LT(after->loss_sum, before->loss_sum);
  EXPECT_GT(after->correct, before->count / 2);
}

TEST(LocalModelTest, EvaluatingAVectorOfTheWrongSizeFails) {
  TempDir dir;
  const auto csv = dir.Write("data.csv", SyntheticCsv(40));
  auto model = LocalModel::Load(SyntheticDataConfig(csv.string()));
  ASSERT_TRUE(model);
  const std::vector<float> wrong(3, 0.0f);
  auto metrics = model->Evaluate(wrong);
  ASSERT_FALSE(metrics);
  EXPECT_EQ(metrics.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(model->Train(wrong, core::TrainConfig{}));
}

// Three classes, by label value 5, 7 or 9: which of x1, x2, -(x1 + x2) is
// largest.
std::string ThreeClassCsv(int rows) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::ostringstream csv;
  csv << "x1,x2,group,y\n";
  for (int i = 0; i < rows; ++i) {
    const double x1 = normal(rng), x2 = normal(rng), x3 = -(x1 + x2);
    const int y = x1 >= x2 && x1 >= x3 ? 5 : x2 >= x3 ? 7 : 9;
    csv << x1 << "," << x2 << "," << (i % 3 + 1) << "," << y << "\n";
  }
  csv << "0.1,0.2,1,8\n";  // not a listed class: rejected
  return csv.str();
}

TEST(LocalModelTest, MultiClassLabelsTrainEveryKindTheCoordinatorNames) {
  TempDir dir;
  const auto csv = dir.Write("data.csv", ThreeClassCsv(300));
  DataConfig config = SyntheticDataConfig(csv.string());
  config.schema.label.classes = {5, 7, 9};
  auto model = LocalModel::Load(config);
  ASSERT_TRUE(model) << model.error().ToString();
  EXPECT_EQ(model->num_classes(), 3);
  ASSERT_EQ(model->rejected().size(), 1u);
  EXPECT_EQ(model->rejected()[0].line, 302);
  EXPECT_EQ(model->DefaultSpec().kind, core::ModelKind::kSoftmaxRegression);
  EXPECT_GT(model->baseline().accuracy, 0.8);

  for (const core::ModelSpec& spec :
       {core::ModelSpec{core::ModelKind::kSoftmaxRegression, 5, 3, {}, "relu"},
        core::ModelSpec{core::ModelKind::kMlp, 5, 3, {16}, "relu"}}) {
    SCOPED_TRACE(spec.ToString());
    auto start = core::Model::Create(spec, 1);
    ASSERT_TRUE(start.has_value());
    core::TrainConfig train;
    train.epochs = 20;
    auto trained = model->Train(spec, start->parameters(), train);
    ASSERT_TRUE(trained) << trained.error().ToString();
    auto metrics = model->Validate(spec, *trained);
    ASSERT_TRUE(metrics) << metrics.error().ToString();
    EXPECT_EQ(metrics->count, model->num_test());
    ASSERT_EQ(metrics->class_support.size(), 3u);
    core::ClassCounts counts{metrics->class_correct, metrics->class_support,
                             metrics->class_predicted};
    EXPECT_TRUE(counts.Consistent());
    const core::ClassReport report = core::ReportClasses(counts);
    EXPECT_GT(report.accuracy, 0.85);
    EXPECT_GT(report.macro_f1, 0.85);
    EXPECT_FALSE(model->ScoreCounts(spec, *trained));  // binary only
  }
}

TEST(LocalModelTest, RefusesASpecThatDoesNotFitItsData) {
  TempDir dir;
  const auto csv = dir.Write("data.csv", SyntheticCsv(100));
  auto model = LocalModel::Load(SyntheticDataConfig(csv.string()));
  ASSERT_TRUE(model) << model.error().ToString();
  const auto classes =
      model->CheckSpec({core::ModelKind::kSoftmaxRegression, 5, 3, {}, "relu"});
  ASSERT_FALSE(classes);
  EXPECT_NE(classes.error().message.find("label_classes"), std::string::npos)
      << classes.error().message;
  const auto features =
      model->CheckSpec({core::ModelKind::kMlp, 6, 2, {4}, "relu"});
  ASSERT_FALSE(features);
  EXPECT_NE(features.error().message.find("6 features"), std::string::npos)
      << features.error().message;
  // A binary MLP fits: trained and evaluated with the binary metrics.
  const core::ModelSpec mlp{core::ModelKind::kMlp, 5, 2, {8}, "relu"};
  EXPECT_TRUE(model->CheckSpec(mlp));
  auto start = core::Model::Create(mlp, 2);
  auto trained = model->Train(mlp, start->parameters(), core::TrainConfig{});
  ASSERT_TRUE(trained) << trained.error().ToString();
  auto metrics = model->Evaluate(mlp, *trained);
  ASSERT_TRUE(metrics);
  EXPECT_GT(metrics->auc, 0.8);
  EXPECT_TRUE(model->ScoreCounts(mlp, *trained));
}

TEST(LocalModelTest, MissingCsvIsNotFound) {
  auto model = LocalModel::Load(SyntheticDataConfig("/nonexistent/data.csv"));
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error().code, ErrorCode::kNotFound);
}

TEST(LocalModelTest, ClevelandHeartDiseaseBaselineBeatsChance) {
  if (!std::filesystem::exists(kCleveland)) {
    GTEST_SKIP() << "heart-disease data not present at " << kCleveland;
  }
  using Kind = core::ColumnSpec::Kind;
  DataConfig data;
  data.csv = kCleveland;
  data.schema.label = {"num", 0.0};
  for (const char* name :
       {"age", "sex", "trestbps", "fbs", "thalach", "exang", "oldpeak", "ca"}) {
    data.schema.features.push_back({name, Kind::kNumeric, {}, false});
  }
  data.schema.features.push_back({"chol", Kind::kNumeric, {}, true});
  data.schema.features.push_back(
      {"cp", Kind::kCategorical, {1, 2, 3, 4}, false});
  data.schema.features.push_back(
      {"restecg", Kind::kCategorical, {0, 1, 2}, false});
  data.schema.features.push_back(
      {"slope", Kind::kCategorical, {1, 2, 3}, false});
  data.schema.features.push_back(
      {"thal", Kind::kCategorical, {3, 6, 7}, false});

  auto model = LocalModel::Load(data);
  ASSERT_TRUE(model) << model.error().ToString();
  EXPECT_EQ(model->rows_accepted() + model->rejected().size(), 303u);
  EXPECT_GE(model->rows_accepted(), 297u);
  EXPECT_EQ(model->num_features(), 9 + 4 + 3 + 3 + 3);
  EXPECT_NEAR(model->positive_rate(), 139.0 / 303.0, 0.02);
  EXPECT_GT(model->baseline().accuracy, 0.75);
  EXPECT_GT(model->baseline().auc, 0.8);
}

}  // namespace
}  // namespace cls::site
