#include "core/model_layout.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace cls::core {
namespace {

ParameterLayout LogregLayout() {
  return ParameterLayout("logreg", {ParameterBlock::Matrix("w", 22, 1),
                                    ParameterBlock::Vector("b", 1)});
}

TEST(ParameterLayoutTest, TextFormNamesEveryBlockInOrder) {
  EXPECT_EQ(LogregLayout().ToString(), "logreg:w[22x1],b[1]");
}

TEST(ParameterLayoutTest, TotalSizeAndOffsetsFollowTheBlocks) {
  const ParameterLayout layout(
      "mlp",
      {ParameterBlock::Matrix("w1", 3, 4), ParameterBlock::Vector("b1", 4),
       ParameterBlock::Matrix("w2", 4, 2), ParameterBlock::Vector("b2", 2)});
  EXPECT_EQ(layout.total_size(), 12u + 4u + 8u + 2u);
  EXPECT_EQ(layout.Offset(0), 0u);
  EXPECT_EQ(layout.Offset(1), 12u);
  EXPECT_EQ(layout.Offset(2), 16u);
  EXPECT_EQ(layout.Offset(3), 24u);
}

TEST(ParameterLayoutTest, CheckAcceptsAVectorOfTheRightSize) {
  const std::vector<float> params(23, 0.5f);
  EXPECT_TRUE(LogregLayout().Check(params).has_value());
}

TEST(ParameterLayoutTest, CheckRejectsASizeMismatchNamingTheLayout) {
  const std::vector<float> params(12, 0.0f);
  const Status s = LogregLayout().Check(params);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message,
            "model: 12 parameters, layout logreg:w[22x1],b[1] needs 23");
}

TEST(ParameterLayoutTest, CheckRejectsANonFiniteValueNamingItsBlock) {
  std::vector<float> params(23, 0.0f);
  params[22] = std::numeric_limits<float>::quiet_NaN();
  const Status s = LogregLayout().Check(params);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message, "model: parameter 22 (b[0]) is not finite");
}

TEST(ParameterLayoutTest, LayoutsWithDifferentShapesAreNotEqual) {
  const ParameterLayout other("logreg", {ParameterBlock::Matrix("w", 1, 22),
                                         ParameterBlock::Vector("b", 1)});
  EXPECT_EQ(other.total_size(), LogregLayout().total_size());
  EXPECT_FALSE(other == LogregLayout());
  EXPECT_TRUE(LogregLayout() == LogregLayout());
}

}  // namespace
}  // namespace cls::core
