#ifndef CLS_CORE_DRIFT_DDM_H_
#define CLS_CORE_DRIFT_DDM_H_

#include <cstdint>

#include "common/error.h"
#include "core/drift/detector_signal.h"

namespace cls::drift {

// DDM, the Drift Detection Method (Gama, Medas, Castillo, Rodrigues 2004).
// On the error indicator (1 = wrong prediction) it tracks the error rate p_i
// and s_i = sqrt(p_i (1 - p_i) / i), remembers the minimum of p + s, and
// reports a warning when p_i + s_i > p_min + warning_level * s_min and a
// drift when p_i + s_i > p_min + drift_level * s_min (once more than
// min_instances were seen). On drift it starts over. River's defaults and
// update rule (drift.binary.DDM): its docstring stream gives the same
// indices here (detectors_test.cc). Not thread-safe.
struct DdmConfig {
  int min_instances = 30;
  double warning_level = 2.0;
  double drift_level = 3.0;
};

class Ddm {
 public:
  static Result<Ddm> Create(const DdmConfig& config);

  DetectorSignal Update(bool is_error);

  int64_t n() const { return n_; }
  double error_rate() const { return p_; }
  double min_error_rate() const { return p_min_; }
  double min_std() const { return s_min_; }
  // p + s at the last drift (before the reset) and the minimum it beat.
  double drift_p_plus_s() const { return drift_p_plus_s_; }
  double drift_threshold() const { return drift_threshold_; }

 private:
  explicit Ddm(const DdmConfig& config) : config_(config) {}
  void Reset();

  DdmConfig config_;
  int64_t n_ = 0;
  double p_ = 0;
  double p_min_ = 0;
  double s_min_ = 0;
  double ps_min_ = 0;
  bool have_min_ = false;
  double drift_p_plus_s_ = 0;
  double drift_threshold_ = 0;
};

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_DDM_H_
