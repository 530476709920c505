#include "site-agent/agent.h"

#include <gtest/gtest.h>

namespace cls::site {
namespace {

TEST(AgentTest, ExitAfterSwitchParsesStageAndRound) {
  auto parsed = ParseExitAfter("share_keys:17");
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->stage, "share_keys");
  EXPECT_EQ(parsed->round_id, 17u);
}

TEST(AgentTest, ExitAfterSwitchRefusesUnknownStagesAndBadRounds) {
  for (const char* bad : {"unmask:3", "advertise_keys", "masked_input:",
                          "masked_input:x", "masked_input:3x", ":3"}) {
    auto parsed = ParseExitAfter(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(
        parsed.error().message.find("advertise_keys, share_keys, masked_input"),
        std::string::npos);
  }
}

}  // namespace
}  // namespace cls::site
