// The coordinator as an operator runs it: the monitoring port a Prometheus
// server scrapes and a kubelet probes, and SIGHUP (systemctl reload,
// logrotate) while sites are connected and rounds run. Real processes, real
// mutual TLS, real cls-pki revocations.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "common/testing/http_get.h"
#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// "name{labels}" -> value, from the text exposition format.
std::map<std::string, double> Scrape(int port) {
  HttpReply reply = HttpGet(port, "/metrics");
  EXPECT_EQ(reply.status, 200);
  std::map<std::string, double> samples;
  std::istringstream in(reply.body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

bool SiteConnected(Cluster& cluster, const std::string& site_id) {
  auto sites = cluster.Ctl({"sites", "list"}).Json();
  for (const auto& s : sites["sites"]) {
    if (s["site_id"] == site_id) return s["connected"].get<bool>();
  }
  return false;
}

std::vector<json> AuditEvents(Cluster& cluster, const std::string& event) {
  auto doc = cluster.Ctl({"audit", "export"}, "auditor").Json();
  std::vector<json> out;
  for (const auto& e : doc["entries"]) {
    if (e["event_type"] == event) out.push_back(e);
  }
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::vector<std::string> kSites = {"HOSP_A", "HOSP_B", "HOSP_C"};

void StartFederation(Cluster& cluster, const std::string& extra_top = "") {
  cluster.StartCoordinator(extra_top);
  for (size_t i = 0; i < kSites.size(); ++i) {
    SiteOptions options;
    options.shift = 0.2 * static_cast<double>(i);
    cluster.StartSite(kSites[i], options);
  }
  cluster.ApproveAll(kSites);
}

// Stops the agent `held` (SIGSTOP), then starts `rounds` rounds: the first
// waits in its first stage for that agent until the 10 s stage deadline or
// a SIGCONT. Returns the first round's id once it runs, or -1.
int64_t StartHeldRound(Cluster& cluster, pid_t held, int rounds) {
  if (::kill(held, SIGSTOP) != 0) return -1;
  auto started =
      cluster.Ctl({"round", "start", "--rounds", std::to_string(rounds)});
  if (started.exit_code != 0) return -1;
  const auto round_id = started.Json()["first_round"].get<int64_t>();
  const bool running = WaitUntil(
      [&] {
        return !cluster.Ctl({"round", "status"}).Json()["round"].is_null();
      },
      30s);
  return running ? round_id : -1;
}

TEST(MonitoringIntegrationTest,
     MetricsHealthAndReadinessDescribeTheFederation) {
  Cluster cluster;
  StartFederation(cluster);
  auto rounds = cluster.RunRounds(2, 120s);
  ASSERT_EQ(rounds.size(), 2u);

  EXPECT_EQ(HttpGet(cluster.metrics_port(), "/healthz").status, 200);
  HttpReply ready = HttpGet(cluster.metrics_port(), "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;

  // Gauges are copied from the services every 2 s.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto s = Scrape(cluster.metrics_port());
        return s["cls_sites_connected"] == 3 && s["cls_model_versions"] == 3;
      },
      30s));
  auto s = Scrape(cluster.metrics_port());
  EXPECT_EQ(s["cls_rounds_total{outcome=\"completed\"}"], 2);
  EXPECT_EQ(s["cls_rounds_total{outcome=\"aborted\"}"], 0);
  EXPECT_EQ(s["cls_sites_approved"], 3);
  EXPECT_EQ(s["cls_round_running"], 0);
  EXPECT_EQ(s["cls_round_queue_length"], 0);
  // Every stage of both rounds was timed.
  for (const char* stage : {"advertise_keys", "share_keys", "masked_input",
                            "consistency_check", "unmask"}) {
    EXPECT_EQ(s["cls_round_stage_duration_seconds_count{stage=\"" +
                std::string(stage) + "\"}"],
              2)
        << stage;
  }
  EXPECT_GT(s["cls_site_bytes_received_total"], 0);
  EXPECT_GT(s["cls_site_bytes_sent_total"], 0);
  EXPECT_EQ(s["cls_site_trust_min"], 1);
  // Privacy is off in this federation: nothing spent, no budget.
  EXPECT_EQ(s["cls_privacy_epsilon_spent"], 0);
  bool build_info = false;
  for (const auto& [series, value] : s) {
    if (series.rfind("cls_build_info{version=", 0) == 0 && value == 1) {
      build_info = true;
    }
  }
  EXPECT_TRUE(build_info);

  // Each agent's own port, though none of them serves predictions.
  const int agent = cluster.site_metrics_port("HOSP_B");
  EXPECT_EQ(HttpGet(agent, "/healthz").status, 200);
  EXPECT_EQ(HttpGet(agent, "/readyz").status, 200);
  auto a = Scrape(agent);
  EXPECT_EQ(a["cls_agent_connected"], 1);
  EXPECT_EQ(a["cls_agent_rounds_total{outcome=\"completed\"}"], 2);
  EXPECT_EQ(a["cls_agent_rounds_total{outcome=\"aborted\"}"], 0);
  EXPECT_EQ(a.count("cls_predictions_total"), 0u);  // not serving

  // An agent whose coordinator is gone says so, and stays ready: it retries.
  ASSERT_EQ(cluster.StopCoordinator(), 0);
  ASSERT_TRUE(WaitUntil(
      [&] { return Scrape(agent)["cls_agent_connected"] == 0; }, 30s));
  EXPECT_EQ(HttpGet(agent, "/readyz").status, 200);
}

TEST(MonitoringIntegrationTest,
     ARevokedSiteIsDisconnectedOnSighupWithoutARestart) {
  Cluster cluster;
  StartFederation(cluster, "min_sites = 2\n");
  const pid_t coordinator = cluster.coordinator()->pid();

  ASSERT_EQ(cluster.Pki({"revoke", "HOSP_C"}).exit_code, 0);
  // The CRL file changed, but the coordinator has not read it yet.
  EXPECT_TRUE(SiteConnected(cluster, "HOSP_C"));

  const auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(coordinator, SIGHUP), 0);
  ASSERT_TRUE(
      WaitUntil([&] { return !SiteConnected(cluster, "HOSP_C"); }, 30s));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - sent)
                      .count();
  std::cout << "revoked site disconnected " << ms
            << " ms after SIGHUP (polled every 100 ms)\n";
  EXPECT_EQ(cluster.coordinator()->pid(), coordinator);
  EXPECT_TRUE(cluster.coordinator()->Running());

  auto refused = AuditEvents(cluster, "site_certificate_refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["site_id"], "HOSP_C");
  EXPECT_EQ(AuditEvents(cluster, "configuration_reloaded").size(), 1u);

  // The agent keeps retrying; every handshake is now refused, and the other
  // two sites still train.
  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0]["status"], "completed");
  EXPECT_EQ(rounds[0]["participants"].size(), 2u) << rounds[0].dump();
  EXPECT_FALSE(SiteConnected(cluster, "HOSP_C"));
}

