#include "core/privacy/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace cls::core::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// The fractional-order series stops after this many terms without
// converging; the order is then excluded (+inf), as dp_accounting does.
constexpr int kMaxFracTerms = 1000;
// At most this many distinct (q, z) curves are cached; a federation uses a
// handful (one per number of contributing sites).
constexpr size_t kMaxCachedCurves = 256;

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// log(erfc(x)), accurate in the far tail where erfc underflows.
double LogErfc(double x) {
  if (x < 25.0) return std::log(std::erfc(x));
  // Asymptotic series: erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) ...).
  const double x2 = x * x;
  return -0.5 * std::log(M_PI) - std::log(x) - x2 - 0.5 / x2 +
         0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2) +
         353.0 / 64.0 / (x2 * x2 * x2 * x2);
}

// log A_alpha at integer alpha: A = sum_i C(a,i) q^i (1-q)^(a-i)
// exp((i^2 - i) / (2 sigma^2)) (Mironov, Talwar, Zhang 2019, Sec. 3.3).
double LogAInt(double q, double sigma, int alpha) {
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
  // Log-sum-exp over all terms with one pass for the maximum; the binomial
  // coefficient is updated incrementally (log C(a, i+1) = log C(a, i) +
  // log((a - i) / (i + 1))).
  std::vector<double> terms(alpha + 1);
  double log_coef = 0.0, max_term = -kInf;
  for (int i = 0; i <= alpha; ++i) {
    const double di = i;
    terms[i] = log_coef + di * log_q + (alpha - di) * log_1mq +
               (di * di - di) * inv_2s2;
    max_term = std::max(max_term, terms[i]);
    log_coef += std::log(static_cast<double>(alpha - i) / (di + 1.0));
  }
  double sum = 0.0;
  for (double t : terms) sum += std::exp(t - max_term);
  return max_term + std::log(sum);
}

// log A_alpha at fractional alpha: the integral split at
// z0 = sigma^2 log(1/q - 1) + 1/2, each side a series in i (MTZ 2019), or
// +inf when the series would not converge within kMaxFracTerms terms.
//
// Only the total of both sides is needed, so every term goes into one
// running sum scaled by the largest term so far: one exp per term instead of
// a log-add (exp and log1p) per side and another for the total. This is the
// accountant's hot spot (a q = 0.5 curve needs up to ~640 terms per order).
double LogAFrac(double q, double sigma, double alpha) {
  const double z0 = sigma * sigma * std::log(1.0 / q - 1.0) + 0.5;
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
  const double sqrt2_sigma = std::sqrt(2.0) * sigma;
  const double log_half = std::log(0.5);
  double last_s0 = -kInf, last_s1 = -kInf;
  // sum_k exp(log_s_k - peak) over the terms so far, both sides.
  double peak = -kInf, scaled_sum = 0.0;
  auto add = [&](double log_s) {
    if (log_s > peak) {
      scaled_sum = scaled_sum * std::exp(peak - log_s) + 1.0;
      peak = log_s;
    } else {
      scaled_sum += std::exp(log_s - peak);
    }
  };
  // log |binomial(alpha, i)|, updated as i grows: |C(a, i+1)| = |C(a, i)|
  // |a - i| / (i + 1) (alpha is not an integer, so a - i is never 0).
  double log_coef = 0.0;
  for (int i = 0; i < kMaxFracTerms; ++i) {
    const double di = i;
    const double j = alpha - di;
    const double log_t0 = log_coef + di * log_q + j * log_1mq;
    const double log_t1 = log_coef + j * log_q + di * log_1mq;
    const double log_e0 = log_half + LogErfc((di - z0) / sqrt2_sigma);
    const double log_e1 = log_half + LogErfc((z0 - j) / sqrt2_sigma);
    const double log_s0 = log_t0 + (di * di - di) * inv_2s2 + log_e0;
    const double log_s1 = log_t1 + (j * j - j) * inv_2s2 + log_e1;
    // Absolute values are summed: an upper bound, as dp_accounting does.
    add(log_s0);
    add(log_s1);
    if (log_s0 < last_s0 && log_s1 < last_s1) {
      const double total = peak + std::log(scaled_sum);
      const double largest = std::max(log_s0, log_s1);
      // Stop once both sides are decreasing and negligible against the total.
      if (largest < total - 30.0) return total;
      // Past the peak the terms fall polynomially, like i^-p with
      // p = (last - now) i. If reaching total - 30 would take more than the
      // allowed terms, give up now rather than after them (the caller then
      // uses a bound that is valid either way).
      if (i >= 8) {
        const double drop = std::max(last_s0, last_s1) - largest;
        const double p = drop * di;
        if (!(p > 0.0) ||
            di * std::exp((largest - (total - 30.0)) / p) > kMaxFracTerms) {
          return kInf;
        }
      }
    }
    last_s0 = log_s0;
    last_s1 = log_s1;
    log_coef += std::log(std::fabs(alpha - di) / (di + 1.0));
  }
  return kInf;
}

