#ifndef CLS_CORE_QUANTIZATION_H_
#define CLS_CORE_QUANTIZATION_H_

#include <cstdint>
#include <random>
#include <span>

#include "common/error.h"

namespace cls::core {

// Fixed-point encoding of a clipped real vector into Z_(2^ring_bits) for
// secure aggregation. A value x in [-clip, clip] maps to
//   q = stochastic_round((x + clip) / (2 clip) * L),  L = 2^value_bits - 1,
// so q is in [0, L] and E[q] is exact (unbiased). A sum of n such vectors is
// at most n L, so it cannot wrap when ring_bits >= value_bits + ceil(log2 n).
struct QuantizationSpec {
  double clip = 1.0;    // per-coordinate range bound (the L2 clip bound C)
  int value_bits = 16;  // resolution of one site's value
  int ring_bits = 32;   // modulus of the masked arithmetic, <= 32

  double Step() const;  // 2 clip / L: the quantization step
};

// The smallest ring that holds a sum of `max_summands` values without wrap.
// InvalidArgument if it would exceed 32 bits.
Result<int> RingBitsFor(int value_bits, int max_summands);

// Validates spec: clip > 0 and finite, 1 <= value_bits <= ring_bits <= 32.
Status ValidateQuantizationSpec(const QuantizationSpec& spec);

// Values outside [-clip, clip] are clamped first (clipping to L2 norm C
// bounds every coordinate by C, so this only guards against rounding).
// NaN input is a bug upstream and is encoded as 0.0.
void Quantize(std::span<const float> values, const QuantizationSpec& spec,
              std::mt19937_64& rng, std::span<uint32_t> out);

// Decodes the modular sum of `summands` quantized vectors into the real sum.
void DequantizeSum(std::span<const uint32_t> sum, int summands,
                   const QuantizationSpec& spec, std::span<float> out);

// Scales `values` so their L2 norm is at most `bound`; returns the norm before.
double ClipToL2Norm(std::span<float> values, double bound);

}  // namespace cls::core

#endif  // CLS_CORE_QUANTIZATION_H_
