#include "core/drift/ddm.h"

#include <cmath>

namespace cls::drift {

Result<Ddm> Ddm::Create(const DdmConfig& config) {
  if (config.min_instances < 1) {
    return InvalidArgument("ddm: min_instances must be >= 1");
  }
  if (!(config.warning_level > 0 &&
        config.drift_level >= config.warning_level)) {
    return InvalidArgument("ddm: need 0 < warning_level <= drift_level");
  }
  return Ddm(config);
}

void Ddm::Reset() {
  n_ = 0;
  p_ = 0;
  p_min_ = 0;
  s_min_ = 0;
  ps_min_ = 0;
  have_min_ = false;
}

DetectorSignal Ddm::Update(bool is_error) {
  ++n_;
  p_ += ((is_error ? 1.0 : 0.0) - p_) / static_cast<double>(n_);
  const double s = std::sqrt(p_ * (1.0 - p_) / static_cast<double>(n_));
  // As River: judged only after min_instances, strict comparisons.
  if (n_ <= config_.min_instances) return DetectorSignal::kNone;
  if (!have_min_ || p_ + s <= ps_min_) {
    p_min_ = p_;
    s_min_ = s;
    ps_min_ = p_ + s;
    have_min_ = true;
  }
  if (p_ + s > p_min_ + config_.drift_level * s_min_) {
    drift_p_plus_s_ = p_ + s;
    drift_threshold_ = p_min_ + config_.drift_level * s_min_;
    Reset();
    return DetectorSignal::kDrift;
  }
  if (p_ + s > p_min_ + config_.warning_level * s_min_) {
    return DetectorSignal::kWarning;
  }
  return DetectorSignal::kNone;
}

}  // namespace cls::drift
