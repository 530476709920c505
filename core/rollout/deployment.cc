#include "core/rollout/deployment.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace cls::rollout {
namespace {

constexpr size_t kMaxNameLength = 256;

Status CheckVersionName(const std::string& name, std::string_view what) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return InvalidArgument(std::string(what) +
                           ": version id empty or longer than 256");
  }
  return {};
}

Status CheckPercentage(double p) {
  if (!(p >= 0 && p <= 100)) {
    return InvalidArgument("deployment: percentage must be in [0, 100]");
  }
  return {};
}

}  // namespace

Deployment::Deployment(DeploymentState state) : state_(std::move(state)) {
  Rebuild();
}

void Deployment::Rebuild() {
  if (in_rollout()) {
    router_.emplace(state_.salt);
  } else {
    router_.reset();
  }
  // 0.01% per bucket; rounding to the nearest bucket.
  candidate_buckets_ = static_cast<uint32_t>(std::lround(
      state_.percentage * static_cast<double>(kRouteBuckets) / 100.0));
}

Result<Deployment> Deployment::Create(std::string current_version) {
  if (auto s = CheckVersionName(current_version, "deployment"); !s) {
    return std::unexpected(s.error());
  }
  DeploymentState state;
  state.current_version = std::move(current_version);
  return Deployment(std::move(state));
}

Result<Deployment> Deployment::Restore(const DeploymentState& state) {
  if (auto s = CheckVersionName(state.current_version, "deployment"); !s) {
    return std::unexpected(s.error());
  }
  if (auto s = CheckPercentage(state.percentage); !s) {
    return std::unexpected(s.error());
  }
  if (!state.candidate_version.empty()) {
    if (auto s = CheckVersionName(state.candidate_version, "deployment"); !s) {
      return std::unexpected(s.error());
    }
    if (state.salt.empty()) {
      return InvalidArgument("deployment: a rollout needs a salt");
    }
    if (state.candidate_version == state.current_version) {
      return InvalidArgument("deployment: candidate equals current version");
    }
    if (state.strategy == DeploymentStrategy::kShadowMode &&
        state.percentage != 0) {
      return InvalidArgument("deployment: shadow mode serves 0%");
    }
  } else if (state.percentage != 0) {
    return InvalidArgument("deployment: percentage without a candidate");
  }
  return Deployment(state);
}

Status Deployment::Deploy(std::string candidate_version,
                          DeploymentStrategy strategy, std::string salt) {
  if (auto s = CheckVersionName(candidate_version, "deploy"); !s) return s;
  if (in_rollout()) {
    return FailedPrecondition("deploy: '" + state_.candidate_version +
                              "' is still rolling out; promote or roll back "
                              "first");
  }
  if (candidate_version == state_.current_version) {
    return InvalidArgument("deploy: '" + candidate_version +
                           "' is already the current version");
  }
  if (salt.empty()) return InvalidArgument("deploy: empty salt");
  state_.candidate_version = std::move(candidate_version);
  state_.strategy = strategy;
  state_.percentage = InitialPercentage(strategy);
  state_.salt = std::move(salt);
  Rebuild();
  return {};
}

Status Deployment::SetRolloutPercentage(double percentage) {
  if (!in_rollout()) return FailedPrecondition("rollout: nothing deployed");
  if (state_.strategy != DeploymentStrategy::kGradualRollout) {
    return FailedPrecondition(
        "rollout: strategy is " +
        std::string(DeploymentStrategyName(state_.strategy)) +
        ", not gradual_rollout");
  }
  if (auto s = CheckPercentage(percentage); !s) return s;
  if (percentage < state_.percentage) {
    return InvalidArgument("rollout: " + std::to_string(percentage) +
                           "% is below the current " +
                           std::to_string(state_.percentage) +
                           "% (encounters would switch back); roll back "
                           "instead");
  }
  state_.percentage = percentage;
  Rebuild();
  return {};
}

Result<double> Deployment::IncreaseRollout(double by) {
  if (!(by >= 0) || std::isinf(by)) {
    return InvalidArgument("rollout: increase must be >= 0");
  }
  const double to = std::min(100.0, state_.percentage + by);
  if (auto s = SetRolloutPercentage(to); !s) return std::unexpected(s.error());
  return state_.percentage;
}

Status Deployment::Promote() {
  if (!in_rollout()) return FailedPrecondition("promote: nothing deployed");
  state_.current_version = std::move(state_.candidate_version);
  state_.candidate_version.clear();
  state_.percentage = 0;
  state_.salt.clear();
  Rebuild();
  return {};
}

Status Deployment::Rollback() {
  if (!in_rollout()) return FailedPrecondition("rollback: nothing deployed");
  state_.candidate_version.clear();
  state_.percentage = 0;
  state_.salt.clear();
  Rebuild();
  return {};
}

RouteDecision Deployment::Route(std::string_view request_key) const {
  RouteDecision d;
  if (!router_) return d;
  d.bucket = router_->Bucket(request_key);
  if (state_.strategy == DeploymentStrategy::kShadowMode) {
    d.shadow_candidate = true;
    return d;
  }
  if (d.bucket < candidate_buckets_) d.serve = Arm::kCandidate;
  return d;
}

}  // namespace cls::rollout
