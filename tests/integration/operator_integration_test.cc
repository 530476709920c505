// Issue 12's operator commands against the real daemons and the real
// clsctl binary: aborting the running round (audited, the sites told,
// nothing committed), `round start --wait` failing with exit 9 because of
// it, the next queued round completing afterwards, clearing the queue, and
// the --json errors with their exit codes.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;

std::vector<json> Events(const json& doc, const std::string& event) {
  std::vector<json> out;
  for (const auto& e : doc["entries"]) {
    if (e["event_type"] == event) out.push_back(e);
  }
  return out;
}

// The running round's id and stage, or nullopt.
std::optional<std::pair<int64_t, std::string>> Running(Cluster& cluster) {
  auto current = cluster.Ctl({"round", "status"}).Json();
  if (!current.is_object() || !current["round"].is_object()) {
    return std::nullopt;
  }
  const json& round = current["round"];
  if (round["status"] != "running") return std::nullopt;
  return std::pair{round["round_id"].get<int64_t>(),
                   round["stage"].get<std::string>()};
}

class OperatorIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A stage deadline far beyond the test: only the abort can end a round
    // that waits for a frozen site.
    cluster_.StartCoordinator("min_sites = 3", "stage_timeout_s = 600");
    for (const char* id : {"HOSP_001", "HOSP_002", "HOSP_003"}) {
      cluster_.StartSite(id);
    }
    cluster_.ApproveAll({"HOSP_001", "HOSP_002", "HOSP_003"});
  }
  void TearDown() override {
    if (frozen_) kill(cluster_.site("HOSP_003")->pid(), SIGCONT);
  }

  Cluster cluster_;
  bool frozen_ = false;
};

TEST_F(OperatorIntegrationTest, AbortEndsTheRoundAndTheNextQueuedOneRuns) {
  // A frozen site keeps its connection but never answers: round 1 waits in
  // advertise_keys until the operator aborts it.
  kill(cluster_.site("HOSP_003")->pid(), SIGSTOP);
  frozen_ = true;
  const std::vector<std::string> ctl = {
      BinaryPath("clsctl"),
      "--coordinator",
      "127.0.0.1:" + std::to_string(cluster_.admin_port()),
      "--ca",
      cluster_.Path("pki/ca.pem"),
      "--cert",
      cluster_.Path("pki/issued/operator.pem"),
      "--key",
      cluster_.Path("pki/issued/operator.key")};
  std::vector<std::string> wait_argv = ctl;
  for (const char* a : {"round", "start", "--rounds", "2", "--wait"}) {
    wait_argv.push_back(a);
  }
  Process waiting(wait_argv, cluster_.Path("round-start-wait.log"));

  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = Running(cluster_);
        return r && r->first == 1 && r->second == "advertise_keys";
      },
      60s))
      << waiting.Log();

  // A viewer may not abort (403: exit 6, the error as JSON on stdout).
  auto denied = cluster_.Ctl({"round", "abort"}, "viewer");
  EXPECT_EQ(denied.exit_code, 6) << denied.error;
  EXPECT_EQ(denied.ErrorJson()["code"], "permission_denied");
  EXPECT_EQ(denied.ErrorJson()["http_status"], 403);

  auto aborted = cluster_.Ctl({"round", "abort"}, "operator");
  ASSERT_EQ(aborted.exit_code, 0) << aborted.error;
  EXPECT_EQ(aborted.Json(), json({{"aborted_round", 1}}));

  // The site wakes up to the abort and the next announce; round 2 runs.
  kill(cluster_.site("HOSP_003")->pid(), SIGCONT);
  frozen_ = false;
  const int wait_exit = waiting.Wait(180s);
  EXPECT_EQ(wait_exit, 9) << waiting.Log();
  EXPECT_NE(waiting.Log().find("1 of 2 rounds aborted (round 1: aborted by "
                               "operator operator)"),
            std::string::npos)
      << waiting.Log();

  auto history = cluster_.Ctl({"round", "history"}).Json()["rounds"];
  ASSERT_EQ(history.size(), 2u) << history.dump();
  // Oldest first: the aborted round made no version, the next one did.
  EXPECT_EQ(history[0]["round_id"], 1);
  EXPECT_EQ(history[0]["status"], "aborted");
  EXPECT_EQ(history[0]["abort_reason"], "aborted by operator operator");
  EXPECT_TRUE(history[0]["model_version"].is_null());
  EXPECT_EQ(history[1]["round_id"], 2);
  EXPECT_EQ(history[1]["status"], "completed") << history[1].dump();
  EXPECT_FALSE(history[1]["model_version"].is_null());

  // Audited: who asked, and the round's end with the operator's reason.
  auto exported = cluster_.Ctl({"audit", "export"}, "auditor");
  ASSERT_EQ(exported.exit_code, 0) << exported.error;
  const json doc = exported.Json();
  auto requested = Events(doc, "round_abort_requested");
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0]["actor"], "operator");
  EXPECT_EQ(requested[0]["actor_role"], "operator");
  EXPECT_EQ(requested[0]["round"], 1);
  auto ended = Events(doc, "federated_round_aborted");
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0]["reason"], "aborted by operator operator");
  EXPECT_EQ(Events(doc, "access_denied").size(), 1u);

  // Nothing runs now: abort is a conflict (exit 8), clearing finds nothing.
  auto nothing = cluster_.Ctl({"round", "abort"});
  EXPECT_EQ(nothing.exit_code, 8) << nothing.error;
  EXPECT_EQ(nothing.ErrorJson(), json({{"code", "failed_precondition"},
                                       {"http_status", 409},
                                       {"message", "no round is running"}}));
  auto cleared = cluster_.Ctl({"round", "queue", "clear"});
  ASSERT_EQ(cleared.exit_code, 0) << cleared.error;
  EXPECT_EQ(cleared.Json(), json({{"cleared", 0}}));
}

TEST_F(OperatorIntegrationTest, ClearingTheQueueStopsTheRoundsNotStarted) {
  kill(cluster_.site("HOSP_003")->pid(), SIGSTOP);
  frozen_ = true;
  ASSERT_EQ(cluster_.Ctl({"round", "start", "--rounds", "5"}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return Running(cluster_).has_value(); }, 60s));
  auto cleared = cluster_.Ctl({"round", "queue", "clear"}, "operator");
  ASSERT_EQ(cleared.exit_code, 0) << cleared.error;
  EXPECT_EQ(cleared.Json(), json({{"cleared", 4}}));
  ASSERT_EQ(cluster_.Ctl({"round", "abort"}).exit_code, 0);
  kill(cluster_.site("HOSP_003")->pid(), SIGCONT);
  frozen_ = false;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto current = cluster_.Ctl({"round", "status"}).Json();
        return current.is_object() && current["round"].is_null() &&
               current["queued_rounds"] == 0;
      },
      60s));
  auto history = cluster_.Ctl({"round", "history"}).Json()["rounds"];
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_EQ(history[0]["status"], "aborted");
  // The version: clsctl's own line and the coordinator's.
  auto version = cluster_.Ctl({"version"});
  ASSERT_EQ(version.exit_code, 0) << version.error;
  EXPECT_FALSE(version.Json()["server"]["version"].get<std::string>().empty());
}

}  // namespace
}  // namespace cls::testing
