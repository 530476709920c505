#ifndef CLS_CORE_SCORE_COUNTS_H_
#define CLS_CORE_SCORE_COUNTS_H_

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace cls::core {

// Bins of the score histograms sites report with each evaluation.
inline constexpr int kScoreBins = 20;

// What a binary classifier's held-out evaluation is summed as across sites:
// the confusion counts at threshold 0.5 and, per true class, a histogram of
// the predicted positive probability in equal-width bins over [0, 1] (bin i
// holds p in [i/B, (i+1)/B), the last bin includes 1). Counts only, so sums
// over sites are exact and no single score leaves a site.
struct BinaryScoreCounts {
  uint64_t true_positives = 0;
  uint64_t false_positives = 0;
  uint64_t true_negatives = 0;
  uint64_t false_negatives = 0;
  std::vector<uint64_t> positive_histogram;  // true label 1
  std::vector<uint64_t> negative_histogram;  // true label 0

  uint64_t count() const {
    return true_positives + false_positives + true_negatives + false_negatives;
  }
  // Adds another site's counts; histograms of different lengths cannot be
  // added and leave this unchanged (returns false).
  bool Add(const BinaryScoreCounts& other);
};

// probability and labels have the same length; labels are 0/1; non-finite
// probabilities count as 0. bins >= 1.
BinaryScoreCounts CountBinaryScores(const Eigen::VectorXf& probability,
                                    const Eigen::VectorXf& labels,
                                    int bins = kScoreBins);

// Metrics derived from summed counts; 0 where undefined (no predicted or no
// actual positives).
struct SummedBinaryMetrics {
  uint64_t count = 0;
  double accuracy = 0;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  // ROC AUC from the histograms: pairs whose scores share a bin count as
  // ties (one half), so it is the exact AUC of the scores rounded down to
  // their bin, a slight underestimate of the unbinned AUC when many scores
  // crowd one bin. 0.5 when either class is absent.
  double auc = 0.5;
};

SummedBinaryMetrics SummariseBinaryScores(const BinaryScoreCounts& counts);

// The binned AUC alone (see SummedBinaryMetrics::auc); histograms of equal
// length.
double BinnedAuc(const std::vector<uint64_t>& positive,
                 const std::vector<uint64_t>& negative);

}  // namespace cls::core

#endif  // CLS_CORE_SCORE_COUNTS_H_
