#ifndef CLS_SITE_AGENT_SERVING_STATE_H_
#define CLS_SITE_AGENT_SERVING_STATE_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "core/model.h"
#include "core/rollout/deployment.h"
#include "protocol/messages.h"
#include "site-agent/drift_settings.h"
#include "site-agent/state_store.h"

namespace cls::site {

// One model version the site can serve.
struct ServedVersion {
  std::string version_id;
  std::string hash;  // ModelHash(parameters)
  std::vector<float> parameters;
  // core::ModelSpec text; empty = the site's default (logistic regression,
  // as versions before model kinds were).
  std::string spec = {};
};

// What the site serves: the coordinator's latest DeploymentUpdate, or, before
// any was received, the latest global model alone (deployment_id empty,
// IMMEDIATE), so a fresh site serves something after its first round.
struct ServingDeployment {
  std::string deployment_id;  // "" = the default deployment
  rollout::DeploymentState routing;
  ServedVersion current;
  std::optional<ServedVersion> candidate;
  DriftSettings drift;  // the coordinator's [drift] settings
};

inline constexpr std::string_view kDeploymentFile = "deployment.json";

// The default deployment: `model` as the current version, nothing else.
ServingDeployment DefaultDeployment(const GlobalModel& model);

// Checks a pushed deployment: known strategy, non-empty version ids of at
// most 256 bytes, a candidate exactly when the routing names one, the
// percentage in [0, 100], a salt for a rollout, each version's hash equal to
// ModelHash of its parameters, and a routing state that core/rollout accepts.
// InvalidArgument naming the first problem.
Result<ServingDeployment> DeploymentFromUpdate(
    const protocol::DeploymentUpdate& update);

// deployment.json: the routing state, the versions' ids, hashes and
// parameters. Parsing re-checks everything DeploymentFromUpdate checks, so a
// torn or edited file is DataLoss, never served.
std::string EncodeDeployment(const ServingDeployment& deployment);
Result<ServingDeployment> DecodeDeployment(std::string_view json);
// Atomic replace (WriteFileAtomically).
Status SaveDeployment(const std::filesystem::path& path,
                      const ServingDeployment& deployment);
// std::nullopt when the file does not exist.
Result<std::optional<ServingDeployment>> LoadDeployment(
    const std::filesystem::path& path);

// A deployment ready to serve: its routing (core/rollout Deployment, sticky
// SipHash buckets) and one core::Model per version. Immutable after Create,
// so its const methods may run concurrently; the owner swaps in a new
// ServingState when a deployment arrives.
class ServingState {
 public:
  // FailedPrecondition when a version's model does not fit `num_features`
  // inputs and `num_classes` classes (the site's schema changed since it
  // was trained) or its spec cannot be built.
  static Result<ServingState> Create(ServingDeployment deployment,
                                     int num_features, int num_classes = 2);

  rollout::RouteDecision Route(std::string_view request_key) const {
    return routing_.Route(request_key);
  }
  const std::string& VersionFor(rollout::Arm arm) const {
    return routing_.VersionFor(arm);
  }
  // P(y = 1 | x) of the arm's version for a binary model, the predicted
  // class's probability otherwise; x has num_features() values.
  double Predict(rollout::Arm arm, const Eigen::MatrixXf& x) const;
  // The arm's K class probabilities for the one row of x.
  Eigen::RowVectorXf Probabilities(rollout::Arm arm,
                                   const Eigen::MatrixXf& x) const;

  int num_features() const { return num_features_; }
  int num_classes() const { return current_model_.num_classes(); }
  const ServingDeployment& deployment() const { return deployment_; }
  bool has_candidate() const { return candidate_model_.has_value(); }

 private:
  ServingState(ServingDeployment deployment, rollout::Deployment routing,
               int num_features, core::Model current);

  ServingDeployment deployment_;
  rollout::Deployment routing_;
  int num_features_ = 0;
  core::Model current_model_;
  std::optional<core::Model> candidate_model_;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_SERVING_STATE_H_
