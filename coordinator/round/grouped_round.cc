#include "coordinator/round/grouped_round.h"

#include <algorithm>

namespace cls::coordinator {

Result<std::unique_ptr<GroupedRound>> GroupedRound::Start(
    const RoundSettings& settings,
    const std::vector<RoundParticipant>& participants,
    const std::vector<std::vector<int>>& groups, int min_completed_groups,
    RoundSender* sender, cls::WorkerPool* workers,
    std::function<void()> on_progress) {
  if (groups.empty()) return InvalidArgument("grouped round: no groups");
  if (min_completed_groups < 1 ||
      min_completed_groups > static_cast<int>(groups.size())) {
    return InvalidArgument(
        "grouped round: need 1.." + std::to_string(groups.size()) +
        " completed groups, got " + std::to_string(min_completed_groups));
  }
  std::unique_ptr<GroupedRound> round(new GroupedRound());
  round->round_id_ = settings.round_id;
  round->min_completed_ = min_completed_groups;
  round->min_sites_ = groups.size() > 1 ? settings.min_sites : 0;
  round->participants_ = participants;
  round->groups_ = groups;
  for (size_t k = 0; k < groups.size(); ++k) {
    std::vector<RoundParticipant> members;
    double weight = 0;
    for (int i : groups[k]) {
      if (i < 0 || i >= static_cast<int>(participants.size())) {
        return InvalidArgument("grouped round: member " + std::to_string(i) +
                               " out of range");
      }
      members.push_back(participants[static_cast<size_t>(i)]);
      weight += participants[static_cast<size_t>(i)].weight;
      if (!round->group_of_.emplace(members.back().site_id, k).second) {
        return InvalidArgument("grouped round: site " + members.back().site_id +
                               " in two groups");
      }
    }
    if (!(weight > 0)) {
      return InvalidArgument("grouped round: group " + std::to_string(k) +
                             " has no weight");
    }
    for (auto& m : members) m.weight /= weight;
    RoundSettings group_settings = settings;
    // With several groups the round's minimum counts all their contributors.
    if (groups.size() > 1) group_settings.min_sites = 0;
    // Distinct neighbour graphs per group, all reproducible from the seed.
    group_settings.graph_seed =
        settings.graph_seed ^ (0x9E3779B97F4A7C15ull * (k + 1));
    auto started = SecureRound::Start(std::move(group_settings), members,
                                      sender, workers, on_progress);
    if (!started) {
      return InvalidArgument("group " + std::to_string(k) + ": " +
                             started.error().message);
    }
    round->rounds_.push_back(std::move(*started));
  }
  round->MarkArmed();
  return round;
}

void GroupedRound::OnMessage(const std::string& site_id,
                             const protocol::Message& message) {
  auto it = group_of_.find(site_id);
  if (it == group_of_.end()) return;
  SecureRound& round = *rounds_[it->second];
  if (!round.finished()) round.OnMessage(site_id, message);
}

void GroupedRound::OnSiteLost(const std::string& site_id) {
  auto it = group_of_.find(site_id);
  if (it == group_of_.end()) return;
  SecureRound& round = *rounds_[it->second];
  if (!round.finished()) round.OnSiteLost(site_id);
}

void GroupedRound::MarkArmed() {
  armed_transitions_.clear();
  for (const auto& r : rounds_) armed_transitions_.push_back(r->transitions());
}

void GroupedRound::OnDeadline() {
  for (size_t k = 0; k < rounds_.size(); ++k) {
    SecureRound& round = *rounds_[k];
    if (!round.finished() && round.transitions() == armed_transitions_[k]) {
      round.OnDeadline();
    }
  }
}

void GroupedRound::Abort(std::string reason) {
  if (finished()) return;
  operator_abort_ = reason;
  for (auto& round : rounds_) round->Abort(reason);
}

bool GroupedRound::finished() const {
  return std::all_of(rounds_.begin(), rounds_.end(),
                     [](const auto& r) { return r->finished(); });
}

bool GroupedRound::computing() const {
  return std::any_of(rounds_.begin(), rounds_.end(),
                     [](const auto& r) { return r->computing(); });
}

RoundStage GroupedRound::stage() const {
  if (finished()) {
    if (!operator_abort_.empty()) return RoundStage::kAborted;
    int completed = 0;
    size_t contributors = 0;
    for (const auto& r : rounds_) {
      if (r->stage() != RoundStage::kCompleted) continue;
      ++completed;
      contributors += r->outcome().contributors.size();
    }
    return completed >= min_completed_ && contributors >= min_sites_
               ? RoundStage::kCompleted
               : RoundStage::kAborted;
  }
  RoundStage earliest = RoundStage::kCompleted;
  for (const auto& r : rounds_) {
    if (!r->finished()) earliest = std::min(earliest, r->stage());
  }
  return earliest;
}

int GroupedRound::transitions() const {
  int total = 0;
  for (const auto& r : rounds_) total += r->transitions();
  return total;
}

std::string GroupedRound::abort_reason() const {
  if (!operator_abort_.empty()) return operator_abort_;
  std::string reason;
  int completed = 0;
  size_t contributors = 0;
  for (size_t k = 0; k < rounds_.size(); ++k) {
    if (rounds_[k]->stage() == RoundStage::kCompleted) {
      ++completed;
      contributors += rounds_[k]->outcome().contributors.size();
      continue;
    }
    if (!reason.empty()) reason += "; ";
    reason += "group " + std::to_string(k) + ": " + rounds_[k]->abort_reason();
  }
  if (completed >= min_completed_ && contributors < min_sites_) {
    return std::to_string(contributors) + " sites contributed, at least " +
           std::to_string(min_sites_) + " needed";
  }
  return std::to_string(completed) + " of " + std::to_string(rounds_.size()) +
         " groups completed, " + std::to_string(min_completed_) + " needed (" +
         reason + ")";
}

std::vector<Misbehaviour> GroupedRound::misbehaviours() const {
  std::vector<Misbehaviour> all;
  for (const auto& r : rounds_) {
    all.insert(all.end(), r->misbehaviours().begin(), r->misbehaviours().end());
  }
  return all;
}

std::vector<ParticipantState> GroupedRound::participants() const {
  std::vector<ParticipantState> all;
  for (const auto& r : rounds_) {
    all.insert(all.end(), r->participants().begin(), r->participants().end());
  }
  return all;
}

const RoundOutcome& GroupedRound::outcome() const {
  if (outcome_) return *outcome_;
  // Called once the round has finished; its groups no longer change.
  outcome_ = rounds_.size() == 1 ? rounds_.front()->outcome()
                                 : CombineGroups(/*with_mean_delta=*/true);
  return *outcome_;
}

RoundOutcome GroupedRound::SummaryOutcome() const {
  if (rounds_.size() == 1) {
    RoundOutcome out = rounds_.front()->outcome();
    out.mean_delta.clear();
    return out;
  }
  return CombineGroups(/*with_mean_delta=*/false);
}

RoundOutcome GroupedRound::CombineGroups(bool with_mean_delta) const {
  RoundOutcome out;
  for (size_t k = 0; k < rounds_.size(); ++k) {
    if (rounds_[k]->stage() != RoundStage::kCompleted) continue;
    const RoundOutcome& g = rounds_[k]->outcome();
    const double w = ContributorWeight(k);
    if (with_mean_delta) {
      if (out.mean_delta.empty()) out.mean_delta.assign(g.mean_delta.size(), 0);
      for (size_t i = 0; i < g.mean_delta.size() && i < out.mean_delta.size();
           ++i) {
        out.mean_delta[i] += static_cast<float>(w * g.mean_delta[i]);
      }
    }
    out.contributors.insert(out.contributors.end(), g.contributors.begin(),
                            g.contributors.end());
    out.metrics.count += g.metrics.count;
    out.metrics.correct += g.metrics.correct;
    out.metrics.loss_sum += g.metrics.loss_sum;
    out.metrics.train_samples += g.metrics.train_samples;
    out.contributor_weight += w;
  }
  if (out.contributor_weight > 0) {
    for (float& v : out.mean_delta) {
      v = static_cast<float>(v / out.contributor_weight);
    }
  }
  return out;
}

double GroupedRound::ContributorWeight(size_t k) const {
  const SecureRound& round = *rounds_[k];
  if (round.stage() != RoundStage::kCompleted) return 0;
  double total = 0;
  for (const auto& site_id : round.outcome().contributors) {
    for (int i : groups_[k]) {
      if (participants_[static_cast<size_t>(i)].site_id == site_id) {
        total += participants_[static_cast<size_t>(i)].weight;
      }
    }
  }
  return total;
}

}  // namespace cls::coordinator
