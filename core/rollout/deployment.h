#ifndef CLS_CORE_ROLLOUT_DEPLOYMENT_H_
#define CLS_CORE_ROLLOUT_DEPLOYMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "core/rollout/deployment_strategy.h"
#include "core/rollout/sticky_router.h"

namespace cls::rollout {

// Which of the two versions a request gets.
enum class Arm : uint8_t { kCurrent, kCandidate };

// A routing decision: the version whose prediction is returned, and
// whether the candidate should also score the request (shadow mode; both
// predictions are logged, only the served one is returned).
struct RouteDecision {
  Arm serve = Arm::kCurrent;
  bool shadow_candidate = false;
  uint32_t bucket = 0;
};

// Everything needed to rebuild a deployment (persisted by the daemons,
// sent from the coordinator to the sites).
struct DeploymentState {
  std::string current_version;    // the last stable version
  std::string candidate_version;  // empty: no rollout in progress
  DeploymentStrategy strategy = DeploymentStrategy::kImmediate;
  double percentage = 0;  // candidate's share of requests, [0, 100]
  std::string salt;       // per rollout; decides which encounters go first
};

// The versions being served by one model and how requests split between
// them. A request goes to the candidate when its bucket (StickyRouter) is
// below percentage * 100, so raising the percentage only adds buckets: an
// encounter that saw the candidate at 10% still sees it at 25%. Lowering
// the percentage is refused (roll back instead). Route is const and
// lock-free; the mutators are not thread-safe (the caller swaps a new
// Deployment in, or holds a lock).
class Deployment {
 public:
  // A deployment serving only `current_version`.
  static Result<Deployment> Create(std::string current_version);
  // Rebuilds one from a persisted or received state (validated).
  static Result<Deployment> Restore(const DeploymentState& state);

  // Starts a rollout of `candidate_version` with the strategy's initial
  // percentage (100, 10, 50, or 0 + shadow). The salt must be new for each
  // rollout (e.g. the candidate's version id plus a random nonce).
  Status Deploy(std::string candidate_version, DeploymentStrategy strategy,
                std::string salt);
  // `rollout --to P`: gradual rollout only, P in (current, 100].
  Status SetRolloutPercentage(double percentage);
  // The guide's increase_rollout(version, by): returns the new percentage
  // (capped at 100).
  Result<double> IncreaseRollout(double by);
  // The candidate becomes the current (stable) version.
  Status Promote();
  // All traffic returns to the current (last stable) version.
  Status Rollback();

  RouteDecision Route(std::string_view request_key) const;
  const std::string& VersionFor(Arm arm) const {
    return arm == Arm::kCandidate ? state_.candidate_version
                                  : state_.current_version;
  }

  const DeploymentState& state() const { return state_; }
  bool in_rollout() const { return !state_.candidate_version.empty(); }
  uint32_t candidate_buckets() const { return candidate_buckets_; }

 private:
  explicit Deployment(DeploymentState state);
  void Rebuild();

  DeploymentState state_;
  std::optional<StickyRouter> router_;
  uint32_t candidate_buckets_ = 0;
};

}  // namespace cls::rollout

#endif  // CLS_CORE_ROLLOUT_DEPLOYMENT_H_
