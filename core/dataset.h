#ifndef CLS_CORE_DATASET_H_
#define CLS_CORE_DATASET_H_

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace cls::core {

// How one CSV column becomes model features.
struct ColumnSpec {
  enum class Kind { kNumeric, kCategorical };
  std::string name;
  Kind kind = Kind::kNumeric;
  // Categorical: the known category values; one-hot, one feature each.
  // A value not in the list is a bad row (quarantined with a reason).
  std::vector<double> categories;
  // Treat an exact 0 as missing (e.g. cholesterol recorded as 0 = unknown).
  bool zero_is_missing = false;
};

enum class Imputation { kMean, kMedian, kZero };

// Binary label: positive when value > threshold (e.g. num > 0). With
// `classes` set, a multi-class label instead: the value's index in the list
// (e.g. [0, 1, 2] for three drugs); a value not listed rejects the row.
struct LabelRule {
  std::string column;
  double positive_above = 0.0;
  std::vector<double> classes;

  int NumClasses() const {
    return classes.empty() ? 2 : static_cast<int>(classes.size());
  }
};

// Each class's name as served and reported: "0" and "1" for a binary label,
// else the label_classes values ("2", "3.5").
std::vector<std::string> ClassNames(const LabelRule& label);

struct DatasetSchema {
  std::vector<ColumnSpec> features;
  LabelRule label;
  Imputation imputation = Imputation::kMean;

  // Model input width: 1 per numeric column, |categories| per categorical.
  int FeatureCount() const;
};

// The raw table: one row per accepted CSV row, NaN for a missing value, in
// schema order; labels already mapped to 0/1 (binary) or class indices.
struct RawTable {
  std::vector<std::vector<double>> rows;
  std::vector<float> labels;
};

// Why a row was refused. Holds the line number and column name only, never
// the values (they may identify a patient).
struct RejectedRow {
  int line = 0;
  std::string reason;  // e.g. "column 'age': not a number"
};

struct CsvLoadResult {
  RawTable table;
  std::vector<RejectedRow> rejected;
};

// Reads a CSV with a header row. Missing required columns in the header, an
// unreadable file or no usable row at all are errors; a bad row (wrong field
// count, unparsable number, unknown category, missing label) is rejected with
// a reason and loading goes on.
Result<CsvLoadResult> LoadCsv(const std::string& path,
                              const DatasetSchema& schema);

// A fixed, stratified train/test split: for each label, a seeded shuffle of
// its rows and the first round(test_fraction * count) go to test.
struct Split {
  std::vector<int> train;
  std::vector<int> test;
};
Split StratifiedSplit(const std::vector<float>& labels, double test_fraction,
                      uint64_t seed);

// Imputation values and standardisation (mean, std) per numeric column,
// fitted on training rows only.
class Preprocessor {
 public:
  static Result<Preprocessor> Fit(const DatasetSchema& schema,
                                  const RawTable& table,
                                  const std::vector<int>& rows);
  // From given per-schema-column fill values, means and scales (categorical
  // columns' entries are ignored), e.g. federation-wide statistics. Scales
  // must be positive and everything finite; the vectors must match the
  // schema's column count.
  static Result<Preprocessor> FromColumnMoments(const DatasetSchema& schema,
                                                std::vector<double> fill,
                                                std::vector<double> mean,
                                                std::vector<double> scale);
  // Features for the given rows: imputed, standardised numeric columns and
  // one-hot categorical columns (an all-zero one-hot for a missing category).
  Eigen::MatrixXf Transform(const RawTable& table,
                            const std::vector<int>& rows) const;
  Eigen::VectorXf Labels(const RawTable& table,
                         const std::vector<int>& rows) const;
  int FeatureCount() const { return schema_.FeatureCount(); }

 private:
  DatasetSchema schema_;
  std::vector<double> fill_;   // per schema column
  std::vector<double> mean_;   // per schema column (numeric only)
  std::vector<double> scale_;  // per schema column (numeric only)
};

}  // namespace cls::core

#endif  // CLS_CORE_DATASET_H_
