// Deployments end to end (issue 5; docs/drift.md, docs/serving.md): the
// coordinator deploys a version to sites that serve predictions over mutual
// TLS, rolls a second version out to 10% then 50%, a site that was down
// during a deployment catches up when it restarts, and a candidate whose
// outcomes turn bad at one site raises a drift alert there and is rolled back
// automatically by the coordinator within a report interval, audited.
//
// Data: the heart-disease sites (Cleveland and Hungary, real rows) when
// /work/shared/data/heart-disease is present, else the synthetic cohort the
// other integration tests use. The heart-disease rows are written in the
// harness's five-column schema (cluster.cc): f1 age, f2 trestbps, f3
// thalach, f4 oldpeak, group = chest-pain type (1-2 -> 1, 3 -> 2, 4 -> 3),
// y = num > 0. The prediction stream's features come from the same rows; its
// shift is a relabelling: after a clean phase, every prediction the
// candidate serves is answered with the wrong outcome.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/integration/cluster.h"
#include "tests/integration/deployment_checks.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kHeartDir = "/work/shared/data/heart-disease";

// Writes `src` (UCI heart-disease columns) as the harness's schema; rows
// missing one of the five columns are left out. False when unreadable.
bool WriteHeartCohort(const std::string& src, const std::string& dst) {
  std::ifstream in(src);
  if (!in) return false;
  std::string line;
  std::getline(in, line);  // header: age,sex,cp,trestbps,chol,fbs,...,num
  std::ofstream out(dst);
  out << "f1,f2,f3,f4,group,y\n";
  int rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    if (cells.size() < 14) continue;
    bool missing = false;
    for (int i : {0, 2, 3, 7, 9, 13}) {
      missing = missing || cells[i].empty() || cells[i] == "?";
    }
    if (missing) continue;
    const int cp = std::stoi(cells[2]);
    const int group = cp <= 2 ? 1 : (cp == 3 ? 2 : 3);
    out << cells[0] << "," << cells[3] << "," << cells[7] << "," << cells[9]
        << "," << group << "," << (std::stod(cells[13]) > 0 ? 1 : 0) << "\n";
    ++rows;
  }
  return rows > 0;
}

// Sends N predictions to /v1/predict and their outcomes to /v1/outcome over
// mutual TLS (Python's standard library). mode "good": the outcome is the
// row's true label (heart-disease rows) or the predicted label (synthetic
// features); "bad": the same, except that predictions served by CANDIDATE
// get the opposite of what it predicted. Prints {"served": {version: n},
// "errors": n}.
constexpr const char* kStream = R"PY(
prefix, n, mode, candidate, rows = args
rng = random.Random(prefix)
table = []
if rows != "-":
    lines = open(rows).read().split()[1:]
    table = [[float(x) for x in l.split(",")] for l in lines]
served, errors = {}, 0
for i in range(int(n)):
    k = "%s-%05d" % (prefix, i)
    if table:
        r = rng.choice(table)
        f = {"f1": r[0], "f2": r[1], "f3": r[2], "f4": r[3], "group": int(r[4])}
    else:
        f = {"f1": rng.gauss(0, 1), "f2": rng.gauss(0, 1),
             "f3": rng.gauss(0, 1), "f4": rng.gauss(0, 1),
             "group": rng.choice([1, 2, 3])}
    status, text = call("/v1/predict", {"request_key": k, "features": f})
    if status != 200:
        errors += 1
        continue
    p = json.loads(text)
    v = p["version_id"]
    served[v] = served.get(v, 0) + 1
    outcome = int(r[5]) if table else p["label"]
    if mode == "bad" and v == candidate:
        outcome = 1 - p["label"]
    if call("/v1/outcome", {"request_key": k, "outcome": outcome})[0] != 200:
        errors += 1
print(json.dumps({"served": served, "errors": errors}))
)PY";

