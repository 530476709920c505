// Online learning and the site-local candidate for the model kinds beyond
// binary logistic regression, through the real daemons: a softmax federation
// (the medication recommender's [model] and [data], 3 classes) whose first
// site learns from its inbox and serves the learned model as a shadow
// candidate, and an MLP federation (the readmission example) whose site
// learns online too. All data is synthetic (tests/integration/
// example_data.h); no real patient.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "common/testing/http_get.h"
#include "tests/integration/cluster.h"
#include "tests/integration/example_data.h"
#include "tests/integration/example_templates.h"

namespace cls::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

json OnlineStatus(Cluster& cluster, const std::string& site) {
  std::ifstream in(cluster.Path(site + "-state/online/online.json"));
  if (!in) return nullptr;
  try {
    return json::parse(in);
  } catch (const json::exception&) {
    return nullptr;
  }
}

double Gauge(int port, const std::string& name) {
  const std::string text = HttpGet(port, "/metrics").body;
  const std::regex line("\n" + name + " ([0-9.e+-]+)");
  std::smatch m;
  return std::regex_search(text, m, line) ? std::stod(m[1]) : -1.0;
}

// Drops the first day of labelled cases into HOSP_ON's inbox (written, then
// renamed in, as a hospital's export does) and waits until the site has
// learned from it: online.json then, null on timeout. `write` makes the CSV.
json DeliverFirstDay(Cluster& cluster,
                     const std::function<void(const std::string&)>& write) {
  const std::string tmp = cluster.Path("inbox/.day-001.csv.tmp");
  write(tmp);
  fs::rename(tmp, cluster.Path("inbox/day-001.csv"));
  json status;
  const bool learned = WaitUntil(
      [&] {
        status = OnlineStatus(cluster, "HOSP_ON");
        return status.is_object() && status["total_updates"] == 1;
      },
      60s);
  if (!learned) return nullptr;
  // The agent counts the file after online.json is written: poll for that
  // too, so the caller can read the counter.
  const int metrics = cluster.site_metrics_port("HOSP_ON");
  if (metrics <= 0 ||
      !WaitUntil(
          [&] { return Gauge(metrics, "cls_agent_online_updates_total") >= 1; },
          30s)) {
    return nullptr;
  }
  return status;
}

// One prediction from the site's serving port with the EHR's certificate.
constexpr const char* kPredict = R"PY(
features, = args
status, text = call("/v1/predict", {"request_key": "enc-online-1",
                                    "features": json.loads(features)})
print(json.dumps({"status": status, "body": json.loads(text)}))
)PY";

std::string TempCsv(const std::string& what, int i) {
  return "/tmp/cls-online-" + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(i) + ".csv";
}

// [online] for the first site: its inbox polled every second.
std::string OnlineToml(Cluster& cluster, const std::string& extra) {
  return "[online]\ninbox = \"" + cluster.Path("inbox") +
         "\"\npoll_interval_s = 1\nlearning_rate = 0.05\n" + extra;
}

