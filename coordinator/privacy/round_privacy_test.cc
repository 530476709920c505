#include "coordinator/privacy/round_privacy.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "coordinator/storage/schema.h"
#include "core/privacy/calibration.h"

namespace cls::coordinator {
namespace {

// An in-memory database with the coordinator's schema.
Result<std::unique_ptr<SqliteDb>> OpenCoordinatorDb() {
  auto db = SqliteDb::Open(":memory:");
  if (!db) return db;
  if (auto s = storage::Migrate(**db); !s) return std::unexpected(s.error());
  return db;
}

PrivacyConfig Central(double round_epsilon, double budget) {
  PrivacyConfig c;
  c.mode = "central";
  c.privacy_epsilon = round_epsilon;
  c.budget_epsilon = budget;
  return c;
}

TEST(RoundPrivacyTest, CalibratesTheNoiseMultiplierFromThePerRoundEpsilon) {
  auto db = OpenCoordinatorDb();
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
  auto db = OpenCoordinatorDb();
  ASSERT_TRUE(db);
  PrivacyConfig config = Central(1.0, 10.0);
  config.noise_multiplier = 2.0;
  auto privacy = RoundPrivacy::Open(config, **db, nullptr);
  ASSERT_TRUE(privacy);
  core::QuantizationSpec spec{0.5, 16, 18};
  const std::vector<double> weights = {0.5, 0.25, 0.25};
  auto plan = (*privacy)->PlanRound(1, weights, spec, 20000, 2);
  ASSERT_TRUE(plan) << plan.error().message;
  // z (2 C w_max + step sqrt(d)): replacing the heaviest site's update.
  const double sensitivity = 2 * 0.5 * 0.5 + spec.Step() * std::sqrt(20000.0);
  EXPECT_DOUBLE_EQ(plan->l2_sensitivity, sensitivity);
  EXPECT_DOUBLE_EQ(plan->central_stddev, 2.0 * sensitivity);
  std::vector<float> mean(20000, 0.0f);
  ASSERT_TRUE((*privacy)->AddCentralNoise(*plan, mean, 0.75));
  double sq = 0;
  for (float v : mean) sq += double(v) * v;
  const double stddev = std::sqrt(sq / mean.size());
  const double expected = plan->central_stddev / 0.75;
  EXPECT_NEAR(stddev, expected, 0.02 * expected);
}

// What the coordinator releases from one round before noise, computed as
// the round does: each site clips its update to C, multiplies it by its
// weight and quantizes it stochastically (its own rounding stream), the
// unmasked ring sum holds the contributors' inputs (the masks cancel), and
// the mean is the dequantized sum over the contributors' weight
// (RoundUnmaskState::DecodeOutcome).
struct Release {
  std::vector<int64_t> integer_sum;  // contributors' quantized values, summed
  std::vector<float> mean;           // the released mean delta, before noise
  double contributor_weight = 0;
};

Release ReleaseOf(const std::vector<std::vector<float>>& updates,
                  const std::vector<double>& weights,
                  const std::vector<bool>& contributed,
                  const core::QuantizationSpec& spec) {
  const size_t d = updates[0].size();
  Release r;
  r.integer_sum.assign(d, 0);
  std::vector<uint32_t> ring(d, 0);
  const uint32_t mask = (uint32_t{1} << spec.ring_bits) - 1;
  int summands = 0;
  for (size_t i = 0; i < updates.size(); ++i) {
    if (!contributed[i]) continue;
    std::vector<float> delta = updates[i];
    core::ClipToL2Norm(delta, spec.clip);
    for (float& v : delta) v = static_cast<float>(v * weights[i]);
    std::mt19937_64 rounding(1000 + i);
    std::vector<uint32_t> q(d);
    core::Quantize(delta, spec, rounding, q);
    for (size_t k = 0; k < d; ++k) {
      r.integer_sum[k] += q[k];
      ring[k] = (ring[k] + q[k]) & mask;
    }
    r.contributor_weight += weights[i];
    ++summands;
  }
  r.mean.assign(d, 0.0f);
  core::DequantizeSum(ring, summands, spec, r.mean);
  for (float& v : r.mean) v = static_cast<float>(v / r.contributor_weight);
  return r;
}

// The worst-case neighbouring pair under replace-one adjacency
// (docs/privacy.md "Unit of privacy"): the heaviest site's clipped update
// +C u in one round and -C u in the other, everything else equal, including
// the contributors: the lightest site dropped out, so the mean is
// renormalised by W = 0.9. The released mean must move by no more than the
// sensitivity the noise on it is calibrated to (its stddev over z).
TEST(RoundPrivacyTest, WorstCaseNeighboursMoveTheReleaseWithinTheSensitivity) {
  const std::vector<double> weights = {0.4, 0.3, 0.2, 0.1};
  const std::vector<bool> contributed = {true, true, true, false};
  const double z = 1.5;
  const int64_t d = 256;
  core::QuantizationSpec spec{1.0, 16, 0};
  spec.ring_bits = *core::RingBitsFor(spec.value_bits, 4);
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> updates(weights.size(),
                                          std::vector<float>(d));
  for (auto& u : updates) {
    for (float& v : u) v = normal(rng);
  }
  // Site 0: +C u with u = (1, ..., 1) / sqrt(d); its neighbour sends -C u.
  for (float& v : updates[0]) v = static_cast<float>(1.0 / std::sqrt(d));
  auto neighbour = updates;
  for (float& v : neighbour[0]) v = -v;
  const Release a = ReleaseOf(updates, weights, contributed, spec);
  const Release b = ReleaseOf(neighbour, weights, contributed, spec);
  ASSERT_DOUBLE_EQ(a.contributor_weight, 0.9);

  double mean_l2 = 0, int_l2 = 0, int_l1 = 0;
  for (int64_t k = 0; k < d; ++k) {
    mean_l2 += std::pow(double(a.mean[k]) - b.mean[k], 2);
    const double diff = double(a.integer_sum[k] - b.integer_sum[k]);
    int_l2 += diff * diff;
    int_l1 += std::abs(diff);
  }
  mean_l2 = std::sqrt(mean_l2);
  int_l2 = std::sqrt(int_l2);
  // The flip moves the weighted sum by 2 C w_max = 0.8, the mean by 0.8 / W.
  EXPECT_NEAR(mean_l2, 0.8 / 0.9, 0.01);

  for (const char* mode : {"central", "distributed"}) {
    SCOPED_TRACE(mode);
    auto db = OpenCoordinatorDb();
    ASSERT_TRUE(db);
    PrivacyConfig config = Central(1.0, 10.0);
    config.mode = mode;
    config.noise_multiplier = z;
    auto privacy = RoundPrivacy::Open(config, **db, nullptr);
    ASSERT_TRUE(privacy) << privacy.error().message;
    auto plan = (*privacy)->PlanRound(1, weights, spec, d, 3);
    ASSERT_TRUE(plan) << plan.error().message;
    if (std::string(mode) == "central") {
      // AddCentralNoise: stddev central_stddev / W on the mean.
      const double calibrated = plan->central_stddev / a.contributor_weight / z;
      EXPECT_LE(mean_l2, calibrated)
          << "the mean moved by " << mean_l2
          << ", its noise is calibrated to a sensitivity of " << calibrated;
    } else {
      // The Skellam charge's sensitivities, in quantized units.
      EXPECT_LE(int_l2, plan->charge.skellam_l2)
          << "the quantized sum moved by " << int_l2 << " in L2, the charge "
          << "assumes " << plan->charge.skellam_l2;
      EXPECT_LE(int_l1, plan->charge.skellam_l1)
          << "the quantized sum moved by " << int_l1 << " in L1, the charge "
          << "assumes " << plan->charge.skellam_l1;
      // The planned noise on the sum is z times that L2 sensitivity.
      EXPECT_NEAR(std::sqrt(plan->charge.skellam_variance),
                  z * plan->charge.skellam_l2,
                  1e-9 * z * plan->charge.skellam_l2);
    }
  }
}

TEST(RoundPrivacyTest, RefusesARoundTheBudgetCannotPayFor) {
  auto db = OpenCoordinatorDb();
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
  auto db = OpenCoordinatorDb();
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
  auto db = OpenCoordinatorDb();
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
