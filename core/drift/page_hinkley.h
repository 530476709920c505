#ifndef CLS_CORE_DRIFT_PAGE_HINKLEY_H_
#define CLS_CORE_DRIFT_PAGE_HINKLEY_H_

#include <cstdint>

#include "common/error.h"

namespace cls::drift {

// Page-Hinkley test (Page 1954; as in River's PageHinkley, mode "up") for an
// increase in the mean of a stream; fed the error indicator it detects an
// accuracy drop. With x_bar the running mean,
//   m_T = alpha * m_{T-1} + (x_T - x_bar_T - delta),   M_T = min_t m_t,
// a drift is reported when m_T - M_T > threshold (after min_instances), and
// the test starts over. alpha < 1 fades old deviations. Not thread-safe.
struct PageHinkleyConfig {
  int min_instances = 30;
  double delta = 0.005;
  double threshold = 50.0;
  double alpha = 1.0 - 0.0001;
};

class PageHinkley {
 public:
  static Result<PageHinkley> Create(const PageHinkleyConfig& config);

  // True on a detected increase.
  bool Update(double x);

  int64_t n() const { return n_; }
  double mean() const { return mean_; }
  double statistic() const { return sum_ - min_sum_; }
  // m_T - M_T and the running mean at the last drift.
  double drift_statistic() const { return drift_statistic_; }
  double drift_mean() const { return drift_mean_; }

 private:
  explicit PageHinkley(const PageHinkleyConfig& config) : config_(config) {}
  void Reset();

  PageHinkleyConfig config_;
  int64_t n_ = 0;
  double mean_ = 0;
  double sum_ = 0;
  double min_sum_ = 0;
  double drift_statistic_ = 0;
  double drift_mean_ = 0;
};

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_PAGE_HINKLEY_H_