TEST(DeploymentIntegrationTest,
     RolloutCatchUpAndAutomaticRollbackOnABadCandidate) {
  Cluster cluster;
  // StartSite keeps a cohort file that is already there.
  const bool heart = WriteHeartCohort(std::string(kHeartDir) + "/cleveland.csv",
                                      cluster.Path("HOSP_S.csv")) &&
                     WriteHeartCohort(std::string(kHeartDir) + "/hungarian.csv",
                                      cluster.Path("HOSP_T.csv"));
  if (!heart) {
    std::filesystem::remove(cluster.Path("HOSP_S.csv"));
    std::filesystem::remove(cluster.Path("HOSP_T.csv"));
  }
  std::cout << "data: "
            << (heart ? "heart-disease (Cleveland at HOSP_S, Hungary at HOSP_T)"
                      : "synthetic (heart-disease data not found)")
            << "\n";
  cluster.StartCoordinator("min_sites = 2");
  const int port_s = FreePort();
  int port_t = FreePort();
  while (port_t == port_s) port_t = FreePort();
  SiteOptions s_options;
  s_options.extra_toml = ServeSection(port_s, "report_interval_s = 1\n");
  SiteOptions t_options;
  t_options.extra_toml = ServeSection(port_t, "report_interval_s = 1\n");
  cluster.StartSite("HOSP_S", s_options);
  cluster.StartSite("HOSP_T", t_options);
  cluster.ApproveAll({"HOSP_S", "HOSP_T"});
  auto rounds = cluster.RunRounds(2, 240s);
  ASSERT_EQ(rounds.size(), 2u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  ASSERT_EQ(rounds[1]["status"], "completed") << rounds[1].dump();
  const std::string v1 = rounds[0]["model_version"];
  const std::string v2 = rounds[1]["model_version"];

  // Refused before anything is deployed: a rollout needs a stable version.
  auto early = cluster.Ctl(
      {"versions", "deploy", v2, "--strategy", "gradual_rollout"}, "operator");
  EXPECT_EQ(early.exit_code, 8);
  EXPECT_NE(early.error.find("nothing is deployed yet"), std::string::npos)
      << early.error;
  auto unknown = cluster.Ctl({"versions", "deploy", "v99_20260101_000000"});
  EXPECT_EQ(unknown.exit_code, 7);

  // v1 everywhere, acked by both sites.
  auto deployed = cluster.Ctl({"versions", "deploy", v1, "--strategy",
                               "immediate", "--reason", "first release"},
                              "operator");
  ASSERT_EQ(deployed.exit_code, 0) << deployed.error;
  json status;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return AllUpToDate(cluster, {"HOSP_S", "HOSP_T"}, status);
      },
      30s))
      << status.dump(2);

  // HOSP_T is down while v2 starts its gradual rollout at 10%...
  cluster.StopSite("HOSP_T");
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = cluster.Ctl({"sites", "show", "HOSP_T"});
        return r.exit_code == 0 && r.Json()["connected"] == false;
      },
      30s));
  auto gradual = cluster.Ctl(
      {"versions", "deploy", v2, "--strategy", "gradual_rollout"}, "operator");
  ASSERT_EQ(gradual.exit_code, 0) << gradual.error;
  EXPECT_EQ(gradual.Json()["percentage"], 10);
  ASSERT_TRUE(
      WaitUntil([&] { return AllUpToDate(cluster, {"HOSP_S"}, status); }, 30s))
      << status.dump(2);
  EXPECT_NE(SiteAck(status, "HOSP_T")["up_to_date"], true);
  // ... and catches up when it comes back.
  cluster.StartSite("HOSP_T", t_options);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return AllUpToDate(cluster, {"HOSP_S", "HOSP_T"}, status);
      },
      60s))
      << status.dump(2) << cluster.site("HOSP_T")->Log();

  // Lowering a rollout is refused; raising it to 50% is pushed and acked.
  auto to50 =
      cluster.Ctl({"versions", "rollout", v2, "--to", "50"}, "operator");
  ASSERT_EQ(to50.exit_code, 0) << to50.error;
  EXPECT_EQ(to50.Json()["percentage"], 50);
  auto lower =
      cluster.Ctl({"versions", "rollout", v2, "--to", "20"}, "operator");
  EXPECT_EQ(lower.exit_code, 3);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return AllUpToDate(cluster, {"HOSP_S", "HOSP_T"}, status);
      },
      30s))
      << status.dump(2);
  EXPECT_EQ(status["deployment"]["candidate_version"], v2);
  EXPECT_EQ(status["deployment"]["percentage"], 50);

  // HOSP_S's EHR: the role [serve] accepts by default (docs/serving.md).
  ASSERT_EQ(cluster.Pki({"issue", "ehr", "HOSP_S-ehr"}).exit_code, 0);
  auto stream = [&](const std::string& prefix, int n, const std::string& mode) {
    return cluster.RunEhrClient("HOSP_S-ehr", port_s, kStream,
                                {prefix, std::to_string(n), mode, v2,
                                 heart ? cluster.Path("HOSP_S.csv") : "-"},
                                120s);
  };
  // A clean phase: both versions right (the monitors' reference)...
  auto good = stream("enc-good", 400, "good");
  ASSERT_EQ(good.exit_code, 0) << good.error;
  std::cout << "clean phase at HOSP_S: " << good.output;
  EXPECT_EQ(good.Json()["errors"], 0);
  EXPECT_GT(good.Json()["served"].value(v2, 0), 100);  // ~50%
  EXPECT_GT(good.Json()["served"].value(v1, 0), 100);
  // ... then the shift: every prediction v2 serves turns out wrong.
  auto bad = stream("enc-bad", 400, "bad");
  ASSERT_EQ(bad.exit_code, 0) << bad.error;
  std::cout << "shifted phase at HOSP_S: " << bad.output;

  // The site reports within a second; the coordinator rolls v2 back and both
  // sites install the rollback.
  json rolled;
  ASSERT_TRUE(RollbackInstalled(cluster, {"HOSP_S", "HOSP_T"}, rolled))
      << rolled.dump(2) << cluster.coordinator()->Log();
  const json& d = rolled["deployment"];
  EXPECT_EQ(d["automatic"], true);
  EXPECT_EQ(d["current_version"], v1);
  EXPECT_TRUE(d["candidate_version"].is_null());
  std::cout << "automatic rollback: " << d.dump() << "\n";

  auto alerts = cluster.Ctl({"drift", "alerts"});
  ASSERT_EQ(alerts.exit_code, 0) << alerts.error;
  const json alert_list = alerts.Json()["alerts"];  // kept: iterated below
  ASSERT_TRUE(alert_list.is_array()) << alerts.output;
  // The shift raises a performance (or concept) alert on v2 at HOSP_S. Its
  // severity depends on how far below the baseline the window fell when the
  // detector fired (with true labels the baseline is about 0.77), so the
  // rollback may come from the alert (severity > 0.8) or, first, from the
  // sequential test; either is the documented policy.
  bool alerted = false;
  double max_severity = 0;
  for (const auto& a : alert_list) {
    std::cout << "alert: " << a.dump() << "\n";
    if (a["version_id"] == v2 && a["site_id"] == "HOSP_S" &&
        (a["drift_type"] == "performance_drift" ||
         a["drift_type"] == "concept_drift")) {
      alerted = true;
      max_severity = std::max(max_severity, a["severity"].get<double>());
    }
  }
  auto compare = cluster.Ctl({"versions", "compare", v1, v2});
  ASSERT_EQ(compare.exit_code, 0) << compare.error;
  std::cout << "compare: " << compare.Json()["description"] << "\n";
  const std::string reason = d["reason"];
  const bool by_alert =
      max_severity > 0.8 && reason.find("severity") != std::string::npos;
  const bool by_test = reason.find("sequential test") != std::string::npos;
  EXPECT_TRUE(by_alert || by_test) << reason;
  // The sequential test can roll back first, after a few dozen of the
  // shifted phase's predictions, before the drift detector has seen enough
  // to alert; otherwise the alert is there.
  EXPECT_TRUE(alerted || by_test) << alerts.output << reason;
  // The comparison counts what the candidate served before the rollback. A
  // rollback by the sequential test means it found the candidate worse; an
  // alert can come first, after a few dozen of the shifted phase's
  // predictions (how many depends on how the stream and the one-second
  // reports interleave), and then the sequential test may not have enough
  // outcomes yet. With 150 or more wrong candidate predictions it has
  // (p < 1e-14 in every run seen); with fewer it must at least not favour
  // the candidate.
  const int shifted = bad.Json()["served"].value(v2, 0);
  if (by_test || shifted >= 150) {
    EXPECT_EQ(compare.Json()["verdict"], "candidate_worse")
        << compare.output << " after " << shifted << " shifted predictions";
  } else {
    EXPECT_NE(compare.Json()["verdict"], "candidate_better") << compare.output;
  }

  auto drift = cluster.Ctl({"drift", "status"}, "viewer");
  ASSERT_EQ(drift.exit_code, 0) << drift.error;
  std::cout << "drift status: " << drift.Json()["versions"].dump() << "\n";

  // Served by v1 only from now on.
  auto after = stream("enc-after", 50, "good");
  ASSERT_EQ(after.exit_code, 0) << after.error;
  EXPECT_EQ(after.Json()["served"].value(v1, 0), 50) << after.output;

  // The audit trail: who deployed what and why, the automatic rollback and
  // its reason, the sites' acks.
  const std::string file = cluster.Path("audit.json");
  auto exported = cluster.Ctl({"audit", "export", "--output", file}, "auditor");
  ASSERT_EQ(exported.exit_code, 0) << exported.error;
  auto doc = json::parse(RunCommand({"/bin/cat", file}).output);
  auto deploys = Events(doc, "version_deployed");
  ASSERT_EQ(deploys.size(), 2u);
  EXPECT_EQ(deploys[0]["actor"], "operator");
  EXPECT_EQ(deploys[0]["reason"], "first release");
  EXPECT_EQ(Events(doc, "rollout_changed").size(), 1u);
  auto rollbacks = Events(doc, "version_rolled_back");
  ASSERT_EQ(rollbacks.size(), 1u);
  EXPECT_EQ(rollbacks[0]["automatic"], true);
  EXPECT_EQ(rollbacks[0]["actor"], "coordinator");
  EXPECT_EQ(rollbacks[0]["reason"], reason);
  std::cout << "audit: " << rollbacks[0].dump() << "\n";
  EXPECT_GE(Events(doc, "deployment_acknowledged").size(), 7u);
  // Nothing that identifies an encounter reached the audit log.
  EXPECT_EQ(doc.dump().find("enc-"), std::string::npos);
}