// A softmax federation of two sites (synthetic prescriptions, 3 classes)
// whose first site serves on `port` with [online] serve_candidate = `mode`;
// rounds, a deployment of the last version, then one inbox file learned and
// the learned 3-class model active as the site-local candidate.
void SoftmaxFederationWithOnlineSite(Cluster& cluster, const std::string& mode,
                                     int port, std::vector<std::string>& csvs,
                                     std::string& version) {
  cluster.SetModelSection(ModelSection("medication_recommender"));
  cluster.StartCoordinator("min_sites = 2");
  fs::create_directories(cluster.Path("inbox"));
  for (int i = 0; i < 2; ++i) {
    csvs.push_back(TempCsv("prescriptions", i));
    WritePrescriptions(csvs.back(), 300, 41 + i);
  }
  SiteOptions online;
  online.data_section = DataSection("medication_recommender", csvs[0]);
  online.extra_toml = OnlineToml(cluster, "serve_candidate = \"" + mode +
                                              "\"\ncandidate_share = 0.5\n") +
                      ServeSection(port);
  cluster.StartSite("HOSP_ON", online);
  SiteOptions other;
  other.data_section = DataSection("medication_recommender", csvs[1]);
  cluster.StartSite("HOSP_B", other);
  cluster.ApproveAll({"HOSP_ON", "HOSP_B"});
  auto rounds = cluster.RunRounds(2, 300s);
  ASSERT_EQ(rounds.size(), 2u);
  for (const auto& r : rounds) {
    ASSERT_EQ(r["status"], "completed")
        << r.dump() << cluster.site("HOSP_ON")->Log();
  }
  version = rounds.back()["model_version"];
  // The global softmax model became the online model and its anchor.
  ASSERT_TRUE(WaitUntil(
      [&] { return OnlineStatus(cluster, "HOSP_ON").is_object(); }, 60s))
      << cluster.site("HOSP_ON")->Log();
  auto deployed = cluster.Ctl(
      {"versions", "deploy", version, "--strategy", "immediate"}, "operator");
  ASSERT_EQ(deployed.exit_code, 0) << deployed.error;

  // Labelled cases arrive through the inbox.
  const json status = DeliverFirstDay(
      cluster, [](const std::string& csv) { WritePrescriptions(csv, 90, 77); });
  ASSERT_TRUE(status.is_object()) << cluster.site("HOSP_ON")->Log();
  EXPECT_EQ(status["rows_accepted"], 90) << status.dump();
  EXPECT_EQ(status["files_refused"], 0) << status.dump();
  const std::string model = status["model"];
  EXPECT_TRUE(model.starts_with("kind=softmax_regression;")) << model;
  EXPECT_NE(model.find(";classes=3"), std::string::npos) << model;
  const int metrics = cluster.site_metrics_port("HOSP_ON");
  // The learned 3-class model is the shadow candidate.
  ASSERT_TRUE(WaitUntil(
      [&] { return Gauge(metrics, "cls_local_candidate_active") == 1; }, 30s))
      << cluster.site("HOSP_ON")->Log();
  EXPECT_NE(cluster.site("HOSP_ON")->Log().find("site-local candidate 1 (" +
                                                mode + ") from online"),
            std::string::npos);
  ASSERT_EQ(cluster.Pki({"issue", "ehr", "HOSP_ON-ehr"}).exit_code, 0);
}

TEST(OnlineKindsIntegrationTest, SoftmaxSiteLearnsOnlineAndShadowsACandidate) {
  Cluster cluster;
  const int port = FreePort();
  std::vector<std::string> csvs;
  std::string version;
  ASSERT_NO_FATAL_FAILURE(
      SoftmaxFederationWithOnlineSite(cluster, "shadow", port, csvs, version));

  const json features = {{"age", 82},
                         {"egfr", 45},
                         {"systolic_bp", 130},
                         {"weight", 70},
                         {"diabetic", 1}};
  CommandResult r;
  ASSERT_TRUE(WaitUntil(
      [&] {
        r = cluster.RunEhrClient("HOSP_ON-ehr", port, kPredict,
                                 {features.dump()});
        return r.exit_code == 0 && r.Json()["status"] == 200 &&
               r.Json()["body"]["version_id"] == version;
      },
      30s))
      << r.output << r.error << cluster.site("HOSP_ON")->Log();
  const json body = r.Json()["body"];
  // Shadow: the deployed version answers, with all three classes.
  EXPECT_EQ(body["model"], "deployed") << body.dump();
  const json& probabilities = body["probabilities"];
  ASSERT_EQ(probabilities.size(), 3u) << body.dump();
  double total = 0;
  for (const std::string c : {"101", "202", "303"}) {
    ASSERT_TRUE(probabilities.contains(c)) << body.dump();
    total += probabilities[c].get<double>();
  }
  EXPECT_NEAR(total, 1.0, 1e-4) << body.dump();
  for (const auto& p : csvs) std::remove(p.c_str());
}

