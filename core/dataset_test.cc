#include "core/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace cls::core {
namespace {

namespace fs = std::filesystem;

// A per-test temporary directory, removed afterwards.
class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("cls_core_dataset_test_" + std::string(info->name()) + "_" +
            std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(const std::string& name, const std::string& content) {
    const fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path.string();
  }

  fs::path dir_;
};

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

DatasetSchema SmallSchema() {
  DatasetSchema schema;
  schema.features = {
      Numeric("age"),
      Numeric("chol", true),
      Categorical("cp", {1, 2, 3}),
  };
  schema.label = {.column = "num", .positive_above = 0.0};
  return schema;
}

TEST_F(DatasetTest, ParsesASmallFileWithCrlfSpacesAndMissingValues) {
  const std::string path = Write("small.csv",
                                 "id, age ,cp,chol,num\r\n"
                                 "1,63,1,233,0\r\n"
                                 "2, 67 ,3, ,2\r\n"
                                 "\r\n"
                                 "3,,2,0,1\r\n"
                                 "4,41.5,,250,0");
  auto loaded = LoadCsv(path, SmallSchema());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_TRUE(loaded->rejected.empty());
  const RawTable& t = loaded->table;
  ASSERT_EQ(t.rows.size(), 4u);
  ASSERT_EQ(t.labels, (std::vector<float>{0, 1, 1, 0}));
  // Schema order: age, chol, cp.
  EXPECT_EQ(t.rows[0], (std::vector<double>{63, 233, 1}));
  EXPECT_EQ(t.rows[1][0], 67);
  EXPECT_TRUE(std::isnan(t.rows[1][1]));  // empty field
  EXPECT_EQ(t.rows[1][2], 3);
  EXPECT_TRUE(std::isnan(t.rows[2][0]));
  EXPECT_EQ(t.rows[3][0], 41.5);
  EXPECT_TRUE(std::isnan(t.rows[3][2]));  // missing category
}

TEST_F(DatasetTest, ZeroIsMissingTurnsAnExactZeroIntoNan) {
  const std::string path = Write("zero.csv",
                                 "age,chol,cp,num\n"
                                 "50,0,1,0\n"
                                 "0,0.0,2,1\n");
  auto loaded = LoadCsv(path, SmallSchema());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  const RawTable& t = loaded->table;
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_TRUE(std::isnan(t.rows[0][1]));
  EXPECT_TRUE(std::isnan(t.rows[1][1]));
  EXPECT_EQ(t.rows[1][0], 0.0);  // age has no zero_is_missing
}

TEST_F(DatasetTest, RejectsBadRowsWithReasonsThatNeverContainTheValue) {
  const std::string path = Write("bad.csv",
                                 "age,chol,cp,num\n"
                                 "63,233,1,0\n"         // line 2: ok
                                 "61,SECRET77,1,0\n"    // 3: not a number
                                 "62,240,9876,1\n"      // 4: unknown category
                                 "64,241,2\n"           // 5: field count
                                 "65,242,3,\n"          // 6: missing label
                                 "66,243,2,POSITIVE\n"  // 7: bad label
                                 "67,244,2,1,extra\n"   // 8: field count
                                 "68,245,2,inf\n"       // 9: bad label
                                 "69,246,\"2\",1\n");   // 10: ok (quoted)
  auto loaded = LoadCsv(path, SmallSchema());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_EQ(loaded->table.rows.size(), 2u);
  const auto& rejected = loaded->rejected;
  ASSERT_EQ(rejected.size(), 7u);
  const std::vector<int> lines = {3, 4, 5, 6, 7, 8, 9};
  const std::vector<std::string> bad_values = {"SECRET77", "9876",  "64", "65",
                                               "POSITIVE", "extra", "inf"};
  for (size_t i = 0; i < rejected.size(); ++i) {
    EXPECT_EQ(rejected[i].line, lines[i]);
    EXPECT_FALSE(rejected[i].reason.empty());
    EXPECT_EQ(rejected[i].reason.find(bad_values[i]), std::string::npos)
        << rejected[i].reason;
  }
  EXPECT_NE(rejected[0].reason.find("chol"), std::string::npos);
  EXPECT_NE(rejected[1].reason.find("cp"), std::string::npos);
  EXPECT_NE(rejected[3].reason.find("num"), std::string::npos);
}

TEST_F(DatasetTest, LabelClassesMapValuesToIndicesAndRejectOthers) {
  DatasetSchema schema = SmallSchema();
  schema.label.classes = {303, 101, 202.5};
  const std::string path = Write("drugs.csv",
                                 "age,chol,cp,num\n"
                                 "63,233,1,101\n"    // line 2: class 1
                                 "61,240,1,202.5\n"  // 3: class 2
                                 "62,241,2,404\n"    // 4: not listed
                                 "64,242,3,303\n");  // 5: class 0
  auto loaded = LoadCsv(path, schema);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_EQ(loaded->table.labels, (std::vector<float>{1, 2, 0}));
  ASSERT_EQ(loaded->rejected.size(), 1u);
  EXPECT_EQ(loaded->rejected[0].line, 4);
  EXPECT_EQ(loaded->rejected[0].reason,
            "column 'num': label not in label_classes");
  EXPECT_EQ(ClassNames(schema.label),
            (std::vector<std::string>{"303", "101", "202.5"}));
  EXPECT_EQ(ClassNames(SmallSchema().label),
            (std::vector<std::string>{"0", "1"}));
}

TEST_F(DatasetTest, MissingHeaderColumnIsAnErrorNamingTheColumn) {
  const std::string path = Write("nocol.csv", "age,cp,num\n63,1,0\n");
  auto loaded = LoadCsv(path, SmallSchema());
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(loaded.error().message.find("'chol'"), std::string::npos)
      << loaded.error().message;

  const std::string no_label = Write("nolabel.csv", "age,chol,cp\n1,2,3\n");
  auto loaded2 = LoadCsv(no_label, SmallSchema());
  ASSERT_FALSE(loaded2.has_value());
  EXPECT_NE(loaded2.error().message.find("'num'"), std::string::npos);
}

TEST_F(DatasetTest, MissingFileIsNotFoundWithThePath) {
  const std::string path = (dir_ / "does_not_exist.csv").string();
  auto loaded = LoadCsv(path, SmallSchema());
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kNotFound);
  EXPECT_NE(loaded.error().message.find(path), std::string::npos);
}

