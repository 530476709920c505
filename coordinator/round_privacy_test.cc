#include "coordinator/round_privacy.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "core/privacy/calibration.h"

namespace cls::coordinator {
namespace {

PrivacyConfig Central(double round_epsilon, double budget) {
  PrivacyConfig c;
  c.mode = "central";
  c.privacy_epsilon = round_epsilon;
  c.budget_epsilon = budget;
  return c;
}

TEST(RoundPrivacyTest, CalibratesTheNoiseMultiplierFromThePerRoundEpsilon) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db) << db.error().message;
  auto privacy = RoundPrivacy::Open(Central(1.0, 10.0), **db, nullptr);
  ASSERT_TRUE(privacy) << privacy.error().message;
  // One round at the calibrated z spends the per-round target (from below).
  auto eps = core::privacy::ComputeEpsilon((*privacy)->noise_multiplier(), 1,
                                           1.0, 1e-5);
  ASSERT_TRUE(eps);
  EXPECT_LE(eps->epsilon, 1.0);
  EXPECT_GT(eps->epsilon, 0.999);
}

TEST(RoundPrivacyTest, CentralNoiseOnTheMeanIsStddevOverContributorWeight) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db);
  PrivacyConfig config = Central(1.0, 10.0);
  config.noise_multiplier = 2.0;
  auto privacy = RoundPrivacy::Open(config, **db, nullptr);
  ASSERT_TRUE(privacy);
  core::QuantizationSpec spec{0.5, 16, 18};
  const std::vector<double> weights = {0.5, 0.25, 0.25};
  auto plan = (*privacy)->PlanRound(1, weights, spec, 20000, 2);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_DOUBLE_EQ(plan->central_stddev, 2.0 * 0.5 * 0.5);  // z C w_max
  std::vector<float> mean(20000, 0.0f);
  ASSERT_TRUE((*privacy)->AddCentralNoise(*plan, mean, 0.75));
  double sq = 0;
  for (float v : mean) sq += double(v) * v;
  const double stddev = std::sqrt(sq / mean.size());
  EXPECT_NEAR(stddev, 0.5 / 0.75, 0.02 * 0.5 / 0.75);
}

TEST(RoundPrivacyTest, RefusesARoundTheBudgetCannotPayFor) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db);
  // Each round spends 1; a budget of 1.2 pays for one round only (two compose
  // to about 1.4).
  auto privacy = RoundPrivacy::Open(Central(1.0, 1.2), **db, nullptr);
  ASSERT_TRUE(privacy);
  core::QuantizationSpec spec{1.0, 16, 18};
  const std::vector<double> weights = {0.4, 0.3, 0.3};
  auto first = (*privacy)->PlanRound(1, weights, spec, 10, 2);
  ASSERT_TRUE(first);
  ASSERT_TRUE((*privacy)->Check(*first));
  auto charged = (*privacy)->Charge(*first, 3);
  ASSERT_TRUE(charged) << charged.error().message;
  EXPECT_GT(charged->epsilon_after, 0.9);
  auto second = (*privacy)->PlanRound(2, weights, spec, 10, 2);
  ASSERT_TRUE(second);
  auto refused = (*privacy)->Check(*second);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.error().message.find("Privacy budget exhausted"),
            std::string::npos);
}

TEST(RoundPrivacyTest, DistributedPlanWidensTheRingForTheNoise) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db);
  PrivacyConfig config = Central(1.0, 10.0);
  config.mode = "distributed";
  auto privacy = RoundPrivacy::Open(config, **db, nullptr);
  ASSERT_TRUE(privacy);
  core::QuantizationSpec spec{1.0, 16, 18};
  const std::vector<double> weights = {0.4, 0.3, 0.3};
  auto plan = (*privacy)->PlanRound(1, weights, spec, 14, 2);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_GT(plan->per_site_variance, 0);
  EXPECT_NEAR(plan->per_site_variance * 3, plan->charge.skellam_variance,
              1e-6 * plan->charge.skellam_variance);
  EXPECT_GT(plan->ring_bits, 18);
  EXPECT_LE(plan->ring_bits, 32);
}

TEST(RoundPrivacyTest, DecodesANoisedSumThatWrappedBelowZero) {
  // Three sites each at -clip (quantized 0) plus negative noise: the ring
  // sum wraps to near 2^bits and must decode as a value below -3 clip.
  core::QuantizationSpec spec{1.0, 8, 16};
  const int64_t modulus = 1 << 16;
  std::vector<uint32_t> ring = {static_cast<uint32_t>(modulus - 10), 3 * 255,
                                382};
  std::vector<float> out(3);
  ASSERT_TRUE(DecodeNoisedMean(ring, 3, spec, 1.0, out));
  const double step = spec.Step();
  EXPECT_NEAR(out[0], -10 * step - 3.0, 1e-5);
  EXPECT_NEAR(out[1], 3.0, 1e-5);
  EXPECT_NEAR(out[2], 382 * step - 3.0, 1e-5);
  // With a contributor weight the mean is the sum over it.
  ASSERT_TRUE(DecodeNoisedMean(ring, 3, spec, 0.5, out));
  EXPECT_NEAR(out[1], 6.0, 1e-5);
}

