#include "core/privacy/calibration.h"

#include <cmath>
#include <string>

namespace cls::core::privacy {
namespace {

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// Bounds of the search: below kMinZ the epsilon of any useful setting is
// astronomically large; above kMaxZ the target is unreachable in practice.
constexpr double kMinZ = 1e-3;
constexpr double kMaxZ = 1e6;

Result<double> EpsilonFor(double z, int64_t rounds, double q, double delta,
                          std::span<const double> orders) {
  auto curve = SubsampledGaussianRdp(q, z, orders);
  if (!curve) return std::unexpected(curve.error());
  for (double& r : *curve) r *= static_cast<double>(rounds);
  auto eps = EpsilonFromRdp(orders, *curve, delta);
  if (!eps) return std::unexpected(eps.error());
  return eps->epsilon;
}

}  // namespace

Status ValidatePrivacyParameters(double delta, double q, int64_t rounds) {
  if (!(delta > 0.0 && delta < 1.0)) {
    return InvalidArgument("delta must be in (0, 1), got " + Num(delta));
  }
  if (!(q > 0.0 && q <= 1.0)) {
    return InvalidArgument("sampling rate must be in (0, 1], got " + Num(q));
  }
  if (rounds < 1) {
    return InvalidArgument("rounds must be at least 1, got " +
                           std::to_string(rounds));
  }
  return {};
}

Result<EpsilonAtOrder> ComputeEpsilon(double z, int64_t rounds, double q,
                                      double delta,
                                      std::span<const double> orders) {
  if (!(z > 0.0) || !std::isfinite(z)) {
    return InvalidArgument("noise multiplier must be positive, got " + Num(z));
  }
  if (auto s = ValidatePrivacyParameters(delta, q, rounds); !s) {
    return std::unexpected(s.error());
  }
  const std::vector<double> defaults =
      orders.empty() ? DefaultRdpOrders() : std::vector<double>{};
  if (orders.empty()) orders = defaults;
  auto curve = SubsampledGaussianRdp(q, z, orders);
  if (!curve) return std::unexpected(curve.error());
  for (double& r : *curve) r *= static_cast<double>(rounds);
  return EpsilonFromRdp(orders, *curve, delta);
}

Result<double> CalibrateNoiseMultiplier(double target, double delta, double q,
                                        int64_t rounds,
                                        std::span<const double> orders) {
  if (!(target > 0.0) || !std::isfinite(target)) {
    return InvalidArgument("target epsilon must be positive, got " +
                           Num(target));
  }
  if (auto s = ValidatePrivacyParameters(delta, q, rounds); !s) {
    return std::unexpected(s.error());
  }
  const std::vector<double> defaults =
      orders.empty() ? DefaultRdpOrders() : std::vector<double>{};
  if (orders.empty()) orders = defaults;

  // Invariant: eps(hi) <= target < eps(lo).
  double lo = kMinZ, hi = 1.0;
  auto eps_lo = EpsilonFor(lo, rounds, q, delta, orders);
  if (!eps_lo) return std::unexpected(eps_lo.error());
  if (*eps_lo <= target) return lo;
  while (true) {
    auto eps_hi = EpsilonFor(hi, rounds, q, delta, orders);
    if (!eps_hi) return std::unexpected(eps_hi.error());
    if (*eps_hi <= target) break;
    lo = hi;
    hi *= 2.0;
    if (hi > kMaxZ) {
      return InvalidArgument("epsilon " + Num(target) + " at delta " +
                             Num(delta) + " over " + std::to_string(rounds) +
                             " round(s) needs a noise multiplier above " +
                             Num(kMaxZ));
    }
  }
  while (hi - lo > 1e-9 * hi) {
    const double mid = std::sqrt(lo * hi);
    auto eps = EpsilonFor(mid, rounds, q, delta, orders);
    if (!eps) return std::unexpected(eps.error());
    (*eps <= target ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace cls::core::privacy
