#include "core/quantization.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <string>

namespace cls::core {
namespace {

// L = 2^value_bits - 1, the largest encoded value of one site.
uint64_t Levels(int value_bits) { return (uint64_t{1} << value_bits) - 1; }

// Reduces a modular sum to the spec's ring (a no-op for a 32-bit ring). A sum
// computed with wrapping uint32 arithmetic is still correct modulo any
// smaller power of two.
uint32_t RingMask(int ring_bits) {
  return ring_bits >= 32
             ? ~uint32_t{0}
             : static_cast<uint32_t>((uint64_t{1} << ring_bits) - 1);
}

}  // namespace

double QuantizationSpec::Step() const {
  return 2.0 * clip / static_cast<double>(Levels(value_bits));
}

Result<int> RingBitsFor(int value_bits, int max_summands) {
  if (value_bits < 1 || value_bits > 32) {
    return InvalidArgument("quantization: value_bits " +
                           std::to_string(value_bits) + " is outside [1, 32]");
  }
  if (max_summands < 1) {
    return InvalidArgument("quantization: max_summands " +
                           std::to_string(max_summands) + " is below 1");
  }
  // ceil(log2(n)) computed exactly on integers.
  int extra = 0;
  while ((uint64_t{1} << extra) < static_cast<uint64_t>(max_summands)) ++extra;
  const int bits = value_bits + extra;
  if (bits > 32) {
    return InvalidArgument("quantization: a sum of " +
                           std::to_string(max_summands) + " values of " +
                           std::to_string(value_bits) + " bits needs " +
                           std::to_string(bits) + " ring bits, more than 32");
  }
  return bits;
}

Status ValidateQuantizationSpec(const QuantizationSpec& spec) {
  if (!(spec.clip > 0.0) || !std::isfinite(spec.clip)) {
    return InvalidArgument("quantization: clip must be positive and finite");
  }
  if (spec.value_bits < 1 || spec.value_bits > spec.ring_bits ||
      spec.ring_bits > 32) {
    return InvalidArgument(
        "quantization: need 1 <= value_bits <= ring_bits <= 32, got "
        "value_bits " +
        std::to_string(spec.value_bits) + ", ring_bits " +
        std::to_string(spec.ring_bits));
  }
  return {};
}

void Quantize(std::span<const float> values, const QuantizationSpec& spec,
              std::mt19937_64& rng, std::span<uint32_t> out) {
  assert(out.size() == values.size());
  assert(ValidateQuantizationSpec(spec).has_value());
  const size_t n = std::min(values.size(), out.size());
  const uint64_t levels = Levels(spec.value_bits);
  const double clip = spec.clip;
  // t = (x + clip) / (2 clip) L, kept in fixed point with 16 fraction bits:
  // tt = t 2^16 < 2^48 (scaling by a power of two is exact in double).
  constexpr int kFractionBits = 16;
  constexpr uint64_t kFractionMask = (uint64_t{1} << kFractionBits) - 1;
  const double scale = static_cast<double>(levels) / (2.0 * clip) * 0x1.0p16;
  const double max_tt = static_cast<double>(levels) * 0x1.0p16;

  // Stochastic rounding of t = k + f to k + 1 with probability exactly f.
  // Each mt19937_64 draw serves four values: a 16-bit uniform u is compared
  // with W = floor(f 2^16): u < W rounds up, u > W down, and only on a tie
  // (probability 2^-16) are 53 more bits drawn for the remainder
  // rest = f 2^16 - W, so P(up) = W / 2^16 + 2^-16 rest = f: no bias.
  auto round_one = [&](float value, uint64_t u) -> uint32_t {
    double x = static_cast<double>(value);
    x = std::isnan(x) ? 0.0 : x;
    x = std::min(std::max(x, -clip), clip);
    const double tt = std::min(std::max((x + clip) * scale, 0.0), max_tt);
    const auto fixed = static_cast<uint64_t>(static_cast<int64_t>(tt));
    const uint64_t k = fixed >> kFractionBits;
    const uint64_t whole = fixed & kFractionMask;
    uint64_t up = u < whole;
    if (u == whole) [[unlikely]] {
      const double rest = tt - static_cast<double>(fixed);  // exact, [0, 1)
      up = static_cast<double>(rng() >> 11) * 0x1.0p-53 < rest;
    }
    return static_cast<uint32_t>(std::min(k + up, levels));
  };

  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint64_t r = rng();
    out[i] = round_one(values[i], r & kFractionMask);
    out[i + 1] = round_one(values[i + 1], (r >> 16) & kFractionMask);
    out[i + 2] = round_one(values[i + 2], (r >> 32) & kFractionMask);
    out[i + 3] = round_one(values[i + 3], r >> 48);
  }
  if (i < n) {
    uint64_t r = rng();
    for (; i < n; ++i, r >>= kFractionBits) {
      out[i] = round_one(values[i], r & kFractionMask);
    }
  }
}

void DequantizeSum(std::span<const uint32_t> sum, int summands,
                   const QuantizationSpec& spec, std::span<float> out) {
  assert(out.size() == sum.size());
  const size_t n = std::min(sum.size(), out.size());
  const uint32_t mask = RingMask(spec.ring_bits);
  const double step = spec.Step();
  const double offset = static_cast<double>(summands) * spec.clip;
  for (size_t i = 0; i < n; ++i) {
    const double q = static_cast<double>(sum[i] & mask);
    out[i] = static_cast<float>(q * step - offset);
  }
}

double ClipToL2Norm(std::span<float> values, double bound) {
  double sq = 0.0;
  for (float v : values) sq += static_cast<double>(v) * v;
  const double norm = std::sqrt(sq);
  if (!(norm > bound)) return norm;  // within bound (or NaN: left as is)
  if (!(bound > 0.0)) {
    std::fill(values.begin(), values.end(), 0.0f);
    return norm;
  }
  double factor = bound / norm;
  // Rounding to float may leave the norm a hair above the bound; shrink by a
  // float ulp until it is not (at most a couple of passes).
  for (int attempt = 0; attempt < 8; ++attempt) {
    double new_sq = 0.0;
    for (float v : values) {
      const double s = static_cast<double>(static_cast<float>(v * factor));
      new_sq += s * s;
    }
    if (std::sqrt(new_sq) <= bound) break;
    factor *= 1.0 - 0x1.0p-23;
  }
  for (float& v : values) v = static_cast<float>(v * factor);
  return norm;
}

}  // namespace cls::core
