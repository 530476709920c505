#include "coordinator/versions/version_evaluation.h"

#include <cmath>

namespace cls::coordinator {
namespace {

constexpr size_t kMaxBins = 1000;

uint64_t Total(const std::vector<uint64_t>& h, bool& overflow) {
  uint64_t sum = 0;
  for (uint64_t v : h) {
    if (v > (uint64_t{1} << 40) || sum > (uint64_t{1} << 40)) overflow = true;
    sum += v;
  }
  return sum;
}

}  // namespace

bool CheckEvaluationScores(const protocol::EvaluationReport& report) {
  const auto& s = report.scores;
  const uint64_t limit = uint64_t{1} << 40;
  if (s.true_positives > limit || s.false_positives > limit ||
      s.true_negatives > limit || s.false_negatives > limit) {
    return false;
  }
  const uint64_t confusion = s.true_positives + s.false_positives +
                             s.true_negatives + s.false_negatives;
  if (s.positive_histogram.empty() && s.negative_histogram.empty()) {
    return confusion == 0 || confusion == report.metrics.count;
  }
  if (s.positive_histogram.size() != s.negative_histogram.size() ||
      s.positive_histogram.size() > kMaxBins) {
    return false;
  }
  bool overflow = false;
  const uint64_t positives = Total(s.positive_histogram, overflow);
  const uint64_t negatives = Total(s.negative_histogram, overflow);
  return !overflow && positives == s.true_positives + s.false_negatives &&
         negatives == s.false_positives + s.true_negatives &&
         confusion == report.metrics.count;
}

Status RecordVersionEvaluation(CoordinatorStore& store,
                               const std::string& current_version,
                               const protocol::EvaluationReport& report) {
  if (report.model_version != current_version) return {};
  VersionEvaluation e;
  e.count = static_cast<int64_t>(report.metrics.count);
  e.correct = static_cast<int64_t>(report.metrics.correct);
  // A non-finite loss from one site would poison the sum for good.
  const double loss = report.metrics.loss_sum;
  e.loss_sum = std::isfinite(loss) && loss >= 0 ? loss : 0;
  e.train_samples = static_cast<int64_t>(report.metrics.train_samples);
  e.scores.true_positives = report.scores.true_positives;
  e.scores.false_positives = report.scores.false_positives;
  e.scores.true_negatives = report.scores.true_negatives;
  e.scores.false_negatives = report.scores.false_negatives;
  e.scores.positive_histogram = report.scores.positive_histogram;
  e.scores.negative_histogram = report.scores.negative_histogram;
  // Per-class counts (K > 2) only when they fit together and cover every
  // held-out row; otherwise the report adds none.
  core::ClassCounts classes{report.metrics.class_correct,
                            report.metrics.class_support,
                            report.metrics.class_predicted};
  uint64_t support = 0;
  for (uint64_t v : classes.support) support += v;
  if (!classes.support.empty() && classes.Consistent() &&
      support == report.metrics.count) {
    e.classes = std::move(classes);
  }
  return store.AddVersionEvaluation(current_version, e);
}

}  // namespace cls::coordinator
