#ifndef CLS_CORE_METRICS_H_
#define CLS_CORE_METRICS_H_

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace cls::core {

// Calibration of binary probabilities (EvaluateBinary in
// logistic_regression.h covers the label metrics).
struct CalibrationMetrics {
  double brier = 0;  // mean (p - y)^2
  // Expected calibration error over 10 equal-width bins of p (bin i holds
  // p in [i/10, (i+1)/10), the last bin includes 1):
  //   sum_bins |bin| / n * |mean p - mean y|.
  double ece = 0;
};

// prob and labels have the same length; labels are 0/1. Empty input gives
// zeros.
CalibrationMetrics EvaluateBinaryCalibration(const Eigen::VectorXf& probability,
                                             const Eigen::VectorXf& labels);

struct MultiClassMetrics {
  int64_t count = 0;
  int64_t correct = 0;
  double accuracy = 0;
  double log_loss = 0;  // mean -log p(true class), p clamped to >= 1e-15
  // Per class; 0 where undefined (no predictions / no examples of the class).
  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<double> f1;
  double macro_f1 = 0;  // unweighted mean of f1 over the classes
  // confusion(true, predicted)
  Eigen::Matrix<int64_t, Eigen::Dynamic, Eigen::Dynamic> confusion;
};

// probability is n x K (rows sum to 1), labels are class indices in [0, K).
// The predicted class is the row's argmax (first on ties). Rows with an
// out-of-range label are a bug upstream and are skipped.
MultiClassMetrics EvaluateMultiClass(const Eigen::MatrixXf& probability,
                                     const Eigen::VectorXi& labels);

// Per-class counts on held-out rows, which add up over sites (the
// coordinator sums them and derives the macro averages): correct[c] rows of
// class c predicted c, support[c] rows of class c, predicted[c] rows
// predicted c.
struct ClassCounts {
  std::vector<uint64_t> correct;
  std::vector<uint64_t> support;
  std::vector<uint64_t> predicted;

  // True when the three have the same length K and the counts fit together
  // (correct <= support and predicted; equal totals).
  bool Consistent() const;
  void Add(const ClassCounts& other);  // other must have the same K
};

// argmax of each row of `probability` (n x K) against labels in [0, K).
ClassCounts CountClasses(const Eigen::MatrixXf& probability,
                         const Eigen::VectorXi& labels);

// Per-class precision, recall and F1 (0 where undefined) and their
// unweighted means over the K classes.
struct ClassReport {
  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<double> f1;
  double accuracy = 0;
  double macro_precision = 0;
  double macro_recall = 0;
  double macro_f1 = 0;
};
ClassReport ReportClasses(const ClassCounts& counts);

}  // namespace cls::core

#endif  // CLS_CORE_METRICS_H_
