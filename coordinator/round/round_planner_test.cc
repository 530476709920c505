// RoundPlanner: weights, settings, robust groups and the privacy plan,
// against a real coordinator certificate and (for privacy) a real ledger.

#include "coordinator/round/round_planner.h"

#include <gtest/gtest.h>

#include <fstream>

#include "coordinator/sites/fake_site_connection.h"
#include "core/feature_statistics.h"

namespace cls::coordinator {
namespace {

class RoundPlannerTest : public ::testing::Test {
 protected:
  RoundPlannerTest() : dir_("cls-round-planner") {
    config_.model_parameters = 4;
    config_.model_kind = "benchmark_vector";
    config_.min_sites = 2;
    config_.tls.cert_file = (dir_.path() / "coordinator.crt").string();
    std::ofstream(config_.tls.cert_file)
        << pki_.Issue("coordinator.test", "coordinator").certificate_pem;
    model_.version_id = "v1_20260101_000000";
    model_.hash = "abc";
    model_.parameters.assign(4, 0.0f);
  }

  std::vector<SiteRecord> Sites(std::vector<int64_t> samples) {
    std::vector<SiteRecord> sites;
    for (size_t i = 0; i < samples.size(); ++i) {
      SiteRecord s;
      s.site_id = "HOSP_" + std::to_string(i + 1);
      s.num_samples = samples[i];
      s.status = SiteStatus::kApproved;
      sites.push_back(s);
    }
    return sites;
  }

  Result<PlannedRound> Plan(RoundPlanner& planner,
                            const std::vector<SiteRecord>& sites,
                            std::vector<core::robust::SiteTrust> trust = {},
                            bool statistics_round = false) {
    return planner.Plan(
        5, sites, std::move(trust), [](const std::string&) { return nullptr; },
        model_, std::nullopt, statistics_round);
  }

  // The store and the privacy ledger of config_.privacy, auditing to it.
  void OpenPrivacy() {
    auto store =
        CoordinatorStore::Open((dir_.path() / "coordinator.db").string());
    ASSERT_TRUE(store.has_value());
    store_ = std::move(*store);
    auto privacy = RoundPrivacy::Open(
        config_.privacy, store_->db(),
        [this](const std::string& actor, const std::string& event,
               const nlohmann::json& fields) -> Status {
          return store_->Audit(actor, "system", event, fields);
        });
    ASSERT_TRUE(privacy.has_value()) << privacy.error().message;
    privacy_ = std::move(*privacy);
  }

  testing::TempDir dir_;
  crypto::testing::TestPki pki_;
  CoordinatorConfig config_;
  ModelRecord model_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<RoundPrivacy> privacy_;
};

TEST_F(RoundPlannerTest, WeightsAreSampleSharesInOneGroup) {
  RoundPlanner planner(config_, nullptr);
  auto plan = Plan(planner, Sites({100, 300}));
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  ASSERT_EQ(plan->participants.size(), 2u);
  EXPECT_DOUBLE_EQ(plan->participants[0].weight, 0.25);
  EXPECT_DOUBLE_EQ(plan->participants[1].weight, 0.75);
  EXPECT_EQ(plan->groups, (std::vector<std::vector<int>>{{0, 1}}));
  EXPECT_EQ(plan->min_groups, 1);
  EXPECT_EQ(plan->settings.round_id, 5u);
  EXPECT_EQ(plan->settings.coordinator_id, "coordinator.test");
  EXPECT_EQ(plan->settings.model_version, model_.version_id);
  EXPECT_EQ(plan->settings.model_kind, "benchmark_vector");
  EXPECT_EQ(plan->settings.min_sites, 2u);
  EXPECT_FALSE(plan->settings.allow_single_site);
  EXPECT_FALSE(plan->privacy_plan.has_value());
}

TEST_F(RoundPlannerTest, AStatisticsRoundSumsEncodedStatisticsLimbs) {
  config_.model_kind = "logistic_regression";
  RoundPlanner planner(config_, nullptr);
  auto plan = Plan(planner, Sites({10, 10, 10}), {}, true);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_TRUE(plan->statistics_round);
  EXPECT_EQ(plan->settings.model_kind, kFeatureStatisticsKind);
  EXPECT_EQ(plan->settings.quantization.value_bits, core::kStatisticsLimbBits);
  EXPECT_EQ(plan->settings.input_length, core::EncodedStatisticsLength(3));
}

TEST_F(RoundPlannerTest, RobustRoundsSplitTheSitesIntoAMajorityOfGroups) {
  config_.robust.enabled = true;
  config_.robust.group_size = 2;
  RoundPlanner planner(config_, nullptr);
  std::vector<core::robust::SiteTrust> trust(4);
  auto plan = Plan(planner, Sites({10, 10, 10, 10}), trust);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->groups.size(), 2u);
  EXPECT_EQ(plan->min_groups, 2);
  EXPECT_EQ(plan->trust.size(), 4u);
  EXPECT_FALSE(plan->settings.allow_single_site);
  // Trust is required for every site of a robust training round.
  auto missing = Plan(planner, Sites({10, 10, 10, 10}));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message, "planning round: trust of 0 sites for 4");
}

