// Real processes on loopback: a coordinator, site agents and clsctl, over
// mutual TLS 1.3, with real SQLite and real crypto.
#include <gtest/gtest.h>

#include <signal.h>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/sqlite_db.h"
#include "tests/integration/cluster.h"
#include "tests/integration/stored_model.h"

namespace cls::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Reads the newest model straight from the coordinator's database (its
// artifact decrypted with the coordinator's key file).
StoredModel LatestModel(Cluster& cluster) {
  return ReadLatestModel(cluster.Path("coordinator-state"));
}

std::vector<float> ReadDelta(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

std::vector<std::string> SiteIds(int n) {
  std::vector<std::string> ids;
  for (int i = 1; i <= n; ++i) ids.push_back("HOSP_00" + std::to_string(i));
  return ids;
}

std::set<std::string> Names(const nlohmann::json& list) {
  std::set<std::string> out;
  for (const auto& v : list)
    out.insert(v.is_object() ? v["site_id"].get<std::string>()
                             : v.get<std::string>());
  return out;
}

class RoundIntegrationTest : public ::testing::Test {
 protected:
  void StartFederation(
      int n,
      const std::map<std::string, std::vector<std::string>>& extra = {}) {
    cluster_.StartCoordinator("min_sites = 3");
    fs::create_directories(cluster_.Path("deltas"));
    ids_ = SiteIds(n);
    for (const auto& id : ids_) {
      SiteOptions options;
      options.extra_args = {"--test-expose-deltas",
                            cluster_.Path("deltas/" + id)};
      if (extra.count(id)) {
        options.extra_args.insert(options.extra_args.end(),
                                  extra.at(id).begin(), extra.at(id).end());
      }
      fs::create_directories(cluster_.Path("deltas/" + id));
      cluster_.StartSite(id, options);
    }
    cluster_.ApproveAll(ids_);
  }

  // The secure sum must equal the plaintext weighted mean of the deltas of
  // the sites that contributed, within the quantization bound.
  void ExpectModelMovedByMeanOf(const StoredModel& before,
                                const StoredModel& after, int64_t round_id,
                                const std::set<std::string>& contributors) {
    std::vector<double> sum(before.parameters.size(), 0.0);
    double weight = 0;
    auto sites = cluster_.Ctl({"sites", "list"}).Json()["sites"];
    double total_samples = 0;
    for (const auto& s : sites) total_samples += s["num_samples"].get<double>();
    for (const auto& s : sites) {
      std::string id = s["site_id"];
      if (!contributors.count(id)) continue;
      weight += s["num_samples"].get<double>() / total_samples;
      auto delta = ReadDelta(cluster_.Path("deltas/" + id + "/round-" +
                                           std::to_string(round_id) + ".f32"));
      ASSERT_EQ(delta.size(), sum.size()) << id;
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += delta[i];
    }
    const double step = 2.0 * 1.0 / 65535.0;  // clip 1.0, 16 value bits
    const double bound = contributors.size() * step / weight + 1e-6;
    for (size_t i = 0; i < sum.size(); ++i) {
      double expected = before.parameters[i] + sum[i] / weight;
      EXPECT_NEAR(after.parameters[i], expected, bound) << "parameter " << i;
    }
  }

  Cluster cluster_;
  std::vector<std::string> ids_;
};

TEST_F(RoundIntegrationTest, FiveSitesSecureSumEqualsPlaintextWeightedMean) {
  StartFederation(5);
  StoredModel before = LatestModel(cluster_);
  auto rounds = cluster_.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  EXPECT_EQ(Names(rounds[0]["contributors"]).size(), 5u);
  StoredModel after = LatestModel(cluster_);
  EXPECT_EQ(after.parent_version, before.version_id);
  EXPECT_EQ(after.version_id, rounds[0]["model_version"]);
  ExpectModelMovedByMeanOf(before, after, rounds[0]["round_id"],
                           Names(rounds[0]["contributors"]));
  // No site's plain delta ever reaches the coordinator's log.
  EXPECT_EQ(cluster_.coordinator()->Log().find("masked_input:"),
            std::string::npos);
}

TEST_F(RoundIntegrationTest, OneDropoutAfterShareKeysIsRecovered) {
  StartFederation(5, {{"HOSP_003", {"--test-exit-after", "share_keys:1"}}});
  StoredModel before = LatestModel(cluster_);
  auto rounds = cluster_.RunRounds(1, 120s);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  EXPECT_EQ(
      Names(rounds[0]["contributors"]),
      (std::set<std::string>{"HOSP_001", "HOSP_002", "HOSP_004", "HOSP_005"}));
  EXPECT_EQ(Names(rounds[0]["dropped"]), (std::set<std::string>{"HOSP_003"}));
  ExpectModelMovedByMeanOf(before, LatestModel(cluster_), 1,
                           Names(rounds[0]["contributors"]));
}

TEST_F(RoundIntegrationTest, TwoDropoutsAfterShareKeysAreRecovered) {
  StartFederation(5, {{"HOSP_002", {"--test-exit-after", "share_keys:1"}},
                      {"HOSP_005", {"--test-exit-after", "share_keys:1"}}});
  StoredModel before = LatestModel(cluster_);
  auto rounds = cluster_.RunRounds(1, 120s);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  EXPECT_EQ(Names(rounds[0]["dropped"]),
            (std::set<std::string>{"HOSP_002", "HOSP_005"}));
  ExpectModelMovedByMeanOf(before, LatestModel(cluster_), 1,
                           Names(rounds[0]["contributors"]));
}

TEST_F(RoundIntegrationTest, DropoutsBelowThresholdAbortWithNoModelChange) {
  StartFederation(5, {{"HOSP_001", {"--test-exit-after", "share_keys:1"}},
                      {"HOSP_002", {"--test-exit-after", "share_keys:1"}},
                      {"HOSP_003", {"--test-exit-after", "share_keys:1"}}});
  StoredModel before = LatestModel(cluster_);
  auto rounds = cluster_.RunRounds(1, 120s);
  ASSERT_EQ(rounds[0]["status"], "aborted") << rounds[0].dump();
  EXPECT_NE(rounds[0]["abort_reason"].get<std::string>().find("threshold 3"),
            std::string::npos)
      << rounds[0]["abort_reason"];
  StoredModel after = LatestModel(cluster_);
  EXPECT_EQ(after.version_id, before.version_id);
  EXPECT_EQ(after.parameters, before.parameters);
}

TEST_F(RoundIntegrationTest, CoordinatorRestartContinuesFromPersistedModel) {
  StartFederation(3);
  auto first = cluster_.RunRounds(2, 120s);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(first[1]["status"], "completed");
  StoredModel persisted = LatestModel(cluster_);
  EXPECT_EQ(cluster_.StopCoordinator(SIGTERM), 0);

  cluster_.StartCoordinator("min_sites = 3");
  ASSERT_TRUE(cluster_.WaitConnected(3, 60s)) << "sites did not reconnect";
  auto status = cluster_.Ctl({"status"}).Json();
  EXPECT_EQ(status["model_version"], persisted.version_id);
  auto next = cluster_.RunRounds(1, 120s);
  ASSERT_EQ(next[0]["status"], "completed") << next[0].dump();
  EXPECT_EQ(next[0]["round_id"], 3);
  EXPECT_EQ(LatestModel(cluster_).parent_version, persisted.version_id);
}

TEST_F(RoundIntegrationTest, RoundInFlightAtCrashIsAbortedOnRestart) {
  StartFederation(3);
  StoredModel before = LatestModel(cluster_);
  // A frozen site keeps its connection open but never answers, so the round
  // waits for its advertise-keys deadline (10 s): the crash lands in that
  // window.
  kill(cluster_.site("HOSP_003")->pid(), SIGSTOP);
  ASSERT_EQ(cluster_.Ctl({"round", "start"}).exit_code, 0);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(cluster_.Ctl({"round", "status"}).Json()["round"]["stage"],
            "advertise_keys");
  cluster_.StopCoordinator(SIGKILL);
  kill(cluster_.site("HOSP_003")->pid(), SIGCONT);

  cluster_.StartCoordinator("min_sites = 3");
  auto history = cluster_.Ctl({"round", "history"}).Json()["rounds"];
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["status"], "aborted");
  EXPECT_EQ(history[0]["abort_reason"], "coordinator restarted mid-round");
  EXPECT_EQ(LatestModel(cluster_).version_id, before.version_id);
}

TEST_F(RoundIntegrationTest, StartRefusedWithTooFewActiveSites) {
  cluster_.StartCoordinator("min_sites = 3");
  cluster_.StartSite("HOSP_001");
  cluster_.StartSite("HOSP_002");
  cluster_.ApproveAll({"HOSP_001", "HOSP_002"});
  auto r = cluster_.Ctl({"round", "start"});
  EXPECT_EQ(r.exit_code, 8);
  EXPECT_NE(r.error.find("Insufficient active sites: 2 < 3"), std::string::npos)
      << r.error;
}

}  // namespace
}  // namespace cls::testing
