// The drift loop at a site, end to end (issue 14; docs/drift.md "Data drift
// at the sites"): a real coordinator with [drift] settings, two site agents
// (one serving over mutual TLS), clsctl. The serving site keeps a window of
// its recent inputs, tests it against its training rows and reports:
//   1. inputs like the training data, outcomes right: no alert;
//   2. inputs like the training data, outcomes flipped: concept_drift;
//   3. inputs shifted (every feature mean + 1.5 sd): data_drift;
// each seen at the coordinator (clsctl drift alerts / drift status). The
// coordinator's window and baseline ("validation") reach the site with the
// deployment. Synthetic cohort (features N(0, 1)), so the shift is known.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "common/testing/http_get.h"
#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;

// Sends N predictions (features N(shift, 1), group uniform) and, unless mode
// is "none", their outcomes: "right" = the predicted label, "flipped" = the
// opposite. Prints {"served": {version: n}, "errors": n}.
constexpr const char* kStream = R"PY(
prefix, n, mode, shift = args
rng = random.Random(prefix)
served, errors = {}, 0
for i in range(int(n)):
    k = "%s-%05d" % (prefix, i)
    f = {"f%d" % j: rng.gauss(float(shift), 1) for j in range(1, 5)}
    f["group"] = rng.choice([1, 2, 3])
    status, text = call("/v1/predict", {"request_key": k, "features": f})
    if status != 200:
        errors += 1
        continue
    p = json.loads(text)
    served[p["version_id"]] = served.get(p["version_id"], 0) + 1
    if mode == "none":
        continue
    outcome = p["label"] if mode == "right" else 1 - p["label"]
    if call("/v1/outcome", {"request_key": k, "outcome": outcome})[0] != 200:
        errors += 1
print(json.dumps({"served": served, "errors": errors}))
)PY";

// The site's counter `name`{version="V"}, -1 when absent.
double SiteMetric(int port, const std::string& name,
                  const std::string& version) {
  const std::string text = HttpGet(port, "/metrics").body;
  const std::regex line(name + "\\{version=\"" + version +
                        "\"\\} ([0-9.e+-]+)");
  std::smatch m;
  if (!std::regex_search(text, m, line)) return -1;
  return std::stod(m[1]);
}

json Alerts(Cluster& cluster) {
  auto r = cluster.Ctl({"drift", "alerts"});
  if (r.exit_code != 0) return json::array();
  return r.Json()["alerts"];
}

int Count(const json& alerts, const std::string& type) {
  int n = 0;
  for (const auto& a : alerts) n += a["drift_type"] == type;
  return n;
}

struct Deployed {
  std::string version;  // empty when training or deploying failed
  json deployment;      // clsctl versions deploy's answer
};

// HOSP_S (`serving`) and HOSP_T (400 rows) train one round and its version
// is deployed immediately; what went wrong is a test failure.
Deployed TrainOneVersionAndDeployIt(Cluster& cluster,
                                    const SiteOptions& serving) {
  cluster.StartSite("HOSP_S", serving);
  cluster.StartSite("HOSP_T", SiteOptions{.rows = 400});
  cluster.ApproveAll({"HOSP_S", "HOSP_T"});
  const json rounds = cluster.RunRounds(1, 240s);
  if (rounds.size() != 1 || rounds[0]["status"] != "completed") {
    ADD_FAILURE() << "the round did not complete: " << rounds.dump();
    return {};
  }
  const std::string version = rounds[0]["model_version"];
  auto deployed = cluster.Ctl(
      {"versions", "deploy", version, "--strategy", "immediate"}, "operator");
  if (deployed.exit_code != 0) {
    ADD_FAILURE() << "deploy: " << deployed.error;
    return {};
  }
  return {version, deployed.Json()};
}

