#include "core/robust/trust.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cls::core::robust {
namespace {

TEST(TrustTest, StartsAtTheOperatorsScore) {
  const TrustConfig config;
  SiteTrust site;
  site.operator_trust = 0.8;
  EXPECT_DOUBLE_EQ(TrustScore(site, config), 0.8);
  EXPECT_DOUBLE_EQ(ContributionWeight(site, 100, config), 80.0);
}

TEST(TrustTest, FollowsTheDocumentedFormula) {
  const TrustConfig config;  // s = 5, lambda = 0.95
  SiteTrust site;
  auto c = UpdateTrust(site, {true, 0.5, 0.5}, config);
  ASSERT_TRUE(c.has_value());
  EXPECT_DOUBLE_EQ(c->before, 1.0);
  EXPECT_DOUBLE_EQ(c->after, (5 * 1.0 + 0.5) / (5 + 0.5 + 0.5));
  (void)UpdateTrust(site, {true, 0.0, 1.0}, config);
  EXPECT_DOUBLE_EQ(site.good, 0.95 * 0.5 + 1.0);
  EXPECT_DOUBLE_EQ(site.bad, 0.95 * 0.5);
  EXPECT_EQ(site.rounds_observed, 2);
}

TEST(TrustTest, APersistentAttackerIsQuarantinedAndStaysSo) {
  const TrustConfig config;
  SiteTrust site;
  int quarantined_at = -1;
  for (int round = 1; round <= 100; ++round) {
    auto c = UpdateTrust(site, {true, 1.0, 0.0}, config);
    ASSERT_TRUE(c.has_value());
    if (c->quarantined_now) quarantined_at = round;
  }
  // B_t = (1 - 0.95^t) / 0.05 > 5 first at t = 6: trust 5 / (5 + B) < 0.5.
  EXPECT_EQ(quarantined_at, 6);
  EXPECT_TRUE(site.quarantined);
  // Frozen while quarantined: no more evidence is applied.
  const double frozen = TrustScore(site, config);
  (void)UpdateTrust(site, {true, 0.0, 1.0}, config);
  EXPECT_DOUBLE_EQ(TrustScore(site, config), frozen);
  EXPECT_EQ(ContributionWeight(site, 100, config), 0.0);
}

TEST(TrustTest, ReinstatementIsAnOperatorDecision) {
  SiteTrust site;
  EXPECT_EQ(Reinstate(site, 1.0).error().code, ErrorCode::kFailedPrecondition);
  site.quarantined = true;
  site.bad = 10;
  EXPECT_EQ(Reinstate(site, 1.5).error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(Reinstate(site, 0.9).has_value());
  EXPECT_FALSE(site.quarantined);
  EXPECT_DOUBLE_EQ(TrustScore(site, TrustConfig{}), 0.9);
}

TEST(TrustTest, SmallAnomaliesAreNotEvidence) {
  const TrustConfig config;  // tolerance 0.2
  EXPECT_EQ(ExcessAnomaly(0.1, config), 0.0);
  EXPECT_DOUBLE_EQ(ExcessAnomaly(0.6, config), 0.5);
  EXPECT_DOUBLE_EQ(ExcessAnomaly(1.0, config), 1.0);
  EXPECT_DOUBLE_EQ(ExcessAnomaly(std::nan(""), config), 1.0);
}

TEST(TrustTest, SensitivityScalesWithTheLargestWeight) {
  const std::vector<double> weights{0.1, 0.5, 0.4};
  // +C u to -C u at the largest weight: 2 * 2.0 * 0.5.
  EXPECT_DOUBLE_EQ(WeightedSumSensitivity(weights, 2.0), 2.0);
}

TEST(TrustTest, BadConfigAndEvidenceAreRefused) {
  TrustConfig c;
  c.forgetting = 0;
  EXPECT_EQ(ValidateTrustConfig(c).error().message,
            "trust: forgetting outside (0, 1]");
  c = TrustConfig{};
  c.tolerance = 1;
  EXPECT_EQ(ValidateTrustConfig(c).error().code, ErrorCode::kInvalidArgument);
  SiteTrust site;
  EXPECT_EQ(UpdateTrust(site, {true, 1.5, 0}, TrustConfig{}).error().code,
            ErrorCode::kInvalidArgument);
}

// Group testing: 10 sites in random pairs for 200 rounds, site 3 always
// makes its group fully anomalous. The attacker is singled out quickly and
// no honest site is ever quarantined, although each shares a group with the
// attacker about one round in nine.
TEST(TrustTest, RandomRegroupingSinglesOutAPersistentAttacker) {
  const TrustConfig config;
  const int n = 10, attacker = 3;
  std::vector<SiteTrust> sites(n);
  int quarantined_at = -1;
  for (int round = 1; round <= 200; ++round) {
    std::vector<int> active;
    for (int i = 0; i < n; ++i) {
      if (!sites[static_cast<size_t>(i)].quarantined) active.push_back(i);
    }
    auto groups = AssignGroups(static_cast<int>(active.size()), 2,
                               static_cast<uint64_t>(round));
    ASSERT_TRUE(groups.has_value());
    std::vector<Group> members;
    std::vector<double> anomaly;
    for (const Group& g : *groups) {
      Group m;
      bool bad = false;
      for (int idx : g) {
        m.push_back(active[static_cast<size_t>(idx)]);
        bad |= m.back() == attacker;
      }
      members.push_back(m);
      anomaly.push_back(bad ? 1.0 : 0.0);
    }
    std::vector<double> suspicion;
    for (const SiteTrust& s : sites) suspicion.push_back(Suspicion(s, config));
    auto evidence = AttributeGroupAnomalies(members, anomaly, suspicion, n);
    ASSERT_TRUE(evidence.has_value());
    for (int i = 0; i < n; ++i) {
      auto c = UpdateTrust(sites[static_cast<size_t>(i)],
                           (*evidence)[static_cast<size_t>(i)], config);
      ASSERT_TRUE(c.has_value());
      if (c->quarantined_now) {
        ASSERT_EQ(i, attacker) << "honest site quarantined in round " << round;
        quarantined_at = round;
      }
    }
  }
  EXPECT_GT(quarantined_at, 0);
  EXPECT_LE(quarantined_at, 20);
}

}  // namespace
}  // namespace cls::core::robust
