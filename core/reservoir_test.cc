#include "core/reservoir.h"

#include <gtest/gtest.h>

#include <vector>

namespace cls::core {
namespace {

Reservoir Filled(int capacity, int features, int n, uint64_t seed) {
  Reservoir r(capacity, features, seed);
  std::vector<float> x(static_cast<size_t>(features));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < features; ++j)
      x[static_cast<size_t>(j)] = i + 0.25f * j;
    r.Add(x, static_cast<float>(i % 2));
  }
  return r;
}

TEST(ReservoirTest, KeepsEverythingUntilFullThenStaysAtCapacity) {
  Reservoir r = Filled(5, 2, 3, 1);
  EXPECT_EQ(r.size(), 3);
  r = Filled(5, 2, 100, 1);
  EXPECT_EQ(r.size(), 5);
  EXPECT_EQ(r.seen(), 100);
}

TEST(ReservoirTest, EveryStreamPositionIsEquallyLikelyToBeKept) {
  // 20 items into a reservoir of 5, 4000 seeded runs: each item is kept
  // 1000 times in expectation. Chi-square with 19 degrees of freedom;
  // 43.82 is its 0.999 quantile.
  constexpr int kItems = 20, kCapacity = 5, kRuns = 4000;
  std::vector<int> kept(kItems, 0);
  for (int run = 0; run < kRuns; ++run) {
    const Reservoir r = Filled(kCapacity, 1, kItems, 1000 + run);
    for (int i = 0; i < r.size(); ++i) ++kept[static_cast<int>(r.row(i)[0])];
  }
  const double expected = static_cast<double>(kRuns) * kCapacity / kItems;
  double chi2 = 0;
  for (int c : kept) chi2 += (c - expected) * (c - expected) / expected;
  EXPECT_LT(chi2, 43.82);
}

TEST(ReservoirTest, SampleReturnsDistinctStoredRows) {
  const Reservoir r = Filled(10, 1, 10, 3);
  std::mt19937_64 rng(7);
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  r.Sample(6, rng, x, y);
  ASSERT_EQ(x.rows(), 6);
  std::vector<bool> seen(10, false);
  for (int i = 0; i < 6; ++i) {
    const int id = static_cast<int>(x(i, 0));
    EXPECT_FALSE(seen[static_cast<size_t>(id)]);
    seen[static_cast<size_t>(id)] = true;
    EXPECT_EQ(y(i), static_cast<float>(id % 2));
  }
  r.Sample(50, rng, x, y);
  EXPECT_EQ(x.rows(), 10);
}

TEST(ReservoirTest, SerializationRoundTripsAndContinuesIdentically) {
  Reservoir a = Filled(8, 3, 50, 11);
  const std::vector<uint8_t> bytes = a.Serialize();
  auto b = Reservoir::Deserialize(bytes);
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  EXPECT_EQ(b->capacity(), 8);
  EXPECT_EQ(b->num_features(), 3);
  EXPECT_EQ(b->seen(), 50);
  ASSERT_EQ(b->size(), a.size());
  for (int i = 0; i < a.size(); ++i) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(b->row(i)[j], a.row(i)[j]);
    EXPECT_EQ(b->label(i), a.label(i));
  }
  // The generator state travels too: both continue the same way.
  const std::vector<float> x = {1000, 1000, 1000};
  for (int k = 0; k < 30; ++k) {
    a.Add(x, 1.0f);
    b->Add(x, 1.0f);
  }
  EXPECT_EQ(a.Serialize(), b->Serialize());
}

TEST(ReservoirTest, DeserializeRejectsEveryTruncation) {
  const std::vector<uint8_t> bytes = Filled(4, 2, 9, 5).Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = Reservoir::Deserialize(std::span(bytes).first(n));
    ASSERT_FALSE(r.has_value()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  }
  auto r = Reservoir::Deserialize(std::span(bytes).first(bytes.size() - 3));
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos)
      << r.error().message;
}

TEST(ReservoirTest, DeserializeRejectsTrailingBytesAndUnknownVersion) {
  std::vector<uint8_t> bytes = Filled(4, 2, 9, 5).Serialize();
  bytes.push_back(0);
  EXPECT_FALSE(Reservoir::Deserialize(bytes).has_value());
  bytes.pop_back();
  bytes[4] = 2;
  auto r = Reservoir::Deserialize(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "reservoir: version 2, expected 1");
}

TEST(ReservoirTest, DeserializeRejectsMoreRowsThanCapacity) {
  std::vector<uint8_t> bytes = Filled(4, 2, 9, 5).Serialize();
  bytes[8] = 2;  // capacity 4 -> 2, with 4 rows stored
  auto r = Reservoir::Deserialize(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace cls::core
