#include "core/drift/data_drift.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include "core/drift/distributions.h"
#include "core/heart_disease_schema.h"

namespace cls::drift {
namespace {

TEST(PsiTest, IdenticalDistributionsGiveZero) {
  const std::vector<double> counts = {10, 20, 30, 40};
  auto r = PopulationStabilityIndex(counts, counts);
  ASSERT_TRUE(r.has_value());
  EXPECT_NEAR(r->psi, 0.0, 1e-15);
}

TEST(PsiTest, MatchesTheFormulaWithHalfCountSmoothing) {
  const std::vector<double> ref = {50, 50}, cur = {25, 75};
  auto r = PopulationStabilityIndex(ref, cur, 0.05);
  ASSERT_TRUE(r.has_value());
  const double r0 = 50.5 / 101, r1 = 50.5 / 101;
  const double c0 = 25.5 / 101, c1 = 75.5 / 101;
  EXPECT_NEAR(r->psi,
              (c0 - r0) * std::log(c0 / r0) + (c1 - r1) * std::log(c1 / r1),
              1e-15);
  EXPECT_NEAR(r->critical, (1.0 / 100 + 1.0 / 100) * 3.841458820694124, 1e-9);
}

TEST(PsiTest, CriticalValueShrinksWithSampleSize) {
  const std::vector<double> small(10, 10.0), large(10, 1000.0);
  auto a = PopulationStabilityIndex(small, small);
  auto b = PopulationStabilityIndex(large, large);
  ASSERT_TRUE(a.has_value() && b.has_value());
  // 100 vs 100: 0.43; 10,000 vs 10,000: 0.0043 (chi2.isf(0.01, 9) = 21.67).
  EXPECT_NEAR(a->critical, 0.02 * 21.665994333461924, 1e-9);
  EXPECT_NEAR(b->critical, 0.0002 * 21.665994333461924, 1e-9);
}

TEST(PsiTest, RefusesMismatchedOrNegativeCounts) {
  const std::vector<double> a = {1, 2, 3}, b = {1, 2}, neg = {1, -2, 3};
  EXPECT_EQ(PopulationStabilityIndex(a, b).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(PopulationStabilityIndex(a, neg).error().code,
            ErrorCode::kInvalidArgument);
  const std::vector<double> zero = {0, 0, 0};
  EXPECT_EQ(PopulationStabilityIndex(a, zero).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(KsTest, DisjointSamplesHaveDistanceOne) {
  const std::vector<double> a = {1, 2, 3, 4, 5}, b = {10, 9, 8, 7, 6};
  auto r = KsTwoSample(a, b);
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->statistic, 1.0);
  const double ne = std::sqrt(2.5);
  EXPECT_NEAR(r->p_value, KolmogorovSf(ne + 0.12 + 0.11 / ne), 1e-15);
}

TEST(KsTest, HandComputedStatisticWithTies) {
  // F_a steps at 1, 2, 2, 3; F_b at 2, 3, 3, 4. Largest gap at x = 1 / 2:
  // after 2, F_a = 3/4, F_b = 1/4 -> D = 0.5.
  const std::vector<double> a = {1, 2, 2, 3}, b = {2, 3, 3, 4};
  auto r = KsTwoSample(a, b);
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->statistic, 0.5);
}

TEST(KsTest, SameDistributionPassesAndShiftFails) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  std::vector<double> a(5000), b(5000), c(5000);
  for (auto& x : a) x = normal(rng);
  for (auto& x : b) x = normal(rng);
  for (auto& x : c) x = normal(rng) + 0.2;
  auto same = KsTwoSample(a, b);
  auto shifted = KsTwoSample(a, c);
  ASSERT_TRUE(same.has_value() && shifted.has_value());
  EXPECT_GT(same->p_value, 0.01);
  EXPECT_LT(shifted->p_value, 1e-6);
}

TEST(KsTest, RefusesNaNAndEmpty) {
  const std::vector<double> a = {1, NAN}, b = {1, 2}, empty;
  EXPECT_EQ(KsTwoSample(a, b).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(KsTwoSample(empty, b).error().code, ErrorCode::kInvalidArgument);
}

TEST(ChiSquaredTest, HandComputedTable) {
  // Every expected count is 20: statistic 4 * 100 / 20 = 20, dof 2,
  // p = exp(-10).
  const std::vector<double> ref = {10, 20, 30}, cur = {30, 20, 10};
  auto r = ChiSquaredHomogeneity(ref, cur);
  ASSERT_TRUE(r.has_value());
  EXPECT_NEAR(r->statistic, 20.0, 1e-12);
  EXPECT_EQ(r->dof, 2);
  EXPECT_NEAR(r->p_value, std::exp(-10.0), 1e-15);
}

TEST(ChiSquaredTest, CategoriesEmptyInBothAreLeftOut) {
  const std::vector<double> ref = {10, 0, 30}, cur = {30, 0, 10};
  auto r = ChiSquaredHomogeneity(ref, cur);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->dof, 1);
  EXPECT_NEAR(r->statistic, 20.0, 1e-12);
  EXPECT_NEAR(r->p_value, std::erfc(std::sqrt(10.0)), 1e-15);
}

core::RawTable LoadSite(const core::DatasetSchema& schema, const char* file) {
  auto r = core::LoadCsv(std::string(CLS_HEART_DATA_DIR) + "/" + file, schema);
  EXPECT_TRUE(r.has_value());
  return r.has_value() ? r->table : core::RawTable{};
}

TEST(DataDriftDetectorTest, HeartDataClevelandHalvesAgreeSwitzerlandDrifts) {
  if (!std::filesystem::exists(std::string(CLS_HEART_DATA_DIR) +
                               "/cleveland.csv")) {
    GTEST_SKIP() << "heart-disease data not found";
  }
  const core::DatasetSchema schema = core::HeartSchema();
  const core::RawTable cleveland = LoadSite(schema, "cleveland.csv");
  const core::RawTable swiss = LoadSite(schema, "switzerland.csv");
  ASSERT_GT(cleveland.rows.size(), 250u);
  // Alternate rows: two samples of the same population.
  core::RawTable even, odd;
  for (size_t i = 0; i < cleveland.rows.size(); ++i) {
    (i % 2 ? odd : even).rows.push_back(cleveland.rows[i]);
  }
  auto detector = DataDriftDetector::Fit(schema, even);
  ASSERT_TRUE(detector.has_value());
  auto same = detector->Assess(odd);
  ASSERT_TRUE(same.has_value());
  EXPECT_FALSE(same->dataset_drift);
  EXPECT_EQ(same->features.size(), schema.features.size());

  auto other = detector->Assess(swiss);
  ASSERT_TRUE(other.has_value());
  EXPECT_TRUE(other->dataset_drift);
  EXPECT_GT(other->max_psi, 0.25);
  // Switzerland records every cholesterol as 0 (missing): not judged.
  for (const FeatureDrift& f : other->features) {
    if (f.feature == "chol") {
      EXPECT_EQ(f.test, "insufficient data");
    }
  }
}

TEST(DataDriftDetectorTest, RefusesRowsOfTheWrongWidth) {
  const core::DatasetSchema schema = core::HeartSchema();
  core::RawTable ref;
  ref.rows.assign(50, std::vector<double>(schema.features.size(), 1.0));
  auto detector = DataDriftDetector::Fit(schema, ref);
  ASSERT_TRUE(detector.has_value());
  core::RawTable bad;
  bad.rows.assign(1, std::vector<double>(3, 1.0));
  auto r = detector->Assess(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(DataDriftDetectorTest, TextAndEmbeddingColumnsAreLeftOut) {
  // docs/columns.md: only numeric and categorical columns are tested; the
  // others' raw values are placeholders (NaN) next to RawTable::vectors.
  core::DatasetSchema schema;
  core::ColumnSpec note{"note", core::ColumnSpec::Kind::kText, {}, false};
  note.hash_buckets = 8;
  core::ColumnSpec image{
      "image", core::ColumnSpec::Kind::kEmbedding, {}, false};
  image.dimension = 2;
  schema.features = {
      note, {"age", core::ColumnSpec::Kind::kNumeric, {}, false}, image};
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0, 1);
  core::RawTable ref, shifted;
  for (int i = 0; i < 200; ++i) {
    ref.rows.push_back({NAN, n(rng), NAN});
    shifted.rows.push_back({NAN, n(rng) + 3, NAN});
  }
  auto detector = DataDriftDetector::Fit(schema, ref);
  ASSERT_TRUE(detector.has_value()) << detector.error().message;
  auto r = detector->Assess(shifted);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->features.size(), 1u);
  EXPECT_EQ(r->features[0].feature, "age");
  EXPECT_TRUE(r->features[0].drifted);
  EXPECT_EQ(r->drifted_share, 1.0);

  core::DatasetSchema text_only;
  text_only.features = {note};
  auto none = DataDriftDetector::Fit(text_only, core::RawTable{});
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message.find("no numeric or categorical"),
            std::string::npos);
}

}  // namespace
}  // namespace cls::drift
