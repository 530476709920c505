#include "core/robust/trust.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace cls::core::robust {

Status ValidateTrustConfig(const TrustConfig& c) {
  if (!(c.prior_strength > 0) || !std::isfinite(c.prior_strength)) {
    return InvalidArgument("trust: prior_strength must be > 0");
  }
  if (!(c.forgetting > 0 && c.forgetting <= 1)) {
    return InvalidArgument("trust: forgetting outside (0, 1]");
  }
  if (!(c.tolerance >= 0 && c.tolerance < 1)) {
    return InvalidArgument("trust: tolerance outside [0, 1)");
  }
  if (!(c.floor >= 0 && c.floor <= 1)) {
    return InvalidArgument("trust: floor outside [0, 1]");
  }
  if (!(c.suspicion_floor > 0) || !std::isfinite(c.suspicion_floor)) {
    return InvalidArgument("trust: suspicion_floor must be > 0");
  }
  return {};
}

double TrustScore(const SiteTrust& site, const TrustConfig& config) {
  const double s = config.prior_strength;
  return (s * site.operator_trust + site.good) / (s + site.good + site.bad);
}

double Suspicion(const SiteTrust& site, const TrustConfig& config) {
  return 1.0 - TrustScore(site, config) + config.suspicion_floor;
}

double ExcessAnomaly(double anomaly, const TrustConfig& config) {
  const double a = std::clamp(std::isnan(anomaly) ? 1.0 : anomaly, 0.0, 1.0);
  return std::max(0.0, a - config.tolerance) / (1.0 - config.tolerance);
}

Result<TrustChange> UpdateTrust(SiteTrust& site, const MemberEvidence& evidence,
                                const TrustConfig& config) {
  if (!(evidence.blame >= 0 && evidence.blame <= 1) ||
      !(evidence.clearance >= 0 && evidence.clearance <= 1)) {
    return InvalidArgument("trust: evidence outside [0, 1]");
  }
  TrustChange change;
  change.before = TrustScore(site, config);
  change.after = change.before;
  if (!evidence.participated || site.quarantined) return change;
  site.good = config.forgetting * site.good + evidence.clearance;
  site.bad = config.forgetting * site.bad + evidence.blame;
  ++site.rounds_observed;
  change.after = TrustScore(site, config);
  if (change.after < config.floor) {
    site.quarantined = true;
    change.quarantined_now = true;
  }
  return change;
}

Status Reinstate(SiteTrust& site, double operator_trust) {
  if (!site.quarantined) {
    return FailedPrecondition("trust: the site is not quarantined");
  }
  if (!(operator_trust >= 0 && operator_trust <= 1)) {
    return InvalidArgument("trust: operator trust " +
                           std::to_string(operator_trust) + " outside [0, 1]");
  }
  site.operator_trust = operator_trust;
  site.good = 0;
  site.bad = 0;
  site.quarantined = false;
  return {};
}

double ContributionWeight(const SiteTrust& site, int64_t samples,
                          const TrustConfig& config) {
  if (site.quarantined || samples <= 0) return 0.0;
  return TrustScore(site, config) * static_cast<double>(samples);
}

double WeightedSumSensitivity(std::span<const double> weights, double clip) {
  double max_weight = 0;
  for (double w : weights) max_weight = std::max(max_weight, std::abs(w));
  return 2.0 * clip * max_weight;
}

}  // namespace cls::core::robust