Status ValidateOrders(std::span<const double> orders) {
  for (double a : orders) {
    if (!(a >= 1.0)) {
      return InvalidArgument("RDP order " + Num(a) + " is below 1");
    }
  }
  return {};
}

Status ValidateSteps(int64_t steps) {
  if (steps < 1) {
    return InvalidArgument("rounds must be at least 1, got " +
                           std::to_string(steps));
  }
  return {};
}

}  // namespace

std::vector<double> DefaultRdpOrders() {
  std::vector<double> orders;
  for (int x = 1; x <= 100; ++x) orders.push_back(1.0 + x / 10.0);
  for (int a = 12; a <= 63; ++a) orders.push_back(a);
  for (double a : {100.0, 128.0, 256.0, 512.0, 1024.0}) orders.push_back(a);
  return orders;
}

Result<std::vector<double>> SubsampledGaussianRdp(
    double q, double z, std::span<const double> orders) {
  if (!(q > 0.0 && q <= 1.0)) {
    return InvalidArgument("sampling rate must be in (0, 1], got " + Num(q));
  }
  if (!(z > 0.0) || !std::isfinite(z)) {
    return InvalidArgument("noise multiplier must be positive, got " + Num(z));
  }
  if (auto s = ValidateOrders(orders); !s) return std::unexpected(s.error());
  std::vector<double> rdp(orders.size());
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    if (std::isinf(a) || a == 1.0) {
      // Order 1 is KL; the formulas below need alpha > 1. Excluded (+inf)
      // rather than approximated, so it can never lower epsilon.
      rdp[k] = kInf;
    } else if (q == 1.0) {
      rdp[k] = a / (2.0 * z * z);
    } else if (a == std::floor(a) && a < 1e6) {
      rdp[k] = LogAInt(q, z, static_cast<int>(a)) / (a - 1.0);
    } else {
      double log_a = LogAFrac(q, z, a);
      if (std::isinf(log_a)) {
        // The series converges only polynomially when z0 = sigma^2
        // log(1/q - 1) + 1/2 is small (large q, small sigma). log A_alpha is
        // a cumulant generating function, convex in alpha, so the chord
        // between the neighbouring integer orders bounds it from above
        // (log A_1 = 0). dp_accounting drops the order instead.
        const double lo = std::floor(a), t = a - lo;
        const double log_lo =
            lo == 1.0 ? 0.0 : LogAInt(q, z, static_cast<int>(lo));
        log_a =
            (1.0 - t) * log_lo + t * LogAInt(q, z, static_cast<int>(lo) + 1);
      }
      rdp[k] = log_a / (a - 1.0);
    }
  }
  return rdp;
}

Result<std::vector<double>> SkellamRdp(double l1, double l2, double mu,
                                       std::span<const double> orders) {
  if (!(l1 > 0.0) || !(l2 > 0.0) || !std::isfinite(l1) || !std::isfinite(l2)) {
    return InvalidArgument("Skellam sensitivities must be positive, got L1 " +
                           Num(l1) + ", L2 " + Num(l2));
  }
  if (!(mu > 0.0) || !std::isfinite(mu)) {
    return InvalidArgument("Skellam variance must be positive, got " + Num(mu));
  }
  if (auto s = ValidateOrders(orders); !s) return std::unexpected(s.error());
  std::vector<double> rdp(orders.size());
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    if (std::isinf(a) || a == 1.0) {
      rdp[k] = kInf;
      continue;
    }
    rdp[k] = a * l2 * l2 / (2.0 * mu) +
             std::min(((2.0 * a - 1.0) * l2 * l2 + 6.0 * l1) / (4.0 * mu * mu),
                      3.0 * l1 / (2.0 * mu));
  }
  return rdp;
}

