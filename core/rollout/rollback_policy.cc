#include "core/rollout/rollback_policy.h"

#include <cstdio>

namespace cls::rollout {

RollbackDecision DecideRollback(
    const RollbackPolicy& policy,
    std::span<const drift::DriftAlert> candidate_alerts,
    const std::optional<ComparisonResult>& comparison) {
  const drift::DriftAlert* worst = nullptr;
  for (const drift::DriftAlert& a : candidate_alerts) {
    if (a.drift_type != drift::DriftType::kPerformance &&
        a.drift_type != drift::DriftType::kConcept) {
      continue;
    }
    if (a.severity > policy.max_severity &&
        (worst == nullptr || a.severity > worst->severity)) {
      worst = &a;
    }
  }
  RollbackDecision d;
  if (worst != nullptr) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s (%s) severity %.2f > %.2f",
                  std::string(drift::DriftTypeName(worst->drift_type)).c_str(),
                  worst->detector.c_str(), worst->severity,
                  policy.max_severity);
    d.action = RollbackAction::kRollback;
    d.reason = buf;
    return d;
  }
  if (policy.rollback_when_worse && comparison &&
      comparison->verdict == Verdict::kCandidateWorse) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "sequential test: candidate worse by %.2f points "
                  "(CI %+.2f to %+.2f, p = %.3g)",
                  -100 * comparison->effect, 100 * comparison->ci_low,
                  100 * comparison->ci_high, comparison->p_value);
    d.action = RollbackAction::kRollback;
    d.reason = buf;
  }
  return d;
}

}  // namespace cls::rollout
