#ifndef CLS_CORE_ROLLOUT_DEPLOYMENT_STRATEGY_H_
#define CLS_CORE_ROLLOUT_DEPLOYMENT_STRATEGY_H_

#include <string_view>

#include "common/error.h"

namespace cls::rollout {

// The guide's DeploymentStrategy:
//   kImmediate:      the candidate serves 100% at once
//   kGradualRollout: the candidate serves 10%, raised by the operator
//   kAbTesting:      50/50 between the candidate and the current version
//   kShadowMode:     the candidate scores every request, both predictions
//                    are logged, only the current version's is returned
enum class DeploymentStrategy {
  kImmediate,
  kGradualRollout,
  kAbTesting,
  kShadowMode
};

// "immediate", "gradual_rollout", "ab_testing", "shadow_mode".
std::string_view DeploymentStrategyName(DeploymentStrategy strategy);
Result<DeploymentStrategy> ParseDeploymentStrategy(std::string_view name);

// Percentage of requests the candidate serves when deployed: 100, 10, 50, 0.
double InitialPercentage(DeploymentStrategy strategy);

}  // namespace cls::rollout

#endif  // CLS_CORE_ROLLOUT_DEPLOYMENT_STRATEGY_H_
