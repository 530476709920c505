#include "core/score_counts.h"

#include <algorithm>
#include <cmath>

namespace cls::core {

bool BinaryScoreCounts::Add(const BinaryScoreCounts& other) {
  if (other.positive_histogram.size() != positive_histogram.size() ||
      other.negative_histogram.size() != negative_histogram.size()) {
    return false;
  }
  true_positives += other.true_positives;
  false_positives += other.false_positives;
  true_negatives += other.true_negatives;
  false_negatives += other.false_negatives;
  for (size_t i = 0; i < positive_histogram.size(); ++i) {
    positive_histogram[i] += other.positive_histogram[i];
  }
  for (size_t i = 0; i < negative_histogram.size(); ++i) {
    negative_histogram[i] += other.negative_histogram[i];
  }
  return true;
}

BinaryScoreCounts CountBinaryScores(const Eigen::VectorXf& probability,
                                    const Eigen::VectorXf& labels, int bins) {
  bins = std::max(bins, 1);
  BinaryScoreCounts out;
  out.positive_histogram.assign(static_cast<size_t>(bins), 0);
  out.negative_histogram.assign(static_cast<size_t>(bins), 0);
  const Eigen::Index n = std::min(probability.size(), labels.size());
  for (Eigen::Index i = 0; i < n; ++i) {
    const float p = std::isfinite(probability[i]) ? probability[i] : 0.0f;
    const bool actual = labels[i] > 0.5f;
    const bool predicted = p >= 0.5f;
    if (actual && predicted) ++out.true_positives;
    if (actual && !predicted) ++out.false_negatives;
    if (!actual && predicted) ++out.false_positives;
    if (!actual && !predicted) ++out.true_negatives;
    const double scaled = std::clamp(static_cast<double>(p), 0.0, 1.0) * bins;
    const size_t bin =
        std::min(static_cast<size_t>(scaled), static_cast<size_t>(bins - 1));
    (actual ? out.positive_histogram : out.negative_histogram)[bin] += 1;
  }
  return out;
}

double BinnedAuc(const std::vector<uint64_t>& positive,
                 const std::vector<uint64_t>& negative) {
  if (positive.size() != negative.size()) return 0.5;
  double pos_total = 0, neg_total = 0;
  for (uint64_t v : positive) pos_total += static_cast<double>(v);
  for (uint64_t v : negative) neg_total += static_cast<double>(v);
  if (pos_total == 0 || neg_total == 0) return 0.5;
  // Each positive beats every negative in a lower bin and ties those in
  // its own.
  double wins = 0, negatives_below = 0;
  for (size_t i = 0; i < positive.size(); ++i) {
    const double pos = static_cast<double>(positive[i]);
    const double neg = static_cast<double>(negative[i]);
    wins += pos * (negatives_below + 0.5 * neg);
    negatives_below += neg;
  }
  return wins / (pos_total * neg_total);
}

SummedBinaryMetrics SummariseBinaryScores(const BinaryScoreCounts& c) {
  SummedBinaryMetrics m;
  m.count = c.count();
  const auto ratio = [](uint64_t a, uint64_t b) {
    return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
  };
  m.accuracy = ratio(c.true_positives + c.true_negatives, m.count);
  m.precision = ratio(c.true_positives, c.true_positives + c.false_positives);
  m.recall = ratio(c.true_positives, c.true_positives + c.false_negatives);
  m.f1 = m.precision + m.recall > 0
             ? 2 * m.precision * m.recall / (m.precision + m.recall)
             : 0.0;
  m.auc = BinnedAuc(c.positive_histogram, c.negative_histogram);
  return m;
}

}  // namespace cls::core