// A site that does not serve predictions refuses each deployment with a
// reason operators can read, and stays connected for rounds: the
// coordinator sends the latest deployment to every site on connect, so
// treating it as a protocol error would disconnect such a site forever.
TEST(DeploymentIntegrationTest, SiteWithoutServingRefusesAndKeepsTraining) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");
  cluster.StartSite("HOSP_S");
  cluster.StartSite("HOSP_T");
  cluster.ApproveAll({"HOSP_S", "HOSP_T"});
  auto first = cluster.RunRounds(1, 240s);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first[0]["status"], "completed") << first[0].dump();
  const std::string v1 = first[0]["model_version"];

  auto deployed = cluster.Ctl(
      {"versions", "deploy", v1, "--strategy", "immediate"}, "operator");
  ASSERT_EQ(deployed.exit_code, 0) << deployed.error;
  json last;
  auto refused_by_both = [&] {
    auto r = cluster.Ctl({"versions", "deployment"});
    if (r.exit_code != 0) return false;
    last = r.Json();
    for (const char* id : {"HOSP_S", "HOSP_T"}) {
      const json s = SiteAck(last, id);
      if (s.is_null() || s["accepted"] != false) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitUntil(refused_by_both, 30s)) << last.dump(2);
  for (const char* id : {"HOSP_S", "HOSP_T"}) {
    const json s = SiteAck(last, id);
    EXPECT_EQ(s["connected"], true) << s.dump();
    EXPECT_EQ(s["up_to_date"], false) << s.dump();
    EXPECT_NE(s["reason"].get<std::string>().find("does not serve"),
              std::string::npos)
        << s.dump();
  }

  // Both sites are still there for the next round.
  auto second = cluster.RunRounds(1, 240s);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0]["status"], "completed") << second[0].dump();
  EXPECT_EQ(second[0]["contributors"].size(), 2u) << second[0].dump();
}

}  // namespace
}  // namespace cls::testing
