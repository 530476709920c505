#include "console/commands.h"
#include "console/fake_admin_api.h"

#include <gtest/gtest.h>

#include <deque>
#include <sstream>
#include <vector>

namespace cls::console {
namespace {

using nlohmann::json;

using testing::FakeAdminApi;

class CommandsTest : public ::testing::Test {
 protected:
  CommandContext Context(bool json = false) {
    return CommandContext{
        .api = api_,
        .out = out_,
        .diagnostics = err_,
        .json = json,
        .poll_interval = std::chrono::milliseconds(1000),
        .sleep = [this](std::chrono::milliseconds) { ++sleeps_; }};
  }

  FakeAdminApi api_;
  std::ostringstream out_;
  std::ostringstream err_;
  int sleeps_ = 0;
};

json Round(int id, const std::string& status, const std::string& stage,
           int sites) {
  json participants = json::array();
  for (int i = 0; i < sites; ++i)
    participants.push_back("s" + std::to_string(i));
  return json{{"round_id", id},
              {"status", status},
              {"stage", stage},
              {"participants", participants},
              {"contributors", participants},
              {"dropped", json::array()}};
}

TEST_F(CommandsTest, ConflictPrintsTheServersMessageWithExitCode8) {
  api_.Answer(409, json::parse(R"({"error": {"code": "failed_precondition",
      "message": "Insufficient active sites: 2 < 3"}})"));
  auto ctx = Context();
  auto result = RunRoundStart(ctx, RoundStartOptions{.rounds = 1});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().exit_code, ExitCode::kConflict);
  EXPECT_EQ(result.error().message, "Insufficient active sites: 2 < 3");
  ASSERT_EQ(api_.requests.size(), 1u);
  EXPECT_EQ(api_.requests[0].method, HttpMethod::kPost);
  EXPECT_EQ(api_.requests[0].target, "/v1/rounds");
  EXPECT_EQ(*api_.requests[0].body, json({{"rounds", 1}}));
}

TEST_F(CommandsTest, ServerErrorIsExitCode4) {
  api_.Answer(500, json{{"error", {{"code", "internal"}, {"message", "db"}}}});
  auto ctx = Context();
  auto result = RunStatus(ctx);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().exit_code, ExitCode::kCoordinatorError);
  EXPECT_EQ(result.error().message, "coordinator error (HTTP 500): db");
}

TEST_F(CommandsTest, NonObjectSuccessBodyIsMalformedExitCode4) {
  api_.Answer(200, json::array());
  auto ctx = Context();
  auto result = RunSitesList(ctx);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().exit_code, ExitCode::kCoordinatorError);
  EXPECT_EQ(result.error().message,
            "malformed response from coordinator (GET /v1/sites): expected a "
            "JSON object");
}

TEST_F(CommandsTest, UnreachableCoordinatorIsExitCode2) {
  api_.Fail(Error{ErrorCode::kUnavailable,
                  "cannot connect to 127.0.0.1:7444: Connection refused"});
  auto ctx = Context();
  auto result = RunStatus(ctx);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().exit_code, ExitCode::kUnreachable);
  EXPECT_EQ(result.error().message,
            "cannot connect to 127.0.0.1:7444: Connection refused");
}

TEST_F(CommandsTest, JsonOptionPrintsTheServerJsonPrettyPrinted) {
  api_.Answer(200, json{{"sites", json::array()}});
  auto ctx = Context(/*json=*/true);
  ASSERT_TRUE(RunSitesList(ctx).has_value());
  EXPECT_EQ(out_.str(), "{\n  \"sites\": []\n}\n");
}

