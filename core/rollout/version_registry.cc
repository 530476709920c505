#include "core/rollout/version_registry.h"

#include <cmath>
#include <ctime>
#include <utility>

#include "crypto/sha256.h"

namespace cls::rollout {
namespace {

Status CheckUnitMetric(double value, std::string_view field) {
  if (!(value >= 0 && value <= 1)) {
    return InvalidArgument("create_version: " + std::string(field) +
                           " must be a finite number in [0, 1]");
  }
  return {};
}

std::string UtcStamp(int64_t now_s, const char* format) {
  const std::time_t t = static_cast<std::time_t>(now_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, format, &tm);
  return out;
}

}  // namespace

std::string_view VersionRoleName(VersionRole role) {
  switch (role) {
    case VersionRole::kCreated:
      return "created";
    case VersionRole::kCurrent:
      return "current";
    case VersionRole::kCandidate:
      return "candidate";
    case VersionRole::kRetired:
      return "retired";
  }
  return "created";
}

Result<const ModelVersion*> VersionRegistry::Create(
    const VersionMetrics& metrics, std::span<const float> parameters,
    int64_t now_s) {
  CLS_RETURN_IF_ERROR(CheckUnitMetric(metrics.accuracy, "accuracy"));
  CLS_RETURN_IF_ERROR(CheckUnitMetric(metrics.precision, "precision"));
  CLS_RETURN_IF_ERROR(CheckUnitMetric(metrics.recall, "recall"));
  CLS_RETURN_IF_ERROR(CheckUnitMetric(metrics.f1_score, "f1_score"));
  if (metrics.training_samples < 0) {
    return InvalidArgument("create_version: training_samples must be >= 0");
  }
  if (parameters.empty()) {
    return InvalidArgument("create_version: model_params is empty");
  }
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (!std::isfinite(parameters[i])) {
      return InvalidArgument("create_version: model_params[" +
                             std::to_string(i) + "] is not finite");
    }
  }
  ModelVersion v;
  v.sequence = static_cast<int64_t>(versions_.size()) + 1;
  v.version_id =
      "v" + std::to_string(v.sequence) + "_" + UtcStamp(now_s, "%Y%m%d_%H%M%S");
  v.metrics = metrics;
  v.model_hash = crypto::Sha256Hex(
      ByteSpan(reinterpret_cast<const uint8_t*>(parameters.data()),
               parameters.size_bytes()));
  v.parameters.assign(parameters.begin(), parameters.end());
  v.created_at = UtcStamp(now_s, "%Y-%m-%dT%H:%M:%SZ");
  index_.emplace(v.version_id, versions_.size());
  versions_.push_back(std::move(v));
  return &versions_.back();
}

Result<ModelVersion*> VersionRegistry::Find(const std::string& version_id) {
  auto it = index_.find(version_id);
  if (it == index_.end()) {
    return NotFound("no version '" + version_id + "'");
  }
  return &versions_[it->second];
}

void VersionRegistry::MakeCurrent(ModelVersion& v) {
  v.ever_stable = true;
  comparison_.reset();
  current_since_rollout_ = {};
  candidate_since_rollout_ = {};
}

Result<double> VersionRegistry::Deploy(const std::string& version_id,
                                       DeploymentStrategy strategy,
                                       std::string salt,
                                       std::optional<double> percentage) {
  CLS_ASSIGN_OR_RETURN(ModelVersion * v, Find(version_id));
  if (percentage) {
    if (strategy != DeploymentStrategy::kGradualRollout) {
      return InvalidArgument(
          "deploy: a starting percentage is for gradual_rollout only");
    }
    if (!(*percentage > 0 && *percentage <= 100)) {
      return InvalidArgument("deploy: percentage must be in (0, 100]");
    }
    if (!deployment_) {
      return FailedPrecondition(
          "deploy: nothing deployed yet; the first version serves 100%");
    }
  }
  if (!deployment_) {
    CLS_ASSIGN_OR_RETURN(Deployment d, Deployment::Create(version_id));
    deployment_ = std::move(d);
    v->strategy = strategy;
    MakeCurrent(*v);
    return StatusOf(*v).deployment_percentage;
  }
  CLS_RETURN_IF_ERROR(deployment_->Deploy(version_id, strategy, salt));
  v->strategy = strategy;
  if (percentage) {
    // Deploy started at the guide's 10%; the same rollout at the asked
    // share (Restore validates it), lower or higher.
    DeploymentState state = deployment_->state();
    state.percentage = *percentage;
    CLS_ASSIGN_OR_RETURN(Deployment d, Deployment::Restore(state));
    deployment_ = std::move(d);
  }
  if (strategy == DeploymentStrategy::kImmediate ||
      deployment_->state().percentage >= 100) {
    CLS_RETURN_IF_ERROR(deployment_->Promote());
    MakeCurrent(*v);
  } else {
    CLS_ASSIGN_OR_RETURN(SequentialComparison c,
                         SequentialComparison::Create());
    comparison_ = std::move(c);
    current_since_rollout_ = {};
    candidate_since_rollout_ = {};
  }
  return StatusOf(*v).deployment_percentage;
}

