#include "console/version_commands.h"

#include <gtest/gtest.h>

#include <deque>
#include <sstream>
#include <vector>

namespace cls::console {
namespace {

using nlohmann::json;

// Answers requests from a script, in order, and records what was sent.
class ScriptedApi final : public AdminApi {
 public:
  void Answer(int status, json body) {
    answers_.push_back(AdminResponse{status, std::move(body)});
  }
  Result<AdminResponse> Send(const AdminRequest& request) override {
    requests.push_back(request);
    if (answers_.empty()) return Internal("fake: no answer scripted");
    auto answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  }
  std::vector<AdminRequest> requests;

 private:
  std::deque<Result<AdminResponse>> answers_;
};

class VersionCommandsTest : public ::testing::Test {
 protected:
  CommandContext Context(bool json = false) {
    return CommandContext{
        .api = api_, .out = out_, .diagnostics = err_, .json = json};
  }
  ScriptedApi api_;
  std::ostringstream out_;
  std::ostringstream err_;
};

const json kList = {
    {"versions",
     {{{"version_id", "v2_20261127_120002"},
       {"created_at", "2026-11-27T12:00:02Z"},
       {"round_id", 1},
       {"parent_version", "v1_20261127_120001"},
       {"current", true},
       {"metrics",
        {{"accuracy", 0.8},
         {"precision", 0.75},
         {"recall", 0.5},
         {"f1", 0.6},
         {"auc", 0.875},
         {"training_samples", 200}}}},
      {{"version_id", "v1_20261127_120001"},
       {"created_at", "2026-11-27T12:00:01Z"},
       {"round_id", 0},
       {"parent_version", nullptr},
       {"current", false},
       {"metrics", {{"accuracy", nullptr}, {"training_samples", 0}}}}}},
    {"total", 2}};

TEST_F(VersionCommandsTest, ListPrintsATableNewestFirst) {
  api_.Answer(200, kList);
  auto ctx = Context();
  ASSERT_TRUE(RunVersionsList(ctx, 5).has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/versions?limit=5");
  const std::string out = out_.str();
  EXPECT_NE(out.find("VERSION"), std::string::npos);
  EXPECT_NE(out.find("*v2_20261127_120002"), std::string::npos);
  EXPECT_NE(out.find("0.875"), std::string::npos);
  EXPECT_LT(out.find("v2_20261127_120002"), out.find(" v1_20261127_120001"));
}

TEST_F(VersionCommandsTest, ListWithJsonPrintsTheCoordinatorsAnswer) {
  api_.Answer(200, kList);
  auto ctx = Context(true);
  ASSERT_TRUE(RunVersionsList(ctx, 0).has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/versions");
  EXPECT_EQ(json::parse(out_.str()), kList);
}

TEST_F(VersionCommandsTest, ShowPrintsLineageAndKeyAndEscapesTheId) {
  api_.Answer(200, {{"version_id", "v2_x"},
                    {"encrypted", true},
                    {"kek_id", "kek-0123456789abcdef"},
                    {"metrics", {{"accuracy", 0.8}}},
                    {"lineage",
                     {{"parent_version", "v1_x"},
                      {"round_id", 1},
                      {"contributing_sites", {"HOSP_A", "HOSP_B"}},
                      {"privacy",
                       {{"round_epsilon", 0.5},
                        {"mode", "central"},
                        {"epsilon_spent_after", 1.25}}},
                      {"rounds", {{{"round_id", 1}}}},
                      {"all_sites", {"HOSP_A", "HOSP_B"}}}}});
  auto ctx = Context();
  ASSERT_TRUE(RunVersionsShow(ctx, "v2 x").has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/versions/v2%20x");
  const std::string out = out_.str();
  EXPECT_NE(out.find("yes, data key wrapped by kek-0123456789abcdef"),
            std::string::npos);
  EXPECT_NE(out.find("HOSP_A, HOSP_B"), std::string::npos);
  EXPECT_NE(out.find("epsilon 0.5000 (central), period total 1.2500"),
            std::string::npos);
}

TEST_F(VersionCommandsTest, ShowOfAnUnknownVersionIsRefusedWithItsMessage) {
  api_.Answer(404, {{"error",
                     {{"code", "not_found"},
                      {"message",
                       "no model version 'v9' (clsctl versions "
                       "list)"}}}});
  auto ctx = Context();
  auto r = RunVersionsShow(ctx, "v9");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kNotFound);
  EXPECT_EQ(r.error().message, "no model version 'v9' (clsctl versions list)");
}

TEST_F(VersionCommandsTest, RotateSendsTheKeyFileAndPrintsTheIds) {
  api_.Answer(200, {{"artifacts", 7},
                    {"old_kek_id", "kek-aaaa"},
                    {"new_kek_id", "kek-bbbb"},
                    {"source", "environment"},
                    {"note",
                     "set CLS_MODEL_KEK to the key in /k before the "
                     "coordinator next starts"}});
  auto ctx = Context();
  ASSERT_TRUE(RunKeysRotate(ctx, "/k").has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/keys/rotate");
  EXPECT_EQ(*api_.requests[0].body, json({{"new_key_file", "/k"}}));
  EXPECT_NE(out_.str().find("re-wrapped 7 model artifact data keys: kek-aaaa "
                            "-> kek-bbbb (environment)"),
            std::string::npos);
  EXPECT_NE(out_.str().find("next: set CLS_MODEL_KEK"), std::string::npos);
}

TEST_F(VersionCommandsTest, RotateRefusesARelativeKeyFileWithoutSending) {
  auto ctx = Context();
  auto r = RunKeysRotate(ctx, "next.kek");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kUsage);
  EXPECT_TRUE(api_.requests.empty());
}

}  // namespace
}  // namespace cls::console
