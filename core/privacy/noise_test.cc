#include "core/privacy/noise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace cls::core::privacy {
namespace {

Key32 Seed(uint8_t b) {
  Key32 k;
  k.fill(b);
  return k;
}

struct Moments {
  double mean = 0;
  double variance = 0;
};
template <typename T>
Moments MomentsOf(const std::vector<T>& xs) {
  Moments m;
  for (T x : xs) m.mean += static_cast<double>(x);
  m.mean /= xs.size();
  for (T x : xs) {
    const double d = static_cast<double>(x) - m.mean;
    m.variance += d * d;
  }
  m.variance /= xs.size() - 1;
  return m;
}

TEST(NoiseRngTest, IsTheAes256CtrKeystreamOfTheSeed) {
  // FIPS-197 style known answer: AES-256 of the zero block under the zero
  // key is dc95c078a2408989ad48a21492842087, the first keystream block.
  NoiseRng rng(Seed(0));
  const uint64_t w0 = rng(), w1 = rng();
  uint8_t bytes[16];
  std::memcpy(bytes, &w0, 8);
  std::memcpy(bytes + 8, &w1, 8);
  const uint8_t expected[16] = {0xdc, 0x95, 0xc0, 0x78, 0xa2, 0x40, 0x89, 0x89,
                                0xad, 0x48, 0xa2, 0x14, 0x92, 0x84, 0x20, 0x87};
  EXPECT_EQ(std::memcmp(bytes, expected, 16), 0);
}

TEST(NoiseRngTest, SameSeedSameStreamDifferentSeedDifferentStream) {
  NoiseRng a(Seed(7)), b(Seed(7)), c(Seed(8));
  bool differs = false;
  for (int i = 0; i < 2000; ++i) {  // crosses a buffer refill
    const uint64_t x = a();
    EXPECT_EQ(x, b());
    differs |= x != c();
  }
  EXPECT_TRUE(differs);
  NoiseRng s1 = NoiseRng::FromSystemEntropy();
  NoiseRng s2 = NoiseRng::FromSystemEntropy();
  EXPECT_NE(s1(), s2());
}

TEST(NoiseTest, GaussianNoiseHasZeroMeanAndTheRequestedVariance) {
  NoiseRng rng(Seed(1));
  std::vector<float> values(200000, 5.0f);
  ASSERT_TRUE(AddGaussianNoise(values, 3.0, rng));
  std::vector<double> noise;
  for (float v : values) noise.push_back(v - 5.0);
  const Moments m = MomentsOf(noise);
  // Standard error of the mean: 3 / sqrt(2e5) = 0.0067; of the variance:
  // 9 sqrt(2 / 2e5) = 0.028.
  EXPECT_NEAR(m.mean, 0.0, 0.03);
  EXPECT_NEAR(m.variance, 9.0, 0.15);
}

TEST(NoiseTest, GaussianNoiseRefusesNegativeStddev) {
  NoiseRng rng(Seed(1));
  std::vector<float> values(3, 1.0f);
  auto s = AddGaussianNoise(values, -1.0, rng);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(AddGaussianNoise(values, INFINITY, rng));
  EXPECT_EQ(values[0], 1.0f);
}

TEST(NoiseTest, CentralNoiseIsCalibratedToReplacingOneSitesUpdate) {
  // +C u to -C u at weight w moves the sum by 2 C w: 2 * 2 * 3 = 12.
  EXPECT_EQ(SiteL2Sensitivity(2.0, 3.0), 12.0);
  // Plus the rounding of 16 coordinates at step 0.5: 0.5 * sqrt(16) = 2.
  auto stddev = CentralNoiseStddev(1.5, 2.0, 3.0, 0.5, 16);
  ASSERT_TRUE(stddev) << stddev.error().message;
  EXPECT_DOUBLE_EQ(*stddev, 1.5 * (12.0 + 2.0));
  auto bad = CentralNoiseStddev(1.5, 2.0, 3.0, 0.0, 16);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "quantization step must be positive, got 0");
}

TEST(NoiseTest, SkellamSamplesHaveZeroMeanAndTheRequestedVariance) {
  NoiseRng rng(Seed(2));
  for (double variance : {3.0, 50.0, 1e6}) {
    std::vector<int64_t> xs(100000);
    for (auto& x : xs) x = SampleSkellam(variance, rng);
    const Moments m = MomentsOf(xs);
    EXPECT_NEAR(m.mean, 0.0, 5 * std::sqrt(variance / xs.size()));
    EXPECT_NEAR(m.variance / variance, 1.0, 0.03) << "variance " << variance;
  }
  EXPECT_EQ(SampleSkellam(0.0, rng), 0);
}

