#include "core/robust/grouping.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "core/shuffle.h"

namespace cls::core::robust {

Result<std::vector<Group>> AssignGroups(int n, int g, uint64_t round_seed) {
  if (n < 1) return InvalidArgument("grouping: no participants");
  if (g < 1) {
    return InvalidArgument("grouping: minimum group size " + std::to_string(g) +
                           " < 1");
  }
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(round_seed);
  Shuffle(order, rng);
  const int groups = std::max(1, n / g);
  const int base = n / groups, extra = n % groups;
  std::vector<Group> out(static_cast<size_t>(groups));
  size_t at = 0;
  for (int k = 0; k < groups; ++k) {
    const int size = base + (k < extra ? 1 : 0);
    Group& group = out[static_cast<size_t>(k)];
    group.assign(order.begin() + static_cast<std::ptrdiff_t>(at),
                 order.begin() + static_cast<std::ptrdiff_t>(at) + size);
    std::sort(group.begin(), group.end());
    at += static_cast<size_t>(size);
  }
  return out;
}

Result<GroupBound> CheckGroupSumBound(std::span<const float> group_sum,
                                      std::span<const double> member_weights,
                                      std::span<const double> member_clips,
                                      double slack) {
  if (member_weights.size() != member_clips.size() || member_weights.empty()) {
    return InvalidArgument(
        "group bound: " + std::to_string(member_weights.size()) +
        " weights and " + std::to_string(member_clips.size()) + " clips");
  }
  if (!(slack >= 0) || !std::isfinite(slack)) {
    return InvalidArgument("group bound: slack must be finite and >= 0");
  }
  GroupBound b;
  for (size_t i = 0; i < member_weights.size(); ++i) {
    if (!(member_weights[i] >= 0) || !(member_clips[i] >= 0) ||
        !std::isfinite(member_weights[i]) || !std::isfinite(member_clips[i])) {
      return InvalidArgument("group bound: member " + std::to_string(i) +
                             " has a negative or non-finite weight or clip");
    }
    b.bound += member_weights[i] * member_clips[i];
  }
  double sq = 0;
  for (float v : group_sum) sq += static_cast<double>(v) * v;
  b.norm = std::sqrt(sq);  // NaN or inf fails the check below
  if (!(b.norm <= b.bound * (1 + slack))) {
    return FailedPrecondition("group sum norm " + std::to_string(b.norm) +
                              " exceeds the members' bound " +
                              std::to_string(b.bound));
  }
  return b;
}

Result<std::vector<MemberEvidence>> AttributeGroupAnomalies(
    std::span<const Group> groups, std::span<const double> group_anomaly,
    std::span<const double> suspicion, int num_sites) {
  if (groups.size() != group_anomaly.size()) {
    return InvalidArgument("attribution: " + std::to_string(groups.size()) +
                           " groups, " + std::to_string(group_anomaly.size()) +
                           " anomaly scores");
  }
  if (num_sites < 0 || suspicion.size() != static_cast<size_t>(num_sites)) {
    return InvalidArgument("attribution: " + std::to_string(suspicion.size()) +
                           " suspicion values for " +
                           std::to_string(num_sites) + " sites");
  }
  std::vector<MemberEvidence> out(static_cast<size_t>(num_sites));
  for (size_t k = 0; k < groups.size(); ++k) {
    const double a = group_anomaly[k];
    if (!(a >= 0 && a <= 1)) {
      return InvalidArgument("attribution: group " + std::to_string(k) +
                             " anomaly outside [0, 1]");
    }
    double total = 0;
    for (int m : groups[k]) {
      if (m < 0 || m >= num_sites) {
        return InvalidArgument("attribution: member " + std::to_string(m) +
                               " out of range");
      }
      const size_t um = static_cast<size_t>(m);
      if (out[um].participated) {
        return InvalidArgument("attribution: site " + std::to_string(m) +
                               " is in two groups");
      }
      if (!(suspicion[um] > 0) || !std::isfinite(suspicion[um])) {
        return InvalidArgument("attribution: site " + std::to_string(m) +
                               " suspicion must be > 0");
      }
      out[um].participated = true;
      total += suspicion[um];
    }
    for (int m : groups[k]) {
      const size_t um = static_cast<size_t>(m);
      out[um].blame = total > 0 ? a * suspicion[um] / total : 0.0;
      out[um].clearance = 1 - a;
    }
  }
  return out;
}

}  // namespace cls::core::robust
