#include "core/text_features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/feature_statistics.h"

namespace cls::core {
namespace {

namespace fs = std::filesystem;

TEST(TextFeaturesTest, Fnv1a64MatchesTheReferenceVectors) {
  // From the FNV reference test suite
  // (http://www.isthe.com/chongo/tech/comp/fnv/).
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
  // The bucket is the low bits, the same on every platform.
  EXPECT_EQ(TextBucket("a", 1024), 0xaf63dc4c8601ec8cull & 1023u);
}

TEST(TextFeaturesTest, TokensAreLowercaseRunsOfLettersAndDigits) {
  EXPECT_EQ(TokenizeText("Chest PAIN, 3 days; BP=140/90."),
            (std::vector<std::string>{"chest", "pain", "3", "days", "bp", "140",
                                      "90"}));
  EXPECT_EQ(TokenizeText("  ...  "), std::vector<std::string>{});
  // UTF-8 bytes stay inside the word; only ASCII is lowercased.
  EXPECT_EQ(TokenizeText("Fi\xC3\xA8vre haute"),
            (std::vector<std::string>{"fi\xC3\xA8vre", "haute"}));
}

TEST(TextFeaturesTest, WordsAndBigramsAreCountedInTheirBuckets) {
  constexpr int kBuckets = 64;
  std::vector<float> counts(kBuckets, 0.0f);
  ASSERT_TRUE(HashTextTerms("Fever fever cough", counts).has_value());
  std::vector<float> expected(kBuckets, 0.0f);
  for (const char* term :
       {"fever", "fever", "cough", "fever fever", "fever cough"}) {
    expected[TextBucket(term, kBuckets)] += 1.0f;
  }
  EXPECT_EQ(counts, expected);
  float total = 0;
  for (float c : counts) total += c;
  EXPECT_EQ(total, 5.0f);  // 3 words + 2 bigrams
}

TEST(TextFeaturesTest, EmptyAndOversizedTextAreRefusedWithoutTheText) {
  std::vector<float> counts(16, 0.0f);
  auto empty = HashTextTerms(" \t ", counts);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().message, "empty text");
  const std::string huge(kMaxTextBytes + 1, 'x');
  auto big = HashTextTerms(huge, counts);
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().message, "text longer than 102400 bytes");
  EXPECT_TRUE(HashTextTerms(std::string(kMaxTextBytes, 'x'), counts));
}

TEST(TextFeaturesTest, HashBucketsMustBeAPowerOfTwoInRange) {
  EXPECT_TRUE(ValidHashBuckets(2));
  EXPECT_TRUE(ValidHashBuckets(1024));
  EXPECT_TRUE(ValidHashBuckets(kMaxHashBuckets));
  EXPECT_FALSE(ValidHashBuckets(0));
  EXPECT_FALSE(ValidHashBuckets(1));
  EXPECT_FALSE(ValidHashBuckets(1000));
  EXPECT_FALSE(ValidHashBuckets(-1024));
  EXPECT_FALSE(ValidHashBuckets(int64_t{kMaxHashBuckets} * 2));
}

TEST(TextFeaturesTest, TfIdfWeightsRareTermsAndIsUnitLength) {
  EXPECT_DOUBLE_EQ(InverseDocumentFrequency(9, 9), 1.0);
  EXPECT_DOUBLE_EQ(InverseDocumentFrequency(9, 0), std::log(10.0) + 1.0);
  const std::vector<float> counts = {2, 0, 1, 0};
  const std::vector<double> idf = {1.0, 5.0, 3.0, 1.0};
  std::vector<float> out(4);
  TfIdfNormalised(counts, idf, out);
  const double norm = std::sqrt(4.0 + 9.0);
  EXPECT_NEAR(out[0], 2.0 / norm, 1e-6);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_NEAR(out[2], 3.0 / norm, 1e-6);
  const std::vector<float> zero(4, 0.0f);
  TfIdfNormalised(zero, idf, out);
  EXPECT_EQ(out, zero);
}

TEST(TextFeaturesTest, EmbeddingCellsParseWithSemicolonsOrSpaces) {
  std::vector<float> out(3);
  ASSERT_TRUE(ParseEmbedding("0.5;-1;2e-1", out).has_value());
  EXPECT_EQ(out, (std::vector<float>{0.5f, -1.0f, 0.2f}));
  ASSERT_TRUE(ParseEmbedding(" 1 2 ; +3 ", out).has_value());
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3}));
  ASSERT_TRUE(ParseEmbedding("  ", out).has_value());
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[2]));

  auto short_cell = ParseEmbedding("1;2", out);
  ASSERT_FALSE(short_cell.has_value());
  EXPECT_EQ(short_cell.error().message, "embedding has 2 values, expected 3");
  auto long_cell = ParseEmbedding("1;2;3;4", out);
  ASSERT_FALSE(long_cell.has_value());
  EXPECT_EQ(long_cell.error().message, "embedding has 4 values, expected 3");
  auto bad = ParseEmbedding("1;secret;3", out);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "embedding value 2 is not a finite number");
  EXPECT_FALSE(ParseEmbedding("1;inf;3", out).has_value());
  EXPECT_FALSE(ParseEmbedding("1;nan;3", out).has_value());
}