TEST_F(CommandsTest, ApproveEscapesTheSiteIdInThePath) {
  api_.Answer(200, json{{"site_id", "a/b c"}, {"status", "approved"}});
  auto ctx = Context();
  ASSERT_TRUE(RunSitesApprove(ctx, "a/b c").has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/sites/a%2Fb%20c/approve");
  EXPECT_EQ(out_.str(), "site a/b c: approved\n");
}

TEST_F(CommandsTest, HistoryAsksForTheLimit) {
  api_.Answer(200, json{{"rounds", json::array()}});
  auto ctx = Context();
  ASSERT_TRUE(RunRoundHistory(ctx, 5).has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/rounds?limit=5");
  EXPECT_EQ(out_.str(), "no rounds yet\n");
}

// Exit 9 when a round aborted; the history is printed all the same.
TEST_F(CommandsTest, RoundStartWaitPrintsOneLinePerStageThenItsHistory) {
  api_.Answer(200, json{{"first_round", 3}, {"queued", 2}});
  const json none = nullptr;
  api_.Answer(200, json{{"round", none}, {"queued_rounds", 2}});
  api_.Answer(200, json{{"round", Round(3, "running", "advertise_keys", 4)},
                        {"queued_rounds", 1}});
  api_.Answer(200, json{{"round", Round(3, "running", "advertise_keys", 4)},
                        {"queued_rounds", 1}});
  api_.Answer(200, json{{"round", Round(3, "running", "masked_input", 4)},
                        {"queued_rounds", 1}});
  api_.Fail(Error{ErrorCode::kUnavailable, "cannot connect: reset"});
  api_.Answer(200, json{{"round", Round(4, "running", "masked_input", 3)},
                        {"queued_rounds", 0}});
  api_.Answer(200, json{{"round", none}, {"queued_rounds", 0}});
  json round2 = Round(2, "completed", "done", 4);
  json round3 = Round(3, "completed", "done", 4);
  json round4 = Round(4, "aborted", "masked_input", 3);
  round4["abort_reason"] = "too few sites";
  api_.Answer(200, json{{"rounds", {round2, round3, round4}}});

  auto ctx = Context();
  auto result =
      RunRoundStart(ctx, RoundStartOptions{.rounds = 2, .wait = true});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().exit_code, ExitCode::kRoundAborted);
  EXPECT_EQ(static_cast<int>(result.error().exit_code), 9);
  EXPECT_EQ(result.error().message,
            "1 of 2 rounds aborted (round 4: too few sites)");
  EXPECT_EQ(out_.str(),
            "queued rounds 3-4 (2 rounds)\n"
            "round 3: advertise_keys (4 sites)\n"
            "round 3: masked_input (4 sites)\n"
            "round 4: masked_input (3 sites)\n"
            "\n"
            "ROUND  STATUS     SITES  DROPPED  VAL ACC  EVAL ACC  MODEL\n"
            "    3  completed    4/4  -              -         -  -\n"
            "    4  aborted      3/3  -              -         -  -\n"
            "\n"
            "round 4 aborted: too few sites\n");
  EXPECT_EQ(err_.str(), "clsctl: cannot connect: reset; retrying\n");
  EXPECT_EQ(sleeps_, 6);
  EXPECT_EQ(api_.requests.back().target, "/v1/rounds?limit=18");
}

TEST_F(CommandsTest, RoundStartWaitGivesUpAfterRepeatedFailures) {
  api_.Answer(200, json{{"first_round", 3}, {"queued", 1}});
  for (int i = 0; i < 6; ++i) {
    api_.Fail(Error{ErrorCode::kUnavailable, "cannot connect: refused"});
  }
  auto ctx = Context();
  auto result =
      RunRoundStart(ctx, RoundStartOptions{.rounds = 1, .wait = true});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().exit_code, ExitCode::kUnreachable);
  EXPECT_EQ(result.error().message, "cannot connect: refused");
}

TEST_F(CommandsTest, RoundStartWaitWithJsonKeepsStdoutOneDocument) {
  api_.Answer(200, json{{"first_round", 7}, {"queued", 1}});
  api_.Answer(200, json{{"round", Round(7, "running", "unmask", 3)},
                        {"queued_rounds", 0}});
  api_.Answer(200, json{{"round", nullptr}, {"queued_rounds", 0}});
  api_.Answer(200, json{{"rounds", {Round(7, "completed", "done", 3)}}});
  auto ctx = Context(/*json=*/true);
  ASSERT_TRUE(RunRoundStart(ctx, RoundStartOptions{.rounds = 1, .wait = true}));
  EXPECT_EQ(json::parse(out_.str()),
            json({{"rounds", {Round(7, "completed", "done", 3)}}}));
  EXPECT_EQ(err_.str(), "round 7: unmask (3 sites)\n");
}

TEST(MakeClientConfigTest, MissingCertificateNamesOptionAndVariable) {
  GlobalOptions options{.ca_file = "ca.pem", .key_file = "op.key"};
  auto config = MakeClientConfig(options);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().message,
            "no operator certificate: pass --cert FILE or set CLS_CERT");
  EXPECT_EQ(ExitCodeFor(config.error()), ExitCode::kUsage);
}

TEST(MakeClientConfigTest, MissingKeyNamesOptionAndVariable) {
  GlobalOptions options{.ca_file = "ca.pem", .cert_file = "op.pem"};
  auto config = MakeClientConfig(options);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().message,
            "no operator private key: pass --key FILE or set CLS_KEY");
}

TEST(MakeClientConfigTest, BadPortIsAUsageError) {
  GlobalOptions options{.coordinator = "localhost:70000",
                        .ca_file = "ca.pem",
                        .cert_file = "op.pem",
                        .key_file = "op.key"};
  auto config = MakeClientConfig(options);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(config.error().message,
            "--coordinator (CLS_ADMIN) 'localhost:70000': port must be "
            "1-65535");
}

TEST(MakeClientConfigTest, DefaultsReachTheLocalCoordinator) {
  GlobalOptions options{
      .ca_file = "ca.pem", .cert_file = "op.pem", .key_file = "op.key"};
  auto config = MakeClientConfig(options);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->endpoint.ToString(), "127.0.0.1:7444");
  EXPECT_EQ(config->timeout, std::chrono::seconds(30));
}

}  // namespace
}  // namespace cls::console
