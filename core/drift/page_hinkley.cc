#include "core/drift/page_hinkley.h"

#include <algorithm>

namespace cls::drift {

Result<PageHinkley> PageHinkley::Create(const PageHinkleyConfig& config) {
  if (config.min_instances < 1) {
    return InvalidArgument("page-hinkley: min_instances must be >= 1");
  }
  if (!(config.delta >= 0)) {
    return InvalidArgument("page-hinkley: delta must be >= 0");
  }
  if (!(config.threshold > 0)) {
    return InvalidArgument("page-hinkley: threshold must be > 0");
  }
  if (!(config.alpha > 0 && config.alpha <= 1)) {
    return InvalidArgument("page-hinkley: alpha must be in (0, 1]");
  }
  return PageHinkley(config);
}

void PageHinkley::Reset() {
  n_ = 0;
  mean_ = 0;
  sum_ = 0;
  min_sum_ = 0;
}

bool PageHinkley::Update(double x) {
  ++n_;
  mean_ += (x - mean_) / static_cast<double>(n_);
  sum_ = config_.alpha * sum_ + (x - mean_ - config_.delta);
  min_sum_ = std::min(min_sum_, sum_);
  if (n_ < config_.min_instances) return false;
  if (sum_ - min_sum_ > config_.threshold) {
    drift_statistic_ = sum_ - min_sum_;
    drift_mean_ = mean_;
    Reset();
    return true;
  }
  return false;
}

}  // namespace cls::drift