// CSV loading, preprocessing and the statistics round with a text and an
// embedding column.
class TextColumnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("cls_text_features_test_" + std::string(info->name()) + "_" +
            std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Write(const std::string& content) {
    const fs::path path = dir_ / "data.csv";
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }

  static DatasetSchema Schema() {
    DatasetSchema schema;
    ColumnSpec age{"age", ColumnSpec::Kind::kNumeric, {}, false};
    ColumnSpec note{"note", ColumnSpec::Kind::kText, {}, false};
    note.hash_buckets = 32;
    ColumnSpec image{"image", ColumnSpec::Kind::kEmbedding, {}, false};
    image.dimension = 2;
    schema.features = {age, note, image};
    schema.label = {"y", 0.5};
    return schema;
  }

  fs::path dir_;
};

TEST_F(TextColumnsTest, LoadsTextAndEmbeddingAndRejectsBadCellsByLine) {
  const std::string path = Write(
      "age,note,image,y\n"
      "50,\"Chest pain, fever\",0.1;0.2,1\n"
      "60,no complaints,0.3 0.4,0\n"
      "70,,0.1;0.2,1\n"              // line 4: empty text
      "40,cough,0.1;0.2;0.3,0\n"     // line 5: wrong length
      "45,cough,0.1;PATIENTX,0\n"    // line 6: not a number
      "55,\"well, resting\",,0\n");  // line 7: missing embedding
  auto loaded = LoadCsv(path, Schema());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  const RawTable& t = loaded->table;
  ASSERT_EQ(t.rows.size(), 3u);
  ASSERT_EQ(t.vectors.size(), 3u);
  ASSERT_EQ(t.vectors[0].size(), 34u);    // 32 buckets + 2 entries
  EXPECT_TRUE(std::isnan(t.rows[0][1]));  // the text itself is not kept
  float terms = 0;
  for (int b = 0; b < 32; ++b) terms += t.vectors[0][static_cast<size_t>(b)];
  EXPECT_EQ(terms, 5.0f);  // chest, pain, fever + 2 bigrams
  EXPECT_FLOAT_EQ(t.vectors[1][32], 0.3f);
  EXPECT_FLOAT_EQ(t.vectors[1][33], 0.4f);
  EXPECT_TRUE(std::isnan(t.vectors[2][32]));

  ASSERT_EQ(loaded->rejected.size(), 3u);
  EXPECT_EQ(loaded->rejected[0].line, 4);
  EXPECT_EQ(loaded->rejected[0].reason, "column 'note': empty text");
  EXPECT_EQ(loaded->rejected[1].line, 5);
  EXPECT_EQ(loaded->rejected[1].reason,
            "column 'image': embedding has 3 values, expected 2");
  EXPECT_EQ(loaded->rejected[2].line, 6);
  EXPECT_EQ(loaded->rejected[2].reason,
            "column 'image': embedding value 2 is not a finite number");
  for (const RejectedRow& r : loaded->rejected) {
    EXPECT_EQ(r.reason.find("PATIENTX"), std::string::npos);
  }
}

TEST_F(TextColumnsTest, OversizedTextIsRejected) {
  const std::string path =
      Write("age,note,image,y\n50,ok,1;2,1\n51," +
            std::string(kMaxTextBytes + 1, 'a') + ",1;2,0\n");
  auto loaded = LoadCsv(path, Schema());
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->rejected.size(), 1u);
  EXPECT_EQ(loaded->rejected[0].line, 3);
  EXPECT_EQ(loaded->rejected[0].reason,
            "column 'note': text longer than 102400 bytes");
}

TEST_F(TextColumnsTest, BadSchemasAreRefusedNamingTheColumn) {
  DatasetSchema schema = Schema();
  schema.features[1].hash_buckets = 1000;
  auto v = schema.Validate();
  ASSERT_FALSE(v.has_value());
  EXPECT_NE(v.error().message.find("'note': hash_buckets must be a power of"),
            std::string::npos);
  schema = Schema();
  schema.features[2].dimension = 0;
  v = schema.Validate();
  ASSERT_FALSE(v.has_value());
  EXPECT_NE(v.error().message.find("'image': dimension must be in [1,"),
            std::string::npos);
  EXPECT_FALSE(LoadCsv(Write("age,note,image,y\n1,a,1;2,1\n"), schema));
  EXPECT_TRUE(Schema().Validate().has_value());
  EXPECT_EQ(Schema().FeatureCount(), 1 + 32 + 2);
  EXPECT_EQ(Schema().VectorWidth(), 32 + 2);
}