Result<EpsilonAtOrder> EpsilonFromRdp(std::span<const double> orders,
                                      std::span<const double> rdp,
                                      double delta) {
  if (!(delta > 0.0 && delta < 1.0)) {
    return InvalidArgument("delta must be in (0, 1), got " + Num(delta));
  }
  if (orders.size() != rdp.size() || orders.empty()) {
    return InvalidArgument("RDP curve has " + std::to_string(rdp.size()) +
                           " values for " + std::to_string(orders.size()) +
                           " orders");
  }
  if (auto s = ValidateOrders(orders); !s) return std::unexpected(s.error());
  // delta^2 + expm1(-r) > 0  <=>  r < -log1p(-delta^2): the KL bound.
  const double kl_threshold = -std::log1p(-delta * delta);
  EpsilonAtOrder best{kInf, orders[0]};
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k], r = rdp[k];
    double eps;
    if (r < 0.0 || r < kl_threshold) {
      // A negative r is numerical noise from an extreme curve.
      eps = 0.0;
    } else if (a > 1.01) {
      // Unstable as alpha -> 1, and useless there anyway.
      eps = r + std::log1p(-1.0 / a) - std::log(delta * a) / (a - 1.0);
    } else {
      eps = kInf;
    }
    if (eps < best.epsilon) best = {eps, a};
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

Result<DeltaAtOrder> DeltaFromRdp(std::span<const double> orders,
                                  std::span<const double> rdp, double epsilon) {
  if (!(epsilon >= 0.0) || !std::isfinite(epsilon)) {
    return InvalidArgument("epsilon must be non-negative, got " + Num(epsilon));
  }
  if (orders.size() != rdp.size() || orders.empty()) {
    return InvalidArgument("RDP curve has " + std::to_string(rdp.size()) +
                           " values for " + std::to_string(orders.size()) +
                           " orders");
  }
  if (auto s = ValidateOrders(orders); !s) return std::unexpected(s.error());
  double best_log = kInf, best_order = orders[0];
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k], r = rdp[k];
    double log_delta;
    if (r <= 0.0) {
      log_delta = -kInf;
    } else {
      // KL bound delta <= sqrt(1 - exp(-r)).
      log_delta = 0.5 * std::log1p(-std::exp(-r));
    }
    if (a > 1.01) {
      log_delta =
          std::min(log_delta, (a - 1.0) * (r - epsilon + std::log1p(-1.0 / a)) -
                                  std::log(a));
    }
    if (log_delta < best_log) {
      best_log = log_delta;
      best_order = a;
    }
  }
  return DeltaAtOrder{std::min(std::exp(best_log), 1.0), best_order};
}

RdpAccountant::RdpAccountant(std::vector<double> orders)
    : orders_(std::move(orders)), rdp_(orders_.size(), 0.0) {}

Result<std::vector<double>> RdpAccountant::GaussianCurve(double q, double z) {
  for (const auto& c : cache_) {
    if (c.sampling_rate == q && c.noise_multiplier == z) return c.rdp;
  }
  auto curve = SubsampledGaussianRdp(q, z, orders_);
  if (!curve) return curve;
  if (cache_.size() >= kMaxCachedCurves) cache_.erase(cache_.begin());
  cache_.push_back({q, z, *curve});
  return curve;
}

Status RdpAccountant::ComposeSubsampledGaussian(double q, double z,
                                                int64_t steps) {
  if (auto s = ValidateSteps(steps); !s) return s;
  // Look up in place: no copy of the cached curve on the hot path.
  for (const auto& c : cache_) {
    if (c.sampling_rate == q && c.noise_multiplier == z) {
      return ComposeRdp(c.rdp, steps);
    }
  }
  auto curve = GaussianCurve(q, z);
  if (!curve) return std::unexpected(curve.error());
  return ComposeRdp(*curve, steps);
}