TEST(NoiseTest, SitesSharesSumToTheFullSkellamVariance) {
  // n sites each add Skellam(mu / n): the sum is Skellam(mu).
  NoiseRng rng(Seed(3));
  const int sites = 10;
  const double mu = 400;
  std::vector<int64_t> sums(50000);
  for (auto& s : sums) {
    for (int i = 0; i < sites; ++i) s += SampleSkellam(mu / sites, rng);
  }
  const Moments m = MomentsOf(sums);
  EXPECT_NEAR(m.mean, 0.0, 5 * std::sqrt(mu / sums.size()));
  EXPECT_NEAR(m.variance / mu, 1.0, 0.03);
}

TEST(NoiseTest, SkellamNoiseWrapsInTheRingAndDecodesCentred) {
  NoiseRng rng(Seed(4));
  const int ring_bits = 20;
  std::vector<uint32_t> values(100000, 0);  // noise around 0 must wrap
  ASSERT_TRUE(AddSkellamNoise(values, 100.0, ring_bits, rng));
  std::vector<int64_t> centred;
  for (uint32_t v : values) {
    ASSERT_LT(v, 1u << ring_bits);
    centred.push_back(v >= (1u << (ring_bits - 1))
                          ? static_cast<int64_t>(v) - (int64_t{1} << ring_bits)
                          : v);
  }
  const Moments m = MomentsOf(centred);
  EXPECT_NEAR(m.mean, 0.0, 0.2);
  EXPECT_NEAR(m.variance / 100.0, 1.0, 0.03);
  EXPECT_FALSE(AddSkellamNoise(values, 1.0, 33, rng));
  EXPECT_FALSE(AddSkellamNoise(values, -1.0, 16, rng));
}

TEST(NoiseTest, QuantizedSensitivityAccountsForRounding) {
  // A real sensitivity of 2, step = 2 / 65535 -> 65535 integer units, plus
  // sqrt(100).
  auto s = QuantizedSensitivity(2.0, 2.0 / 65535, 100);
  ASSERT_TRUE(s);
  EXPECT_NEAR(s->l2, 65535 + 10, 1e-6);
  EXPECT_NEAR(s->l1, 10 * s->l2, 1e-6);
  EXPECT_FALSE(QuantizedSensitivity(0.0, 1.0, 1));
  EXPECT_FALSE(QuantizedSensitivity(1.0, 0.0, 1));
  EXPECT_FALSE(QuantizedSensitivity(1.0, 1.0, 0));
}

TEST(NoiseTest, DistributedPlanSplitsTheVarianceEvenly) {
  auto plan = PlanDistributedNoise(1.2, 1.0, 1.0 / 1024, 16, 8);
  ASSERT_TRUE(plan) << plan.error().ToString();
  const double l2 = 1024 + 4;
  EXPECT_NEAR(plan->sensitivity.l2, l2, 1e-9);
  EXPECT_NEAR(plan->total_variance, 1.44 * l2 * l2, 1e-6);
  EXPECT_NEAR(plan->per_site_variance * 8, plan->total_variance, 1e-6);
  EXPECT_NEAR(plan->real_stddev, 1.2 * l2 / 1024, 1e-12);
  EXPECT_FALSE(PlanDistributedNoise(0.0, 1.0, 0.1, 16, 8));
  EXPECT_FALSE(PlanDistributedNoise(1.0, 1.0, 0.1, 16, 0));
}

TEST(NoiseTest, DropoutsLowerTheEffectiveNoiseMultiplier) {
  auto all = EffectiveNoiseMultiplier(2.0, 10, 10);
  auto some = EffectiveNoiseMultiplier(2.0, 10, 4);
  ASSERT_TRUE(all && some);
  EXPECT_DOUBLE_EQ(*all, 2.0);
  EXPECT_NEAR(*some, 2.0 * std::sqrt(0.4), 1e-12);
  // Empirically: 4 of 10 shares carry 4/10 of the variance.
  NoiseRng rng(Seed(5));
  const double mu = 1000;
  std::vector<int64_t> sums(40000);
  for (auto& s : sums) {
    for (int i = 0; i < 4; ++i) s += SampleSkellam(mu / 10, rng);
  }
  const double z_measured =
      2.0 * std::sqrt(MomentsOf(sums).variance / mu);  // z scales with sd
  EXPECT_NEAR(z_measured, *some, 0.03);
  auto bad = EffectiveNoiseMultiplier(2.0, 10, 11);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "contributing sites must be in 1..10, got 11");
  EXPECT_FALSE(EffectiveNoiseMultiplier(2.0, 10, 0));
  EXPECT_FALSE(EffectiveNoiseMultiplier(0.0, 10, 5));
}

}  // namespace
}  // namespace cls::core::privacy
