// Model versions in the running daemons (issue 5): metrics from the sites'
// evaluations, lineage, artifacts encrypted at rest, and `clsctl keys
// rotate` while the coordinator serves, then a restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/cluster.h"
#include "tests/integration/stored_model.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const std::vector<std::string> kSites = {"HOSP_001", "HOSP_002", "HOSP_003"};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The database and its WAL, as bytes.
std::string DatabaseBytes(Cluster& c) {
  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    const std::string path =
        c.Path("coordinator-state/coordinator.db") + suffix;
    if (fs::exists(path)) bytes += ReadAll(path);
  }
  return bytes;
}

std::string FloatBytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

json Versions(Cluster& c) {
  auto r = c.Ctl({"versions", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.error;
  return r.exit_code == 0 ? r.Json()["versions"] : json::array();
}

TEST(VersionsIntegrationTest, MetricsLineageRotationAndRestart) {
  Cluster cluster;
  cluster.StartCoordinator();
  for (const auto& id : kSites) cluster.StartSite(id);
  cluster.ApproveAll(kSites);
  auto rounds = cluster.RunRounds(2, 180s);
  ASSERT_EQ(rounds.size(), 2u);
  ASSERT_EQ(rounds[1]["status"], "completed") << rounds[1].dump();
  const std::string latest = rounds[1]["model_version"];
  const std::string middle = rounds[0]["model_version"];

  // Every site reports its held-out evaluation of the new version.
  ASSERT_TRUE(WaitUntil(
      [&] {
        json v = Versions(cluster);
        return !v.empty() && v[0]["version_id"] == latest &&
               v[0]["metrics"]["reports"] == 3;
      },
      30s))
      << Versions(cluster).dump();
  json list = Versions(cluster);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]["version_id"], latest);
  EXPECT_EQ(list[1]["version_id"], middle);
  EXPECT_EQ(list[0]["current"], true);
  const json& metrics = list[0]["metrics"];
  for (const char* key : {"accuracy", "precision", "recall", "f1", "auc"}) {
    ASSERT_TRUE(metrics[key].is_number()) << key << " " << metrics.dump();
    EXPECT_GE(metrics[key].get<double>(), 0.0) << key;
    EXPECT_LE(metrics[key].get<double>(), 1.0) << key;
  }
  EXPECT_GT(metrics["training_samples"].get<int64_t>(), 0);
  EXPECT_EQ(metrics["auc_bins"], 20);

  auto shown = cluster.Ctl({"versions", "show", latest});
  ASSERT_EQ(shown.exit_code, 0) << shown.error;
  json v = shown.Json();
  EXPECT_EQ(v["lineage"]["parent_version"], middle);
  EXPECT_EQ(v["lineage"]["contributing_sites"].size(), 3u);
  EXPECT_EQ(v["lineage"]["rounds"].size(), 2u);
  EXPECT_EQ(v["encrypted"], true);
  EXPECT_FALSE(v.contains("parameters"));
  const std::string first_kek = v["kek_id"];

  auto table = cluster.CtlText({"versions", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.error;
  EXPECT_NE(table.output.find("VERSION"), std::string::npos);
  EXPECT_NE(table.output.find("*" + latest), std::string::npos);
  auto text = cluster.CtlText({"versions", "show", latest});
  EXPECT_NE(text.output.find("data key wrapped by " + first_kek),
            std::string::npos)
      << text.output;

  // Rotation while the coordinator runs: an operator may not, an admin may.
  auto denied = cluster.Ctl({"keys", "rotate"}, "operator");
  EXPECT_EQ(denied.exit_code, 6);
  auto rotated = cluster.Ctl({"keys", "rotate"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.error;
  json r = rotated.Json();
  EXPECT_EQ(r["artifacts"], 3);
  EXPECT_EQ(r["old_kek_id"], first_kek);
  const std::string second_kek = r["new_kek_id"];
  EXPECT_NE(second_kek, first_kek);
  // Serving goes on: another round commits a version under the new key.
  auto more = cluster.RunRounds(1, 120s);
  ASSERT_EQ(more[0]["status"], "completed") << more[0].dump();
  const std::string newest = more[0]["model_version"];
  EXPECT_EQ(cluster.Ctl({"versions", "show", newest}).Json()["kek_id"],
            second_kek);
  auto relative = cluster.Ctl({"keys", "rotate", "--new-key-file", "x.kek"});
  EXPECT_EQ(relative.exit_code, 1);

  // Restart: every version opens under the rotated key.
  ASSERT_EQ(cluster.StopCoordinator(), 0);
  cluster.StartCoordinator();
  list = Versions(cluster);
  ASSERT_EQ(list.size(), 4u);
  for (const auto& entry : list) {
    auto one = cluster.Ctl({"versions", "show", entry["version_id"]});
    ASSERT_EQ(one.exit_code, 0) << one.error;
    EXPECT_EQ(one.Json()["kek_id"], second_kek);
  }
  EXPECT_EQ(cluster.Ctl({"status"}).exit_code, 0);
  ASSERT_TRUE(cluster.WaitConnected(3, 60s));
  auto after = cluster.RunRounds(1, 120s);
  ASSERT_EQ(after[0]["status"], "completed") << after[0].dump();

  // The audit log names the rotation and its key ids, never key bytes.
  const std::string file = cluster.Path("audit.json");
  auto exported = cluster.Ctl({"audit", "export", "--output", file}, "auditor");
  ASSERT_EQ(exported.exit_code, 0) << exported.error;
  bool audited = false;
  const json doc = json::parse(ReadAll(file));
  for (const auto& e : doc["entries"]) {
    if (e["event_type"] != "keys.rotate") continue;
    audited = true;
    EXPECT_EQ(e["actor"], "admin");
    EXPECT_EQ(e["artifacts"], 3);
    EXPECT_EQ(e["old_kek_id"], first_kek);
    EXPECT_EQ(e["new_kek_id"], second_kek);
  }
  EXPECT_TRUE(audited);

  // Nothing in the database in plaintext: no version's parameter bytes,
  // and not the key.
  ASSERT_EQ(cluster.StopCoordinator(), 0);
  const std::string db = DatabaseBytes(cluster);
  auto models = ReadModels(cluster.Path("coordinator-state"));
  ASSERT_EQ(models.size(), 5u);
  for (const auto& m : models) {
    ASSERT_FALSE(m.parameters.empty()) << m.version_id;
    if (std::all_of(m.parameters.begin(), m.parameters.end(),
                    [](float x) { return x == 0.0f; })) {
      continue;  // the initial all-zero model: zeros are everywhere
    }
    EXPECT_EQ(db.find(FloatBytes(m.parameters)), std::string::npos)
        << m.version_id;
  }
  std::string key = ReadAll(cluster.Path("coordinator-state/model.kek"));
  key.erase(key.find_last_not_of(" \n") + 1);
  ASSERT_EQ(key.size(), 64u);
  EXPECT_EQ(db.find(key), std::string::npos);
  EXPECT_FALSE(fs::exists(cluster.Path("coordinator-state/model.kek.new")));
}

}  // namespace
}  // namespace cls::testing
