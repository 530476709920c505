#ifndef CLS_CORE_ROLLOUT_VERSION_REGISTRY_H_
#define CLS_CORE_ROLLOUT_VERSION_REGISTRY_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "core/rollout/deployment.h"
#include "core/rollout/deployment_strategy.h"
#include "core/rollout/sequential_test.h"

namespace cls::rollout {

// The guide's version metrics (create_version's arguments).
struct VersionMetrics {
  double accuracy = 0;
  double precision = 0;
  double recall = 0;
  double f1_score = 0;
  int64_t training_samples = 0;
};

struct ModelVersion {
  std::string version_id;  // v{N}_{YYYYMMDD_HHMMSS}, as the coordinator's
  int64_t sequence = 0;    // N, from 1
  VersionMetrics metrics;
  // SHA-256 (hex) of the parameters as float32 in host order, the
  // coordinator's ParameterHash.
  std::string model_hash;
  std::vector<float> parameters;
  std::string created_at;  // ISO 8601 UTC, e.g. "2026-12-07T06:40:00Z"
  // Has been the current (stable) version: only those are rollback targets.
  bool ever_stable = false;
  // How it was last deployed (none: only created).
  std::optional<DeploymentStrategy> strategy;
  ArmCounts outcomes;  // RecordOutcome's counts while it served
};

enum class VersionRole { kCreated, kCurrent, kCandidate, kRetired };
// "created", "current", "candidate", "retired".
std::string_view VersionRoleName(VersionRole role);

// A version and its place in the deployment now.
struct VersionStatus {
  const ModelVersion* version = nullptr;
  VersionRole role = VersionRole::kCreated;
  // Share of requests it answers, [0, 100]; a shadow candidate answers 0%.
  double deployment_percentage = 0;
  // Answers requests or scores them in shadow.
  bool is_active = false;
};

// Where one request goes: the version that answers and, in shadow mode, the
// version that also scores it (empty otherwise).
struct RoutedVersion {
  std::string serve;
  std::string shadow;
};

// The versions of one model in one process (the guide's in-process
// ModelVersionManager) and the Deployment that serves them. The
// coordinator keeps its versions in SQLite instead; this holds the same
// rules for a notebook or a single process:
//  - the first deployed version becomes the current one at 100% whatever
//    the strategy (there is nothing else to serve);
//  - IMMEDIATE promotes the new version at once; the other strategies start
//    a rollout (10%, 50%, shadow 0%) of the candidate next to the current
//    version, and a gradual rollout reaching 100% promotes it;
//  - rollback goes to the current version or to any earlier version that
//    was once current, never to one that was not.
// Not thread-safe.
class VersionRegistry {
 public:
  // Registers a version (validated: metrics finite in [0, 1], samples >= 0,
  // parameters non-empty and finite; the error names the field). now_s
  // (Unix seconds) dates the id.
  Result<const ModelVersion*> Create(const VersionMetrics& metrics,
                                     std::span<const float> parameters,
                                     int64_t now_s);

  // Deploys a created (or retired) version; returns its share of requests
  // afterwards. The salt must be new for each rollout. `percentage` is a
  // gradual rollout's starting share in (0, 100] instead of the guide's 10
  // (InvalidArgument with another strategy; FailedPrecondition for the
  // first deployment, which serves 100%). NotFound for an unknown id,
  // FailedPrecondition while another rollout is in progress.
  Result<double> Deploy(const std::string& version_id,
                        DeploymentStrategy strategy, std::string salt,
                        std::optional<double> percentage = std::nullopt);
  // The guide's increase_rollout(version_id, by): gradual rollout of the
  // candidate only; returns its new percentage (100 promotes it).
  Result<double> IncreaseRollout(const std::string& version_id, double by);
  // The candidate (an A/B or shadow winner) becomes the current version.
  Status Promote(const std::string& version_id);
  // The guide's rollback_version(version_id): all traffic to that version,
  // which must be the current one during a rollout or an earlier current
  // one (FailedPrecondition otherwise, saying why).
  Status Rollback(const std::string& version_id);

  // The routing of one request (sticky per request_key, see StickyRouter).
  // FailedPrecondition before the first deployment.
  Result<RoutedVersion> Route(std::string_view request_key) const;

  // One outcome (prediction correct or not) of a request `version_id`
  // answered; counted per version for Compare.
  Status RecordOutcome(const std::string& version_id, bool correct);
  // The sequential A/B test (SequentialComparison) of the candidate against
  // the current version on their outcomes since the rollout started.
  Result<ComparisonResult> Compare();

  std::vector<VersionStatus> List() const;  // oldest first
  Result<VersionStatus> Get(const std::string& version_id) const;
  // The deployment, once a version was deployed.
  const std::optional<Deployment>& deployment() const { return deployment_; }

 private:
  Result<ModelVersion*> Find(const std::string& version_id);
  VersionStatus StatusOf(const ModelVersion& v) const;
  void MakeCurrent(ModelVersion& v);

  std::deque<ModelVersion> versions_;  // a deque: pointers stay valid
  std::map<std::string, size_t, std::less<>> index_;
  std::optional<Deployment> deployment_;
  std::optional<SequentialComparison> comparison_;
  // Outcomes of each arm since the rollout started (Compare's input).
  ArmCounts current_since_rollout_;
  ArmCounts candidate_since_rollout_;
};

}  // namespace cls::rollout

#endif  // CLS_CORE_ROLLOUT_VERSION_REGISTRY_H_