TEST(MonitoringIntegrationTest,
     SighupAndLogRotationDuringARoundLeaveItCompleted) {
  Cluster cluster;
  StartFederation(cluster, "log_file = \"logs/coordinator.log\"\n");
  const std::string log = cluster.Path("logs/coordinator.log");
  ASSERT_TRUE(fs::exists(log));

  // The reloads below land inside a round, every time.
  const pid_t held = cluster.site("HOSP_C")->pid();
  const int64_t round_id = StartHeldRound(cluster, held, 1);
  ASSERT_GT(round_id, 0);

  // logrotate's two ways: copytruncate (copy, then truncate in place; no
  // signal needed) and create (move aside, then SIGHUP).
  // Each reload is awaited before the next signal: two signals of one kind
  // pending at once are one signal (POSIX).
  auto reloaded = [&](size_t n) {
    return WaitUntil(
        [&] {
          return AuditEvents(cluster, "configuration_reloaded").size() == n;
        },
        30s);
  };
  fs::copy_file(log, log + ".1");
  fs::resize_file(log, 0);
  ASSERT_EQ(::kill(cluster.coordinator()->pid(), SIGHUP), 0);
  ASSERT_TRUE(reloaded(1));
  fs::rename(log, log + ".2");
  ASSERT_EQ(::kill(cluster.coordinator()->pid(), SIGHUP), 0);
  ASSERT_TRUE(reloaded(2));
  // Still the same round, still running.
  auto status = cluster.Ctl({"round", "status"}).Json();
  ASSERT_FALSE(status["round"].is_null()) << status.dump();
  EXPECT_EQ(status["round"]["round_id"], round_id) << status.dump();

  ASSERT_EQ(::kill(held, SIGCONT), 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return cluster.Ctl({"round", "status"}).Json()["round"].is_null();
      },
      120s));
  auto history = cluster.Ctl({"round", "history", "--limit", "10"}).Json();
  ASSERT_FALSE(history["rounds"].empty());
  const json& round = history["rounds"][0];
  EXPECT_EQ(round["round_id"], round_id);
  EXPECT_EQ(round["status"], "completed") << round.dump();
  EXPECT_TRUE(round["dropped"].empty()) << round.dump();

  // The log goes on at the configured path after the move.
  ASSERT_TRUE(WaitUntil(
      [&] {
        (void)cluster.Ctl({"status"});  // something to log
        return ReadAll(log).find("GET /v1/status") != std::string::npos;
      },
      30s));
  const std::string all =
      ReadAll(log + ".1") + ReadAll(log + ".2") + ReadAll(log);
  EXPECT_NE(all.find("round " + std::to_string(round_id) + " starting"),
            std::string::npos);
  size_t reloads = 0;
  for (size_t at = all.find("SIGHUP: CRL reloaded"); at != std::string::npos;
       at = all.find("SIGHUP: CRL reloaded", at + 1)) {
    ++reloads;
  }
  EXPECT_EQ(reloads, 2u);
}

