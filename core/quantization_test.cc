#include "core/quantization.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace cls::core {
namespace {

std::vector<float> RandomVector(std::mt19937_64& rng, size_t n, double clip) {
  std::uniform_real_distribution<float> dist(static_cast<float>(-clip),
                                             static_cast<float>(clip));
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(QuantizationSpecTest, StepIsTwoClipOverLevels) {
  QuantizationSpec spec{.clip = 2.0, .value_bits = 8, .ring_bits = 16};
  EXPECT_DOUBLE_EQ(spec.Step(), 4.0 / 255.0);
}

TEST(RingBitsForTest, AddsCeilLog2OfSummands) {
  EXPECT_EQ(RingBitsFor(16, 1).value(), 16);
  EXPECT_EQ(RingBitsFor(16, 2).value(), 17);
  EXPECT_EQ(RingBitsFor(16, 3).value(), 18);
  EXPECT_EQ(RingBitsFor(16, 4).value(), 18);
  EXPECT_EQ(RingBitsFor(16, 5).value(), 19);
  EXPECT_EQ(RingBitsFor(20, 1000).value(), 30);
  EXPECT_EQ(RingBitsFor(16, 65536).value(), 32);
}

TEST(RingBitsForTest, RejectsMoreThan32BitsAndBadArguments) {
  auto too_big = RingBitsFor(16, 65537);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(RingBitsFor(32, 2).has_value());
  EXPECT_FALSE(RingBitsFor(0, 2).has_value());
  EXPECT_FALSE(RingBitsFor(16, 0).has_value());
}

TEST(ValidateQuantizationSpecTest, AcceptsSaneSpecsAndRejectsBadOnes) {
  EXPECT_TRUE(ValidateQuantizationSpec({}).has_value());
  EXPECT_FALSE(ValidateQuantizationSpec({.clip = 0.0}).has_value());
  EXPECT_FALSE(ValidateQuantizationSpec({.clip = -1.0}).has_value());
  EXPECT_FALSE(ValidateQuantizationSpec({.clip = INFINITY}).has_value());
  EXPECT_FALSE(ValidateQuantizationSpec({.clip = NAN}).has_value());
  EXPECT_FALSE(
      ValidateQuantizationSpec({.value_bits = 0, .ring_bits = 8}).has_value());
  EXPECT_FALSE(ValidateQuantizationSpec({.value_bits = 20, .ring_bits = 16})
                   .has_value());
  EXPECT_FALSE(ValidateQuantizationSpec({.value_bits = 16, .ring_bits = 33})
                   .has_value());
}

TEST(QuantizeTest, ClampsOutOfRangeValuesAndEncodesNanAsZero) {
  QuantizationSpec spec{.clip = 1.0, .value_bits = 8, .ring_bits = 32};
  const uint32_t levels = 255;
  std::mt19937_64 rng(1);
  std::vector<float> in = {-5.0f, -1.0f, 1.0f, 7.5f, INFINITY, -INFINITY};
  std::vector<uint32_t> out(in.size());
  Quantize(in, spec, rng, out);
  EXPECT_EQ(out[0], 0u);
  EXPECT_EQ(out[1], 0u);
  EXPECT_EQ(out[2], levels);
  EXPECT_EQ(out[3], levels);
  EXPECT_EQ(out[4], levels);
  EXPECT_EQ(out[5], 0u);

  // NaN is treated as 0.0: L/2 = 127.5 rounds to 127 or 128.
  std::vector<float> nan_in(1000, NAN);
  std::vector<uint32_t> nan_out(nan_in.size());
  Quantize(nan_in, spec, rng, nan_out);
  for (uint32_t q : nan_out) EXPECT_TRUE(q == 127 || q == 128) << q;
}

TEST(QuantizeTest, OutputsStayWithinValueBits) {
  QuantizationSpec spec{.clip = 0.5, .value_bits = 12, .ring_bits = 20};
  std::mt19937_64 rng(3);
  auto in = RandomVector(rng, 10000, 0.6);  // some beyond the clip
  std::vector<uint32_t> out(in.size());
  Quantize(in, spec, rng, out);
  for (uint32_t q : out) EXPECT_LE(q, (1u << 12) - 1);
}

TEST(QuantizeTest, DequantizedSumIsWithinSummandsStepsOfRealSum) {
  QuantizationSpec spec{.clip = 1.0, .value_bits = 10};
  const int summands = 7;
  spec.ring_bits = RingBitsFor(spec.value_bits, summands).value();
  std::mt19937_64 rng(42);
  const size_t dim = 500;
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<uint32_t> sum(dim, 0);
    std::vector<double> real_sum(dim, 0.0);
    for (int s = 0; s < summands; ++s) {
      auto v = RandomVector(rng, dim, spec.clip);
      std::vector<uint32_t> q(dim);
      Quantize(v, spec, rng, q);
      for (size_t i = 0; i < dim; ++i) {
        sum[i] += q[i];
        real_sum[i] += v[i];
      }
    }
    std::vector<float> decoded(dim);
    DequantizeSum(sum, summands, spec, decoded);
    for (size_t i = 0; i < dim; ++i) {
      EXPECT_LE(std::abs(decoded[i] - real_sum[i]),
                summands * spec.Step() + 1e-5);
    }
  }
}

TEST(QuantizeTest, StochasticRoundingIsUnbiasedOnAverage) {
  // A coarse grid makes any bias visible: step = 2/15.
  QuantizationSpec spec{.clip = 1.0, .value_bits = 4, .ring_bits = 32};
  std::mt19937_64 rng(7);
  const std::vector<float> values = {0.01f, -0.3f, 0.77f, 0.123456f, -0.999f};
  const int trials = 200000;
  for (float x : values) {
    std::vector<float> in(trials, x);
    std::vector<uint32_t> q(trials);
    Quantize(in, spec, rng, q);
    std::vector<float> decoded(trials);
    DequantizeSum(q, 1, spec, decoded);
    double mean_error = 0.0;
    for (float d : decoded) mean_error += d - static_cast<double>(x);
    mean_error /= trials;
    // Per-sample error is at most one step (0.133) with std <= step / 2;
    // the standard error of the mean is <= 1.5e-4.
    EXPECT_NEAR(mean_error, 0.0, 1e-3) << "x = " << x;
  }
}

TEST(QuantizeTest, FractionsFinerThanTheFirstRandomBitsStillRoundUpFairly) {
  // L = 1 and clip = 0.5 make t = x + 0.5 exact: t = 3 * 2^-18, far below
  // the 2^-16 resolution of the first comparison, so it rounds up only
  // through the tie refinement, with probability 3 * 2^-18.
  QuantizationSpec spec{.clip = 0.5, .value_bits = 1, .ring_bits = 32};
  const float x = -0.5f + 0x3p-18f;
  const int trials = 1 << 22;
  std::vector<float> in(trials, x);
  std::vector<uint32_t> q(trials);
  std::mt19937_64 rng(5);
  Quantize(in, spec, rng, q);
  int64_t ups = 0;
  for (uint32_t v : q) ups += v;
  // Expected 48, Poisson standard deviation about 7.
  EXPECT_GT(ups, 20);
  EXPECT_LT(ups, 76);
}

TEST(QuantizeTest, SumOfMaximalVectorsDoesNotWrapAtRingBitsFor) {
  // The worst case: every site sends the maximum value L.
  for (int summands : {1, 2, 3, 5, 16, 100, 255}) {
    QuantizationSpec spec{.clip = 1.0, .value_bits = 24};
    spec.ring_bits = RingBitsFor(spec.value_bits, summands).value();
    const uint64_t modulus = uint64_t{1} << spec.ring_bits;
    std::mt19937_64 rng(static_cast<uint64_t>(summands));
    std::vector<float> in = {1.0f, -1.0f, 0.25f};
    uint64_t exact[3] = {0, 0, 0};
    std::vector<uint32_t> sum(3, 0);
    for (int s = 0; s < summands; ++s) {
      std::vector<uint32_t> q(3);
      Quantize(in, spec, rng, q);
      for (size_t i = 0; i < 3; ++i) {
        exact[i] += q[i];
        sum[i] = static_cast<uint32_t>((sum[i] + uint64_t{q[i]}) % modulus);
      }
    }
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_LT(exact[i], modulus) << "summands " << summands;
      EXPECT_EQ(sum[i], exact[i]);
    }
    std::vector<float> decoded(3);
    DequantizeSum(sum, summands, spec, decoded);
    EXPECT_NEAR(decoded[0], summands * 1.0, 1e-3 * summands);
    EXPECT_NEAR(decoded[1], summands * -1.0, 1e-3 * summands);
    EXPECT_NEAR(decoded[2], summands * 0.25, summands * spec.Step() + 1e-3);
  }
}

