#ifndef CLS_CORE_ROLLOUT_ROLLBACK_POLICY_H_
#define CLS_CORE_ROLLOUT_ROLLBACK_POLICY_H_

#include <optional>
#include <span>
#include <string>

#include "core/drift/drift_alert.h"
#include "core/rollout/sequential_test.h"

namespace cls::rollout {

// When the coordinator returns all traffic to the last stable version
// (docs/drift.md):
//   1. any site's alert on the candidate of type performance_drift or
//      concept_drift with severity > max_severity (the guide's 0.8: an
//      accuracy drop of more than 1.6 x performance_threshold), or
//   2. the sequential test on the summed counts says candidate_worse.
// Data and calibration drift alone never roll back: the inputs moving is
// not the candidate's fault, and both versions see the same inputs.
struct RollbackPolicy {
  double max_severity = 0.8;
  bool rollback_when_worse = true;
};

enum class RollbackAction { kKeep, kRollback };

struct RollbackDecision {
  RollbackAction action = RollbackAction::kKeep;
  std::string reason;  // why (empty when kept)
};

// Pure function of its inputs; thread-safe.
RollbackDecision DecideRollback(
    const RollbackPolicy& policy,
    std::span<const drift::DriftAlert> candidate_alerts,
    const std::optional<ComparisonResult>& comparison);

}  // namespace cls::rollout

#endif  // CLS_CORE_ROLLOUT_ROLLBACK_POLICY_H_
