#include "site-agent/local_candidate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/drift/drift_alert.h"

namespace cls::site {

Result<LocalCandidateMode> ParseLocalCandidateMode(std::string_view name) {
  if (name == "off") return LocalCandidateMode::kOff;
  if (name == "shadow") return LocalCandidateMode::kShadow;
  if (name == "ab") return LocalCandidateMode::kAb;
  return InvalidArgument("must be \"off\", \"shadow\" or \"ab\"");
}

std::string_view LocalCandidateModeName(LocalCandidateMode mode) {
  switch (mode) {
    case LocalCandidateMode::kShadow:
      return "shadow";
    case LocalCandidateMode::kAb:
      return "ab";
    default:
      return "off";
  }
}

LocalCandidate::LocalCandidate(const LocalCandidateOptions& options)
    // The salt only spreads keys; it is not secret from the site itself.
    : options_(options), router_("site-local-candidate") {}

Result<std::unique_ptr<LocalCandidate>> LocalCandidate::Create(
    const LocalCandidateOptions& options) {
  if (options.mode == LocalCandidateMode::kAb &&
      !(options.share > 0 && options.share < 1)) {
    return InvalidArgument("local candidate: share must be in (0, 1)");
  }
  if (!(options.max_severity > 0 && options.max_severity <= 1)) {
    return InvalidArgument("local candidate: max_severity must be in (0, 1]");
  }
  if (auto m = drift::DriftMonitor::Create(options.drift); !m) {
    return std::unexpected(m.error());
  }
  if (auto t = rollout::SequentialComparison::Create(options.test); !t) {
    return std::unexpected(t.error());
  }
  return std::unique_ptr<LocalCandidate>(new LocalCandidate(options));
}

Status LocalCandidate::Set(std::vector<float> parameters, int num_features) {
  core::ModelSpec spec;
  spec.kind = core::ModelKind::kLogisticRegression;
  spec.num_features = num_features;
  spec.num_classes = 2;
  return Set(std::move(parameters), spec);
}

Status LocalCandidate::Set(std::vector<float> parameters,
                           const core::ModelSpec& spec) {
  if (options_.mode == LocalCandidateMode::kOff) return {};
  for (float p : parameters) {
    if (!std::isfinite(p)) {
      return InvalidArgument("local candidate: non-finite parameter");
    }
  }
  auto model = core::Model::FromParameters(spec, parameters);
  if (!model) return std::unexpected(model.error());
  auto monitor = drift::DriftMonitor::Create(options_.drift);
  auto test = rollout::SequentialComparison::Create(options_.test);
  if (!monitor) return std::unexpected(monitor.error());
  if (!test) return std::unexpected(test.error());
  std::lock_guard lock(mu_);
  model_ = std::move(*model);
  monitor_ = std::move(*monitor);
  test_ = std::move(*test);
  deployed_ = {};
  candidate_ = {};
  withdrawn_.clear();
  ++generation_;
  spdlog::info("serve: site-local candidate {} ({}) from online learning",
               generation_, LocalCandidateModeName(options_.mode));
  return {};
}

std::optional<LocalScore> LocalCandidate::Score(
    std::string_view request_key, const Eigen::MatrixXf& x) const {
  std::lock_guard lock(mu_);
  if (!model_ || !withdrawn_.empty() ||
      options_.mode == LocalCandidateMode::kOff) {
    return std::nullopt;
  }
  LocalScore score;
  score.generation = generation_;
  const Eigen::MatrixXf p = model_->PredictProbability(x);  // 1 x K
  score.probabilities.assign(p.data(), p.data() + p.cols());
  if (p.cols() == 2) {
    score.probability = p(0, 1);
    score.label = score.probability >= 0.5 ? 1 : 0;
  } else {
    Eigen::Index best = 0;
    score.probability = p.row(0).maxCoeff(&best);
    score.label = static_cast<int>(best);
  }
  if (options_.mode == LocalCandidateMode::kAb) {
    score.served =
        router_.Bucket(request_key) <
        static_cast<uint32_t>(options_.share * rollout::kRouteBuckets);
  }
  return score;
}

void LocalCandidate::RecordOutcome(const LocalScore& score, int deployed_label,
                                   int outcome, int64_t now_s) {
  std::lock_guard lock(mu_);
  if (score.generation != generation_ || !withdrawn_.empty() || !monitor_) {
    return;
  }
  // Correctness, whatever the number of classes: predicted class ==
  // outcome, for the candidate and for the deployed version alike.
  const int label = score.label;
  const bool correct = label == outcome;
  const bool deployed_correct = deployed_label == outcome;
  // Shadow: both on the same requests. A/B: each on the requests it served.
  if (options_.mode == LocalCandidateMode::kShadow || score.served) {
    ++candidate_.n;
    candidate_.successes += correct;
  }
  if (options_.mode == LocalCandidateMode::kShadow || !score.served) {
    ++deployed_.n;
    deployed_.successes += deployed_correct;
  }
  if (options_.mode == LocalCandidateMode::kShadow || score.served) {
    // The confidence of the class predicted (for K > 2 the probability is
    // already the predicted class's).
    const double confidence = std::clamp(
        score.probabilities.size() > 2 || label == 1 ? score.probability
                                                     : 1 - score.probability,
        0.0, 1.0);
    auto alert = monitor_->RecordPrediction(confidence, correct, now_s);
    if (alert && *alert &&
        ((*alert)->drift_type == drift::DriftType::kPerformance ||
         (*alert)->drift_type == drift::DriftType::kConcept) &&
        (*alert)->severity > options_.max_severity) {
      Withdraw(fmt::format("{} ({}) severity {:.2f} > {:.2f}",
                           drift::DriftTypeName((*alert)->drift_type),
                           (*alert)->detector, (*alert)->severity,
                           options_.max_severity));
      return;
    }
  }
  auto result = test_->Update(deployed_, candidate_);
  if (result && result->verdict == rollout::Verdict::kCandidateWorse) {
    Withdraw("sequential test: " +
             rollout::DescribeComparison(*result, "deployed", "site-local"));
  }
}

void LocalCandidate::Withdraw(const std::string& reason) {
  withdrawn_ = reason;
  ++withdrawals_;
  spdlog::warn("serve: site-local candidate {} WITHDRAWN: {}", generation_,
               reason);
}

bool LocalCandidate::active() const {
  std::lock_guard lock(mu_);
  return model_ && withdrawn_.empty() &&
         options_.mode != LocalCandidateMode::kOff;
}

std::string LocalCandidate::withdrawn_reason() const {
  std::lock_guard lock(mu_);
  return withdrawn_;
}

uint64_t LocalCandidate::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

int64_t LocalCandidate::withdrawals() const {
  std::lock_guard lock(mu_);
  return withdrawals_;
}

rollout::ComparisonResult LocalCandidate::comparison() const {
  std::lock_guard lock(mu_);
  return test_ ? test_->latest() : rollout::ComparisonResult{};
}

}  // namespace cls::site
