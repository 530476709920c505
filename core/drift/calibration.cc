#include "core/drift/calibration.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace cls::drift {

CalibrationHistogram::CalibrationHistogram(int bins)
    : bins_(static_cast<size_t>(std::max(1, bins))) {}

int CalibrationHistogram::BinOf(double confidence, int bins) {
  const int b = static_cast<int>(confidence * bins);
  return std::clamp(b, 0, bins - 1);
}

void CalibrationHistogram::Add(double confidence, bool is_correct) {
  CalibrationBin& b = bins_[static_cast<size_t>(
      BinOf(confidence, static_cast<int>(bins_.size())))];
  ++b.n;
  b.sum_confidence += confidence;
  b.correct += is_correct ? 1 : 0;
  ++n_;
}

void CalibrationHistogram::Remove(double confidence, bool is_correct) {
  CalibrationBin& b = bins_[static_cast<size_t>(
      BinOf(confidence, static_cast<int>(bins_.size())))];
  --b.n;
  b.sum_confidence -= confidence;
  b.correct -= is_correct ? 1 : 0;
  if (b.n == 0) b.sum_confidence = 0;  // no rounding residue in empty bins
  --n_;
}

Status CalibrationHistogram::Merge(const CalibrationHistogram& other) {
  if (other.bins_.size() != bins_.size()) {
    return InvalidArgument(
        "calibration: " + std::to_string(other.bins_.size()) +
        " bins, expected " + std::to_string(bins_.size()));
  }
  for (size_t i = 0; i < bins_.size(); ++i) {
    bins_[i].n += other.bins_[i].n;
    bins_[i].sum_confidence += other.bins_[i].sum_confidence;
    bins_[i].correct += other.bins_[i].correct;
  }
  n_ += other.n_;
  return {};
}

void CalibrationHistogram::Clear() {
  for (CalibrationBin& b : bins_) b = {};
  n_ = 0;
}

double CalibrationHistogram::Ece() const {
  if (n_ <= 0) return 0.0;
  double ece = 0;
  for (const CalibrationBin& b : bins_) {
    if (b.n <= 0) continue;
    const double n = static_cast<double>(b.n);
    ece += std::abs(static_cast<double>(b.correct) - b.sum_confidence) / n *
           (n / static_cast<double>(n_));
  }
  return ece;
}

Result<double> ExpectedCalibrationError(std::span<const double> confidences,
                                        std::span<const uint8_t> correct,
                                        int bins) {
  if (confidences.size() != correct.size()) {
    return InvalidArgument("ece: " + std::to_string(confidences.size()) +
                           " confidences, " + std::to_string(correct.size()) +
                           " outcomes");
  }
  if (bins < 1 || bins > 10000) {
    return InvalidArgument("ece: bins must be in [1, 10000]");
  }
  CalibrationHistogram h(bins);
  for (size_t i = 0; i < confidences.size(); ++i) {
    if (!(confidences[i] >= 0 && confidences[i] <= 1)) {
      return InvalidArgument("ece: confidence " + std::to_string(i) +
                             " outside [0, 1]");
    }
    h.Add(confidences[i], correct[i] != 0);
  }
  return h.Ece();
}

Result<IsotonicCalibrator> IsotonicCalibrator::Fit(
    std::span<const double> confidences, std::span<const uint8_t> correct) {
  if (confidences.size() != correct.size()) {
    return InvalidArgument("isotonic: " + std::to_string(confidences.size()) +
                           " confidences, " + std::to_string(correct.size()) +
                           " outcomes");
  }
  if (confidences.empty()) return InvalidArgument("isotonic: no data");
  std::vector<std::pair<double, double>> points;
  points.reserve(confidences.size());
  for (size_t i = 0; i < confidences.size(); ++i) {
    if (!(confidences[i] >= 0 && confidences[i] <= 1)) {
      return InvalidArgument("isotonic: confidence " + std::to_string(i) +
                             " outside [0, 1]");
    }
    points.emplace_back(confidences[i], correct[i] != 0 ? 1.0 : 0.0);
  }
  std::sort(points.begin(), points.end());
  // Pool adjacent violators: a stack of blocks (sum, weight, last x); equal
  // confidences are pooled first so the step function is well defined.
  struct Block {
    double sum;
    double weight;
    double upper;
  };
  std::vector<Block> stack;
  for (size_t i = 0; i < points.size();) {
    Block b{0, 0, points[i].first};
    while (i < points.size() && points[i].first == b.upper) {
      b.sum += points[i].second;
      b.weight += 1;
      ++i;
    }
    while (!stack.empty() &&
           stack.back().sum / stack.back().weight >= b.sum / b.weight) {
      b.sum += stack.back().sum;
      b.weight += stack.back().weight;
      stack.pop_back();
    }
    stack.push_back(b);
  }
  IsotonicCalibrator c;
  for (const Block& b : stack) {
    c.upper_.push_back(b.upper);
    c.value_.push_back(b.sum / b.weight);
  }
  return c;
}

double IsotonicCalibrator::Calibrate(double confidence) const {
  const auto it = std::lower_bound(upper_.begin(), upper_.end(), confidence);
  if (it == upper_.end()) return value_.back();
  return value_[static_cast<size_t>(it - upper_.begin())];
}

void CbpeAccumulator::Add(double c) {
  ++n;
  sum += c;
  variance += c * (1.0 - c);
}

double CbpeAccumulator::EstimatedAccuracy() const {
  return n > 0 ? sum / static_cast<double>(n) : std::nan("");
}

double CbpeAccumulator::StandardError() const {
  return n > 0 ? std::sqrt(variance) / static_cast<double>(n) : std::nan("");
}

}  // namespace cls::drift
