#include "core/privacy/noise.h"

#include <openssl/evp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "crypto/random.h"

namespace cls::core::privacy {
namespace {

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// A failing cipher would silently yield predictable noise: stop instead.
[[noreturn]] void Die(const char* message) {
  std::fprintf(stderr, "cls::privacy: noise: %s, aborting\n", message);
  std::abort();
}

}  // namespace

struct NoiseRng::Cipher {
  EVP_CIPHER_CTX* ctx = nullptr;
  ~Cipher() { EVP_CIPHER_CTX_free(ctx); }
};

NoiseRng::NoiseRng(const Key32& seed) : cipher_(std::make_unique<Cipher>()) {
  cipher_->ctx = EVP_CIPHER_CTX_new();
  const uint8_t iv[16] = {};
  if (cipher_->ctx == nullptr ||
      EVP_EncryptInit_ex(cipher_->ctx, EVP_aes_256_ctr(), nullptr, seed.data(),
                         iv) != 1) {
    Die("AES-256-CTR initialisation failed");
  }
}

NoiseRng NoiseRng::FromSystemEntropy() {
  return NoiseRng(crypto::RandomKey32());
}

NoiseRng::NoiseRng(NoiseRng&&) noexcept = default;
NoiseRng& NoiseRng::operator=(NoiseRng&&) noexcept = default;
NoiseRng::~NoiseRng() = default;

void NoiseRng::Refill() {
  // CTR encryption of zeros is the keystream; the context keeps the counter.
  static constexpr uint8_t kZeros[sizeof(buffer_)] = {};
  int len = 0;
  if (EVP_EncryptUpdate(cipher_->ctx,
                        reinterpret_cast<uint8_t*>(buffer_.data()), &len,
                        kZeros, sizeof(kZeros)) != 1 ||
      len != static_cast<int>(sizeof(kZeros))) {
    Die("AES-256-CTR keystream failed");
  }
  next_ = 0;
}

NoiseRng::result_type NoiseRng::operator()() {
  if (next_ == buffer_.size()) Refill();
  return buffer_[next_++];
}

Status AddGaussianNoise(std::span<float> values, double stddev, NoiseRng& rng) {
  if (!(stddev >= 0.0) || !std::isfinite(stddev)) {
    return InvalidArgument(
        "Gaussian noise stddev must be >= 0 and finite, "
        "got " +
        Num(stddev));
  }
  if (stddev == 0.0) return {};
  std::normal_distribution<double> normal(0.0, stddev);
  for (float& v : values) v = static_cast<float>(v + normal(rng));
  return {};
}

double SiteL2Sensitivity(double clip, double max_weight) {
  return 2.0 * clip * max_weight;
}

Result<double> CentralNoiseStddev(double z, double clip, double max_weight,
                                  double step, int64_t dimension) {
  if (!(z >= 0.0) || !std::isfinite(z)) {
    return InvalidArgument("noise multiplier must be >= 0, got " + Num(z));
  }
  auto sens = QuantizedSensitivity(SiteL2Sensitivity(clip, max_weight), step,
                                   dimension);
  if (!sens) return std::unexpected(sens.error());
  return z * sens->l2 * step;
}

int64_t SampleSkellam(double variance, NoiseRng& rng) {
  if (!(variance > 0.0)) return 0;
  std::poisson_distribution<int64_t> poisson(variance / 2.0);
  const int64_t a = poisson(rng);
  const int64_t b = poisson(rng);
  return a - b;
}

Status AddSkellamNoise(std::span<uint32_t> values, double variance,
                       int ring_bits, NoiseRng& rng) {
  if (ring_bits < 1 || ring_bits > 32) {
    return InvalidArgument("Skellam noise: ring_bits " +
                           std::to_string(ring_bits) + " is outside 1..32");
  }
  if (!(variance >= 0.0) || !std::isfinite(variance)) {
    return InvalidArgument(
        "Skellam noise: variance must be >= 0 and finite, "
        "got " +
        Num(variance));
  }
  if (variance == 0.0) return {};
  const uint32_t mask =
      ring_bits == 32 ? ~uint32_t{0}
                      : static_cast<uint32_t>((uint64_t{1} << ring_bits) - 1);
  std::poisson_distribution<int64_t> poisson(variance / 2.0);
  for (uint32_t& v : values) {
    const int64_t noise = poisson(rng) - poisson(rng);
    // Two's-complement wrap is addition modulo 2^32, then reduce to the ring.
    v = (v + static_cast<uint32_t>(static_cast<uint64_t>(noise))) & mask;
  }
  return {};
}

Result<IntegerSensitivity> QuantizedSensitivity(double l2_sensitivity,
                                                double step,
                                                int64_t dimension) {
  if (!(l2_sensitivity > 0.0) || !std::isfinite(l2_sensitivity)) {
    return InvalidArgument("L2 sensitivity must be positive, got " +
                           Num(l2_sensitivity));
  }
  if (!(step > 0.0) || !std::isfinite(step)) {
    return InvalidArgument("quantization step must be positive, got " +
                           Num(step));
  }
  if (dimension < 1) {
    return InvalidArgument("dimension must be at least 1, got " +
                           std::to_string(dimension));
  }
  const double root_d = std::sqrt(static_cast<double>(dimension));
  IntegerSensitivity s;
  s.l2 = l2_sensitivity / step + root_d;
  s.l1 = root_d * s.l2;
  return s;
}

Result<DistributedNoisePlan> PlanDistributedNoise(double z,
                                                  double l2_sensitivity,
                                                  double step,
                                                  int64_t dimension,
                                                  int planned_sites) {
  if (!(z > 0.0) || !std::isfinite(z)) {
    return InvalidArgument("noise multiplier must be positive, got " + Num(z));
  }
  if (planned_sites < 1) {
    return InvalidArgument("planned sites must be at least 1, got " +
                           std::to_string(planned_sites));
  }
  auto sens = QuantizedSensitivity(l2_sensitivity, step, dimension);
  if (!sens) return std::unexpected(sens.error());
  DistributedNoisePlan plan;
  plan.noise_multiplier = z;
  plan.planned_sites = planned_sites;
  plan.sensitivity = *sens;
  const double sd = z * sens->l2;
  plan.total_variance = sd * sd;
  plan.per_site_variance = plan.total_variance / planned_sites;
  plan.real_stddev = sd * step;
  return plan;
}

Result<double> EffectiveNoiseMultiplier(double z, int planned,
                                        int contributed) {
  if (!(z > 0.0) || !std::isfinite(z)) {
    return InvalidArgument("noise multiplier must be positive, got " + Num(z));
  }
  if (planned < 1 || contributed < 1 || contributed > planned) {
    return InvalidArgument("contributing sites must be in 1.." +
                           std::to_string(planned) + ", got " +
                           std::to_string(contributed));
  }
  return z * std::sqrt(static_cast<double>(contributed) / planned);
}

}  // namespace cls::core::privacy
