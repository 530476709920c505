#ifndef CLS_CORE_DRIFT_CALIBRATION_H_
#define CLS_CORE_DRIFT_CALIBRATION_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"

namespace cls::drift {

// Calibration: do confidences match accuracy? And, when outcomes arrive
// late, what accuracy do calibrated confidences predict?

// Per confidence bin: predictions, summed confidence, correct ones. Counts
// only, so bins from several sites add up.
struct CalibrationBin {
  int64_t n = 0;
  double sum_confidence = 0;
  int64_t correct = 0;
};

// Equal-width confidence bins over [0, 1] (bin = min(floor(c * B), B - 1)).
// Add and Remove are O(1) so a sliding window can be kept; Ece is O(B).
// Not thread-safe.
class CalibrationHistogram {
 public:
  explicit CalibrationHistogram(int bins = 10);

  static int BinOf(double confidence, int bins);
  void Add(double confidence, bool is_correct);
  void Remove(double confidence, bool is_correct);
  // Adds another histogram's counts (same number of bins).
  Status Merge(const CalibrationHistogram& other);
  void Clear();

  // Expected calibration error (Naeini et al. 2015; Guo et al. 2017):
  //   ECE = sum_b (n_b / n) |accuracy_b - mean confidence_b|;  0 when empty.
  double Ece() const;
  int64_t count() const { return n_; }
  const std::vector<CalibrationBin>& bins() const { return bins_; }
  std::vector<CalibrationBin>& mutable_bins() { return bins_; }

 private:
  std::vector<CalibrationBin> bins_;
  int64_t n_ = 0;
};

// ECE of a labelled sample; confidences in [0, 1], equal lengths.
Result<double> ExpectedCalibrationError(std::span<const double> confidences,
                                        std::span<const uint8_t> correct,
                                        int bins = 10);

// Maps a raw confidence to the probability of being right, fitted by
// isotonic regression (pool-adjacent-violators) on labelled reference data:
// the non-decreasing step function closest in squared error to the
// outcomes. Immutable after Fit; thread-safe.
class IsotonicCalibrator {
 public:
  static Result<IsotonicCalibrator> Fit(std::span<const double> confidences,
                                        std::span<const uint8_t> correct);
  // Step lookup (binary search); below the first block its value, above the
  // last block its value.
  double Calibrate(double confidence) const;
  size_t blocks() const { return upper_.size(); }

 private:
  IsotonicCalibrator() = default;
  std::vector<double> upper_;  // largest confidence in each block
  std::vector<double> value_;  // the block's fitted probability
};

// Confidence-based performance estimation (as NannyML's CBPE): with
// calibrated confidences c_i, the expected accuracy of n unlabelled
// predictions is mean(c_i), with standard error sqrt(sum c_i (1 - c_i)) / n
// (each prediction is an independent Bernoulli(c_i)). Additive counts, so
// site estimates combine by summing.
struct CbpeAccumulator {
  int64_t n = 0;
  double sum = 0;       // sum of c_i
  double variance = 0;  // sum of c_i (1 - c_i)

  void Add(double calibrated_confidence);
  double EstimatedAccuracy() const;  // NaN when empty
  double StandardError() const;
};

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_CALIBRATION_H_
