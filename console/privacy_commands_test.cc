// clsctl privacy status against a scripted coordinator
// (console/fake_admin_api.h): the cross-site budget when the coordinator's
// DP is on, an explicit "off" when it is not, and the sites' record-level
// (DP-SGD) ledgers in both cases.

#include "console/privacy_commands.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "console/fake_admin_api.h"

namespace cls::console {
namespace {

using nlohmann::json;
using testing::FakeAdminApi;

class PrivacyCommandsTest : public ::testing::Test {
 protected:
  CommandContext Context(bool json = false) {
    return CommandContext{
        .api = api_, .out = out_, .diagnostics = err_, .json = json};
  }
  FakeAdminApi api_;
  std::ostringstream out_;
  std::ostringstream err_;
};

const json kRecordLevel = json::array({{{"site_id", "HOSP_DP"},
                                        {"epsilon", 7.25},
                                        {"delta", 1e-5},
                                        {"target_epsilon", 8.5},
                                        {"refusals", 1}}});

// What GET /v1/privacy answers with [privacy] mode = "off" at the
// coordinator (coordinator/admin/admin_api_privacy.cc).
json OffAnswer(json record_level) {
  return {{"enabled", false},
          {"mode", "off"},
          {"noise_multiplier", nullptr},
          {"privacy_epsilon_per_round", nullptr},
          {"period", nullptr},
          {"spent_epsilon", nullptr},
          {"remaining_epsilon", nullptr},
          {"optimal_order", nullptr},
          {"rounds_charged", nullptr},
          {"history", json::array()},
          {"record_level", std::move(record_level)}};
}

TEST_F(PrivacyCommandsTest, OffSaysSoAndListsTheSitesRecordLevelEpsilon) {
  api_.Answer(200, OffAnswer(kRecordLevel));
  auto ctx = Context();
  ASSERT_TRUE(RunPrivacyStatus(ctx, 0).has_value()) << err_.str();
  ASSERT_EQ(api_.requests.size(), 1u);
  EXPECT_EQ(api_.requests[0].target, "/v1/privacy");
  const std::string out = out_.str();
  EXPECT_NE(out.find("cross-site differential privacy: off"), std::string::npos)
      << out;
  EXPECT_NE(out.find("HOSP_DP: epsilon 7.2500 of target 8.5 at delta 1e-05, "
                     "1 training(s) refused"),
            std::string::npos)
      << out;
  // No site-level figure that could read as "nothing spent, so private".
  EXPECT_EQ(out.find("spent:"), std::string::npos) << out;
  EXPECT_EQ(out.find("remaining:"), std::string::npos) << out;
}

TEST_F(PrivacyCommandsTest, OffWithoutDpSgdSitesSaysNoSiteReportedIt) {
  api_.Answer(200, OffAnswer(json::array()));
  auto ctx = Context();
  ASSERT_TRUE(RunPrivacyStatus(ctx, 0).has_value()) << err_.str();
  const std::string out = out_.str();
  EXPECT_NE(out.find("cross-site differential privacy: off"), std::string::npos)
      << out;
  EXPECT_NE(out.find("no site reported it"), std::string::npos) << out;
}

TEST_F(PrivacyCommandsTest, OnShowsTheBudgetAndTheRecordLevelLines) {
  api_.Answer(200, {{"enabled", true},
                    {"mode", "central"},
                    {"noise_multiplier", 1.2},
                    {"privacy_epsilon_per_round", 2.0},
                    {"period",
                     {{"period_id", 1},
                      {"epsilon_budget", 10.0},
                      {"delta", 1e-5},
                      {"started_at", "2026-12-07T09:00:00Z"},
                      {"started_by", "system"},
                      {"reason", "first period"}}},
                    {"spent_epsilon", 2.5},
                    {"remaining_epsilon", 7.5},
                    {"optimal_order", 8.0},
                    {"rounds_charged", 1},
                    {"history", json::array()},
                    {"record_level", kRecordLevel}});
  auto ctx = Context();
  ASSERT_TRUE(RunPrivacyStatus(ctx, 0).has_value()) << err_.str();
  const std::string out = out_.str();
  EXPECT_NE(out.find("mode:             central"), std::string::npos) << out;
  EXPECT_NE(out.find("spent:            epsilon 2.5000 over 1 round(s)"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("cross-site differential privacy: off"), std::string::npos)
      << out;
  EXPECT_NE(out.find("HOSP_DP: epsilon 7.2500"), std::string::npos) << out;
}

TEST_F(PrivacyCommandsTest, AnAnswerWithoutPeriodWhileOnIsRefused) {
  api_.Answer(200, {{"enabled", true}, {"mode", "central"}});
  auto ctx = Context();
  auto result = RunPrivacyStatus(ctx, 0);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find("malformed response"),
            std::string::npos);
}

}  // namespace
}  // namespace cls::console
