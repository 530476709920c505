#ifndef CLS_CORE_DRIFT_WINDOWED_BINOMIAL_H_
#define CLS_CORE_DRIFT_WINDOWED_BINOMIAL_H_

#include <cstdint>
#include <vector>

#include "common/error.h"

namespace cls::drift {

// The guide's windowed accuracy check (performance_threshold, window_size),
// judged by an exact binomial test instead of a raw comparison.
//
// Over the last window_size predictions with k correct, the null hypothesis
// is "accuracy is still at least baseline - performance_threshold"; an alarm
// needs the one-sided p-value P(X <= k | n, baseline - threshold) < alpha.
// A window of 20 at 80% (16/20) against a 90% baseline is p = 0.35: no
// alarm; 1,600/2,000 is p = 1e-9: alarm. So a short window cannot raise an
// alarm on a drop a long window would not confirm.
//
// The window is full before any test; after an alarm the detector stays
// quiet for window_size predictions so each alarm is judged on a fresh
// window. The critical count is precomputed per baseline, so Update is O(1).
// Not thread-safe; one instance per model version.
struct WindowedBinomialConfig {
  int window_size = 100;                // guide default
  double performance_threshold = 0.05;  // guide default
  double alpha = 1e-3;
};

class WindowedBinomialTest {
 public:
  static Result<WindowedBinomialTest> Create(
      const WindowedBinomialConfig& config);

  // Baseline accuracy in (0, 1]; the test is idle until one is set.
  Status SetBaseline(double baseline_accuracy);

  // Returns true when this prediction raises an alarm.
  bool Update(bool is_correct);

  int count() const { return count_; }
  int correct() const { return correct_; }
  double WindowAccuracy() const;
  // Largest correct count that alarms on a full window (-1: none can).
  int critical_count() const { return critical_count_; }
  // One-sided p-value of the current window (computed on demand, O(log n)).
  double PValue() const;
  double null_accuracy() const { return null_accuracy_; }

 private:
  explicit WindowedBinomialTest(const WindowedBinomialConfig& config);

  WindowedBinomialConfig config_;
  std::vector<uint8_t> ring_;
  int next_ = 0;
  int count_ = 0;
  int correct_ = 0;
  int quiet_ = 0;  // predictions left before the next alarm may fire
  double null_accuracy_ = -1.0;
  int critical_count_ = -1;
};

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_WINDOWED_BINOMIAL_H_
