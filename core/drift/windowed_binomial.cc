#include "core/drift/windowed_binomial.h"

#include <cmath>

#include "core/drift/distributions.h"

namespace cls::drift {

WindowedBinomialTest::WindowedBinomialTest(const WindowedBinomialConfig& config)
    : config_(config), ring_(static_cast<size_t>(config.window_size), 0) {}

Result<WindowedBinomialTest> WindowedBinomialTest::Create(
    const WindowedBinomialConfig& config) {
  if (config.window_size < 1 || config.window_size > 10'000'000) {
    return InvalidArgument("windowed binomial: window_size " +
                           std::to_string(config.window_size) +
                           " outside [1, 10000000]");
  }
  if (!(config.performance_threshold >= 0 &&
        config.performance_threshold < 1)) {
    return InvalidArgument(
        "windowed binomial: performance_threshold must be in [0, 1)");
  }
  if (!(config.alpha > 0 && config.alpha < 1)) {
    return InvalidArgument("windowed binomial: alpha must be in (0, 1)");
  }
  return WindowedBinomialTest(config);
}

Status WindowedBinomialTest::SetBaseline(double baseline_accuracy) {
  if (!(baseline_accuracy > 0 && baseline_accuracy <= 1)) {
    return InvalidArgument(
        "windowed binomial: baseline accuracy must be in "
        "(0, 1]");
  }
  null_accuracy_ = baseline_accuracy - config_.performance_threshold;
  critical_count_ = -1;
  if (null_accuracy_ <= 0) return {};
  // BinomialCdf rises with k: binary search the last k with cdf < alpha.
  const int n = config_.window_size;
  int lo = -1;  // cdf(lo) < alpha holds (cdf(-1) = 0)
  int hi = n;   // cdf(n) = 1 >= alpha
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (BinomialCdf(mid, n, null_accuracy_) < config_.alpha) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  critical_count_ = lo;
  return {};
}

bool WindowedBinomialTest::Update(bool is_correct) {
  const uint8_t bit = is_correct ? 1 : 0;
  if (count_ == config_.window_size) {
    correct_ -= ring_[static_cast<size_t>(next_)];
  } else {
    ++count_;
  }
  ring_[static_cast<size_t>(next_)] = bit;
  correct_ += bit;
  if (++next_ == config_.window_size) next_ = 0;
  if (quiet_ > 0) {
    --quiet_;
    return false;
  }
  if (count_ < config_.window_size || correct_ > critical_count_) return false;
  quiet_ = config_.window_size;
  return true;
}

double WindowedBinomialTest::WindowAccuracy() const {
  return count_ == 0 ? std::nan("") : static_cast<double>(correct_) / count_;
}

double WindowedBinomialTest::PValue() const {
  if (count_ == 0 || null_accuracy_ <= 0) return 1.0;
  return BinomialCdf(correct_, count_, null_accuracy_);
}

}  // namespace cls::drift
