#ifndef CLS_CORE_FEATURE_STATISTICS_H_
#define CLS_CORE_FEATURE_STATISTICS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"
#include "core/dataset.h"

namespace cls::core {

// Sums from which federation-wide standardisation, imputation and the class
// balance are computed: per model feature (after one-hot), the number of
// non-missing values, their sum and their sum of squares, plus the row and
// positive-label counts. Sums add across sites, so the federation's values
// come out of secure aggregation without any site revealing its own.
// One-hot features carry 0/1 indicators (counted, not standardised). A text
// bucket carries "this row's text has the bucket non-zero", so its sum is
// the bucket's document count and the federation-wide IDF comes out of the
// same round (no term or text leaves the site, docs/columns.md). Embedding
// entries are summed like numeric columns.
struct FeatureStatistics {
  double rows = 0;
  double positives = 0;
  std::vector<double> count;   // per feature: non-missing values
  std::vector<double> sum;     // per feature
  std::vector<double> sum_sq;  // per feature

  int feature_count() const { return static_cast<int>(count.size()); }
  double positive_rate() const { return rows > 0 ? positives / rows : 0; }

  // [rows, positives, count..., sum..., sum_sq...]: the wire layout.
  std::vector<double> Flatten() const;
  // InvalidArgument unless the length is StatisticsLength(features) and
  // every value is finite, counts non-negative and no larger than rows.
  static Result<FeatureStatistics> Unflatten(std::span<const double> values,
                                             int features);
};

// 2 + 3 x features.
size_t StatisticsLength(int features);

// The statistics of `rows` of `table` (the train rows: held-out rows never
// enter them). NaN = missing.
Result<FeatureStatistics> ComputeFeatureStatistics(
    const DatasetSchema& schema, const RawTable& table,
    const std::vector<int>& rows);

// Numeric columns and embedding entries standardised with the
// federation-wide mean and standard deviation, text buckets weighted with
// the federation-wide IDF, missing values filled with the federation mean
// (kZero: 0; kMedian has no additive form and uses the mean). A column with no
// value anywhere gets fill 0, scale 1. InvalidArgument if the statistics do not
// match the schema.
Result<Preprocessor> PreprocessorFromStatistics(const DatasetSchema& schema,
                                                const FeatureStatistics& stats);

// Secure-aggregation encoding. Each value becomes a signed 64-bit fixed-point
// number (kStatisticsFractionBits fractional bits) split into four 16-bit
// limbs, one per ring element. Limbs add without carrying between them, so
// with ring_bits >= 16 + ceil(log2 n) the sum of n sites' limbs is exact and
// the coordinator recombines the exact fixed-point total (mod 2^64, which is
// two's complement). Values must satisfy |v| < 2^(62 - fraction bits).
inline constexpr int kStatisticsLimbs = 4;
inline constexpr int kStatisticsLimbBits = 16;
inline constexpr int kStatisticsFractionBits = 16;

size_t EncodedStatisticsLength(int features);  // kStatisticsLimbs x length
Result<std::vector<uint32_t>> EncodeStatisticsForSum(
    std::span<const double> values);
// `limb_sums`: the unmasked ring sum (each entry < 2^ring_bits). Returns the
// summed values.
Result<std::vector<double>> DecodeStatisticsSum(
    std::span<const uint32_t> limb_sums);

}  // namespace cls::core

#endif  // CLS_CORE_FEATURE_STATISTICS_H_
