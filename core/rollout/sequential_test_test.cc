#include "core/rollout/sequential_test.h"

#include <gtest/gtest.h>

#include <random>

namespace cls::rollout {
namespace {

// Simulates an A/B test with a look after every batch (as if after every
// site report); returns the verdict at the end or at the first decision.
Verdict RunPeeking(std::mt19937_64& rng, double p_current, double p_candidate,
                   int looks, int batch, ComparisonResult* last = nullptr) {
  auto test = SequentialComparison::Create({});
  EXPECT_TRUE(test.has_value());
  std::binomial_distribution<int64_t> a(batch, p_current),
      b(batch, p_candidate);
  ArmCounts ca, cb;
  for (int i = 0; i < looks; ++i) {
    ca.n += batch;
    ca.successes += a(rng);
    cb.n += batch;
    cb.successes += b(rng);
    auto r = test->Update(ca, cb);
    EXPECT_TRUE(r.has_value());
    if (last) *last = *r;
    if (r->verdict != Verdict::kInconclusive) return r->verdict;
  }
  return Verdict::kInconclusive;
}

// Under the null, with 100 looks per test, a fixed-horizon z-test at 0.05
// would reject in roughly a third of the runs; the mSPRT stays below alpha.
TEST(SequentialComparisonTest, PeekingKeepsTypeOneErrorBelowAlpha) {
  std::mt19937_64 rng(51);
  int rejections = 0;
  const int runs = 400;
  for (int i = 0; i < runs; ++i) {
    rejections +=
        RunPeeking(rng, 0.85, 0.85, 100, 50) != Verdict::kInconclusive ? 1 : 0;
  }
  EXPECT_LE(rejections, runs * 0.05) << rejections;
}

TEST(SequentialComparisonTest, DetectsAWorseCandidate) {
  std::mt19937_64 rng(52);
  int worse = 0;
  for (int i = 0; i < 20; ++i) {
    worse += RunPeeking(rng, 0.90, 0.85, 200, 50) == Verdict::kCandidateWorse
                 ? 1
                 : 0;
  }
  EXPECT_GE(worse, 19);
}

TEST(SequentialComparisonTest, DetectsABetterCandidateAndTheIntervalCoversIt) {
  std::mt19937_64 rng(53);
  ComparisonResult last;
  EXPECT_EQ(RunPeeking(rng, 0.80, 0.88, 200, 50, &last),
            Verdict::kCandidateBetter);
  EXPECT_GT(last.ci_low, 0.0);
  EXPECT_LT(last.ci_low, 0.08);
  EXPECT_GT(last.ci_high, 0.08);
  EXPECT_LT(last.p_value, 0.05);
}

TEST(SequentialComparisonTest, WaitsForMinimumSamplesAndRefusesBadCounts) {
  auto test = SequentialComparison::Create({});
  ASSERT_TRUE(test.has_value());
  auto r = test->Update({50, 50}, {50, 0});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->verdict, Verdict::kInconclusive);
  EXPECT_EQ(r->p_value, 1.0);
  EXPECT_EQ(test->Update({40, 40}, {60, 0}).error().code,
            ErrorCode::kInvalidArgument);  // counts went down
  EXPECT_EQ(test->Update({60, 70}, {60, 0}).error().code,
            ErrorCode::kInvalidArgument);  // successes > n
  SequentialTestConfig config;
  config.alpha = 0;
  EXPECT_EQ(SequentialComparison::Create(config).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(SequentialComparisonTest, PValueNeverIncreases) {
  std::mt19937_64 rng(54);
  auto test = SequentialComparison::Create({});
  ASSERT_TRUE(test.has_value());
  std::binomial_distribution<int64_t> a(100, 0.85), b(100, 0.83);
  ArmCounts ca, cb;
  double last_p = 1.0, last_width = 2.0;
  for (int i = 0; i < 50; ++i) {
    ca.n += 100;
    ca.successes += a(rng);
    cb.n += 100;
    cb.successes += b(rng);
    auto r = test->Update(ca, cb);
    ASSERT_TRUE(r.has_value());
    EXPECT_LE(r->p_value, last_p);
    EXPECT_LE(r->ci_high - r->ci_low, last_width + 1e-12);
    last_p = r->p_value;
    last_width = r->ci_high - r->ci_low;
  }
}

TEST(SequentialComparisonTest, DescriptionNamesEffectIntervalAndVerdict) {
  ComparisonResult r;
  r.effect = 0.021;
  r.ci_low = -0.004;
  r.ci_high = 0.046;
  r.p_value = 0.21;
  r.current = {1180, 1000};
  r.candidate = {1200, 1050};
  EXPECT_EQ(DescribeComparison(r, "v1", "v2"),
            "v2 vs v1: +2.10 points (95% always-valid CI -0.40 to +4.60), "
            "p = 0.21, n = 1200 / 1180: inconclusive");
}

}  // namespace
}  // namespace cls::rollout
