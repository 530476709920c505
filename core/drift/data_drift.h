#ifndef CLS_CORE_DRIFT_DATA_DRIFT_H_
#define CLS_CORE_DRIFT_DATA_DRIFT_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "core/dataset.h"

namespace cls::drift {

// Data drift: did the inputs' distribution move? Per feature, an effect size
// (PSI) and a test (Kolmogorov-Smirnov for numeric, chi-squared for
// categorical); a feature drifts when both say so.

// Population Stability Index over aligned bin counts,
//   PSI = sum_i (c_i - r_i) ln(c_i / r_i)
// with r_i, c_i the reference and current bin fractions after adding 0.5 to
// every count (so an empty bin does not make PSI infinite).
//
// Its sample-size-aware critical value: under "same distribution"
//   PSI ~ (1/n + 1/m) chi2(B - 1)
// asymptotically (Yurdakul 2018, "Statistical properties of the population
// stability index"), so at level alpha the critical value is
//   (1/n + 1/m) * chi2.isf(alpha, B - 1).
// A 10-bin PSI of 0.1 is noise for 100 vs 100 rows (critical 0.43 at 0.01)
// and a real shift for 10,000 vs 10,000 (critical 0.004).
struct PsiResult {
  double psi = 0;
  double critical = 0;
  int bins = 0;
  int64_t reference_n = 0;
  int64_t current_n = 0;
};
Result<PsiResult> PopulationStabilityIndex(
    std::span<const double> reference_counts,
    std::span<const double> current_counts, double alpha = 0.01);

// Two-sample Kolmogorov-Smirnov: D = sup |F_ref - F_cur|, two-sided p-value
// from the Kolmogorov distribution with Stephens' small-sample correction,
//   p = Q_KS((sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) D),  ne = n m / (n + m)
// (Numerical Recipes 14.3). NaN values are an error.
struct KsResult {
  double statistic = 0;  // D
  double p_value = 1;
  int64_t reference_n = 0;
  int64_t current_n = 0;
};
Result<KsResult> KsTwoSample(std::span<const double> reference,
                             std::span<const double> current);
// The same on samples already sorted ascending (no copy).
Result<KsResult> KsTwoSampleSorted(std::span<const double> reference,
                                   std::span<const double> current);

// Chi-squared test of homogeneity on a 2 x K table of category counts;
// categories empty in both samples are left out, dof = K' - 1.
struct ChiSquaredResult {
  double statistic = 0;
  double p_value = 1;
  int dof = 0;
};
Result<ChiSquaredResult> ChiSquaredHomogeneity(
    std::span<const double> reference_counts,
    std::span<const double> current_counts);

enum class FeatureKind { kNumeric, kCategorical };

struct FeatureDrift {
  std::string feature;
  FeatureKind kind = FeatureKind::kNumeric;
  int64_t reference_n = 0;  // present (non-missing) values
  int64_t current_n = 0;
  double psi = 0;
  double psi_critical = 0;
  std::string test;  // "ks" or "chi2"
  double statistic = 0;
  double p_value = 1;
  bool drifted = false;
};

// Dataset-level verdict: a feature drifts when its test's p-value is below
// alpha / F (Bonferroni over the F features, so a dataset without drift is
// flagged with probability <= alpha) and its PSI exceeds both its
// sample-size critical value and psi_floor (the shift is large enough to
// matter). The dataset drifts when at least one feature does.
struct DataDriftReport {
  std::vector<FeatureDrift> features;
  int drifted_features = 0;
  double drifted_share = 0;
  double max_psi = 0;
  bool dataset_drift = false;
};

struct DataDriftConfig {
  int psi_bins = 10;       // quantile bins of the reference (numeric)
  double alpha = 0.01;     // family-wise over features
  double psi_floor = 0.1;  // conventional "moderate shift"
  int min_samples = 30;    // fewer present values: feature not judged
};

// Holds the reference (training) distribution of every numeric and
// categorical schema column (text and embedding columns are left out,
// docs/columns.md) and judges later batches against it. Immutable after Fit;
// thread-safe to call Assess concurrently. Keeps the reference values of
// numeric columns (the site's own data; it never leaves the site).
class DataDriftDetector {
 public:
  static Result<DataDriftDetector> Fit(const core::DatasetSchema& schema,
                                       const core::RawTable& reference,
                                       const DataDriftConfig& config = {});

  Result<DataDriftReport> Assess(const core::RawTable& current) const;

 private:
  struct Column {
    std::string name;
    FeatureKind kind = FeatureKind::kNumeric;
    std::vector<double> sorted_values;  // numeric, NaN dropped
    std::vector<double> edges;          // numeric PSI inner cut points
    std::vector<double> categories;     // categorical
    std::vector<double> counts;         // per PSI bin or category
    bool zero_is_missing = false;
    size_t source = 0;  // the schema column (index into a raw row)
  };
  DataDriftDetector() = default;

  DataDriftConfig config_;
  std::vector<Column> columns_;
  size_t row_width_ = 0;  // the schema's column count
};

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_DATA_DRIFT_H_