Status RdpAccountant::ComposeSkellam(double l1, double l2, double mu,
                                     int64_t steps) {
  if (auto s = ValidateSteps(steps); !s) return s;
  auto curve = SkellamRdp(l1, l2, mu, orders_);
  if (!curve) return std::unexpected(curve.error());
  return ComposeRdp(*curve, steps);
}

Status RdpAccountant::ComposeRdp(std::span<const double> rdp, int64_t steps) {
  if (auto s = ValidateSteps(steps); !s) return s;
  if (rdp.size() != orders_.size()) {
    return InvalidArgument("RDP curve has " + std::to_string(rdp.size()) +
                           " values for " + std::to_string(orders_.size()) +
                           " orders");
  }
  const double t = static_cast<double>(steps);
  double* total = rdp_.data();
  const double* add = rdp.data();
  const size_t n = rdp_.size();
  for (size_t k = 0; k < n; ++k) total[k] += t * add[k];
  return {};
}

Result<EpsilonAtOrder> RdpAccountant::Epsilon(double delta) const {
  if (!(delta > 0.0 && delta < 1.0)) {
    return InvalidArgument("delta must be in (0, 1), got " + Num(delta));
  }
  if (orders_.empty()) return InvalidArgument("the accountant has no orders");
  if (conversion_.delta != delta) {
    // Same arithmetic as EpsilonFromRdp with the order-only terms hoisted.
    if (auto s = ValidateOrders(orders_); !s) return std::unexpected(s.error());
    conversion_.delta = delta;
    conversion_.kl_threshold = -std::log1p(-delta * delta);
    conversion_.offset.resize(orders_.size());
    for (size_t k = 0; k < orders_.size(); ++k) {
      const double a = orders_[k];
      conversion_.offset[k] =
          a > 1.01 ? std::log1p(-1.0 / a) - std::log(delta * a) / (a - 1.0)
                   : kInf;
    }
  }
  // This runs after every round, so it is written for speed: the KL case
  // (some r below the threshold: epsilon 0) is one OR pass; the minimum uses
  // four independent accumulators; the order is found in a second pass.
  const size_t n = orders_.size();
  const double* r = rdp_.data();
  const double* offset = conversion_.offset.data();
  const double threshold = conversion_.kl_threshold;
  bool kl = false;
  for (size_t k = 0; k < n; ++k) kl |= r[k] < threshold;
  if (kl) {
    for (size_t k = 0; k < n; ++k) {
      if (r[k] < threshold) return EpsilonAtOrder{0.0, orders_[k]};
    }
  }
  double b0 = kInf, b1 = kInf, b2 = kInf, b3 = kInf;
  size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const double e0 = r[k] + offset[k], e1 = r[k + 1] + offset[k + 1];
    const double e2 = r[k + 2] + offset[k + 2], e3 = r[k + 3] + offset[k + 3];
    b0 = e0 < b0 ? e0 : b0;
    b1 = e1 < b1 ? e1 : b1;
    b2 = e2 < b2 ? e2 : b2;
    b3 = e3 < b3 ? e3 : b3;
  }
  for (; k < n; ++k) {
    const double e = r[k] + offset[k];
    b0 = e < b0 ? e : b0;
  }
  const double best = std::min(std::min(b0, b1), std::min(b2, b3));
  for (k = 0; k < n; ++k) {
    if (r[k] + offset[k] == best) {
      return EpsilonAtOrder{std::max(0.0, best), orders_[k]};
    }
  }
  return EpsilonAtOrder{kInf, orders_[0]};
}

Result<DeltaAtOrder> RdpAccountant::Delta(double epsilon) const {
  return DeltaFromRdp(orders_, rdp_, epsilon);
}

Status RdpAccountant::Restore(std::span<const double> rdp) {
  if (rdp.size() != orders_.size()) {
    return InvalidArgument("RDP curve has " + std::to_string(rdp.size()) +
                           " values for " + std::to_string(orders_.size()) +
                           " orders");
  }
  for (double r : rdp) {
    if (!(r >= 0.0)) return InvalidArgument("RDP values must be >= 0");
  }
  rdp_.assign(rdp.begin(), rdp.end());
  return {};
}

void RdpAccountant::Reset() { std::fill(rdp_.begin(), rdp_.end(), 0.0); }

}  // namespace cls::core::privacy
