// federation stats, versions import and versions rollback --to against a
// scripted coordinator (console/fake_admin_api.h).

#include "console/federation_commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "console/cli.h"
#include "console/fake_admin_api.h"

namespace cls::console {
namespace {

using nlohmann::json;
using testing::FakeAdminApi;

class FederationCommandsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!file_.empty()) std::filesystem::remove(file_);
  }
  CommandContext Context(bool json = false) {
    return CommandContext{
        .api = api_, .out = out_, .diagnostics = err_, .json = json};
  }
  std::string WriteFile(const std::string& text) {
    file_ = (std::filesystem::temp_directory_path() /
             ("cls-import-" + std::to_string(::getpid()) + ".json"))
                .string();
    std::ofstream(file_) << text;
    return file_;
  }
  FakeAdminApi api_;
  std::ostringstream out_;
  std::ostringstream err_;
  std::string file_;
};

const json kStats = {{"federated", true},
                     {"total_sites", 3},
                     {"active_sites", 2},
                     {"total_rounds", 5},
                     {"total_samples", 606},
                     {"average_accuracy", 0.75},
                     {"total_privacy_budget_used", 2.5}};

TEST_F(FederationCommandsTest, StatsPrintsTheGuidesFields) {
  api_.Answer(200, kStats);
  auto ctx = Context();
  ASSERT_TRUE(RunFederationStats(ctx).has_value());
  ASSERT_EQ(api_.requests.size(), 1u);
  EXPECT_EQ(api_.requests[0].method, HttpMethod::kGet);
  EXPECT_EQ(api_.requests[0].target, "/v1/federation/stats");
  const std::string out = out_.str();
  EXPECT_NE(out.find("mode"), std::string::npos) << out;
  EXPECT_NE(out.find("federated"), std::string::npos) << out;
  EXPECT_NE(out.find("total sites"), std::string::npos) << out;
  EXPECT_NE(out.find("606"), std::string::npos) << out;
  EXPECT_NE(out.find("2.5000"), std::string::npos) << out;
  EXPECT_NE(out.find("0.750"), std::string::npos) << out;
}

TEST_F(FederationCommandsTest, StatsBeforeAnyRoundShowsNoAccuracy) {
  json stats = kStats;
  stats["federated"] = false;
  stats["average_accuracy"] = nullptr;
  stats["total_rounds"] = 0;
  api_.Answer(200, stats);
  auto ctx = Context();
  ASSERT_TRUE(RunFederationStats(ctx).has_value());
  EXPECT_NE(out_.str().find("single hospital"), std::string::npos)
      << out_.str();
  EXPECT_TRUE(
      std::regex_search(out_.str(), std::regex("average accuracy: +-\n")))
      << out_.str();
}

TEST_F(FederationCommandsTest, StatsJsonIsTheCoordinatorsDocument) {
  api_.Answer(200, kStats);
  auto ctx = Context(true);
  ASSERT_TRUE(RunFederationStats(ctx).has_value());
  EXPECT_EQ(json::parse(out_.str()), kStats);
}

TEST_F(FederationCommandsTest, StatsRefusesAMalformedAnswer) {
  json bad = kStats;
  bad.erase("total_rounds");
  api_.Answer(200, bad);
  auto ctx = Context();
  auto r = RunFederationStats(ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kCoordinatorError);
}

TEST_F(FederationCommandsTest, ImportSendsTheFileAsModel) {
  const json model = {
      {"format", "cls-model/1"},        {"model_type", "diagnosis_predictor"},
      {"layout", "logreg:w[2x1],b[1]"}, {"parameters", {0.5, -0.25, 1}},
      {"metrics", {{"accuracy", 0.8}}}, {"description", "trained offline"}};
  const std::string file = WriteFile(model.dump());
  api_.Answer(200, {{"version_id", "import1_20261207_070000"},
                    {"parameters", 3},
                    {"layout", "logreg:w[2x1],b[1]"},
                    {"hash", "ab"}});
  auto ctx = Context();
  ASSERT_TRUE(RunVersionsImport(ctx, file).has_value()) << err_.str();
  ASSERT_EQ(api_.requests.size(), 1u);
  EXPECT_EQ(api_.requests[0].method, HttpMethod::kPost);
  EXPECT_EQ(api_.requests[0].target, "/v1/versions/import");
  ASSERT_TRUE(api_.requests[0].body.has_value());
  EXPECT_EQ(*api_.requests[0].body, json({{"model", model}}));
  EXPECT_NE(out_.str().find("imported as import1_20261207_070000"),
            std::string::npos)
      << out_.str();
}

TEST_F(FederationCommandsTest, ImportOfAFileThatIsNotJsonSendsNothing) {
  const std::string file = WriteFile("{\"format\": \"cls-model/1\",");
  auto ctx = Context();
  auto r = RunVersionsImport(ctx, file);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kUsage);
  EXPECT_NE(r.error().message.find("not a JSON object"), std::string::npos);
  EXPECT_TRUE(api_.requests.empty());
  auto missing = RunVersionsImport(ctx, "/nonexistent/model.json");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().exit_code, ExitCode::kUsage);
  EXPECT_TRUE(api_.requests.empty());
}

TEST_F(FederationCommandsTest, ImportRefusedByTheCoordinatorIsExitCode3) {
  const std::string file = WriteFile("{}");
  api_.Answer(400, {{"error",
                     {{"code", "invalid_argument"},
                      {"message", "model file: missing field 'format'"}}}});
  auto ctx = Context();
  auto r = RunVersionsImport(ctx, file);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kRefused);
  EXPECT_NE(r.error().message.find("missing field 'format'"), std::string::npos)
      << r.error().message;
}

TEST_F(FederationCommandsTest, RollbackToANamedVersionSendsIt) {
  const json record = {{"deployment_id", "d3"},
                       {"action", "rollback"},
                       {"current_version", "v2_20261207_060000"},
                       {"candidate_version", nullptr}};
  api_.Answer(200, record);
  api_.Answer(200, record);
  auto ctx = Context();
  ASSERT_TRUE(
      RunVersionsRollback(ctx, "bad model", "v2_20261207_060000").has_value());
  ASSERT_TRUE(RunVersionsRollback(ctx, "").has_value());
  ASSERT_EQ(api_.requests.size(), 2u);
  EXPECT_EQ(api_.requests[0].target, "/v1/versions/rollback");
  EXPECT_EQ(
      *api_.requests[0].body,
      json({{"reason", "bad model"}, {"version_id", "v2_20261207_060000"}}));
  EXPECT_EQ(*api_.requests[1].body, json::object());
  EXPECT_NE(out_.str().find("current v2_20261207_060000"), std::string::npos)
      << out_.str();
}

}  // namespace
}  // namespace cls::console