TEST(SiteDriftIntegrationTest, DataAndConceptDriftReachTheCoordinator) {
  Cluster cluster;
  cluster.StartCoordinator(
      "min_sites = 2\n[drift]\nperformance_threshold = 0.05\n"
      "window_size = 50\nbaseline = \"validation\"\n");
  const int port = FreePort();
  SiteOptions serving;
  serving.rows = 400;
  serving.extra_toml =
      ServeSection(port, "report_interval_s = 1\ninput_drift_window = 200\n");
  const Deployed deployed = TrainOneVersionAndDeployIt(cluster, serving);
  ASSERT_FALSE(deployed.version.empty());
  const std::string v1 = deployed.version;
  // The coordinator's settings are in the deployment the site stored.
  json stored;
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::ifstream in(cluster.Path("HOSP_S-state/deployment.json"));
        if (!in) return false;
        std::stringstream text;
        text << in.rdbuf();
        stored = json::parse(text.str(), nullptr, false);
        return !stored.is_discarded() &&
               stored.value("deployment_id", "") ==
                   deployed.deployment["deployment_id"];
      },
      30s))
      << cluster.site("HOSP_S")->Log();
  EXPECT_EQ(stored["drift"]["window_size"], 50);
  EXPECT_EQ(stored["drift"]["performance_threshold"], 0.05);
  const double baseline = stored["drift"]["current_baseline"];
  EXPECT_GT(baseline, 0.5);  // the version's validation accuracy
  EXPECT_LE(baseline, 1.0);
  std::cout << "baseline (validation accuracy of " << v1 << "): " << baseline
            << "\n";

  ASSERT_EQ(cluster.Pki({"issue", "ehr", "HOSP_S-ehr"}).exit_code, 0);
  auto stream = [&](const std::string& prefix, int n, const std::string& mode,
                    double shift) {
    auto r = cluster.RunEhrClient(
        "HOSP_S-ehr", port, kStream,
        {prefix, std::to_string(n), mode, std::to_string(shift)}, 120s);
    EXPECT_EQ(r.exit_code, 0) << r.error;
    EXPECT_EQ(r.Json()["errors"], 0) << r.output;
    return r;
  };
  const int metrics = cluster.site_metrics_port("HOSP_S");
  ASSERT_GT(metrics, 0);
  auto assessments = [&] {
    return SiteMetric(metrics, "cls_input_drift_assessments_total", v1);
  };
  auto predictions_at_coordinator = [&]() -> int64_t {
    auto r = cluster.Ctl({"drift", "status"});
    if (r.exit_code != 0) return -1;
    const json doc = r.Json();  // kept: iterated below
    for (const auto& v : doc["versions"]) {
      if (v["version_id"] == v1) return v.value("total_predictions", -1);
    }
    return -1;
  };

  // 1. Unshifted inputs, right outcomes: tested, reported, no alert.
  stream("enc-clean", 200, "right", 0);
  ASSERT_TRUE(WaitUntil([&] { return assessments() >= 1; }, 30s))
      << cluster.site("HOSP_S")->Log();
  EXPECT_EQ(SiteMetric(metrics, "cls_input_drift_detected_total", v1), 0);
  ASSERT_TRUE(
      WaitUntil([&] { return predictions_at_coordinator() >= 200; }, 30s))
      << cluster.Ctl({"drift", "status"}).output;
  EXPECT_EQ(Alerts(cluster).size(), 0u) << Alerts(cluster).dump(2);

  // 2. Unshifted inputs, flipped outcomes: the error rate moved, the inputs
  // did not.
  stream("enc-flipped", 200, "flipped", 0);
  json alerts;
  ASSERT_TRUE(WaitUntil(
      [&] {
        alerts = Alerts(cluster);
        return Count(alerts, "concept_drift") >= 1;
      },
      30s))
      << alerts.dump(2) << cluster.site("HOSP_S")->Log();
  EXPECT_EQ(Count(alerts, "data_drift"), 0) << alerts.dump(2);
  EXPECT_EQ(Count(alerts, "performance_drift"), 0) << alerts.dump(2);
  for (const auto& a : alerts) {
    EXPECT_EQ(a["site_id"], "HOSP_S");
    EXPECT_EQ(a["version_id"], v1);
    std::cout << "alert: " << a.dump() << "\n";
  }
  // The flipped phase's own window is tested too (unchanged inputs).
  ASSERT_TRUE(WaitUntil([&] { return assessments() >= 2; }, 30s));

  // 3. Shifted inputs (no outcomes): data drift.
  stream("enc-shifted", 200, "none", 1.5);
  ASSERT_TRUE(WaitUntil(
      [&] {
        alerts = Alerts(cluster);
        return Count(alerts, "data_drift") >= 1;
      },
      30s))
      << alerts.dump(2) << cluster.site("HOSP_S")->Log();
  EXPECT_EQ(SiteMetric(metrics, "cls_input_drift_detected_total", v1), 1);
  for (const auto& a : alerts) {
    if (a["drift_type"] == "data_drift")
      std::cout << "alert: " << a.dump() << "\n";
  }
  auto status = cluster.Ctl({"drift", "status"}, "viewer");
  ASSERT_EQ(status.exit_code, 0) << status.error;
  std::cout << "drift status: " << status.Json()["versions"].dump() << "\n";
  bool flagged = false;
  const json versions = status.Json()["versions"];  // kept: iterated below
  for (const auto& v : versions) {
    if (v["version_id"] == v1) {
      flagged = v.value("sites_with_data_drift", 0) >= 1;
    }
  }
  EXPECT_TRUE(flagged) << status.output;
  // The served rows never reached the coordinator's log or audit trail.
  EXPECT_EQ(cluster.coordinator()->Log().find("enc-"), std::string::npos);
}

