// Issue 4 in the running daemons: differential privacy (central and
// distributed, the durable budget and its refusal) and Byzantine-robust
// grouping with trust, over real processes on loopback.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/sqlite_db.h"
#include "core/privacy/noise.h"
#include "tests/integration/cluster.h"
#include "tests/integration/stored_model.h"

namespace cls::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<float> LatestParameters(Cluster& cluster) {
  return ReadLatestModel(cluster.Path("coordinator-state")).parameters;
}

std::vector<float> ReadDelta(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

int CountAudit(Cluster& cluster, const std::string& event) {
  auto db = SqliteDb::Open(cluster.Path("coordinator-state/coordinator.db"));
  EXPECT_TRUE(db.has_value());
  auto stmt =
      (*db)->Prepare("SELECT COUNT(*) FROM audit_log WHERE event_type = ?");
  EXPECT_TRUE(stmt.has_value());
  EXPECT_TRUE(stmt->Bind({event}).has_value());
  EXPECT_TRUE(*stmt->Step());
  return static_cast<int>(stmt->Int(0));
}

std::vector<std::string> StartSites(
    Cluster& cluster, int n, const std::vector<std::string>& extra = {},
    const std::string& attacker = "",
    const std::vector<std::string>& attack = {}) {
  std::vector<std::string> ids;
  for (int i = 1; i <= n; ++i) {
    const std::string id = "HOSP_00" + std::to_string(i);
    SiteOptions options;
    options.rows = 100 + 20 * i;
    options.shift = 0.2 * i;
    options.extra_args = extra;
    if (!extra.empty()) {
      fs::create_directories(cluster.Path("deltas/" + id));
      options.extra_args.back() = cluster.Path("deltas/" + id);
    }
    if (id == attacker) {
      options.extra_args.insert(options.extra_args.end(), attack.begin(),
                                attack.end());
    }
    cluster.StartSite(id, options);
    ids.push_back(id);
  }
  cluster.ApproveAll(ids);
  return ids;
}

TEST(PrivacyIntegrationTest, CentralRoundIsChargedAndShownInStatus) {
  Cluster cluster;
  cluster.StartCoordinator(
      "min_sites = 3\n[privacy]\nmode = \"central\"\nprivacy_epsilon = 2.0\n"
      "budget_epsilon = 10.0");
  StartSites(cluster, 3);
  auto rounds = cluster.RunRounds(1, 60s);
  ASSERT_EQ(rounds.size(), 1u) << rounds.dump();
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();

  auto status = cluster.Ctl({"privacy", "status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.error;
  auto j = status.Json();
  EXPECT_EQ(j["mode"], "central");
  EXPECT_GT(j["spent_epsilon"].get<double>(), 1.9);
  EXPECT_LE(j["spent_epsilon"].get<double>(), 2.0 + 1e-9);
  EXPECT_NEAR(j["remaining_epsilon"].get<double>(),
              10.0 - j["spent_epsilon"].get<double>(), 1e-9);
  ASSERT_EQ(j["history"].size(), 1u);
  EXPECT_EQ(j["history"][0]["sites_contributed"], 3);
  EXPECT_EQ(CountAudit(cluster, "privacy_charge"), 1);

  // The offline calculator needs no coordinator.
  auto calc = cluster.Ctl({"privacy", "epsilon", "--noise-multiplier", "1.0",
                           "--rounds", "10", "--sampling-rate", "0.1",
                           "--delta", "1e-5", "--json"});
  ASSERT_EQ(calc.exit_code, 0) << calc.error;
  EXPECT_GT(calc.Json()["epsilon"].get<double>(), 0);
  EXPECT_GT(calc.Json()["order"].get<double>(), 1);
}

TEST(PrivacyIntegrationTest, RoundBeyondTheBudgetIsRefusedBeforeItStarts) {
  Cluster cluster;
  // Each round spends 1.0 and two compose to about 1.4: a budget of 1.2 pays
  // for one.
  cluster.StartCoordinator(
      "min_sites = 3\n[privacy]\nmode = \"central\"\nprivacy_epsilon = 1.0\n"
      "budget_epsilon = 1.2");
  StartSites(cluster, 3);
  auto rounds = cluster.RunRounds(1, 60s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  const auto before = LatestParameters(cluster);

  auto refused = cluster.Ctl({"round", "start", "--rounds", "1"});
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  EXPECT_NE(refused.error.find("Privacy budget exhausted"), std::string::npos)
      << refused.error;
  EXPECT_GE(CountAudit(cluster, "privacy_round_refused"), 1);
  EXPECT_EQ(LatestParameters(cluster), before);

  // Only an audited new period resets the spend; an operator may not.
  auto denied = cluster.Ctl(
      {"privacy", "reset", "--budget", "5", "--reason", "new study"},
      "operator");
  EXPECT_EQ(denied.exit_code, 3);
  auto reset = cluster.Ctl(
      {"privacy", "reset", "--budget", "5", "--reason", "new study"});
  ASSERT_EQ(reset.exit_code, 0) << reset.error;
  EXPECT_EQ(CountAudit(cluster, "privacy_period_started"), 1);
  auto again = cluster.RunRounds(1, 60s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0]["status"], "completed") << again[0].dump();
}

TEST(PrivacyIntegrationTest, DistributedNoiseIsAddedAtTheSites) {
  Cluster cluster;
  cluster.StartCoordinator(
      "min_sites = 3\n[privacy]\nmode = \"distributed\"\n"
      "noise_multiplier = 0.05\nbudget_epsilon = 100000");
  auto ids = StartSites(cluster, 3, {"--test-expose-deltas", "DIR"});
  auto rounds = cluster.RunRounds(1, 60s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  const int64_t round_id = rounds[0]["round_id"];

  // The noise-free mean from the sites' exposed (weighted, clipped) deltas.
  auto sites = cluster.Ctl({"sites", "list", "--json"}).Json()["sites"];
  double total = 0, max_samples = 0;
  for (const auto& s : sites) {
    total += s["num_samples"].get<double>();
    max_samples = std::max(max_samples, s["num_samples"].get<double>());
  }
  std::vector<double> mean;
  for (const auto& id : ids) {
    auto delta = ReadDelta(cluster.Path("deltas/" + id + "/round-" +
                                        std::to_string(round_id) + ".f32"));
    if (mean.empty()) mean.assign(delta.size(), 0.0);
    ASSERT_EQ(delta.size(), mean.size());
    for (size_t i = 0; i < mean.size(); ++i) mean[i] += delta[i];
  }
  const auto model = LatestParameters(cluster);  // from zero, learning rate 1
  ASSERT_EQ(model.size(), mean.size());
  double sq = 0;
  for (size_t i = 0; i < mean.size(); ++i) {
    sq += std::pow(model[i] - mean[i], 2);
  }
  const double rms = std::sqrt(sq / mean.size());
  auto plan = core::privacy::PlanDistributedNoise(
      0.05, 1.0 * max_samples / total, 2.0 / 65535.0,
      static_cast<int64_t>(mean.size()), 3);
  ASSERT_TRUE(plan.has_value());
  // 8 coordinates: chi-squared with 8 degrees of freedom, so the RMS lies
  // within [0.2, 2] of the planned deviation except with probability ~1e-4.
  EXPECT_GT(rms, 0.2 * plan->real_stddev);
  EXPECT_LT(rms, 2.0 * plan->real_stddev);
  auto status = cluster.Ctl({"privacy", "status", "--json"}).Json();
  EXPECT_EQ(status["history"][0]["mechanism"], "skellam");
}

TEST(RobustIntegrationTest, ScaledUpdatesLowerTheAttackersTrustOnly) {
  Cluster cluster;
  // Groups of two over six sites: three group sums per round.
  cluster.StartCoordinator(
      "min_sites = 6\n[robust]\nenabled = true\ngroup_size = 2\n"
      "rule = \"median\"");
  auto ids =
      StartSites(cluster, 6, {}, "HOSP_006", {"--test-scale-delta", "-20"});
  auto rounds = cluster.RunRounds(4, 120s);
  ASSERT_GE(rounds.size(), 1u);
  int completed = 0;
  for (const auto& r : rounds) completed += r["status"] == "completed";
  EXPECT_GE(completed, 3) << rounds.dump();

  auto sites = cluster.Ctl({"sites", "list", "--json"}).Json()["sites"];
  double attacker = 1, honest_min = 1;
  for (const auto& s : sites) {
    const double trust = s["trust_score"];
    if (s["site_id"] == "HOSP_006") {
      attacker = trust;
    } else {
      honest_min = std::min(honest_min, trust);
      EXPECT_NE(s["status"], "quarantined") << s.dump();
    }
  }
  std::fprintf(stderr,
               "trust after %d rounds: attacker %.3f, honest min %.3f\n",
               completed, attacker, honest_min);
  EXPECT_LT(attacker, honest_min) << sites.dump();
  EXPECT_LT(attacker, 0.8) << sites.dump();
}

}  // namespace
}  // namespace cls::testing
