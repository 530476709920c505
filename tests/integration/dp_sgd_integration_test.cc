// Patient-level privacy (DP-SGD) at a running site agent: with [privacy]
// dp_sgd on, the site trains with DP-SGD, reports its record-level epsilon
// on its monitoring port and in its log, keeps it across a restart, and
// refuses to train once the next round would exceed its own budget.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/testing/http_get.h"
#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;

std::map<std::string, double> Scrape(int port) {
  std::map<std::string, double> out;
  HttpReply reply = HttpGet(port, "/metrics");
  std::istringstream in(reply.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// The monitoring port of the agent's `start`-th start (1-based): its log is
// appended across restarts. -1 until that start has said.
int MetricsPort(Cluster& cluster, const std::string& site, int start) {
  const std::string kLine = "metrics and health on 127.0.0.1:";
  int port = -1;
  WaitUntil(
      [&] {
        const std::string log = cluster.site(site)->Log();
        size_t at = std::string::npos, from = 0;
        for (int i = 0; i < start; ++i) {
          at = log.find(kLine, from);
          if (at == std::string::npos) return false;
          from = at + kLine.size();
        }
        port = std::stoi(log.substr(from, 6));
        return true;
      },
      30s);
  return port;
}

// 120 rows, 96 of them train rows: a round of 3 epochs at batch 32 is 9
// DP-SGD steps at q = 1/3; at sigma 1.1 and delta 1e-5 one round costs about
// epsilon 7.2 and two about 9.5, so a budget of 8.5 allows exactly one.
constexpr const char* kPrivacy =
    "[privacy]\ndp_sgd = true\ntarget_epsilon = 8.5\nclip_norm = 1.0\n"
    "noise_multiplier = 1.1\n";

TEST(DpSgdIntegrationTest, SiteTrainsReportsItsEpsilonAndRefusesPastItsBudget) {
  Cluster cluster;
  // Central site-level DP at the coordinator too, so /v1/privacy shows the
  // record-level guarantee next to the site-level one.
  cluster.StartCoordinator(
      "min_sites = 2\n[privacy]\nmode = \"central\"\nprivacy_epsilon = 20.0\n"
      "budget_epsilon = 1000.0");
  SiteOptions dp;
  dp.extra_toml = kPrivacy;
  cluster.StartSite("HOSP_DP", dp);
  cluster.StartSite("HOSP_B");
  cluster.ApproveAll({"HOSP_DP", "HOSP_B"});

  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  const std::string log = cluster.site("HOSP_DP")->Log();
  EXPECT_NE(log.find("DP-SGD on: record-level epsilon 0 of target 8.5"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("DP-SGD, 9 steps at q 0.3333 charged; record-level "
                     "epsilon"),
            std::string::npos)
      << log;

  const int port = MetricsPort(cluster, "HOSP_DP", 1);
  ASSERT_GT(port, 0);
  auto m = Scrape(port);
  const double spent = m["cls_site_record_epsilon"];
  EXPECT_GT(spent, 5.0);
  EXPECT_LT(spent, 8.5);
  EXPECT_EQ(m["cls_site_record_target_epsilon"], 8.5);
  EXPECT_EQ(m["cls_site_record_delta"], 1e-5);
  EXPECT_EQ(m["cls_site_record_refusals"], 0);
  // The coordinator shows what the site reported with its masked input.
  auto status = cluster.Ctl({"privacy", "status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.error;
  auto j = status.Json();
  ASSERT_EQ(j["record_level"].size(), 1u) << j.dump();
  EXPECT_EQ(j["record_level"][0]["site_id"], "HOSP_DP");
  EXPECT_NEAR(j["record_level"][0]["epsilon"].get<double>(), spent, 1e-9);
  EXPECT_EQ(j["record_level"][0]["target_epsilon"], 8.5);
  EXPECT_EQ(j["record_level"][0]["refusals"], 0);
  // The site without DP-SGD has no record-level family.
  EXPECT_EQ(Scrape(cluster.site_metrics_port("HOSP_B"))
                .count("cls_site_record_epsilon"),
            0u);

  // Killed without warning: the charge was on disk before the update left.
  cluster.StopSite("HOSP_DP", SIGKILL);
  cluster.StartSite("HOSP_DP", dp);
  ASSERT_TRUE(cluster.WaitConnected(2, 60s));
  const int restarted = MetricsPort(cluster, "HOSP_DP", 2);
  ASSERT_GT(restarted, 0);
  ASSERT_TRUE(WaitUntil(
      [&] { return Scrape(restarted)["cls_site_record_epsilon"] > 0; }, 30s));
  EXPECT_DOUBLE_EQ(Scrape(restarted)["cls_site_record_epsilon"], spent);

  // The next round would take it past 8.5: the site refuses and leaves the
  // round, which cannot complete without it (min_sites = 2).
  rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_NE(rounds[0]["status"], "completed") << rounds[0].dump();
  const std::string after = cluster.site("HOSP_DP")->Log();
  EXPECT_NE(after.find("refused, record-level privacy budget"),
            std::string::npos)
      << after;
  EXPECT_NE(after.find("> target_epsilon 8.5"), std::string::npos);
  m = Scrape(restarted);
  EXPECT_DOUBLE_EQ(m["cls_site_record_epsilon"], spent);  // nothing charged
  EXPECT_EQ(m["cls_site_record_refusals"], 1);

  // Reconnecting, the site reports the refusal; the coordinator logs it
  // and shows it.
  cluster.StopSite("HOSP_DP");
  cluster.StartSite("HOSP_DP", dp);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto s = cluster.Ctl({"privacy", "status", "--json"});
        if (s.exit_code != 0) return false;
        auto r = s.Json()["record_level"];
        return r.size() == 1 && r[0]["refusals"] == 1;
      },
      60s));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return cluster.coordinator()->Log().find(
                   "site HOSP_DP refused 1 training(s) for its record-level "
                   "privacy budget") != std::string::npos;
      },
      30s))
      << cluster.coordinator()->Log();
}