Result<double> VersionRegistry::IncreaseRollout(const std::string& version_id,
                                                double by) {
  CLS_ASSIGN_OR_RETURN(ModelVersion * v, Find(version_id));
  if (!deployment_ || deployment_->state().candidate_version != version_id) {
    return FailedPrecondition("increase_rollout: '" + version_id +
                              "' is not rolling out");
  }
  CLS_ASSIGN_OR_RETURN(double percentage, deployment_->IncreaseRollout(by));
  if (percentage >= 100) {
    CLS_RETURN_IF_ERROR(deployment_->Promote());
    MakeCurrent(*v);
  }
  return percentage;
}

Status VersionRegistry::Promote(const std::string& version_id) {
  CLS_ASSIGN_OR_RETURN(ModelVersion * v, Find(version_id));
  if (!deployment_ || deployment_->state().candidate_version != version_id) {
    return FailedPrecondition("promote: '" + version_id +
                              "' is not rolling out");
  }
  CLS_RETURN_IF_ERROR(deployment_->Promote());
  MakeCurrent(*v);
  return {};
}

Status VersionRegistry::Rollback(const std::string& version_id) {
  CLS_ASSIGN_OR_RETURN(ModelVersion * v, Find(version_id));
  if (!deployment_) return FailedPrecondition("rollback: nothing deployed");
  if (deployment_->state().current_version == version_id) {
    if (!deployment_->in_rollout()) {
      return FailedPrecondition("rollback: '" + version_id +
                                "' already serves all requests");
    }
    CLS_RETURN_IF_ERROR(deployment_->Rollback());
    MakeCurrent(*v);
    return {};
  }
  if (!v->ever_stable) {
    return FailedPrecondition("rollback: '" + version_id +
                              "' was never the current version");
  }
  CLS_ASSIGN_OR_RETURN(Deployment d, Deployment::Create(version_id));
  deployment_ = std::move(d);
  MakeCurrent(*v);
  return {};
}

Result<RoutedVersion> VersionRegistry::Route(
    std::string_view request_key) const {
  if (!deployment_) return FailedPrecondition("route: nothing deployed");
  const RouteDecision d = deployment_->Route(request_key);
  RoutedVersion r;
  r.serve = deployment_->VersionFor(d.serve);
  if (d.shadow_candidate) r.shadow = deployment_->VersionFor(Arm::kCandidate);
  return r;
}

Status VersionRegistry::RecordOutcome(const std::string& version_id,
                                      bool correct) {
  CLS_ASSIGN_OR_RETURN(ModelVersion * v, Find(version_id));
  const VersionStatus s = StatusOf(*v);
  if (!s.is_active) {
    return FailedPrecondition("record_outcome: '" + version_id +
                              "' serves no requests");
  }
  const int64_t success = correct ? 1 : 0;
  v->outcomes.n += 1;
  v->outcomes.successes += success;
  ArmCounts& arm = s.role == VersionRole::kCandidate ? candidate_since_rollout_
                                                     : current_since_rollout_;
  arm.n += 1;
  arm.successes += success;
  return {};
}

Result<ComparisonResult> VersionRegistry::Compare() {
  if (!deployment_ || !deployment_->in_rollout() || !comparison_) {
    return FailedPrecondition("compare: no candidate is rolling out");
  }
  return comparison_->Update(current_since_rollout_, candidate_since_rollout_);
}

VersionStatus VersionRegistry::StatusOf(const ModelVersion& v) const {
  VersionStatus s;
  s.version = &v;
  s.role = v.ever_stable ? VersionRole::kRetired : VersionRole::kCreated;
  if (!deployment_) return s;
  // A shadow candidate's percentage is 0: the current version answers all.
  const DeploymentState& d = deployment_->state();
  if (d.current_version == v.version_id) {
    s.role = VersionRole::kCurrent;
    s.is_active = true;
    s.deployment_percentage =
        deployment_->in_rollout() ? 100 - d.percentage : 100;
  } else if (d.candidate_version == v.version_id) {
    s.role = VersionRole::kCandidate;
    s.is_active = true;
    s.deployment_percentage = d.percentage;
  } else if (v.strategy && !v.ever_stable) {
    // Deployed once as a candidate, then rolled back.
    s.role = VersionRole::kRetired;
  }
  return s;
}

std::vector<VersionStatus> VersionRegistry::List() const {
  std::vector<VersionStatus> out;
  out.reserve(versions_.size());
  for (const ModelVersion& v : versions_) out.push_back(StatusOf(v));
  return out;
}

Result<VersionStatus> VersionRegistry::Get(
    const std::string& version_id) const {
  auto it = index_.find(version_id);
  if (it == index_.end()) {
    return NotFound("no version '" + version_id + "'");
  }
  return StatusOf(versions_[it->second]);
}

}  // namespace cls::rollout
