#ifndef CLS_CORE_DRIFT_EDDM_H_
#define CLS_CORE_DRIFT_EDDM_H_

#include <cstdint>

#include "common/error.h"
#include "core/drift/detector_signal.h"

namespace cls::drift {

// EDDM, the Early Drift Detection Method (Baena-Garcia et al. 2006). It
// watches the distance (in predictions) between consecutive errors: with m
// and s the running mean and standard deviation of those distances, it
// remembers the largest m + 2s and reports a warning when
// (m + 2s) / max < warning_level and a drift when it falls below
// drift_level, once min_num_errors errors have been seen. Errors coming
// closer together means accuracy fell. On drift it starts over. River's
// defaults. Not thread-safe.
struct EddmConfig {
  int min_num_errors = 30;
  double warning_level = 0.95;
  double drift_level = 0.90;
};

class Eddm {
 public:
  static Result<Eddm> Create(const EddmConfig& config);

  DetectorSignal Update(bool is_error);

  int64_t errors() const { return errors_; }
  double mean_distance() const { return mean_; }
  // (m + 2s) / max at the last drift.
  double drift_ratio() const { return drift_ratio_; }
  double drift_mean_distance() const { return drift_mean_; }

 private:
  explicit Eddm(const EddmConfig& config) : config_(config) {}
  void Reset();

  EddmConfig config_;
  int64_t index_ = 0;
  int64_t last_error_ = 0;
  int64_t errors_ = 0;
  double mean_ = 0;
  double m2_ = 0;  // Welford sum of squared deviations
  double max_ = 0;
  double drift_ratio_ = 0;
  double drift_mean_ = 0;
};

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_EDDM_H_