TEST_F(DatasetTest, NoUsableRowIsAnError) {
  const std::string path =
      Write("allbad.csv", "age,chol,cp,num\n1,2,3\n63,233,1,\n");
  auto loaded = LoadCsv(path, SmallSchema());
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument);

  auto empty = LoadCsv(Write("empty.csv", ""), SmallSchema());
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
}

TEST(StratifiedSplitTest, KeepsTheClassRatioAndIsDeterministic) {
  std::vector<float> labels;
  for (int i = 0; i < 300; ++i) labels.push_back(i % 3 == 0 ? 1.0f : 0.0f);
  const Split a = StratifiedSplit(labels, 0.2, 7);
  const Split b = StratifiedSplit(labels, 0.2, 7);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);

  ASSERT_EQ(a.test.size(), 60u);
  ASSERT_EQ(a.train.size(), 240u);
  int test_positives = 0;
  for (int i : a.test) test_positives += labels[static_cast<size_t>(i)] > 0.5f;
  EXPECT_EQ(test_positives, 20);  // round(0.2 * 100)

  // Train and test partition all rows.
  std::vector<int> all = a.train;
  all.insert(all.end(), a.test.begin(), a.test.end());
  std::sort(all.begin(), all.end());
  for (int i = 0; i < 300; ++i) EXPECT_EQ(all[static_cast<size_t>(i)], i);

  const Split c = StratifiedSplit(labels, 0.2, 8);
  EXPECT_NE(a.test, c.test);
}

TEST(StratifiedSplitTest, RoundsTheTestCountPerClass) {
  // 5 positives and 7 negatives at 0.3: round(1.5) = 2 and round(2.1) = 2.
  std::vector<float> labels = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  const Split s = StratifiedSplit(labels, 0.3, 1);
  EXPECT_EQ(s.test.size(), 4u);
  EXPECT_EQ(s.train.size(), 8u);
}

