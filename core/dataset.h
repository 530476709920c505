#ifndef CLS_CORE_DATASET_H_
#define CLS_CORE_DATASET_H_

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace cls::core {

// An embedding column's longest vector.
inline constexpr int kMaxEmbeddingDimension = 1 << 16;

// How one CSV column becomes model features (docs/columns.md).
struct ColumnSpec {
  enum class Kind { kNumeric, kCategorical, kText, kEmbedding };
  std::string name;
  Kind kind = Kind::kNumeric;
  // Categorical: the known category values; one-hot, one feature each.
  // A value not in the list is a bad row (quarantined with a reason).
  std::vector<double> categories;
  // Treat an exact 0 as missing (e.g. cholesterol recorded as 0 = unknown).
  bool zero_is_missing = false;
  // Text: words and bigrams hashed into this many buckets (a power of two,
  // core/text_features.h), one TF-IDF feature each.
  int hash_buckets = 0;
  // Embedding: the vector's length, one standardised feature per entry.
  int dimension = 0;

  // Model features of this column: 1 numeric, |categories| categorical,
  // hash_buckets text, dimension embedding.
  int FeatureWidth() const;
  // Entries the column takes in RawTable::vectors (text, embedding), else 0.
  int VectorWidth() const;
};

enum class Imputation { kMean, kMedian, kZero };

// Binary label: positive when value > threshold (e.g. num > 0). With
// `classes` set, a multi-class label instead: the value's index in the list
// (e.g. [0, 1, 2] for three drugs); a value not listed rejects the row.
struct LabelRule {
  std::string column;
  double positive_above = 0.0;
  std::vector<double> classes = {};

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

  // Model input width: the sum of the columns' FeatureWidth().
  int FeatureCount() const;
  // Width of RawTable::vectors' rows: the sum of the columns' VectorWidth().
  int VectorWidth() const;
  // InvalidArgument naming the column when a column's options do not fit
  // its kind (no categories, hash_buckets not a power of two, dimension 0).
  Status Validate() const;
};

// The raw table: one row per accepted CSV row, NaN for a missing value, in
// schema order; labels already mapped to 0/1
// (binary) or class indices. A text or embedding column has
// NaN in `rows` and its values in `vectors`: per row, the vector columns'
// entries concatenated in schema order (text: the term count of each hash
// bucket, the text itself is not kept; embedding: the values, NaN when the
// cell was empty). `vectors` is empty when the schema has no such column.
struct RawTable {
  std::vector<std::vector<double>> rows;
  std::vector<float> labels;
  std::vector<std::vector<float>> vectors;
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

// Imputation values and standardisation (mean, std) per numeric column and
// embedding entry, and text buckets' IDF weights (from the train rows'
// document counts), fitted on training rows only.
class Preprocessor {
 public:
  static Result<Preprocessor> Fit(const DatasetSchema& schema,
                                  const RawTable& table,
                                  const std::vector<int>& rows);
  // From given per-schema-column fill values, means and scales (categorical
  // columns' entries are ignored), e.g. federation-wide statistics. Scales
  // must be positive and everything finite; the vectors must match the
  // schema's column count.
  // `vector_mean` and `vector_scale` cover RawTable::vectors' entries
  // (schema.VectorWidth(), empty when it is 0): an embedding entry's mean and
  // scale, a text bucket's IDF weight in vector_scale (vector_mean unused).
  static Result<Preprocessor> FromColumnMoments(
      const DatasetSchema& schema, std::vector<double> fill,
      std::vector<double> mean, std::vector<double> scale,
      std::vector<double> vector_mean = {},
      std::vector<double> vector_scale = {});
  // Features for the given rows: imputed, standardised numeric columns,
  // one-hot categorical columns (an all-zero one-hot for a missing category),
  // L2-normalised TF-IDF text columns and standardised embedding columns (a
  // missing embedding: all zero, i.e. the mean).
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
  // Per RawTable::vectors entry: embedding mean and scale; text IDF in
  // vector_scale_.
  std::vector<double> vector_mean_;
  std::vector<double> vector_scale_;
};

}  // namespace cls::core

#endif  // CLS_CORE_DATASET_H_