TEST_F(TextColumnsTest, TransformGivesUnitTfIdfAndStandardisedEmbeddings) {
  const std::string path = Write(
      "age,note,image,y\n"
      "50,fever cough,1;10,1\n"
      "60,fever,3;10,0\n"
      "70,fever rash,,1\n");
  const DatasetSchema schema = Schema();
  auto loaded = LoadCsv(path, schema);
  ASSERT_TRUE(loaded.has_value());
  auto pre = Preprocessor::Fit(schema, loaded->table, {0, 1, 2});
  ASSERT_TRUE(pre.has_value()) << pre.error().message;
  const Eigen::MatrixXf x = pre->Transform(loaded->table, {0, 1, 2});
  ASSERT_EQ(x.cols(), 35);
  for (int r = 0; r < 3; ++r) {
    EXPECT_NEAR(x.row(r).segment(1, 32).norm(), 1.0f, 1e-5f);
  }
  // "fever" is in every note (IDF 1), "cough" in one (IDF ln(4/2)+1): in row
  // 0 (fever, cough, "fever cough"), cough outweighs fever.
  const auto fever = static_cast<Eigen::Index>(1 + TextBucket("fever", 32));
  const auto cough = static_cast<Eigen::Index>(1 + TextBucket("cough", 32));
  if (fever != cough) {
    EXPECT_GT(x(0, cough), x(0, fever));
  }
  // Row 1 is only "fever": its one bucket gets all the weight.
  EXPECT_NEAR(x(1, fever), 1.0f, 1e-6f);
  // Embedding entry 0: values 1 and 3 (mean 2, sd 1); row 2 is missing -> 0.
  EXPECT_NEAR(x(0, 33), -1.0f, 1e-6f);
  EXPECT_NEAR(x(1, 33), 1.0f, 1e-6f);
  EXPECT_EQ(x(2, 33), 0.0f);
  EXPECT_EQ(x(0, 34), 0.0f);  // constant entry: scale 1, centred
}

TEST_F(TextColumnsTest, FederationDocumentCountsGiveThePooledIdf) {
  // Two sites' statistics summed (as the secure round does) standardise
  // and weight exactly like a fit on the pooled rows; before that round a
  // site uses its own document counts, which differ.
  std::string csv = "age,note,image,y\n";
  const char* notes[] = {
      "fever cough", "fever", "rash", "cough rash", "fever rash night sweats",
      "stable"};
  for (int i = 0; i < 6; ++i) {
    csv += std::to_string(40 + i) + "," + notes[i] + "," +
           std::to_string(0.5 * i) + ";" + std::to_string(1 - 0.25 * i) + "," +
           std::to_string(i % 2) + "\n";
  }
  const DatasetSchema schema = Schema();
  auto loaded = LoadCsv(Write(csv), schema);
  ASSERT_TRUE(loaded.has_value());
  const RawTable& t = loaded->table;
  auto a = ComputeFeatureStatistics(schema, t, {0, 1, 2});
  auto b = ComputeFeatureStatistics(schema, t, {3, 4, 5});
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->feature_count(), schema.FeatureCount());
  // The sum of a text bucket is its document count.
  const size_t fever = 1 + TextBucket("fever", 32);
  EXPECT_GE(a->sum[fever], 2.0);
  EXPECT_EQ(a->count[fever], 3.0);
  std::vector<double> fa = a->Flatten(), fb = b->Flatten();
  for (size_t i = 0; i < fa.size(); ++i) fa[i] += fb[i];
  auto total = FeatureStatistics::Unflatten(fa, schema.FeatureCount());
  ASSERT_TRUE(total.has_value());
  auto federated = PreprocessorFromStatistics(schema, *total);
  auto pooled = Preprocessor::Fit(schema, t, {0, 1, 2, 3, 4, 5});
  auto own = Preprocessor::Fit(schema, t, {0, 1, 2});
  ASSERT_TRUE(federated && pooled && own);
  const std::vector<int> all = {0, 1, 2, 3, 4, 5};
  const Eigen::MatrixXf x1 = federated->Transform(t, all);
  const Eigen::MatrixXf x2 = pooled->Transform(t, all);
  EXPECT_LT((x1 - x2).cwiseAbs().maxCoeff(), 1e-5f);
  EXPECT_GT((own->Transform(t, all) - x2).cwiseAbs().maxCoeff(), 1e-3f);
}

TEST_F(TextColumnsTest, RowsWithoutVectorEntriesAreRefused) {
  RawTable t;
  t.rows = {{1.0, std::nan(""), std::nan("")}};
  t.labels = {1};
  EXPECT_FALSE(Preprocessor::Fit(Schema(), t, {0}).has_value());
  EXPECT_FALSE(ComputeFeatureStatistics(Schema(), t, {0}).has_value());
}

}  // namespace
}  // namespace cls::core
