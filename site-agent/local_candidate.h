#ifndef CLS_SITE_AGENT_LOCAL_CANDIDATE_H_
#define CLS_SITE_AGENT_LOCAL_CANDIDATE_H_

#include <Eigen/Dense>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "core/drift/drift_monitor.h"
#include "core/model.h"
#include "core/rollout/sequential_test.h"
#include "core/rollout/sticky_router.h"

namespace cls::site {

// [online] serve_candidate (docs/serving.md "The site-local candidate").
enum class LocalCandidateMode { kOff, kShadow, kAb };
Result<LocalCandidateMode> ParseLocalCandidateMode(std::string_view name);
std::string_view LocalCandidateModeName(LocalCandidateMode mode);

// The served version id of the site-local candidate: what /v1/predict and
// the site's metrics name it. Never a coordinator version id (those are
// v{N}_{date}_{time}), and never sent to the coordinator.
inline constexpr std::string_view kLocalCandidateVersion = "site-local";

struct LocalCandidateOptions {
  LocalCandidateMode mode = LocalCandidateMode::kOff;
  double share = 0.1;  // A/B: the candidate's share of requests, (0, 1)
  // A performance or concept drift alert above this withdraws it (the
  // coordinator's rollback level, rollout::RollbackPolicy).
  double max_severity = 0.8;
  drift::DriftMonitorConfig drift;
  rollout::SequentialTestConfig test;
};

// What the candidate made of one request.
struct LocalScore {
  uint64_t generation = 0;  // which parameters scored it
  // Binary: P(class 1); K > 2: the predicted class's probability.
  double probability = 0;
  bool served = false;  // A/B: returned instead of the deployed version's
  // The predicted class (binary: P(class 1) >= 0.5; else the argmax) and
  // all K class probabilities.
  int label = 0;
  std::vector<float> probabilities = {};
};

// The model learned online at this site (OnlineIngest's model after its
// incremental updates, of any kind: logistic or softmax regression, MLP),
// served next to the deployed version: scored on
// every request and logged (shadow), or returned for `share` of the request
// keys (A/B, sticky by a keyed hash of the key). Each outcome feeds its own
// DriftMonitor and a sequential test (mSPRT, core/rollout) against the
// deployed version on the same traffic (shadow: the same requests; A/B: the
// requests each one served), both judged by correctness: predicted class ==
// outcome, for two classes or K. It is withdrawn automatically, and stays so
// until new parameters arrive, when the test says it is worse or a
// performance/concept alert exceeds max_severity. Its parameters never leave
// the site; nothing of it is reported to the coordinator. Thread-safe.
class LocalCandidate {
 public:
  static Result<std::unique_ptr<LocalCandidate>> Create(
      const LocalCandidateOptions& options);

  // New parameters from online learning: a new candidate (generation + 1)
  // with a fresh monitor and test. InvalidArgument if they do not fit the
  // spec or are not finite.
  Status Set(std::vector<float> parameters, const core::ModelSpec& spec);
  // A binary logistic regression over num_features inputs.
  Status Set(std::vector<float> parameters, int num_features);

  // nullopt when off, withdrawn or not set yet. x: one standardised row.
  std::optional<LocalScore> Score(std::string_view request_key,
                                  const Eigen::MatrixXf& x) const;
  // The outcome (class index) of a request the candidate scored;
  // deployed_label is the class the deployed version predicted for it.
  // Outcomes of an older generation are ignored.
  void RecordOutcome(const LocalScore& score, int deployed_label, int outcome,
                     int64_t now_s);

  bool active() const;
  std::string withdrawn_reason() const;  // "" while not withdrawn
  uint64_t generation() const;
  int64_t withdrawals() const;
  LocalCandidateMode mode() const { return options_.mode; }
  // The comparison so far (candidate vs deployed).
  rollout::ComparisonResult comparison() const;

 private:
  explicit LocalCandidate(const LocalCandidateOptions& options);
  void Withdraw(const std::string& reason);

  const LocalCandidateOptions options_;
  const rollout::StickyRouter router_;
  mutable std::mutex mu_;
  std::optional<core::Model> model_;
  uint64_t generation_ = 0;
  std::optional<drift::DriftMonitor> monitor_;
  std::optional<rollout::SequentialComparison> test_;
  rollout::ArmCounts deployed_;
  rollout::ArmCounts candidate_;
  std::string withdrawn_;
  int64_t withdrawals_ = 0;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_LOCAL_CANDIDATE_H_