TEST(RoundPrivacyTest, RingForANoisedSumHoldsEightDeviationsEitherSide) {
  auto bits = RingBitsForNoisedSum(16, 3, 0);
  ASSERT_TRUE(bits);
  EXPECT_EQ(*bits, 18);                     // 3 * 65535 < 2^18
  bits = RingBitsForNoisedSum(16, 3, 1e8);  // stddev 1e4: +160000
  ASSERT_TRUE(bits);
  EXPECT_EQ(*bits, 19);
  EXPECT_FALSE(RingBitsForNoisedSum(24, 1000, 1e12));
}

TEST(RoundPrivacyTest, OffModeHasNoPrivacyObject) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db);
  PrivacyConfig config;
  EXPECT_FALSE(RoundPrivacy::Open(config, **db, nullptr));
}

// [privacy] and [robust] in the coordinator config.
Result<CoordinatorConfig> LoadWith(const std::string& sections) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("cls-round-privacy-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "coordinator.toml").string();
  std::ofstream(path) << "[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\n"
                      << "key = \"c.key\"\n[model]\nparameters = 9\n"
                      << sections;
  auto c = LoadCoordinatorConfig(path);
  std::filesystem::remove_all(dir);
  return c;
}

TEST(PrivacyConfigTest, DefaultsAreOffWithTheGuidesBudget) {
  auto c = LoadWith("");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->privacy.mode, "off");
  EXPECT_FALSE(c->privacy.enabled());
  EXPECT_DOUBLE_EQ(c->privacy.delta, 1e-5);
  EXPECT_DOUBLE_EQ(c->privacy.budget_epsilon, 10.0);
  EXPECT_FALSE(c->robust.enabled);
  EXPECT_EQ(c->robust.group_size, 3);
  EXPECT_EQ(c->robust.pipeline.rule.rule,
            core::robust::RobustRule::kTrimmedMean);
}

TEST(PrivacyConfigTest, ReadsBothSections) {
  auto c = LoadWith(
      "[privacy]\nmode = \"central\"\nprivacy_epsilon = 2.5\n"
      "delta = 1e-6\nbudget_epsilon = 8\n[robust]\nenabled = true\n"
      "rule = \"median\"\ngroup_size = 4\ntrust_floor = 0.3\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->privacy.mode, "central");
  EXPECT_DOUBLE_EQ(c->privacy.privacy_epsilon, 2.5);
  EXPECT_DOUBLE_EQ(c->privacy.delta, 1e-6);
  EXPECT_TRUE(c->robust.enabled);
  EXPECT_EQ(c->robust.pipeline.rule.rule,
            core::robust::RobustRule::kCoordinateMedian);
  EXPECT_EQ(c->robust.group_size, 4);
  EXPECT_DOUBLE_EQ(c->robust.trust.floor, 0.3);
  EXPECT_TRUE(c->robust.secure_aggregation);  // the default
}

TEST(PrivacyConfigTest, SecureAggregationOffIsAPerSiteRobustModeWithCentralDp) {
  auto c = LoadWith(
      "[privacy]\nmode = \"central\"\n[robust]\nenabled = true\n"
      "secure_aggregation = false\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->robust.secure_aggregation);
}

TEST(PrivacyConfigTest, SecureAggregationOffIsRefusedWhereItCannotWork) {
  // Without the robust rule it would only expose updates; with distributed
  // noise each update would carry only its own 1/n noise share.
  auto alone = LoadWith("[robust]\nsecure_aggregation = false\n");
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(alone.error().message,
            "config: 'robust.secure_aggregation' = false needs robust.enabled "
            "= true (it exists only to run the robust rule per site)");
  auto distributed = LoadWith(
      "[privacy]\nmode = \"distributed\"\n[robust]\nenabled = true\n"
      "secure_aggregation = false\n");
  ASSERT_FALSE(distributed);
  EXPECT_EQ(distributed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(distributed.error().message.find(
                "distributed noise assumes secure aggregation"),
            std::string::npos)
      << distributed.error().message;
  auto typo = LoadWith("[robust]\nenabled = true\nsecure_aggregation = 0\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("'robust.secure_aggregation'"),
            std::string::npos)
      << typo.error().message;
}

TEST(PrivacyConfigTest, ImpossibleValuesNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"[privacy]\nmode = \"local\"\n", "'privacy.mode'"},
      {"[privacy]\nprivacy_epsilon = 0.0\n", "'privacy.privacy_epsilon'"},
      {"[privacy]\ndelta = 1.0\n", "'privacy.delta'"},
      {"[privacy]\nbudget_epsilon = -1.0\n", "'privacy.budget_epsilon'"},
      {"[privacy]\nnoise_multiplier = -0.5\n", "'privacy.noise_multiplier'"},
      {"[privacy]\nepsilon = 1.0\n", "'privacy.epsilon'"},
      {"[robust]\nrule = \"krum\"\n", "'robust.rule'"},
      {"[robust]\ngroup_size = 1\n", "'robust.group_size'"},
      {"[robust]\nenabled = \"yes\"\n", "'robust.enabled'"},
      {"[robust]\ntrim_beta = 0.5\n", "'robust.trim_beta'"},
      {"[privacy]\nmode = \"distributed\"\n[robust]\nenabled = true\n",
       "not supported"},
  };
  for (const auto& [toml, name] : cases) {
    auto c = LoadWith(toml);
    ASSERT_FALSE(c) << toml;
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument) << toml;
    EXPECT_NE(c.error().message.find(name), std::string::npos)
        << c.error().message;
  }
}

}  // namespace
}  // namespace cls::coordinator
