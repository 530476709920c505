#ifndef CLS_CORE_DRIFT_ADWIN_H_
#define CLS_CORE_DRIFT_ADWIN_H_

#include <array>
#include <cstdint>
#include <vector>

#include "common/error.h"

namespace cls::drift {

// ADWIN2 (Bifet and Gavalda 2007, "Learning from time-changing data with
// adaptive windowing"): keeps a window of recent values compressed into an
// exponential histogram (at most max_buckets buckets of each size 2^i) and
// drops its oldest part whenever some split into an older part W0 and a
// newer part W1 has means further apart than
//   eps = sqrt(2 m var ln(2 ln(W) / delta)) + (2/3) m ln(2 ln(W) / delta),
//   m = 1 / (n0 - L + 1) + 1 / (n1 - L + 1)   (L = min_window_length)
// with var the window's variance (the Bernstein form used by MOA and River).
// Splits are checked every `clock` values, as in MOA/River. Memory and the
// check are O(max_buckets * log W). Not thread-safe.
struct AdwinConfig {
  double delta = 0.002;  // River/MOA default confidence
  int clock = 32;
  int max_buckets = 5;
  int min_window_length = 5;
  int grace_period = 10;
};

class Adwin {
 public:
  static Result<Adwin> Create(const AdwinConfig& config);

  // Adds a value; true when the window was cut (a change was detected).
  bool Update(double x);

  int64_t width() const { return width_; }
  double Mean() const { return width_ > 0 ? total_ / width_ : 0.0; }
  double Variance() const { return width_ > 0 ? variance_ / width_ : 0.0; }
  // At the last cut: the means of the dropped older part and of the part
  // kept (the first split that crossed eps), and their sizes.
  double cut_old_mean() const { return cut_old_mean_; }
  double cut_new_mean() const { return cut_new_mean_; }
  int64_t cut_old_width() const { return cut_old_width_; }
  int64_t cut_new_width() const { return cut_new_width_; }
  int64_t detections() const { return detections_; }

 private:
  static constexpr int kMaxBucketsLimit = 16;
  struct Row {
    // Oldest first; each bucket holds 2^row values.
    std::array<double, kMaxBucketsLimit + 1> total{};
    std::array<double, kMaxBucketsLimit + 1> variance{};
    int size = 0;
  };

  explicit Adwin(const AdwinConfig& config) : config_(config) {}
  void Compress();
  void DeleteOldestBucket();
  bool DetectChange();

  AdwinConfig config_;
  std::vector<Row> rows_;  // rows_[i]: buckets of 2^i values
  int64_t width_ = 0;
  double total_ = 0;
  double variance_ = 0;  // sum of squared deviations from the mean
  int64_t ticks_ = 0;
  double cut_old_mean_ = 0;
  double cut_new_mean_ = 0;
  int64_t cut_old_width_ = 0;
  int64_t cut_new_width_ = 0;
  int64_t detections_ = 0;
};

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_ADWIN_H_
