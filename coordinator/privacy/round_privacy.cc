#include "coordinator/privacy/round_privacy.h"

#include <algorithm>
#include <cmath>

#include "core/privacy/calibration.h"

namespace cls::coordinator {

Result<std::unique_ptr<RoundPrivacy>> RoundPrivacy::Open(
    const PrivacyConfig& config, SqliteDb& db, PrivacyLedger::AuditSink audit) {
  if (!config.enabled()) {
    return InvalidArgument("privacy: mode is off");
  }
  std::unique_ptr<RoundPrivacy> privacy(new RoundPrivacy());
  privacy->mode_ =
      config.mode == "distributed" ? DpMode::kDistributed : DpMode::kCentral;
  if (config.noise_multiplier > 0) {
    privacy->noise_multiplier_ = config.noise_multiplier;
  } else {
    // privacy_epsilon is the per-round target: one round, every approved
    // site taking part (no sampling amplification is claimed).
    auto z = core::privacy::CalibrateNoiseMultiplier(config.privacy_epsilon,
                                                     config.delta, 1.0, 1);
    if (!z) {
      return InvalidArgument("privacy: calibrating privacy_epsilon " +
                             std::to_string(config.privacy_epsilon) + ": " +
                             z.error().message);
    }
    privacy->noise_multiplier_ = *z;
  }
  auto ledger = PrivacyLedger::Open(
      db, PrivacyBudget{config.budget_epsilon, config.delta}, std::move(audit));
  if (!ledger) return std::unexpected(ledger.error());
  privacy->ledger_ = std::move(*ledger);
  privacy->rng_.emplace(core::privacy::NoiseRng::FromSystemEntropy());
  return privacy;
}

Result<RoundPrivacy::Plan> RoundPrivacy::PlanRound(
    int64_t round_id, std::span<const double> weights,
    const core::QuantizationSpec& spec, int64_t dimension,
    int min_contributors) const {
  if (weights.empty()) return InvalidArgument("privacy: no participants");
  Plan plan;
  plan.clip = spec.clip;
  plan.max_weight = *std::max_element(weights.begin(), weights.end());
  PrivacyCharge& c = plan.charge;
  c.round_id = round_id;
  c.mode = mode_;
  c.noise_multiplier = noise_multiplier_;
  c.sampling_rate = 1.0;
  c.sites_planned = static_cast<int>(weights.size());
  c.sites_contributed =
      std::clamp(min_contributors, 1, static_cast<int>(weights.size()));
  // Replace-one adjacency: 2 C w_max, plus the stochastic rounding of the
  // quantized inputs the sum is made of (core/privacy/noise.h).
  auto sensitivity = core::privacy::QuantizedSensitivity(
      core::privacy::SiteL2Sensitivity(spec.clip, plan.max_weight), spec.Step(),
      dimension);
  if (!sensitivity) return std::unexpected(sensitivity.error());
  plan.l2_sensitivity = sensitivity->l2 * spec.Step();
  if (mode_ == DpMode::kCentral) {
    c.mechanism = DpMechanism::kGaussian;
    auto stddev = core::privacy::CentralNoiseStddev(
        noise_multiplier_, spec.clip, plan.max_weight, spec.Step(), dimension);
    if (!stddev) return std::unexpected(stddev.error());
    plan.central_stddev = *stddev;
    plan.ring_bits = spec.ring_bits;
    return plan;
  }
  auto noise = core::privacy::PlanDistributedNoise(
      noise_multiplier_,
      core::privacy::SiteL2Sensitivity(spec.clip, plan.max_weight), spec.Step(),
      dimension, c.sites_planned);
  if (!noise) return std::unexpected(noise.error());
  c.mechanism = DpMechanism::kSkellam;
  c.skellam_l1 = noise->sensitivity.l1;
  c.skellam_l2 = noise->sensitivity.l2;
  c.skellam_variance = noise->total_variance;
  plan.per_site_variance = noise->per_site_variance;
  auto ring = RingBitsForNoisedSum(spec.value_bits, c.sites_planned,
                                   noise->total_variance);
  if (!ring) return std::unexpected(ring.error());
  plan.ring_bits = *ring;
  return plan;
}

Status RoundPrivacy::Check(const Plan& plan) {
  auto eps = ledger_->Check(plan.charge);
  if (!eps) return std::unexpected(eps.error());
  return {};
}

Status RoundPrivacy::AddCentralNoise(const Plan& plan,
                                     std::span<float> mean_delta,
                                     double contributor_weight) {
  if (!(contributor_weight > 0)) {
    return InvalidArgument("privacy: no contributor weight to noise");
  }
  return core::privacy::AddGaussianNoise(
      mean_delta, plan.central_stddev / contributor_weight, *rng_);
}

Result<PrivacyLedgerEntry> RoundPrivacy::Charge(const Plan& plan,
                                                int contributed) {
  PrivacyCharge actual = plan.charge;
  actual.sites_contributed = contributed;
  return ledger_->Charge(actual);
}

Result<int> RingBitsForNoisedSum(int value_bits, int summands,
                                 double total_variance) {
  if (value_bits < 1 || value_bits > 32 || summands < 1 ||
      !(total_variance >= 0) || !std::isfinite(total_variance)) {
    return InvalidArgument("privacy: bad ring parameters");
  }
  const double levels = std::ldexp(1.0, value_bits) - 1;
  const double span = summands * levels + 16 * std::sqrt(total_variance) + 1;
  int bits = 1;
  while (bits <= 32 && std::ldexp(1.0, bits) <= span) ++bits;
  if (bits > 32) {
    return InvalidArgument(
        "privacy: the noised sum needs more than 32 ring bits; lower "
        "round.value_bits or the noise");
  }
  return bits;
}

Status DecodeNoisedMean(std::span<const uint32_t> ring_sum, int summands,
                        const core::QuantizationSpec& spec,
                        double contributor_weight, std::span<float> out) {
  if (out.size() != ring_sum.size() || summands < 1 ||
      !(contributor_weight > 0) || spec.ring_bits < 2 || spec.ring_bits > 32) {
    return InvalidArgument("privacy: bad noised sum to decode");
  }
  const int64_t modulus = int64_t{1} << spec.ring_bits;
  const int64_t levels = (int64_t{1} << spec.value_bits) - 1;
  const int64_t middle = summands * levels / 2;
  const double step = spec.Step();
  const double offset = summands * spec.clip;
  for (size_t i = 0; i < ring_sum.size(); ++i) {
    const int64_t r = static_cast<int64_t>(ring_sum[i]) & (modulus - 1);
    int64_t diff = ((r - middle) % modulus + modulus) % modulus;
    if (diff >= modulus / 2) diff -= modulus;
    const double q = static_cast<double>(middle + diff);
    out[i] = static_cast<float>((q * step - offset) / contributor_weight);
  }
  return {};
}

}  // namespace cls::coordinator
