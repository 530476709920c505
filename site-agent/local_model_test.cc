#include "site-agent/local_model.h"

#include <gtest/gtest.h>

#include <filesystem>

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
