#ifndef CLS_COORDINATOR_PRIVACY_ROUND_PRIVACY_H_
#define CLS_COORDINATOR_PRIVACY_ROUND_PRIVACY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/error.h"
#include "common/sqlite_db.h"
#include "coordinator/config.h"
#include "coordinator/privacy/privacy_ledger.h"
#include "core/privacy/noise.h"
#include "core/quantization.h"

namespace cls::coordinator {

// Site-level differential privacy of the coordinator's training rounds
// ([privacy] in the config, docs/privacy.md "In the daemons"): calibrates
// the noise multiplier once, plans each round's noise, refuses a round the
// budget cannot pay for, adds the central noise or decodes the sites'
// distributed noise, and charges the ledger before anything is released.
//
// Unit of privacy: one site's whole contribution to a round; adjacency:
// that site's update replaced by any other, with the participants, their
// public weights w_i (summing to 1) and the contributors the same
// (core/privacy/noise.h SiteL2Sensitivity). Each site sends
// w_i clip_C(delta_i), stochastically quantized, so the unmasked sum has L2
// sensitivity 2 C w_max + step sqrt(d); the noise is calibrated to that,
// never to C alone, and the mean's W renormalisation is post-processing.
//
// Single-threaded (the coordinator's io thread). Borrows the database.
class RoundPrivacy {
 public:
  // Opens the ledger (a new database starts its first period with
  // budget_epsilon at delta) and calibrates z from privacy_epsilon per round
  // with all sites taking part (q = 1), unless noise_multiplier overrides it.
  static Result<std::unique_ptr<RoundPrivacy>> Open(
      const PrivacyConfig& config, SqliteDb& db,
      PrivacyLedger::AuditSink audit);

  // One round's noise, decided before it starts.
  struct Plan {
    PrivacyCharge charge;  // what Check() tests; Charge() fixes contributors
    double clip = 0;
    double max_weight = 0;
    // The weighted sum's L2 sensitivity to one site, real units:
    // 2 C w_max + step sqrt(d). The noise is z times this.
    double l2_sensitivity = 0;
    double central_stddev = 0;  // central: on the weighted sum, real units
    // Distributed: each site's Skellam variance in quantized units, and the
    // ring bits the noised sum needs.
    double per_site_variance = 0;
    int ring_bits = 0;
  };
  // `weights` are the participants' public weights (sum 1), `spec` the
  // round's quantization (ring_bits as for the noise-free sum),
  // `min_contributors` the fewest sites the round may complete with.
  Result<Plan> PlanRound(int64_t round_id, std::span<const double> weights,
                         const core::QuantizationSpec& spec, int64_t dimension,
                         int min_contributors) const;

  // kResourceExhausted with the ledger's message (and its audit entry
  // privacy_round_refused) when the round would exceed the budget.
  Status Check(const Plan& plan);

  // Central mode: mean = sum / contributor_weight, so the noise
  // N(0, central_stddev^2) on the sum is central_stddev / contributor_weight
  // on the mean.
  Status AddCentralNoise(const Plan& plan, std::span<float> mean_delta,
                         double contributor_weight);

  // Durable charge for the sites whose input (and noise share) is in the
  // sum; must succeed before the aggregate is released.
  Result<PrivacyLedgerEntry> Charge(const Plan& plan, int contributed);

  bool distributed() const { return mode_ == DpMode::kDistributed; }
  double noise_multiplier() const { return noise_multiplier_; }
  PrivacyLedger& ledger() { return *ledger_; }

 private:
  RoundPrivacy() = default;

  DpMode mode_ = DpMode::kCentral;
  double noise_multiplier_ = 0;
  std::unique_ptr<PrivacyLedger> ledger_;
  std::optional<core::privacy::NoiseRng> rng_;
};

// The mean delta of a distributed-DP round: the unmasked ring sum of
// `summands` quantized inputs plus Skellam noise, read as a residue centred
// on the noise-free sum's midpoint (the noise may take it below 0 or above
// summands L, which wraps), dequantized and divided by the contributors'
// weight. InvalidArgument when the ring is too small for the sum.
Status DecodeNoisedMean(std::span<const uint32_t> ring_sum, int summands,
                        const core::QuantizationSpec& spec,
                        double contributor_weight, std::span<float> out);

// The ring a noised sum needs: the noise-free sum of `summands` values plus
// 8 standard deviations of noise either side (total variance in quantized
// units). InvalidArgument when more than 32 bits.
Result<int> RingBitsForNoisedSum(int value_bits, int summands,
                                 double total_variance);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_PRIVACY_ROUND_PRIVACY_H_
