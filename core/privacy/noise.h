#ifndef CLS_CORE_PRIVACY_NOISE_H_
#define CLS_CORE_PRIVACY_NOISE_H_

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>

#include "common/bytes.h"
#include "common/error.h"

namespace cls::core::privacy {

// The random source of every DP noise sample: the AES-256-CTR keystream of a
// 32-byte seed, read as 64-bit words (a UniformRandomBitGenerator).
//
// Why not std::mt19937_64: its whole state can be recovered from 312 outputs,
// and DP noise is only as private as it is unpredictable; an adversary who
// could predict the noise would subtract it. Production seeds come from the
// system CSPRNG (FromSystemEntropy, crypto/random.h); a fixed seed is for
// tests only, and reproduces the same stream on every machine.
// Move-only; one thread at a time.
class NoiseRng {
 public:
  using result_type = uint64_t;

  explicit NoiseRng(const Key32& seed);
  static NoiseRng FromSystemEntropy();
  NoiseRng(NoiseRng&&) noexcept;
  NoiseRng& operator=(NoiseRng&&) noexcept;
  ~NoiseRng();

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() {
    return std::numeric_limits<result_type>::max();
  }
  result_type operator()();

 private:
  void Refill();
  struct Cipher;
  std::unique_ptr<Cipher> cipher_;
  std::array<uint64_t, 512> buffer_{};
  size_t next_ = buffer_.size();
};

// ---------------------------------------------------------------- adjacency
// Unit of privacy and adjacency (docs/privacy.md "Unit of privacy"): two
// rounds are neighbours when one site's update differs (any two updates;
// each is clipped to L2 norm C) and everything public is the same: the
// participants, their weights w_i (sum 1), which of them contributed, the
// model and the quantization. Participation, weights (sample counts, trust)
// and dropouts are not protected: the coordinator and the audit log see
// them.
//
// Each site sends w_i clip_C(delta_i), so replacing one site's update moves
// the weighted sum by at most 2 C w_max in L2: from +C u to -C u is the worst
// case. (C w_max would be the distance to a site sending nothing; that
// "zero-out" bound halves the noise and protects only against telling an
// update from zero.) Dividing by the contributors' public weight W is post-
// processing: the noise on the mean is the sum's over W.
double SiteL2Sensitivity(double clip, double max_weight);

// ---------------------------------------------------------------- central
// Central mode: the coordinator adds N(0, stddev^2) to every coordinate of
// the unmasked (real-valued) sum, see CentralNoiseStddev. InvalidArgument
// for stddev < 0 or not finite.
//
// Floating-point Gaussian samples leak in their low-order bits (Mironov
// 2012); the sum is released as float32 after the model update, which
// rounds those bits away in practice. Distributed mode, integer throughout,
// does not have the issue.
Status AddGaussianNoise(std::span<float> values, double stddev, NoiseRng& rng);

// The stddev of the central noise on the weighted sum: z times the sum's
// sensitivity. The coordinator noises the dequantized sum of the sites'
// stochastically rounded inputs, so the sensitivity is that of the
// quantized sum in real units: step * QuantizedSensitivity(2 C w_max).l2 =
// 2 C w_max + step sqrt(d) (step = QuantizationSpec::Step()).
Result<double> CentralNoiseStddev(double noise_multiplier, double clip,
                                  double max_weight, double step,
                                  int64_t dimension);

// ---------------------------------------------------------------- distributed
// Distributed mode (Agarwal, Kairouz, Liu 2021): each of n sites adds
// Skellam noise of variance mu / n to its quantized integer vector before
// masking. Sums of independent Poissons are Poisson, so the sum of the n
// shares is exactly Skellam(mu): the coordinator only ever unmasks a sum that
// already carries the full noise.

// One Skellam(variance) sample: Poisson(variance / 2) - Poisson(variance / 2),
// mean 0, variance `variance` (0 gives 0).
int64_t SampleSkellam(double variance, NoiseRng& rng);

// Adds independent Skellam(variance) noise to each quantized value modulo
// 2^ring_bits (negative noise wraps, as masks do; the decoder reads the
// noised sum as a centred residue). InvalidArgument for ring_bits outside
// 1..32 or a negative/non-finite variance.
Status AddSkellamNoise(std::span<uint32_t> values, double variance,
                       int ring_bits, NoiseRng& rng);

// The integer-domain sensitivity of the quantized sum. The sites' values
// are scaled by 1/step (step = 2 clip / (2^bits - 1), QuantizationSpec::Step)
// and rounded stochastically: q = floor(v + u), u uniform in [0, 1) per
// coordinate, independent of the data. For a fixed u, two inputs v, v' give
// |q - q'| < |v - v'| + 1 in each coordinate, and a mixture over the same u
// is as private as its worst component, so a real sum of L2 sensitivity S
// (SiteL2Sensitivity, 2 C w_max) becomes an integer sum of
//   L2 <= S / step + sqrt(d),   L1 <= sqrt(d) L2.
struct IntegerSensitivity {
  double l1 = 0;
  double l2 = 0;
};
Result<IntegerSensitivity> QuantizedSensitivity(double l2_sensitivity,
                                                double step, int64_t dimension);

// What each site adds and what the accountant charges in distributed mode.
struct DistributedNoisePlan {
  double noise_multiplier = 0;  // planned z, in units of the integer L2
  int planned_sites = 0;        // n
  IntegerSensitivity sensitivity;
  double total_variance = 0;     // (z * L2)^2, integer units^2
  double per_site_variance = 0;  // total_variance / n
  double real_stddev = 0;        // sqrt(total_variance) * step, real units
};
// z > 0, l2_sensitivity = SiteL2Sensitivity(C, w_max) > 0 (real units),
// step > 0, dimension >= 1, sites >= 1.
Result<DistributedNoisePlan> PlanDistributedNoise(double noise_multiplier,
                                                  double l2_sensitivity,
                                                  double step,
                                                  int64_t dimension,
                                                  int planned_sites);

// The noise multiplier actually achieved when only `contributed` of the
// `planned` sites added their share: the variance is contributed / planned
// of the plan, so z_eff = z sqrt(contributed / planned). The accountant must
// charge z_eff, never z. InvalidArgument unless 1 <= contributed <= planned.
Result<double> EffectiveNoiseMultiplier(double noise_multiplier, int planned,
                                        int contributed);

}  // namespace cls::core::privacy

#endif  // CLS_CORE_PRIVACY_NOISE_H_
