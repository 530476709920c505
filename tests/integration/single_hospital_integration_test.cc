// Issue 14 end to end with real processes: a coordinator in single hospital
// mode ([federation] federated = false, min_sites = 1) and one hospital that
// opted in ([secure_aggregation] allow_single_site = true) train, version,
// deploy and audit as a federation would, and say so; federation stats,
// import of an externally trained model and rollback to a named version go
// through the real clsctl. The refusals: min_sites = 1 in a federation, a
// site that did not opt in, a model file of another layout.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;

const std::string kSingle = "[federation]\nfederated = false\n";

json AuditEntriesOf(Cluster& cluster, const std::string& event) {
  const std::string file = cluster.Path("audit-" + event + ".json");
  auto exported = cluster.Ctl({"audit", "export", "--output", file}, "auditor");
  EXPECT_EQ(exported.exit_code, 0) << exported.error;
  std::ifstream in(file);
  json doc = json::parse(in, nullptr, false);
  json out = json::array();
  if (doc.is_discarded()) return out;
  for (const auto& e : doc["entries"]) {
    if (e["event_type"] == event) out.push_back(e);
  }
  return out;
}

TEST(SingleHospitalIntegrationTest, OneHospitalTrainsDeploysAndSaysSo) {
  Cluster cluster;
  cluster.StartCoordinator(kSingle);
  SiteOptions options;
  options.allow_single_site = true;
  // It serves predictions, so it installs deployments.
  options.extra_toml = ServeSection(FreePort());
  cluster.StartSite("HOSP_ALONE", options);
  cluster.ApproveAll({"HOSP_ALONE"});

  auto status = cluster.Ctl({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.error;
  EXPECT_EQ(status.Json()["federated"], false) << status.output;
  EXPECT_EQ(status.Json()["min_sites"], 1);
  EXPECT_EQ(status.Json()["aggregation"]["secure_aggregation"], false);

  auto rounds = cluster.RunRounds(2, 180s);
  ASSERT_EQ(rounds.size(), 2u) << rounds.dump();
  for (const auto& r : rounds) {
    ASSERT_EQ(r["status"], "completed") << r.dump();
    EXPECT_EQ(r["federated"], false);
    EXPECT_EQ(r["contributors"], json::array({"HOSP_ALONE"}));
  }
  const std::string first = rounds[0]["model_version"];
  const std::string latest = rounds[1]["model_version"];

  auto stats = cluster.Ctl({"federation", "stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.error;
  const json s = stats.Json();
  EXPECT_EQ(s["federated"], false);
  EXPECT_EQ(s["total_sites"], 1);
  EXPECT_EQ(s["active_sites"], 1);
  EXPECT_EQ(s["total_rounds"], 2);
  EXPECT_GT(s["total_samples"].get<int64_t>(), 0);
  ASSERT_TRUE(s["average_accuracy"].is_number()) << s.dump();
  EXPECT_DOUBLE_EQ(s["average_accuracy"].get<double>(),
                   rounds[1]["validation"]["accuracy"].get<double>());
  EXPECT_EQ(s["total_privacy_budget_used"], 0.0);

  // Deploy the newest, then roll back to the first by name; the one in
  // force and an unknown version are refused with their exit codes.
  auto deployed =
      cluster.Ctl({"versions", "deploy", latest, "--strategy", "immediate"});
  ASSERT_EQ(deployed.exit_code, 0) << deployed.error;
  auto same = cluster.Ctl({"versions", "rollback", "--to", latest});
  EXPECT_EQ(same.exit_code, 8) << same.output;
  auto unknown = cluster.Ctl({"versions", "rollback", "--to", "v99_x"});
  EXPECT_EQ(unknown.exit_code, 7) << unknown.output;
  auto back = cluster.Ctl(
      {"versions", "rollback", "--to", first, "--reason", "named rollback"});
  ASSERT_EQ(back.exit_code, 0) << back.error << back.output;
  EXPECT_EQ(back.Json()["current_version"], first);
  // The site installs it.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = cluster.Ctl({"versions", "deployment"}).Json();
        return d.contains("sites") && d["sites"].size() == 1 &&
               d["sites"][0]["up_to_date"] == true &&
               d["deployment"]["current_version"] == first;
      },
      30s))
      << cluster.Ctl({"versions", "deployment"}).output;

  // An externally trained model: refused with another layout (nothing
  // stored), then stored and deployed.
  json model = {
      {"format", "cls-model/1"},
      {"model_type", "diagnosis_predictor"},
      {"layout",
       "logreg:w[" + std::to_string(kSyntheticParameters - 1) + "x1],b[1]"},
      {"parameters", json::array()},
      {"metrics", {{"accuracy", 0.8}}},
      {"description", "trained offline"}};
  for (int i = 0; i < kSyntheticParameters; ++i) {
    model["parameters"].push_back(0.01 * i);
  }
  json wrong = model;
  wrong["layout"] = "logreg:w[3x1],b[1]";
  const std::string wrong_file = cluster.Path("wrong-model.json");
  std::ofstream(wrong_file) << wrong.dump();
  auto refused = cluster.Ctl({"versions", "import", wrong_file});
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  EXPECT_NE(refused.ErrorJson().dump().find("layout"), std::string::npos)
      << refused.output;
  const size_t versions_before =
      cluster.Ctl({"versions", "list"}).Json()["versions"].size();
  const std::string file = cluster.Path("model.json");
  std::ofstream(file) << model.dump();
  auto imported = cluster.Ctl({"versions", "import", file});
  ASSERT_EQ(imported.exit_code, 0) << imported.error << imported.output;
  const std::string id = imported.Json()["version_id"];
  EXPECT_EQ(cluster.Ctl({"versions", "list"}).Json()["versions"].size(),
            versions_before + 1);
  auto deploy_imported =
      cluster.Ctl({"versions", "deploy", id, "--strategy", "immediate"});
  ASSERT_EQ(deploy_imported.exit_code, 0) << deploy_imported.output;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = cluster.Ctl({"versions", "deployment"}).Json();
        return d.contains("sites") && d["sites"].size() == 1 &&
               d["sites"][0]["up_to_date"] == true &&
               d["sites"][0]["accepted"] == true;
      },
      30s))
      << cluster.Ctl({"versions", "deployment"}).output;

  // Every audit entry of a round says so.
  for (const char* event :
       {"training_rounds_requested", "federated_round_completed"}) {
    json entries = AuditEntriesOf(cluster, event);
    ASSERT_FALSE(entries.empty()) << event;
    for (const auto& e : entries) EXPECT_EQ(e["federated"], false) << e.dump();
  }
  json completed = AuditEntriesOf(cluster, "federated_round_completed");
  EXPECT_EQ(completed[0]["secure_aggregation"], false);
  EXPECT_EQ(AuditEntriesOf(cluster, "federation_mode_configured").size(), 1u);
  json imports = AuditEntriesOf(cluster, "version_imported");
  ASSERT_EQ(imports.size(), 1u);
  EXPECT_EQ(imports[0]["version_id"], id);
  json rollbacks = AuditEntriesOf(cluster, "version_rolled_back");
  ASSERT_EQ(rollbacks.size(), 1u);
  EXPECT_EQ(rollbacks[0]["previous_version"], latest);
}