// systemctl stop mid-round: the round is aborted cleanly, recorded with
// why, the queue dropped, and the next start finds nothing "running".
TEST(MonitoringIntegrationTest, SigtermAbortsTheRunningRoundCleanly) {
  Cluster cluster;
  StartFederation(cluster);
  const pid_t held = cluster.site("HOSP_C")->pid();
  const int64_t round_id = StartHeldRound(cluster, held, 3);
  ASSERT_GT(round_id, 0);

  EXPECT_EQ(cluster.StopCoordinator(SIGTERM), 0);
  ASSERT_EQ(::kill(held, SIGCONT), 0);
  const std::string log = ReadAll(cluster.Path("coordinator.log"));
  EXPECT_NE(log.find("2 queued round(s) will not run"), std::string::npos)
      << log;
  EXPECT_NE(log.find("round " + std::to_string(round_id) +
                     " aborted cleanly in stage advertise_keys"),
            std::string::npos)
      << log;

  cluster.StartCoordinator();
  auto history = cluster.Ctl({"round", "history", "--limit", "10"}).Json();
  ASSERT_EQ(history["rounds"].size(), 1u) << history.dump();
  const json& round = history["rounds"][0];
  EXPECT_EQ(round["round_id"], round_id);
  EXPECT_EQ(round["status"], "aborted");
  EXPECT_EQ(round["abort_reason"], "coordinator stopping (signal 15)");
  for (const auto& e : AuditEvents(cluster, "federated_round_aborted")) {
    EXPECT_NE(e["reason"], "coordinator restarted mid-round") << e.dump();
  }
  EXPECT_EQ(AuditEvents(cluster, "training_rounds_cleared").size(), 1u);
}

}  // namespace
}  // namespace cls::testing