// Sends N predictions (features N(0, 1)) with their true outcomes (the
// cohort's logistic model without its noise) and prints how many each model
// answered: {"model": {"deployed": n, "site_local_candidate": m}, ...}.
constexpr const char* kAbStream = R"PY(
prefix, n = args
rng = random.Random(prefix)
models, versions, errors = {}, {}, 0
for i in range(int(n)):
    k = "%s-%05d" % (prefix, i)
    f = {"f%d" % j: rng.gauss(0, 1) for j in range(1, 5)}
    g = rng.choice([1, 2, 3])
    f["group"] = g
    status, text = call("/v1/predict", {"request_key": k, "features": f})
    if status != 200:
        errors += 1
        continue
    p = json.loads(text)
    models[p["model"]] = models.get(p["model"], 0) + 1
    versions[p["version_id"]] = versions.get(p["version_id"], 0) + 1
    logit = 1.5 * f["f1"] - f["f2"] + 0.5 * f["f3"] + (0.8 if g == 2 else -0.4)
    if call("/v1/outcome", {"request_key": k, "outcome": int(logit > 0)})[0] != 200:
        errors += 1
print(json.dumps({"model": models, "versions": versions, "errors": errors}))
)PY";

// A synthetic cohort whose labels are all wrong: what the site's online
// model then learns is worse than the federation's.
void DropInvertedCohort(Cluster& cluster, const std::string& name) {
  const std::string tmp = cluster.Path("inbox/." + name + ".tmp");
  WriteSyntheticCohort(tmp, 400, 0.0, 91);
  std::ifstream in(tmp);
  std::stringstream out;
  std::string line;
  std::getline(in, line);
  out << line << "\n";
  while (std::getline(in, line)) {
    out << line.substr(0, line.size() - 1) << (line.back() == '1' ? '0' : '1')
        << "\n";
  }
  in.close();
  std::ofstream(tmp) << out.str();
  std::filesystem::rename(tmp, cluster.Path("inbox/" + name));
}