TEST(SingleHospitalIntegrationTest, SiteThatDidNotOptInRefusesTheRound) {
  Cluster cluster;
  cluster.StartCoordinator(kSingle);
  cluster.StartSite("HOSP_ALONE");  // allow_single_site = false
  cluster.ApproveAll({"HOSP_ALONE"});
  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0]["status"], "aborted") << rounds[0].dump();
  auto stats = cluster.Ctl({"federation", "stats"}).Json();
  EXPECT_EQ(stats["total_rounds"], 0) << stats.dump();
}

TEST(SingleHospitalIntegrationTest, MinSitesOneNeedsSingleHospitalMode) {
  Cluster cluster;
  const std::string config = cluster.Path("federated-min1.toml");
  std::ofstream(config)
      << "min_sites = 1\n[tls]\nca = \"a\"\ncert = \"b\"\n"
         "key = \"c\"\ncrl = \"d\"\n[model]\nparameters = 8\n";
  auto r = RunCommand(
      {BinaryPath("cls-coordinator"), "--check-config", "-c", config});
  EXPECT_EQ(r.exit_code, 2) << r.output << r.error;
  EXPECT_NE(r.error.find("min_sites = 1 needs [federation] federated = false"),
            std::string::npos)
      << r.error;
}

}  // namespace
}  // namespace cls::testing
