#ifndef CLS_CORE_ROBUST_GROUPING_H_
#define CLS_CORE_ROBUST_GROUPING_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"

namespace cls::core::robust {

// Random regrouping for Byzantine filtering under secure aggregation. The
// coordinator only ever sees the sum of a group, so each round the
// participants are split at random into groups of at least g members, secure
// aggregation runs inside each group, and the robust rule runs across the
// group means. A group's anomaly score is attributed to its members; because
// the groups change every round, a persistent attacker is in an anomalous
// group every round while an honest site is only when it happens to share a
// group with one (group testing), which trust.h turns into a reputation.
//
// Robustness needs at least three groups for the median / trimmed mean /
// Krum to have a majority to side with (two groups: centered clipping and
// the sanity bound still limit a bad group). With n < 2g there is one group:
// the robust rule sees a single sum and cannot filter anything; only the
// sanity bound and trust (from that bound) remain. Pick g, or turn secure
// aggregation off (audited), accordingly.

// Members are indices into the round's participant list.
using Group = std::vector<int>;

// Splits participants 0..n-1 into max(1, floor(n / g)) groups whose sizes
// differ by at most one (so every group has >= g members when n >= g),
// by a seeded Fisher-Yates shuffle: the same (n, g, seed) always gives the
// same groups, on every platform, so sites and auditors can recompute it from
// the announced round seed. Members within a group are ascending.
// InvalidArgument for n < 1 or g < 1.
Result<std::vector<Group>> AssignGroups(int n, int g, uint64_t round_seed);

// The sanity bound on one group's sum. Each member i submits its delta
// clipped to L2 norm clip_i and multiplied by its weight w_i, so
// ||group sum|| <= sum_i w_i clip_i; `slack` (relative, >= 0) absorbs
// quantization error. FailedPrecondition with both norms when violated: the
// group sum must be discarded (it cannot be split into its members).
struct GroupBound {
  double norm = 0;   // of the group sum
  double bound = 0;  // sum_i w_i clip_i
};
Result<GroupBound> CheckGroupSumBound(std::span<const float> group_sum,
                                      std::span<const double> member_weights,
                                      std::span<const double> member_clips,
                                      double slack);

// Evidence about one site from one round.
struct MemberEvidence {
  bool participated = false;
  double blame = 0;      // share of its group's (excess) anomaly, in [0, 1]
  double clearance = 0;  // 1 - its group's (excess) anomaly, in [0, 1]
};

// Attributes group anomalies (in [0, 1], one per group) to members by
// explaining away (a group-testing posterior under "one culprit per
// anomalous group"): member i of group G takes the share
//   blame_i = a_G * s_i / sum_{j in G} s_j,
// where s_i > 0 is the prior suspicion of i (1 - trust + a small floor, from
// trust.h), so an honest site grouped with an already-suspected attacker
// takes little of the blame. Every member is cleared by 1 - a_G (a clean
// group clears all its members). Returns one entry per site (num_sites);
// sites in no group did not participate. InvalidArgument on a member out of
// range, in two groups, a size mismatch, an anomaly outside [0, 1] or a
// suspicion <= 0.
Result<std::vector<MemberEvidence>> AttributeGroupAnomalies(
    std::span<const Group> groups, std::span<const double> group_anomaly,
    std::span<const double> suspicion, int num_sites);

}  // namespace cls::core::robust

#endif  // CLS_CORE_ROBUST_GROUPING_H_