TEST_F(RoundPlannerTest, PerSiteRobustModeHasGroupsOfOne) {
  config_.robust.enabled = true;
  config_.robust.secure_aggregation = false;
  RoundPlanner planner(config_, nullptr);
  auto plan = Plan(planner, Sites({10, 10, 10}),
                   std::vector<core::robust::SiteTrust>(3));
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_TRUE(plan->settings.allow_single_site);
  EXPECT_EQ(plan->groups.size(), 3u);
  EXPECT_EQ(plan->min_groups, 2);
}

TEST_F(RoundPlannerTest, ACoordinatorCertificateThatCannotBeReadStopsPlanning) {
  config_.tls.cert_file = (dir_.path() / "missing.crt").string();
  RoundPlanner planner(config_, nullptr);
  auto plan = Plan(planner, Sites({10, 10}));
  ASSERT_FALSE(plan.has_value());
  EXPECT_NE(plan.error().message.find("missing.crt"), std::string::npos)
      << plan.error().message;
}

TEST_F(RoundPlannerTest, ARoundTheBudgetCannotPayForIsRefusedBeforeItStarts) {
  config_.privacy.mode = "central";
  config_.privacy.privacy_epsilon = 1.0;
  config_.privacy.budget_epsilon = 0.5;
  ASSERT_NO_FATAL_FAILURE(OpenPrivacy());
  RoundPlanner planner(config_, privacy_.get());
  auto sites = Sites({10, 10, 10});
  auto early = planner.CheckBudget(5, sites, model_);
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().code, ErrorCode::kResourceExhausted);
  auto plan = Plan(planner, sites);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  auto refused = planner.PlanPrivacy(*plan);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(refused.error().message, early.error().message);
  EXPECT_FALSE(plan->privacy_plan.has_value());
}

TEST_F(RoundPlannerTest, ARoundWithinTheBudgetCarriesItsNoisePlan) {
  config_.privacy.mode = "distributed";
  ASSERT_NO_FATAL_FAILURE(OpenPrivacy());
  RoundPlanner planner(config_, privacy_.get());
  auto plan = Plan(planner, Sites({10, 10, 10}));
  ASSERT_TRUE(plan.has_value());
  ASSERT_TRUE(planner.PlanPrivacy(*plan).has_value());
  ASSERT_TRUE(plan->privacy_plan.has_value());
  EXPECT_EQ(plan->settings.quantization.ring_bits,
            plan->privacy_plan->ring_bits);
  EXPECT_GT(plan->settings.noise_variance, 0);
}

}  // namespace
}  // namespace cls::coordinator