// Issue 14: the record-level guarantee exists whether or not the coordinator
// adds cross-site noise. With the coordinator's privacy off, GET /v1/privacy
// (which answered 409 before) says so and still shows the site's epsilon;
// the site-level figures are null, not 0.
TEST(DpSgdIntegrationTest,
     RecordLevelEpsilonIsShownWithTheCoordinatorsPrivacyOff) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");  // [privacy] mode = "off"
  SiteOptions dp;
  dp.extra_toml = kPrivacy;
  cluster.StartSite("HOSP_DP", dp);
  cluster.StartSite("HOSP_B");
  cluster.ApproveAll({"HOSP_DP", "HOSP_B"});
  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  const int port = MetricsPort(cluster, "HOSP_DP", 1);
  ASSERT_GT(port, 0);
  const double spent = Scrape(port)["cls_site_record_epsilon"];
  EXPECT_GT(spent, 5.0);

  // The epsilon arrives with the site's masked input; poll until shown.
  nlohmann::json j;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto status = cluster.Ctl({"privacy", "status", "--json"});
        if (status.exit_code != 0) return false;
        j = status.Json();
        return j.is_object() && j["record_level"].size() == 1 &&
               j["record_level"][0]["epsilon"].get<double>() > 0;
      },
      30s))
      << j.dump();
  EXPECT_EQ(j["enabled"], false);
  EXPECT_EQ(j["mode"], "off");
  EXPECT_TRUE(j["spent_epsilon"].is_null()) << j.dump();
  EXPECT_TRUE(j["remaining_epsilon"].is_null()) << j.dump();
  EXPECT_TRUE(j["period"].is_null()) << j.dump();
  EXPECT_EQ(j["record_level"][0]["site_id"], "HOSP_DP");
  EXPECT_NEAR(j["record_level"][0]["epsilon"].get<double>(), spent, 1e-9);
  EXPECT_EQ(j["record_level"][0]["target_epsilon"], 8.5);

  // clsctl's text (Cluster::Ctl always asks for JSON).
  CommandResult text =
      RunCommand({BinaryPath("clsctl"), "--coordinator",
                  "127.0.0.1:" + std::to_string(cluster.admin_port()), "--ca",
                  cluster.Path("pki/ca.pem"), "--cert",
                  cluster.Path("pki/issued/admin.pem"), "--key",
                  cluster.Path("pki/issued/admin.key"), "privacy", "status"});
  ASSERT_EQ(text.exit_code, 0) << text.error;
  EXPECT_NE(text.output.find("cross-site differential privacy: off"),
            std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("HOSP_DP: epsilon "), std::string::npos)
      << text.output;
  EXPECT_EQ(text.output.find("spent:"), std::string::npos) << text.output;
}

}  // namespace
}  // namespace cls::testing
