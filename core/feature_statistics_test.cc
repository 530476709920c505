#include "core/feature_statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace cls::core {
namespace {

DatasetSchema Schema() {
  DatasetSchema s;
  s.features.push_back({"age", ColumnSpec::Kind::kNumeric, {}, false});
  s.features.push_back({"cp", ColumnSpec::Kind::kCategorical, {1, 2}, false});
  s.features.push_back({"chol", ColumnSpec::Kind::kNumeric, {}, true});
  s.label = {"num", 0};
  return s;
}

RawTable Table() {
  RawTable t;
  const double nan = std::nan("");
  t.rows = {{50, 1, 200}, {60, 2, nan}, {40, nan, 300}, {70, 1, 250}};
  t.labels = {1, 0, 0, 1};
  return t;
}

TEST(FeatureStatistics, CountsSumsAndSquaresPerFeature) {
  auto s = ComputeFeatureStatistics(Schema(), Table(), {0, 1, 2, 3});
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->rows, 4);
  EXPECT_EQ(s->positives, 2);
  ASSERT_EQ(s->feature_count(), 4);  // age, cp=1, cp=2, chol
  EXPECT_EQ(s->count[0], 4);
  EXPECT_EQ(s->sum[0], 220);
  EXPECT_EQ(s->sum_sq[0], 2500 + 3600 + 1600 + 4900);
  EXPECT_EQ(s->sum[1], 2);  // cp = 1 twice
  EXPECT_EQ(s->sum[2], 1);
  EXPECT_EQ(s->count[3], 3);  // chol missing once
  EXPECT_EQ(s->sum[3], 750);
}

TEST(FeatureStatistics, FederationPreprocessorEqualsPooledFit) {
  // Two sites' sums added give the same standardisation as fitting on the
  // pooled rows.
  const DatasetSchema schema = Schema();
  const RawTable table = Table();
  auto a = ComputeFeatureStatistics(schema, table, {0, 1});
  auto b = ComputeFeatureStatistics(schema, table, {2, 3});
  ASSERT_TRUE(a && b);
  std::vector<double> fa = a->Flatten(), fb = b->Flatten();
  for (size_t i = 0; i < fa.size(); ++i) fa[i] += fb[i];
  auto total = FeatureStatistics::Unflatten(fa, schema.FeatureCount());
  ASSERT_TRUE(total.has_value());
  auto federated = PreprocessorFromStatistics(schema, *total);
  auto pooled = Preprocessor::Fit(schema, table, {0, 1, 2, 3});
  ASSERT_TRUE(federated && pooled);
  const Eigen::MatrixXf x1 = federated->Transform(table, {0, 1, 2, 3});
  const Eigen::MatrixXf x2 = pooled->Transform(table, {0, 1, 2, 3});
  EXPECT_LT((x1 - x2).cwiseAbs().maxCoeff(), 1e-5f);
}

TEST(FeatureStatistics, SchemaMismatchIsAClearError) {
  FeatureStatistics s;
  s.count = s.sum = s.sum_sq = {1, 2};
  auto p = PreprocessorFromStatistics(Schema(), s);
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message.find("schemas must match"), std::string::npos);
}

TEST(FeatureStatistics, UnflattenRefusesInconsistentSums) {
  EXPECT_FALSE(FeatureStatistics::Unflatten(std::vector<double>{1, 2}, 1));
  // positives > rows
  EXPECT_FALSE(
      FeatureStatistics::Unflatten(std::vector<double>{1, 2, 1, 0, 0}, 1));
  // a count larger than the rows
  EXPECT_FALSE(
      FeatureStatistics::Unflatten(std::vector<double>{1, 0, 3, 0, 0}, 1));
  EXPECT_FALSE(FeatureStatistics::Unflatten(
      std::vector<double>{1, 0, 1, std::nan(""), 0}, 1));
  EXPECT_TRUE(FeatureStatistics::Unflatten(
      std::vector<double>{2, 1, 2, -3.5, 6.25}, 1));
}

TEST(FeatureStatistics, LimbEncodingSumsExactlyInTheRing) {
  // Several sites' encodings added mod 2^ring_bits, as secure aggregation
  // does, decode to the exact sum of their values (to 2^-16), negatives too.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> value(-5e6, 5e6);
  const int sites = 37;
  const int ring_bits = 16 + 6;  // ceil(log2 37) = 6
  const uint32_t mask = (1u << ring_bits) - 1;
  std::vector<double> expected(9, 0.0);
  std::vector<uint32_t> ring(9 * kStatisticsLimbs, 0);
  for (int s = 0; s < sites; ++s) {
    std::vector<double> v(9);
    for (double& x : v) {
      x = std::round(value(rng) * 65536.0) / 65536.0;
    }
    auto encoded = EncodeStatisticsForSum(v);
    ASSERT_TRUE(encoded.has_value());
    for (size_t i = 0; i < ring.size(); ++i) {
      ASSERT_LT((*encoded)[i], 1u << kStatisticsLimbBits);
      ring[i] = (ring[i] + (*encoded)[i]) & mask;
    }
    for (size_t i = 0; i < v.size(); ++i) expected[i] += v[i];
  }
  auto decoded = DecodeStatisticsSum(ring);
  ASSERT_TRUE(decoded.has_value());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_DOUBLE_EQ((*decoded)[i], expected[i]) << i;
  }
}

TEST(FeatureStatistics, EncodingRefusesValuesBeyondTheFixedPointRange) {
  EXPECT_FALSE(EncodeStatisticsForSum(std::vector<double>{1e40}));
  EXPECT_FALSE(EncodeStatisticsForSum(std::vector<double>{INFINITY}));
  EXPECT_FALSE(DecodeStatisticsSum(std::vector<uint32_t>{1, 2, 3}));
}

}  // namespace
}  // namespace cls::core
