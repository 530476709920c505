#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/online_learning.h"

namespace cls::core {
namespace {

void Batch(std::mt19937_64& rng, int n, Eigen::MatrixXf& x,
           Eigen::VectorXf& y) {
  std::normal_distribution<float> normal(0, 1);
  x.resize(n, 3);
  y.resize(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) x(i, j) = normal(rng);
    y(i) = x(i, 0) - 0.5f * x(i, 1) + 0.3f * normal(rng) > 0 ? 1.0f : 0.0f;
  }
}

OnlineLearningConfig Config() {
  OnlineLearningConfig cfg;
  cfg.learning_rate = 0.05;
  cfg.reservoir_capacity = 50;
  cfg.rehearsal_samples = 10;
  cfg.holdout_size = 20;
  return cfg;
}

TEST(OnlineLearningState, RestoredSystemContinuesIdentically) {
  std::mt19937_64 rng(5);
  auto a = OnlineLearningSystem::Create(3, Config());
  ASSERT_TRUE(a.has_value());
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  for (int i = 0; i < 4; ++i) {
    Batch(rng, 40, x, y);
    ASSERT_TRUE(a->IncrementalUpdate(x, y).has_value());
    if (i == 1) {
      ASSERT_TRUE(a->AnchorToCurrent(x, y).has_value());
    }
  }
  auto bytes = a->Serialize();
  auto b = OnlineLearningSystem::Deserialize(bytes, 3, Config());
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ(b->history().size(), 4u);
  EXPECT_EQ(b->reservoir().size(), a->reservoir().size());
  EXPECT_EQ(b->GetUpdateStatistics().total_samples_processed, 160);
  Batch(rng, 40, x, y);
  auto ua = a->IncrementalUpdate(x, y);
  auto ub = b->IncrementalUpdate(x, y);
  ASSERT_TRUE(ua && ub);
  EXPECT_EQ(ua->training_loss, ub->training_loss);
  EXPECT_EQ(ua->holdout_accuracy, ub->holdout_accuracy);
  const auto pa = a->model().parameters(), pb = b->model().parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i], pb[i]);
  // The whole state matches but for the wall-clock time (to the
  // millisecond) of that last update, which a and b made at their own
  // moments: a's (the last time in its history) is put in b's place.
  ASSERT_EQ(ua->timestamp.size(), ub->timestamp.size());
  auto state_a = a->Serialize();
  const auto state_b = b->Serialize();
  const auto at = std::find_end(state_a.begin(), state_a.end(),
                                ua->timestamp.begin(), ua->timestamp.end());
  ASSERT_NE(at, state_a.end());
  std::copy(ub->timestamp.begin(), ub->timestamp.end(), at);
  EXPECT_EQ(state_a, state_b);
}

// Format 1 (before the model spec was recorded): magic, version 1, the
// feature count as u32, then the same sections as format 2. The test makes
// such bytes from today's by swapping the header (format 2 puts the spec
// text, u64 length + bytes, where format 1 had the count).
std::vector<uint8_t> AsFormat1(const std::vector<uint8_t>& v2, int features) {
  uint64_t spec_len = 0;
  for (int i = 0; i < 8; ++i) spec_len |= uint64_t{v2[8 + i]} << (8 * i);
  std::vector<uint8_t> v1(v2.begin(), v2.begin() + 4);
  for (uint32_t v : {uint32_t{1}, static_cast<uint32_t>(features)}) {
    for (int i = 0; i < 4; ++i)
      v1.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  v1.insert(v1.end(), v2.begin() + 16 + static_cast<long>(spec_len), v2.end());
  return v1;
}

TEST(OnlineLearningState, ReadsTheLogisticOnlyFormat1) {
  std::mt19937_64 rng(4);
  auto a = OnlineLearningSystem::Create(3, Config());
  ASSERT_TRUE(a.has_value());
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  for (int i = 0; i < 3; ++i) {
    Batch(rng, 30, x, y);
    ASSERT_TRUE(a->IncrementalUpdate(x, y).has_value());
    if (i == 1) {
      ASSERT_TRUE(a->AnchorToCurrent(x, y).has_value());
    }
  }
  const std::vector<uint8_t> v2 = a->Serialize();
  ASSERT_EQ(v2[4], 2);  // today's format
  const std::vector<uint8_t> v1 = AsFormat1(v2, 3);
  ASSERT_EQ(v1[4], 1);
  auto b = OnlineLearningSystem::Deserialize(v1, 3, Config());
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ(b->model().spec().kind, ModelKind::kLogisticRegression);
  EXPECT_EQ(b->Serialize(), v2);  // the same state, written as format 2
  // Format 1 is logistic regression's: another kind or width is refused.
  ModelSpec softmax;
  softmax.kind = ModelKind::kSoftmaxRegression;
  softmax.num_features = 3;
  softmax.num_classes = 3;
  auto refused = OnlineLearningSystem::Deserialize(v1, softmax, Config());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kDataLoss);
  EXPECT_FALSE(OnlineLearningSystem::Deserialize(v1, 4, Config()));
}

TEST(OnlineLearningState, RefusesCorruptOrMismatchedBytes) {
  auto a = OnlineLearningSystem::Create(3, Config());
  ASSERT_TRUE(a.has_value());
  std::mt19937_64 rng(1);
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  Batch(rng, 30, x, y);
  ASSERT_TRUE(a->IncrementalUpdate(x, y).has_value());
  auto bytes = a->Serialize();
  EXPECT_FALSE(OnlineLearningSystem::Deserialize(bytes, 4, Config()));
  for (size_t cut :
       {size_t{0}, size_t{3}, bytes.size() / 2, bytes.size() - 1}) {
    auto truncated = std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut);
    auto r = OnlineLearningSystem::Deserialize(truncated, 3, Config());
    ASSERT_FALSE(r.has_value()) << cut;
    EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  }
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(OnlineLearningSystem::Deserialize(longer, 3, Config()));
}

}  // namespace
}  // namespace cls::core
