// The SecAgg+ neighbour graph's degree and threshold against the failure
// target (docs/protocol.md "Neighbour graph").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "secagg/common/secagg.h"

namespace cls::protocol {
namespace {

constexpr double kTarget = 0x1p-20;

// Rounds out of `trials` in which some honest site of n has at least
// `threshold` corrupt neighbours in the real graph (sites 0..c-1 corrupt:
// the graph is a random permutation, so which ones does not matter).
double ColludingNeighbourhoodRate(size_t n, size_t corrupt, size_t threshold,
                                  int trials, uint64_t seed) {
  std::mt19937_64 rng(seed);
  int failed = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const auto graph = BuildNeighbourGraph(n, 32, rng);
    for (size_t u = corrupt; u < n; ++u) {
      size_t bad = 0;
      for (uint32_t v : graph[u]) bad += v < corrupt;
      if (bad >= threshold) {
        ++failed;
        break;
      }
    }
  }
  return double(failed) / trials;
}

TEST(SecAggGraphTest, YesterdaysDegreeAtOneHundredSitesFailsTheTarget) {
  // k = ceil(2 log2 100) = 14, t = 8 of 15: 20 colluding sites outnumber
  // the honest members of some honest site's neighbourhood in about one
  // round in twenty (union bound 0.08; a binomial model of the corrupt set
  // gives about 1 in 6).
  const NeighbourhoodFailure old = NeighbourhoodFailureBound(100, 14, 8, {});
  EXPECT_GT(old.privacy, 0.05);
  EXPECT_LT(old.privacy, 0.1);
  EXPECT_GT(old.privacy, kTarget * 1e4);
}

TEST(SecAggGraphTest, TheRealGraphAtOneHundredSitesHasNoColludingMajority) {
  // 20 of 100 sites collude. Each trial draws the graph the coordinator
  // would; with k = 14 (t = 8) about 5 % of them leave some honest site
  // with a colluding majority of its neighbourhood.
  const NeighbourhoodPlan plan = PlanNeighbourhood(100, 32);
  const double rate =
      ColludingNeighbourhoodRate(100, 20, plan.threshold, 4000, 11);
  std::fprintf(stderr, "n 100, k %zu, t %u: %.4f of rounds failed\n",
               plan.degree, plan.threshold, rate);
  // At the target, 4000 rounds see no failure except with probability
  // 4000 * 2^-20 < 0.4 %.
  EXPECT_EQ(rate, 0.0) << "degree " << plan.degree << ", threshold "
                       << plan.threshold;
}

TEST(SecAggGraphTest, TheChosenParametersMeetTheTargetAndAreTheSmallest) {
  for (size_t n : {33, 50, 100, 200, 500, 1000, 5000}) {
    SCOPED_TRACE(n);
    const NeighbourhoodPlan plan = PlanNeighbourhood(n, 32);
    ASSERT_FALSE(plan.complete);
    ASSERT_TRUE(plan.meets_target);
    EXPECT_EQ(plan.degree % 2, 0u);
    EXPECT_LE(plan.degree, n - 1);
    // Never below the strict majority the sites insist on.
    EXPECT_GE(plan.threshold, ThresholdFor(plan.degree + 1));
    EXPECT_LE(plan.threshold, plan.degree + 1);
    EXPECT_LT(plan.failure.privacy, kTarget);
    EXPECT_LT(plan.failure.correctness, kTarget);
    const NeighbourhoodFailure again =
        NeighbourhoodFailureBound(n, plan.degree, plan.threshold, {});
    EXPECT_EQ(again.privacy, plan.failure.privacy);
    EXPECT_EQ(again.correctness, plan.failure.correctness);
    // No smaller even degree works with any admissible threshold.
    for (size_t k = 2; k < plan.degree; k += 2) {
      for (uint32_t t = ThresholdFor(k + 1); t <= k + 1; ++t) {
        const NeighbourhoodFailure f = NeighbourhoodFailureBound(n, k, t, {});
        EXPECT_FALSE(f.privacy < kTarget && f.correctness < kTarget)
            << "k " << k << ", t " << t;
      }
    }
  }
}

TEST(SecAggGraphTest, TheDocumentedTableHolds) {
  // docs/protocol.md "Neighbour graph": 20 % corrupt, 10 % dropouts, 2^-20.
  struct Row {
    size_t n, k;
    uint32_t t;
  };
  for (const Row& row : {Row{50, 16, 11}, Row{100, 28, 17}, Row{500, 44, 26},
                         Row{1000, 50, 30}}) {
    const NeighbourhoodPlan plan = PlanNeighbourhood(row.n, 32);
    EXPECT_EQ(plan.degree, row.k) << row.n;
    EXPECT_EQ(plan.threshold, row.t) << row.n;
  }
  const NeighbourhoodPlan small = PlanNeighbourhood(10, 32);
  EXPECT_TRUE(small.complete);
  EXPECT_EQ(small.degree, 9u);
  EXPECT_EQ(small.threshold, 6u);
  EXPECT_EQ(small.failure.privacy, 0.0);  // 2 corrupt sites < 6
}

TEST(SecAggGraphTest, FailureBoundsMatchHandComputedTails) {
  // n 5, k 4 (complete), 1 corrupt: no honest site can see 3 corrupt.
  SecAggAssumptions a;
  a.corrupt_fraction = 0.2;
  a.dropout_fraction = 0.2;
  NeighbourhoodFailure f = NeighbourhoodFailureBound(5, 4, 3, a);
  EXPECT_EQ(f.privacy, 0.0);
  EXPECT_EQ(f.correctness, 0.0);  // 1 dropout, 2 would be needed
  // n 6, k 2, t 2, 2 corrupt (ceil 1.2): an honest site's 2 neighbours are
  // both corrupt with probability C(2,2) / C(5,2) = 1/10; 4 honest sites.
  f = NeighbourhoodFailureBound(6, 2, 2, a);
  EXPECT_NEAR(f.privacy, 0.4, 1e-12);
  // 2 dropouts: a site loses >= 1 of 2 neighbours with probability
  // 1 - C(3,2)/C(5,2) = 0.7; 6 sites, capped at 1.
  EXPECT_EQ(f.correctness, 1.0);
  a.dropout_fraction = 0.0;
  f = NeighbourhoodFailureBound(6, 2, 2, a);
  EXPECT_EQ(f.correctness, 0.0);
  // Stricter assumptions need a larger degree.
  SecAggAssumptions third;
  third.corrupt_fraction = 1.0 / 3;
  EXPECT_GT(PlanNeighbourhood(1000, 32, third).degree,
            PlanNeighbourhood(1000, 32).degree);
}

TEST(SecAggGraphTest, EverySiteHasTheChosenDegree) {
  std::mt19937_64 rng(3);
  const auto graph = BuildNeighbourGraph(100, 32, rng);
  const NeighbourhoodPlan plan = PlanNeighbourhood(100, 32);
  for (size_t u = 0; u < graph.size(); ++u) {
    EXPECT_EQ(graph[u].size(), plan.degree + 1) << u;
    for (uint32_t v : graph[u]) {
      const auto& back = graph[v];
      EXPECT_TRUE(std::binary_search(back.begin(), back.end(), uint32_t(u)))
          << u << " -> " << v << " is not symmetric";
    }
  }
}

}  // namespace
}  // namespace cls::protocol