TEST(DequantizeSumTest, ReducesAWrappingUint32SumModuloASmallerRing) {
  QuantizationSpec spec{.clip = 1.0, .value_bits = 8, .ring_bits = 10};
  // 2^10 * 5 + 300 wraps to 300 in a 10-bit ring.
  std::vector<uint32_t> sum = {(1u << 10) * 5 + 300};
  std::vector<float> out(1);
  DequantizeSum(sum, 2, spec, out);
  EXPECT_NEAR(out[0], 300 * spec.Step() - 2.0, 1e-5);
}

TEST(ClipToL2NormTest, ScalesDownOnlyVectorsAboveTheBound) {
  std::vector<float> v = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(ClipToL2Norm(v, 1.0), 5.0);
  EXPECT_NEAR(v[0], 0.6f, 1e-6);
  EXPECT_NEAR(v[1], 0.8f, 1e-6);

  std::vector<float> small = {0.3f, -0.4f};
  EXPECT_NEAR(ClipToL2Norm(small, 1.0), 0.5, 1e-7);
  EXPECT_EQ(small[0], 0.3f);
  EXPECT_EQ(small[1], -0.4f);

  std::vector<float> zero(4, 0.0f);
  EXPECT_EQ(ClipToL2Norm(zero, 1.0), 0.0);
}

TEST(ClipToL2NormTest, ResultNeverExceedsTheBound) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    auto v = RandomVector(rng, 1000, 10.0);
    const double bound = 0.001 + trial * 0.37;
    ClipToL2Norm(v, bound);
    double sq = 0.0;
    for (float x : v) sq += static_cast<double>(x) * x;
    EXPECT_LE(std::sqrt(sq), bound);
  }
}

}  // namespace
}  // namespace cls::core
