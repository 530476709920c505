// Continuous learning at a running site agent: files dropped into its inbox
// are learned from once, also when the agent is killed and the same content
// arrives again.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

nlohmann::json OnlineStatus(Cluster& cluster, const std::string& site) {
  std::ifstream in(cluster.Path(site + "-state/online/online.json"));
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

// Writes a cohort under a temporary name and renames it into the inbox, as
// the documentation asks hospitals to do.
void DropIntoInbox(Cluster& cluster, const std::string& name, unsigned seed) {
  const std::string tmp = cluster.Path("inbox/." + name + ".tmp");
  WriteSyntheticCohort(tmp, 40, 0.0, seed);
  fs::rename(tmp, cluster.Path("inbox/" + name));
}

TEST(OnlineIntegrationTest, InboxFilesAreLearnedOnceAcrossAKill) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");
  fs::create_directories(cluster.Path("inbox"));
  SiteOptions online;
  online.extra_toml = "[online]\ninbox = \"" + cluster.Path("inbox") +
                      "\"\npoll_interval_s = 1\nlearning_rate = 0.05\n";
  cluster.StartSite("HOSP_ON", online);
  cluster.StartSite("HOSP_B");
  cluster.ApproveAll({"HOSP_ON", "HOSP_B"});
  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();

  DropIntoInbox(cluster, "day-001.csv", 77);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto s = OnlineStatus(cluster, "HOSP_ON");
        return s.is_object() && s["total_updates"] == 1;
      },
      30s))
      << cluster.site("HOSP_ON")->Log();
  auto status = OnlineStatus(cluster, "HOSP_ON");
  EXPECT_EQ(status["files_processed"], 1);
  EXPECT_EQ(status["rows_accepted"], 40);
  EXPECT_TRUE(fs::is_empty(cluster.Path("inbox")));

  // Killed without warning; the same content arrives again under a new name.
  cluster.StopSite("HOSP_ON", SIGKILL);
  DropIntoInbox(cluster, "day-001-again.csv", 77);
  cluster.StartSite("HOSP_ON", online);
  ASSERT_TRUE(
      WaitUntil([&] { return fs::is_empty(cluster.Path("inbox")); }, 30s))
      << cluster.site("HOSP_ON")->Log();
  status = OnlineStatus(cluster, "HOSP_ON");
  EXPECT_EQ(status["total_updates"], 1) << status.dump();
  EXPECT_EQ(status["files_processed"], 1) << status.dump();
  EXPECT_NE(cluster.site("HOSP_ON")->Log().find("already processed"),
            std::string::npos);

  // A new day is learned after the restart, from the restored state.
  DropIntoInbox(cluster, "day-002.csv", 78);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto s = OnlineStatus(cluster, "HOSP_ON");
        return s.is_object() && s["total_updates"] == 2;
      },
      30s))
      << cluster.site("HOSP_ON")->Log();
}

}  // namespace
}  // namespace cls::testing
