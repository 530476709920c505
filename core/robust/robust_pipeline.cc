#include "core/robust/robust_pipeline.h"

#include <cmath>
#include <string>

namespace cls::core::robust {

Result<RoundOutcome> AggregateGroupSums(
    const PipelineConfig& config, std::span<const Group> groups,
    std::span<const std::span<const float>> group_sums,
    std::span<const double> member_weights,
    std::span<const float> previous_update) {
  if (groups.empty()) return InvalidArgument("pipeline: no groups");
  if (groups.size() != group_sums.size()) {
    return InvalidArgument("pipeline: " + std::to_string(groups.size()) +
                           " groups, " + std::to_string(group_sums.size()) +
                           " sums");
  }
  const size_t d = group_sums[0].size();
  if (d == 0) return InvalidArgument("pipeline: empty group sum");
  if (!previous_update.empty() && previous_update.size() != d) {
    return InvalidArgument("pipeline: previous update has " +
                           std::to_string(previous_update.size()) +
                           " values, expected " + std::to_string(d));
  }
  RoundOutcome out;
  out.groups.resize(groups.size());
  out.update.assign(d, 0.0f);
  std::vector<std::vector<float>> means;
  std::vector<double> mean_weights;
  std::vector<size_t> accepted_index;
  for (size_t k = 0; k < groups.size(); ++k) {
    if (group_sums[k].size() != d) {
      return InvalidArgument("pipeline: group " + std::to_string(k) +
                             " sum has " +
                             std::to_string(group_sums[k].size()) +
                             " values, expected " + std::to_string(d));
    }
    std::vector<double> weights, clips;
    for (int m : groups[k]) {
      if (m < 0 || static_cast<size_t>(m) >= member_weights.size()) {
        return InvalidArgument("pipeline: member " + std::to_string(m) +
                               " has no weight");
      }
      weights.push_back(member_weights[static_cast<size_t>(m)]);
      clips.push_back(config.clip);
    }
    if (weights.empty()) {
      return InvalidArgument("pipeline: group " + std::to_string(k) +
                             " is empty");
    }
    GroupOutcome& g = out.groups[k];
    auto bound =
        CheckGroupSumBound(group_sums[k], weights, clips, config.bound_slack);
    if (!bound) {
      if (bound.error().code != ErrorCode::kFailedPrecondition) {
        return std::unexpected(bound.error());
      }
      g.rejected = true;
      g.reason = bound.error().message;
      g.anomaly = 1.0;
      continue;
    }
    g.norm = bound->norm;
    double weight = 0;
    for (double w : weights) weight += w;
    if (!(weight > 0)) {
      g.rejected = true;
      g.reason = "group weight is zero";
      continue;
    }
    std::vector<float> mean(group_sums[k].begin(), group_sums[k].end());
    for (float& v : mean) v = static_cast<float>(v / weight);
    means.push_back(std::move(mean));
    mean_weights.push_back(weight);
    accepted_index.push_back(k);
  }
  out.accepted = static_cast<int>(means.size());
  if (means.empty()) return out;

  RobustConfig rule = config.rule;
  const int n = out.accepted;
  if (n < 3 && rule.rule != RobustRule::kMean) {
    // No rule can side with a majority of two: the median and trimmed mean
    // become the mean, and the weighted geometric median is the heavier
    // point, which would score the lighter, honest group as fully
    // anomalous. Bounded influence around the previous update is what is
    // left.
    rule.rule = RobustRule::kCenteredClipping;
  } else if (rule.rule == RobustRule::kMultiKrum && n <= 2 * rule.krum_f + 2) {
    rule.krum_f = (n - 3) / 2;
    rule.krum_m = 0;
  }
  out.rule_used = rule.rule;
  std::vector<std::span<const float>> views(means.begin(), means.end());
  auto result = Aggregate(rule, views, mean_weights, previous_update);
  if (!result) return std::unexpected(result.error());
  out.update = std::move(result->aggregate);
  for (size_t j = 0; j < accepted_index.size(); ++j) {
    out.groups[accepted_index[j]].anomaly = result->anomaly[j];
  }
  return out;
}

Result<std::vector<TrustChange>> ApplyGroupEvidence(
    std::span<SiteTrust> sites, std::span<const Group> groups,
    const RoundOutcome& outcome, const TrustConfig& config) {
  if (auto s = ValidateTrustConfig(config); !s) {
    return std::unexpected(s.error());
  }
  if (outcome.groups.size() != groups.size()) {
    return InvalidArgument("trust: outcome for " +
                           std::to_string(outcome.groups.size()) + " groups, " +
                           std::to_string(groups.size()) + " groups given");
  }
  std::vector<double> excess, suspicion;
  for (const GroupOutcome& g : outcome.groups) {
    excess.push_back(ExcessAnomaly(g.anomaly, config));
  }
  for (const SiteTrust& s : sites) suspicion.push_back(Suspicion(s, config));
  auto evidence = AttributeGroupAnomalies(groups, excess, suspicion,
                                          static_cast<int>(sites.size()));
  if (!evidence) return std::unexpected(evidence.error());
  std::vector<TrustChange> changes;
  for (size_t i = 0; i < sites.size(); ++i) {
    auto c = UpdateTrust(sites[i], (*evidence)[i], config);
    if (!c) return std::unexpected(c.error());
    changes.push_back(*c);
  }
  return changes;
}

}  // namespace cls::core::robust