// [online] serve_candidate = "ab": the model the site learned from its inbox
// answers half of the requests next to the deployed version, says so in
// each answer, is withdrawn by the site's sequential test once it is shown
// worse, and never reaches the coordinator.
TEST(SiteDriftIntegrationTest, AWorseSiteLocalCandidateIsWithdrawnAtTheSite) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");
  std::filesystem::create_directories(cluster.Path("inbox"));
  const int port = FreePort();
  SiteOptions serving;
  serving.rows = 400;
  serving.extra_toml =
      "[online]\ninbox = \"" + cluster.Path("inbox") +
      "\"\npoll_interval_s = 1\nlearning_rate = 1.0\nretention_rate = 0\n"
      "reservoir_size = 0\nrehearsal_samples = 0\nserve_candidate = \"ab\"\n"
      "candidate_share = 0.5\n" +
      ServeSection(port, "report_interval_s = 1\n");
  const Deployed deployed = TrainOneVersionAndDeployIt(cluster, serving);
  ASSERT_FALSE(deployed.version.empty());
  const std::string v1 = deployed.version;

  const int metrics = cluster.site_metrics_port("HOSP_S");
  ASSERT_GT(metrics, 0);
  auto gauge = [&](const std::string& name) {
    const std::string text = HttpGet(metrics, "/metrics").body;
    const std::regex line("\n" + name + " ([0-9.e+-]+)");
    std::smatch m;
    return std::regex_search(text, m, line) ? std::stod(m[1]) : -1.0;
  };
  DropInvertedCohort(cluster, "day-001.csv");
  ASSERT_TRUE(
      WaitUntil([&] { return gauge("cls_local_candidate_active") == 1; }, 30s))
      << cluster.site("HOSP_S")->Log();

  ASSERT_EQ(cluster.Pki({"issue", "ehr", "HOSP_S-ehr"}).exit_code, 0);
  auto stream = [&](const std::string& prefix, int n) {
    auto r = cluster.RunEhrClient("HOSP_S-ehr", port, kAbStream,
                                  {prefix, std::to_string(n)}, 120s);
    EXPECT_EQ(r.exit_code, 0) << r.error;
    EXPECT_EQ(r.Json()["errors"], 0) << r.output;
    std::cout << prefix << ": " << r.output;
    return r.Json();
  };
  const json ab = stream("enc-ab", 600);
  EXPECT_GE(ab["model"].value("site_local_candidate", 0), 50) << ab.dump();
  EXPECT_GE(ab["model"].value("deployed", 0), 50) << ab.dump();
  EXPECT_EQ(ab["versions"].value("site-local", 0),
            ab["model"].value("site_local_candidate", 0));
  ASSERT_TRUE(WaitUntil(
      [&] { return gauge("cls_local_candidate_withdrawals_total") == 1; }, 30s))
      << cluster.site("HOSP_S")->Log();
  EXPECT_EQ(gauge("cls_local_candidate_active"), 0);
  const std::string log = cluster.site("HOSP_S")->Log();
  const auto at = log.find("WITHDRAWN");
  ASSERT_NE(at, std::string::npos);
  std::cout << log.substr(log.rfind('\n', at) + 1,
                          log.find('\n', at) - log.rfind('\n', at) - 1)
            << "\n";
  EXPECT_NE(log.find("sequential test", at), std::string::npos);

  // Withdrawn: the deployed version answers everything.
  const json after = stream("enc-after", 50);
  EXPECT_EQ(after["model"].value("deployed", 0), 50) << after.dump();

  // Nothing of the candidate reached the coordinator.
  auto alerts = cluster.Ctl({"drift", "alerts"});
  ASSERT_EQ(alerts.exit_code, 0);
  EXPECT_EQ(alerts.output.find("site-local"), std::string::npos);
  auto status = cluster.Ctl({"drift", "status"});
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_EQ(status.output.find("site-local"), std::string::npos);
  EXPECT_EQ(cluster.coordinator()->Log().find("site-local"), std::string::npos);
}

}  // namespace
}  // namespace cls::testing
