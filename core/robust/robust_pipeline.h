#ifndef CLS_CORE_ROBUST_ROBUST_PIPELINE_H_
#define CLS_CORE_ROBUST_ROBUST_PIPELINE_H_

#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "core/robust/grouping.h"
#include "core/robust/robust_rules.h"
#include "core/robust/trust.h"

namespace cls::core::robust {

// One round of the coordinator's Byzantine filtering, after secure
// aggregation has produced one sum per group (per-site mode: groups of one).
//
//   1. Sanity bound per group (grouping.h): a sum whose norm exceeds
//      sum_i w_i C is discarded whole and scores anomaly 1.
//   2. Group means (sum / group weight) go through the robust rule, weighted
//      by group weight, centred (centered clipping) on the previous update.
//      Below 3 accepted groups every rule but the mean is replaced by
//      centered clipping (two points have no majority; the weighted
//      geometric median of two is the heavier one); Multi-Krum with
//      n <= 2f + 2 lowers f. The outcome names the rule used.
//   3. The rule's anomaly scores become the groups' anomalies.
// The update is the robust estimate of sum_i w_i delta_i / sum_i w_i over the
// accepted groups. ApplyGroupEvidence then turns the anomalies into trust.
struct PipelineConfig {
  RobustConfig rule;
  double clip = 1.0;          // C: each member's L2 clip bound
  double bound_slack = 1e-3;  // relative, for quantization error
};

struct GroupOutcome {
  bool rejected = false;
  std::string reason;  // why it was rejected
  double anomaly = 0;  // in [0, 1]
  double norm = 0;     // of the group sum
};

struct RoundOutcome {
  std::vector<float> update;  // all zeros when every group was rejected
  std::vector<GroupOutcome> groups;
  int accepted = 0;
  RobustRule rule_used = RobustRule::kMean;
};

// groups[k] lists the members (site indices) whose weighted updates add up to
// group_sums[k]; member_weights[i] is the weight site i applied (normalised
// or not, the same scale as the sums). previous_update may be empty.
// InvalidArgument for mismatched sizes or a member out of range; a group sum
// with a non-finite value is rejected, not an error.
Result<RoundOutcome> AggregateGroupSums(
    const PipelineConfig& config, std::span<const Group> groups,
    std::span<const std::span<const float>> group_sums,
    std::span<const double> member_weights,
    std::span<const float> previous_update);

// Excess anomaly, attribution by suspicion and the trust update for every
// site (sites[i] is site index i). Returns the changes, one per site.
Result<std::vector<TrustChange>> ApplyGroupEvidence(
    std::span<SiteTrust> sites, std::span<const Group> groups,
    const RoundOutcome& outcome, const TrustConfig& config);

}  // namespace cls::core::robust

#endif  // CLS_CORE_ROBUST_ROBUST_PIPELINE_H_
