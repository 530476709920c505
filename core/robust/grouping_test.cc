#include "core/robust/grouping.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace cls::core::robust {
namespace {

TEST(GroupingTest, EverySiteIsInExactlyOneGroupOfAtLeastG) {
  for (int n = 1; n <= 30; ++n) {
    for (int g : {1, 2, 3, 5}) {
      auto groups = AssignGroups(n, g, 42);
      ASSERT_TRUE(groups.has_value());
      std::vector<int> seen(static_cast<size_t>(n), 0);
      size_t smallest = static_cast<size_t>(n), largest = 0;
      for (const Group& group : *groups) {
        for (int m : group) ++seen[static_cast<size_t>(m)];
        smallest = std::min(smallest, group.size());
        largest = std::max(largest, group.size());
        EXPECT_TRUE(std::is_sorted(group.begin(), group.end()));
      }
      for (int count : seen) EXPECT_EQ(count, 1);
      EXPECT_EQ(groups->size(), static_cast<size_t>(std::max(1, n / g)));
      if (n >= g) {
        EXPECT_GE(smallest, static_cast<size_t>(g));
      }
      EXPECT_LE(largest - smallest, 1u);
    }
  }
}

TEST(GroupingTest, TheSameSeedGivesTheSameGroupsAndSeedsDiffer) {
  auto a = AssignGroups(20, 3, 7);
  auto b = AssignGroups(20, 3, 7);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(*a, *b);
  int different = 0;
  for (uint64_t seed = 8; seed < 18; ++seed) {
    different += *AssignGroups(20, 3, seed) != *a ? 1 : 0;
  }
  EXPECT_GE(different, 9);
}

TEST(GroupingTest, FewerThanTwoGSitesFormOneGroup) {
  auto groups = AssignGroups(5, 3, 1);
  ASSERT_TRUE(groups.has_value());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0], (Group{0, 1, 2, 3, 4}));
}

TEST(GroupingTest, BadSizesAreRefused) {
  EXPECT_EQ(AssignGroups(0, 2, 1).error().message, "grouping: no participants");
  EXPECT_EQ(AssignGroups(4, 0, 1).error().message,
            "grouping: minimum group size 0 < 1");
}

TEST(GroupingTest, AGroupSumWithinTheMembersBoundPasses) {
  const std::vector<float> sum{0.3f, 0.4f};  // norm 0.5 up to float rounding
  const std::vector<double> weights{0.25, 0.25}, clips{1, 1};
  auto b = CheckGroupSumBound(sum, weights, clips, 1e-6);
  ASSERT_TRUE(b.has_value());
  EXPECT_NEAR(b->norm, 0.5, 1e-7);
  EXPECT_DOUBLE_EQ(b->bound, 0.5);
}

TEST(GroupingTest, AGroupSumBeyondTheBoundIsRejected) {
  const std::vector<float> sum{3.0f, 4.0f};
  const std::vector<double> weights{0.25, 0.25}, clips{1, 1};
  auto b = CheckGroupSumBound(sum, weights, clips, 1e-3);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(b.error().message,
            "group sum norm 5.000000 exceeds the members' bound 0.500000");
  const std::vector<float> nan{std::numeric_limits<float>::quiet_NaN()};
  EXPECT_EQ(CheckGroupSumBound(nan, weights, clips, 0).error().code,
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(
      CheckGroupSumBound(sum, weights, std::vector<double>{1}, 0).error().code,
      ErrorCode::kInvalidArgument);
}

TEST(GroupingTest, BlameIsSharedByPriorSuspicion) {
  const std::vector<Group> groups{{0, 1}, {2, 3}};
  const std::vector<double> anomaly{0.8, 0.0};
  const std::vector<double> suspicion{0.9, 0.1, 0.5, 0.5, 0.5};
  auto e = AttributeGroupAnomalies(groups, anomaly, suspicion, 5);
  ASSERT_TRUE(e.has_value());
  EXPECT_NEAR((*e)[0].blame, 0.72, 1e-12);
  EXPECT_NEAR((*e)[1].blame, 0.08, 1e-12);
  EXPECT_NEAR((*e)[0].clearance, 0.2, 1e-12);
  EXPECT_EQ((*e)[2].blame, 0.0);
  EXPECT_EQ((*e)[3].clearance, 1.0);
  EXPECT_TRUE((*e)[3].participated);
  EXPECT_FALSE((*e)[4].participated);
}

TEST(GroupingTest, AttributionRefusesInconsistentInput) {
  const std::vector<double> suspicion{0.1, 0.1, 0.1};
  const std::vector<Group> twice{{0, 1}, {1, 2}};
  EXPECT_EQ(
      AttributeGroupAnomalies(twice, std::vector<double>{0, 0}, suspicion, 3)
          .error()
          .message,
      "attribution: site 1 is in two groups");
  const std::vector<Group> out_of_range{{0, 3}};
  EXPECT_EQ(AttributeGroupAnomalies(out_of_range, std::vector<double>{0},
                                    suspicion, 3)
                .error()
                .message,
            "attribution: member 3 out of range");
  const std::vector<Group> one{{0}};
  EXPECT_EQ(AttributeGroupAnomalies(one, std::vector<double>{1.5}, suspicion, 3)
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      AttributeGroupAnomalies(one, std::vector<double>{0, 0}, suspicion, 3)
          .error()
          .code,
      ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cls::core::robust
