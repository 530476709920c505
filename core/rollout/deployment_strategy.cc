#include "core/rollout/deployment_strategy.h"

#include <string>

namespace cls::rollout {

std::string_view DeploymentStrategyName(DeploymentStrategy strategy) {
  switch (strategy) {
    case DeploymentStrategy::kImmediate:
      return "immediate";
    case DeploymentStrategy::kGradualRollout:
      return "gradual_rollout";
    case DeploymentStrategy::kAbTesting:
      return "ab_testing";
    case DeploymentStrategy::kShadowMode:
      return "shadow_mode";
  }
  return "unknown";
}

Result<DeploymentStrategy> ParseDeploymentStrategy(std::string_view name) {
  for (DeploymentStrategy s :
       {DeploymentStrategy::kImmediate, DeploymentStrategy::kGradualRollout,
        DeploymentStrategy::kAbTesting, DeploymentStrategy::kShadowMode}) {
    if (DeploymentStrategyName(s) == name) return s;
  }
  return InvalidArgument("deployment strategy: unknown name '" +
                         std::string(name) +
                         "' (immediate, gradual_rollout, ab_testing, "
                         "shadow_mode)");
}

double InitialPercentage(DeploymentStrategy strategy) {
  switch (strategy) {
    case DeploymentStrategy::kImmediate:
      return 100.0;
    case DeploymentStrategy::kGradualRollout:
      return 10.0;
    case DeploymentStrategy::kAbTesting:
      return 50.0;
    case DeploymentStrategy::kShadowMode:
      return 0.0;
  }
  return 0.0;
}

}  // namespace cls::rollout
