#include "core/drift/eddm.h"

#include <cmath>

namespace cls::drift {

Result<Eddm> Eddm::Create(const EddmConfig& config) {
  if (config.min_num_errors < 2) {
    return InvalidArgument("eddm: min_num_errors must be >= 2");
  }
  if (!(config.drift_level > 0 && config.drift_level <= config.warning_level &&
        config.warning_level < 1)) {
    return InvalidArgument("eddm: need 0 < drift_level <= warning_level < 1");
  }
  return Eddm(config);
}

void Eddm::Reset() {
  index_ = 0;
  last_error_ = 0;
  errors_ = 0;
  mean_ = 0;
  m2_ = 0;
  max_ = 0;
}

DetectorSignal Eddm::Update(bool is_error) {
  ++index_;
  if (!is_error) return DetectorSignal::kNone;
  const double distance = static_cast<double>(index_ - last_error_);
  last_error_ = index_;
  ++errors_;
  const double delta = distance - mean_;
  mean_ += delta / static_cast<double>(errors_);
  m2_ += delta * (distance - mean_);
  const double sd = std::sqrt(m2_ / static_cast<double>(errors_));
  if (errors_ < config_.min_num_errors) return DetectorSignal::kNone;
  // The maximum is only tracked once the estimate has settled (as River
  // does): early, noisy values would set a maximum the stream never
  // reaches again and every later error would look like drift.
  const double score = mean_ + 2.0 * sd;
  if (score > max_) {
    max_ = score;
    return DetectorSignal::kNone;
  }
  const double ratio = score / max_;
  if (ratio < config_.drift_level) {
    drift_ratio_ = ratio;
    drift_mean_ = mean_;
    Reset();
    return DetectorSignal::kDrift;
  }
  if (ratio < config_.warning_level) return DetectorSignal::kWarning;
  return DetectorSignal::kNone;
}

}  // namespace cls::drift
