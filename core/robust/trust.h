#ifndef CLS_CORE_ROBUST_TRUST_H_
#define CLS_CORE_ROBUST_TRUST_H_

#include <cstdint>
#include <span>

#include "common/error.h"
#include "core/robust/grouping.h"

namespace cls::core::robust {

// Site trust as a Beta reputation with forgetting (Josang and Ismail 2002),
// fed by the group-testing evidence of grouping.h.
//
// State per site: the operator's trust_score tau0 in [0, 1] (the original
// guide's FederatedSite.trust_score) and two decayed evidence counts, good G
// and bad B. Each round the site takes part in, with its evidence
// (blame b, clearance c) computed from excess group anomalies:
//   G <- lambda G + c,   B <- lambda B + b,
//   trust = (s tau0 + G) / (s + G + B),
// the posterior mean of a Beta(s tau0 + G, s (1 - tau0) + B): the operator's
// score is a prior worth s rounds, evidence older than about 1 / (1 - lambda)
// rounds fades. Group anomaly a becomes excess anomaly
//   e = max(0, a - tolerance) / (1 - tolerance)
// before attribution, so the ordinary spread of honest, heterogeneous
// hospitals (which shows up as small anomalies) is not evidence.
// A persistent attacker collects b close to 1 every round and its trust
// tends to s tau0 / (s + 1 / (1 - lambda)) (0.2 with the defaults); an honest
// site collects blame only in the rounds it shares a group with an attacker,
// and then only a share that shrinks as the attacker's suspicion grows.
//
// Below `floor` a site is quarantined: the caller excludes it from rounds,
// audits the event and shows it to operators; it stays quarantined until an
// operator reinstates it (Reinstate), which clears the evidence.
//
// Plain structs and pure functions; the coordinator persists SiteTrust in its
// sites table.
struct TrustConfig {
  double prior_strength = 5.0;    // s
  double forgetting = 0.95;       // lambda in (0, 1]
  double tolerance = 0.2;         // anomaly below this is not evidence
  double floor = 0.5;             // trust below this quarantines
  double suspicion_floor = 0.05;  // so that a fully trusted site shares blame
};
Status ValidateTrustConfig(const TrustConfig& config);

struct SiteTrust {
  double operator_trust = 1.0;  // tau0
  double good = 0;              // G
  double bad = 0;               // B
  bool quarantined = false;
  int64_t rounds_observed = 0;
};

double TrustScore(const SiteTrust& site, const TrustConfig& config);

// Prior suspicion for attribution: 1 - trust + suspicion_floor (> 0).
double Suspicion(const SiteTrust& site, const TrustConfig& config);

// e = max(0, a - tolerance) / (1 - tolerance), a clamped to [0, 1].
double ExcessAnomaly(double anomaly, const TrustConfig& config);

struct TrustChange {
  double before = 0;
  double after = 0;
  bool quarantined_now = false;  // crossed the floor in this update
};

// Applies one round's evidence. A site that did not participate, or is
// quarantined already, is left unchanged. InvalidArgument on evidence outside
// [0, 1].
Result<TrustChange> UpdateTrust(SiteTrust& site, const MemberEvidence& evidence,
                                const TrustConfig& config);

// Operator reinstatement: clears the evidence and the quarantine and sets the
// operator's score. FailedPrecondition if the site is not quarantined;
// InvalidArgument for a score outside [0, 1].
Status Reinstate(SiteTrust& site, double operator_trust);

// A site's aggregation weight: trust x sample count, 0 when quarantined.
double ContributionWeight(const SiteTrust& site, int64_t samples,
                          const TrustConfig& config);

// L2 sensitivity of a weighted sum sum_i w_i clip_C(delta_i) to replacing
// one site's update by another: 2 C max_i w_i (the weights as applied, e.g.
// normalised; core/privacy/noise.h SiteL2Sensitivity). The DP noise must be
// calibrated to this, not to C: trust x samples weighting gives a large
// site more influence, and so more to hide.
double WeightedSumSensitivity(std::span<const double> weights, double clip);

}  // namespace cls::core::robust

#endif  // CLS_CORE_ROBUST_TRUST_H_