TEST(PreprocessorTest, ImputesStandardisesAndOneHotEncodes) {
  DatasetSchema schema = SmallSchema();  // age, chol, cp{1,2,3}
  RawTable t;
  const double nan = NAN;
  t.rows = {{10, nan, 1}, {20, 5, 2}, {30, 5, nan}, {nan, 5, 3}, {1000, 1, 1}};
  t.labels = {0, 1, 0, 1, 1};
  const std::vector<int> train = {0, 1, 2, 3};
  auto p = Preprocessor::Fit(schema, t, train);
  ASSERT_TRUE(p.has_value()) << p.error().ToString();
  EXPECT_EQ(p->FeatureCount(), 5);
  const Eigen::MatrixXf x = p->Transform(t, train);
  ASSERT_EQ(x.rows(), 4);
  ASSERT_EQ(x.cols(), 5);
  // age: values 10, 20, 30: mean 20, population std sqrt(200/3).
  const float age_std = std::sqrt(200.0f / 3.0f);
  EXPECT_NEAR(x(0, 0), -10 / age_std, 1e-5);
  EXPECT_NEAR(x(3, 0), 0.0f, 1e-6);  // missing -> mean -> 0
  // chol: constant 5 -> std 0 -> scale 1; missing -> mean 5 -> 0.
  EXPECT_FLOAT_EQ(x(0, 1), 0.0f);
  EXPECT_FLOAT_EQ(x(1, 1), 0.0f);
  // cp one-hot; a missing category is all zero.
  EXPECT_EQ(x.row(0).tail(3), Eigen::RowVector3f(1, 0, 0));
  EXPECT_EQ(x.row(1).tail(3), Eigen::RowVector3f(0, 1, 0));
  EXPECT_EQ(x.row(2).tail(3), Eigen::RowVector3f(0, 0, 0));
  EXPECT_EQ(x.row(3).tail(3), Eigen::RowVector3f(0, 0, 1));
  // Fitted on the training rows only: the outlier row 4 did not count.
  const Eigen::MatrixXf held_out = p->Transform(t, {4});
  EXPECT_NEAR(held_out(0, 0), (1000 - 20) / age_std, 1e-3);
  EXPECT_EQ(p->Labels(t, {1, 4}), Eigen::Vector2f(1, 1));
}

TEST(PreprocessorTest, MedianImputationAndEntirelyMissingColumns) {
  DatasetSchema schema = SmallSchema();
  schema.imputation = Imputation::kMedian;
  const double nan = NAN;
  RawTable t;
  t.rows = {{1, nan, 1}, {2, nan, 1}, {10, nan, 1}, {nan, nan, 1}};
  t.labels = {0, 0, 1, 1};
  auto p = Preprocessor::Fit(schema, t, {0, 1, 2, 3});
  ASSERT_TRUE(p.has_value());
  const Eigen::MatrixXf x = p->Transform(t, {3, 0});
  // age: median 2, mean 13/3, std of {1, 2, 10}.
  const double mean = 13.0 / 3.0;
  const double sd =
      std::sqrt(((1 - mean) * (1 - mean) + (2 - mean) * (2 - mean) +
                 (10 - mean) * (10 - mean)) /
                3.0);
  EXPECT_NEAR(x(0, 0), (2 - mean) / sd, 1e-5);
  // chol missing everywhere: fill 0, mean 0, scale 1 -> 0.
  EXPECT_EQ(x(0, 1), 0.0f);
  EXPECT_EQ(x(1, 1), 0.0f);
}

TEST(PreprocessorTest, FitRejectsOutOfRangeRows) {
  RawTable t;
  t.rows = {{1, 2, 1}};
  t.labels = {0};
  EXPECT_FALSE(Preprocessor::Fit(SmallSchema(), t, {1}).has_value());
  EXPECT_FALSE(Preprocessor::Fit(SmallSchema(), t, {-1}).has_value());
}

}  // namespace
}  // namespace cls::core