// Synthetic requests like the prescriptions' rows, each followed by its
// outcome as a class index (0, 1, 2 for drugs 101, 202, 303); counts who
// answered and checks every answer carries the three class probabilities.
constexpr const char* kAbStream = R"PY(
n, = args
rng = random.Random(5)
models, errors, bad_answers = {}, 0, 0
for i in range(int(n)):
    k = "enc-ab-%04d" % i
    f = {name: rng.gauss(0, 1) for name in ("age", "egfr", "systolic_bp", "weight")}
    f["diabetic"] = 1 if rng.random() < 0.3 else 0
    status, text = call("/v1/predict", {"request_key": k, "features": f})
    if status != 200:
        errors += 1
        continue
    p = json.loads(text)
    models[p["model"]] = models.get(p["model"], 0) + 1
    probs = p["probabilities"]
    if sorted(probs) != ["101", "202", "303"] or abs(sum(probs.values()) - 1) > 1e-4:
        bad_answers += 1
    s = [2.5 * f["egfr"], 2.5 * f["systolic_bp"], 2.0 * f["age"] + 1.5 * f["diabetic"] - 0.5]
    if call("/v1/outcome", {"request_key": k, "outcome": s.index(max(s))})[0] != 200:
        errors += 1
print(json.dumps({"model": models, "errors": errors, "bad_answers": bad_answers}))
)PY";

// serve_candidate = "ab" on the 3-class site: the learned softmax model
// answers its half of the request keys, saying so, with three class
// probabilities; outcomes (class indices) are taken for both models.
TEST(OnlineKindsIntegrationTest, SoftmaxSiteLocalCandidateAnswersItsABShare) {
  Cluster cluster;
  const int port = FreePort();
  std::vector<std::string> csvs;
  std::string version;
  ASSERT_NO_FATAL_FAILURE(
      SoftmaxFederationWithOnlineSite(cluster, "ab", port, csvs, version));
  auto r = cluster.RunEhrClient("HOSP_ON-ehr", port, kAbStream, {"80"}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.error;
  const json out = r.Json();
  std::cout << "ab: " << out.dump() << "\n";
  EXPECT_EQ(out["errors"], 0) << out.dump();
  EXPECT_EQ(out["bad_answers"], 0) << out.dump();
  // 80 keys at a share of 0.5 (sticky by key): each side well above 10.
  EXPECT_GE(out["model"].value("site_local_candidate", 0), 10) << out.dump();
  EXPECT_GE(out["model"].value("deployed", 0), 10) << out.dump();
  for (const auto& p : csvs) std::remove(p.c_str());
}

TEST(OnlineKindsIntegrationTest, MlpSiteLearnsOnlineFromTheDeployedMlp) {
  Cluster cluster;
  cluster.SetModelSection(ModelSection("readmission_risk"));
  cluster.StartCoordinator("min_sites = 2");
  fs::create_directories(cluster.Path("inbox"));
  std::vector<std::string> csvs;
  for (int i = 0; i < 2; ++i) {
    csvs.push_back(TempCsv("readmissions", i));
    WriteReadmissions(csvs.back(), 300, 51 + i);
  }
  SiteOptions online;
  online.data_section = DataSection("readmission_risk", csvs[0]);
  online.extra_toml = OnlineToml(cluster, "");
  cluster.StartSite("HOSP_ON", online);
  SiteOptions other;
  other.data_section = DataSection("readmission_risk", csvs[1]);
  cluster.StartSite("HOSP_B", other);
  cluster.ApproveAll({"HOSP_ON", "HOSP_B"});
  auto rounds = cluster.RunRounds(1, 300s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed")
      << rounds[0].dump() << cluster.site("HOSP_ON")->Log();
  // The federation's MLP replaced the site's default online model.
  json status;
  ASSERT_TRUE(WaitUntil(
      [&] {
        status = OnlineStatus(cluster, "HOSP_ON");
        return status.is_object() &&
               status["model"].get<std::string>().starts_with("kind=mlp;");
      },
      60s))
      << status.dump() << cluster.site("HOSP_ON")->Log();

  status = DeliverFirstDay(
      cluster, [](const std::string& csv) { WriteReadmissions(csv, 80, 99); });
  ASSERT_TRUE(status.is_object()) << cluster.site("HOSP_ON")->Log();
  EXPECT_EQ(status["rows_accepted"], 80) << status.dump();
  EXPECT_TRUE(status["model"].get<std::string>().starts_with("kind=mlp;"))
      << status.dump();
  EXPECT_NE(cluster.site("HOSP_ON")->Log().find("online: day-001.csv learned"),
            std::string::npos);
  for (const auto& p : csvs) std::remove(p.c_str());
}

}  // namespace
}  // namespace cls::testing
