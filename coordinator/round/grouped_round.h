#ifndef CLS_COORDINATOR_ROUND_GROUPED_ROUND_H_
#define CLS_COORDINATOR_ROUND_GROUPED_ROUND_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "secagg/server/secure_round.h"

namespace cls::coordinator {

// A training round split into groups for Byzantine filtering: one
// SecureRound per group, run concurrently under the same round id, each
// site's messages routed to its group's round. The coordinator learns one
// sum per group and never a single site's input. A group that aborts drops
// out; the round completes when at least `min_completed_groups` complete
// with settings.min_sites contributors between them (each group alone needs
// only the secure-aggregation floor).
//
// Within a group the members' weights are renormalised to sum to 1, so each
// group's outcome is the group's weighted mean; GroupWeight(k) converts it
// back to the round's weight scale.
// Not thread-safe: one thread drives it (like SecureRound).
class GroupedRound {
 public:
  // `groups` partitions indices into `participants` (weights sum to 1 over
  // all participants); every group needs at least 2 members, or 1 with
  // settings.allow_single_site (secure aggregation off). Each group's
  // graph seed is derived from settings.graph_seed and the group number.
  // With `workers`, each group's unmask arithmetic runs on that pool (groups
  // in parallel) and `on_progress` is called on the sender's executor each
  // time a group moved on by such a result, i.e. without a site message
  // (see SecureRound::Start).
  static Result<std::unique_ptr<GroupedRound>> Start(
      const RoundSettings& settings,
      const std::vector<RoundParticipant>& participants,
      const std::vector<std::vector<int>>& groups, int min_completed_groups,
      RoundSender* sender, cls::WorkerPool* workers = nullptr,
      std::function<void()> on_progress = {});

  void OnMessage(const std::string& site_id, const protocol::Message& message);
  void OnSiteLost(const std::string& site_id);
  // Deadline of the stage the groups were in when the deadline was armed:
  // only groups that have not moved on since MarkArmed() are hit.
  void OnDeadline();
  void MarkArmed();
  // The operator's abort: every group still running aborts with `reason`
  // (see SecureRound::Abort), and the round ends aborted with that reason
  // even if some groups completed.
  void Abort(std::string reason);

  bool finished() const;
  // Some group's unmask arithmetic is running on the worker pool.
  bool computing() const;
  // kCompleted when finished with enough completed groups, kAborted when
  // finished without; otherwise the earliest stage of a running group.
  RoundStage stage() const;
  int transitions() const;
  bool IsParticipant(const std::string& site_id) const {
    return group_of_.count(site_id) > 0;
  }
  uint64_t round_id() const { return round_id_; }
  std::string abort_reason() const;
  // Every group's misbehaving sites (see SecureRound::misbehaviours).
  std::vector<Misbehaviour> misbehaviours() const;
  const RoundSettings& settings() const { return rounds_.front()->settings(); }
  // Every group's participants (dropped ones included).
  std::vector<ParticipantState> participants() const;
  // Once completed: the completed groups together, as one round would have
  // produced it (mean_delta is the weighted mean over every contributor;
  // ring_sum only with a single group).
  const RoundOutcome& outcome() const;
  // outcome() without the cross-group mean_delta: with many groups of a
  // large model that mean is the round's heaviest arithmetic, which the
  // finalizer does on the worker pool from the group means instead.
  RoundOutcome SummaryOutcome() const;
  // Moves group k's mean delta out (its outcome().mean_delta is empty
  // afterwards); for the finalizer, once the round is finished.
  std::vector<float> TakeGroupMean(size_t k) {
    return rounds_[k]->TakeMeanDelta();
  }

  size_t group_count() const { return groups_.size(); }
  const SecureRound& group(size_t k) const { return *rounds_[k]; }
  // Members of group k as indices into the round's participant list.
  const std::vector<int>& members(size_t k) const { return groups_[k]; }
  // The round's participants with their round-scale weights.
  const std::vector<RoundParticipant>& all_participants() const {
    return participants_;
  }
  // Sum of the round-scale weights of group k's contributors.
  double ContributorWeight(size_t k) const;

 private:
  GroupedRound() = default;
  uint64_t round_id_ = 0;
  int min_completed_ = 1;
  size_t min_sites_ = 0;  // contributors over all completed groups
  std::vector<RoundParticipant> participants_;
  std::vector<std::vector<int>> groups_;
  std::vector<std::unique_ptr<SecureRound>> rounds_;
  std::unordered_map<std::string, size_t> group_of_;
  std::vector<int> armed_transitions_;
  mutable std::optional<RoundOutcome> outcome_;
  std::string operator_abort_;  // set by Abort()

  RoundOutcome CombineGroups(bool with_mean_delta) const;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_GROUPED_ROUND_H_
