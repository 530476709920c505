#ifndef CLS_CORE_PRIVACY_RDP_ACCOUNTANT_H_
#define CLS_CORE_PRIVACY_RDP_ACCOUNTANT_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"

namespace cls::core::privacy {

// Renyi differential privacy (Mironov 2017) of the mechanisms a federated
// round uses, composed over rounds and converted to (epsilon, delta).
//
// An RDP curve is a vector of epsilons, one per order alpha > 1, for a fixed
// list of orders. Composition adds curves order by order, so any mix of
// rounds (different sampling rates, noise multipliers, mechanisms) is
// accounted for by one accumulated vector. The conversion to (epsilon, delta)
// takes the best order, so the more orders the tighter the bound.

// dp_accounting's default orders: 1.1, 1.2, ..., 11.0, then the integers
// 12..63, then 100 (a published test value), 128, 256, 512, 1024.
std::vector<double> DefaultRdpOrders();

// RDP of one application of the Poisson-subsampled Gaussian mechanism with
// sampling rate q in (0, 1] and noise multiplier z > 0 (noise standard
// deviation / L2 sensitivity), at each order (Mironov, Talwar, Zhang 2019:
// exact binomial sum at integer orders, the two-sided series at fractional
// orders, both in log space). q = 1 is the plain Gaussian: alpha / (2 z^2).
// Orders must be > 1 (or the value is +inf at order 1 where it diverges).
Result<std::vector<double>> SubsampledGaussianRdp(
    double sampling_rate, double noise_multiplier,
    std::span<const double> orders);

// RDP of the Skellam mechanism (Agarwal, Kairouz, Liu 2021, Theorem 3.5):
// integer noise Sk(mu) = Poisson(mu/2) - Poisson(mu/2) of variance mu added to
// an integer vector with L1 / L2 sensitivity l1, l2 (in integer units):
//   eps(alpha) = alpha l2^2 / (2 mu)
//              + min(((2 alpha - 1) l2^2 + 6 l1) / (4 mu^2), 3 l1 / (2 mu)).
// No subsampling amplification is claimed for it (charged as q = 1).
Result<std::vector<double>> SkellamRdp(double l1_sensitivity,
                                       double l2_sensitivity, double variance,
                                       std::span<const double> orders);

struct EpsilonAtOrder {
  double epsilon = 0;
  double order = 0;  // the order that gave the smallest epsilon
};
struct DeltaAtOrder {
  double delta = 0;
  double order = 0;
};

// (epsilon, delta) from an RDP curve with the improved conversion of
// Canonne, Kamath, Steinke 2020 (Proposition 12), as dp_accounting's
// compute_epsilon: eps = r + log1p(-1/a) - log(delta a) / (a - 1), or 0 where
// the KL bound delta <= sqrt(1 - exp(-r)) already gives delta.
// InvalidArgument for delta outside (0, 1), orders < 1, mismatched lengths.
Result<EpsilonAtOrder> EpsilonFromRdp(std::span<const double> orders,
                                      std::span<const double> rdp,
                                      double delta);
// The converse: the smallest delta for a given epsilon >= 0.
Result<DeltaAtOrder> DeltaFromRdp(std::span<const double> orders,
                                  std::span<const double> rdp, double epsilon);

// Accumulates the RDP of a sequence of rounds. Thread-compatible (the
// conversion cache is mutable): one thread at a time.
//
// Fast for long histories: the curve of each distinct (q, z) is computed once
// and cached, T identical rounds cost one multiply per order, and the
// order-dependent part of the conversion is cached per delta, so composing and
// converting a round is a few hundred additions.
class RdpAccountant {
 public:
  explicit RdpAccountant(std::vector<double> orders = DefaultRdpOrders());

  // Adds `steps` rounds of the Poisson-subsampled Gaussian.
  Status ComposeSubsampledGaussian(double sampling_rate,
                                   double noise_multiplier, int64_t steps = 1);
  // Adds `steps` rounds of the Skellam mechanism (see SkellamRdp).
  Status ComposeSkellam(double l1_sensitivity, double l2_sensitivity,
                        double variance, int64_t steps = 1);
  // Adds `steps` copies of an RDP curve over this accountant's orders.
  Status ComposeRdp(std::span<const double> rdp, int64_t steps = 1);

  // The cached curve of one subsampled-Gaussian round at this accountant's
  // orders (what ComposeSubsampledGaussian adds per step).
  Result<std::vector<double>> GaussianCurve(double sampling_rate,
                                            double noise_multiplier);

  Result<EpsilonAtOrder> Epsilon(double delta) const;
  Result<DeltaAtOrder> Delta(double epsilon) const;

  // Replaces the accumulated curve (restoring a persisted ledger).
  Status Restore(std::span<const double> rdp);
  void Reset();

  const std::vector<double>& orders() const { return orders_; }
  const std::vector<double>& rdp() const { return rdp_; }

 private:
  struct CachedCurve {
    double sampling_rate;
    double noise_multiplier;
    std::vector<double> rdp;
  };
  // Order-dependent part of the conversion for one delta.
  struct Conversion {
    double delta = -1;
    double kl_threshold = 0;  // r below this gives epsilon 0 (KL bound)
    std::vector<double> offset;
  };

  std::vector<double> orders_;
  std::vector<double> rdp_;
  std::vector<CachedCurve> cache_;
  mutable Conversion conversion_;
};

}  // namespace cls::core::privacy

#endif  // CLS_CORE_PRIVACY_RDP_ACCOUNTANT_H_
