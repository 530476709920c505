#include "core/dataset.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "core/shuffle.h"
#include "core/text_features.h"

namespace cls::core {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

// Splits one CSV line into trimmed fields. Double-quoted fields (with "" for a
// literal quote, commas allowed inside) are supported within one line.
// Returns false on an unterminated quote.
bool SplitCsvLine(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  bool in_quotes = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        field.push_back(c);
      }
    } else if (c == ',') {
      fields.emplace_back(Trim(field));
      field.clear();
    } else if (c == '"' && Trim(field).empty()) {
      in_quotes = true;
      field.clear();
    } else {
      field.push_back(c);
    }
  }
  if (in_quotes) return false;
  fields.emplace_back(Trim(field));
  return true;
}

enum class ParseStatus { kOk, kMissing, kBad };

// Parses a trimmed field as a finite double; empty means missing.
ParseStatus ParseNumber(std::string_view s, double& out) {
  s = Trim(s);
  if (s.empty()) return ParseStatus::kMissing;
  if (s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return ParseStatus::kBad;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  if (ec != std::errc() || ptr != end || !std::isfinite(out)) {
    return ParseStatus::kBad;
  }
  return ParseStatus::kOk;
}

std::string ColumnReason(const std::string& column, std::string_view what) {
  return "column '" + column + "': " + std::string(what);
}

double Median(std::vector<double> v) {
  assert(!v.empty());
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + mid);
  return 0.5 * (lower + upper);
}

// Every row in `rows` has a vectors entry of the schema's vector width.
Status CheckVectors(const DatasetSchema& schema, const RawTable& table,
                    const std::vector<int>& rows, std::string_view who) {
  const auto width = static_cast<size_t>(schema.VectorWidth());
  if (width == 0) return {};
  for (int r : rows) {
    if (static_cast<size_t>(r) >= table.vectors.size() ||
        table.vectors[static_cast<size_t>(r)].size() != width) {
      return InvalidArgument(std::string(who) + ": row " + std::to_string(r) +
                             " has no vector entries of width " +
                             std::to_string(width));
    }
  }
  return {};
}

// Embedding entries: mean and population standard deviation over the
// non-missing values (0 and 1 when there is none). Text buckets: the IDF
// weight from the number of rows whose bucket is non-zero.
void FitVectorColumns(const DatasetSchema& schema, const RawTable& table,
                      const std::vector<int>& rows, std::vector<double>& mean,
                      std::vector<double>& scale) {
  const auto width = static_cast<size_t>(schema.VectorWidth());
  mean.assign(width, 0.0);
  scale.assign(width, 1.0);
  size_t at = 0;
  for (const ColumnSpec& spec : schema.features) {
    const auto w = static_cast<size_t>(spec.VectorWidth());
    for (size_t j = at; j < at + w; ++j) {
      double n = 0, sum = 0, sum_sq = 0;
      for (int r : rows) {
        const double v = table.vectors[static_cast<size_t>(r)][j];
        if (spec.kind == ColumnSpec::Kind::kText) {
          n += 1;
          sum += v != 0 ? 1 : 0;
        } else if (!std::isnan(v)) {
          n += 1;
          sum += v;
          sum_sq += v * v;
        }
      }
      if (spec.kind == ColumnSpec::Kind::kText) {
        scale[j] = InverseDocumentFrequency(n, sum);
      } else if (n > 0) {
        const double m = sum / n;
        const double sd = std::sqrt(std::max(0.0, sum_sq / n - m * m));
        mean[j] = m;
        scale[j] = sd > 1e-12 && std::isfinite(sd) ? sd : 1.0;
      }
    }
    at += w;
  }
}

}  // namespace

int ColumnSpec::FeatureWidth() const {
  switch (kind) {
    case Kind::kNumeric:
      return 1;
    case Kind::kCategorical:
      return static_cast<int>(categories.size());
    case Kind::kText:
      return hash_buckets;
    case Kind::kEmbedding:
      return dimension;
  }
  return 0;
}

int ColumnSpec::VectorWidth() const {
  return kind == Kind::kText || kind == Kind::kEmbedding ? FeatureWidth() : 0;
}

int DatasetSchema::FeatureCount() const {
  int count = 0;
  for (const ColumnSpec& c : features) count += c.FeatureWidth();
  return count;
}

int DatasetSchema::VectorWidth() const {
  int count = 0;
  for (const ColumnSpec& c : features) count += c.VectorWidth();
  return count;
}

Status DatasetSchema::Validate() const {
  for (const ColumnSpec& c : features) {
    const std::string where = "schema: column '" + c.name + "': ";
    switch (c.kind) {
      case ColumnSpec::Kind::kNumeric:
        break;
      case ColumnSpec::Kind::kCategorical:
        if (c.categories.empty()) {
          return InvalidArgument(where + "categorical without categories");
        }
        break;
      case ColumnSpec::Kind::kText:
        if (!ValidHashBuckets(c.hash_buckets)) {
          return InvalidArgument(where +
                                 "hash_buckets must be a power of two in [" +
                                 std::to_string(kMinHashBuckets) + ", " +
                                 std::to_string(kMaxHashBuckets) + "]");
        }
        break;
      case ColumnSpec::Kind::kEmbedding:
        if (c.dimension < 1 || c.dimension > kMaxEmbeddingDimension) {
          return InvalidArgument(where + "dimension must be in [1, " +
                                 std::to_string(kMaxEmbeddingDimension) + "]");
        }
        break;
    }
  }
  return {};
}

std::vector<std::string> ClassNames(const LabelRule& label) {
  if (label.classes.empty()) return {"0", "1"};
  std::vector<std::string> out;
  // The shortest exact form: 2.0 as "2".
  for (double v : label.classes) {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    out.emplace_back(buffer, ec == std::errc{} ? end : buffer);
  }
  return out;
}

Result<CsvLoadResult> LoadCsv(const std::string& path,
                              const DatasetSchema& schema) {
  CLS_RETURN_IF_ERROR(schema.Validate());

  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFound("dataset file not found: " + path);
  }
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument("dataset path is a directory: " + path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot open dataset file: " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return InvalidArgument("cannot read dataset file: " + path);
  const std::string content = std::move(buffer).str();

  // Iterate over lines, accepting \n, \r\n and a bare \r as line ends.
  std::string_view rest = content;
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // UTF-8 BOM
  int line_number = 0;
  auto next_line = [&](std::string_view& line) -> bool {
    if (rest.empty()) return false;
    const size_t end = rest.find_first_of("\r\n");
    ++line_number;
    if (end == std::string_view::npos) {
      line = rest;
      rest = {};
      return true;
    }
    line = rest.substr(0, end);
    size_t skip = 1;
    if (rest[end] == '\r' && end + 1 < rest.size() && rest[end + 1] == '\n') {
      skip = 2;
    }
    rest.remove_prefix(end + skip);
    return true;
  };

  // Header: the first non-blank line.
  std::string_view line;
  bool have_header = false;
  while (next_line(line)) {
    if (!Trim(line).empty()) {
      have_header = true;
      break;
    }
  }
  if (!have_header) {
    return InvalidArgument("dataset file has no header row: " + path);
  }
  std::vector<std::string> fields;
  if (!SplitCsvLine(line, fields)) {
    return InvalidArgument("dataset header has an unterminated quote: " + path);
  }
  const size_t header_size = fields.size();
  std::unordered_map<std::string, size_t> header_index;
  std::unordered_set<std::string> duplicated;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!header_index.emplace(fields[i], i).second) {
      duplicated.insert(fields[i]);
    }
  }
  // Columns the schema does not use may repeat; a used one must be unique.
  auto find_column = [&](const std::string& name) -> Result<size_t> {
    auto it = header_index.find(name);
    if (it == header_index.end()) {
      return InvalidArgument("dataset header is missing column '" + name +
                             "': " + path);
    }
    if (duplicated.contains(name)) {
      return InvalidArgument("dataset header has column '" + name +
                             "' more than once: " + path);
    }
    return it->second;
  };
  std::vector<size_t> feature_index;
  feature_index.reserve(schema.features.size());
  for (const ColumnSpec& c : schema.features) {
    auto idx = find_column(c.name);
    if (!idx) return std::unexpected(idx.error());
    feature_index.push_back(*idx);
  }
  auto label_index = find_column(schema.label.column);
  if (!label_index) return std::unexpected(label_index.error());

  CsvLoadResult result;
  std::vector<double> row(schema.features.size());
  std::vector<float> vector_row(static_cast<size_t>(schema.VectorWidth()));
  while (next_line(line)) {
    if (Trim(line).empty()) continue;  // blank lines are not rows
    const int this_line = line_number;
    auto reject = [&](std::string reason) {
      result.rejected.push_back(RejectedRow{this_line, std::move(reason)});
    };
    if (!SplitCsvLine(line, fields)) {
      reject("unterminated quote");
      continue;
    }
    if (fields.size() != header_size) {
      reject("wrong number of fields: " + std::to_string(fields.size()) +
             ", expected " + std::to_string(header_size));
      continue;
    }

    double label_value = 0;
    switch (ParseNumber(fields[*label_index], label_value)) {
      case ParseStatus::kOk:
        break;
      case ParseStatus::kMissing:
        reject(ColumnReason(schema.label.column, "missing label"));
        continue;
      case ParseStatus::kBad:
        reject(ColumnReason(schema.label.column, "label is not a number"));
        continue;
    }

    bool ok = true;
    std::fill(vector_row.begin(), vector_row.end(), 0.0f);
    size_t vector_at = 0;
    for (size_t c = 0; c < schema.features.size() && ok; ++c) {
      const ColumnSpec& spec = schema.features[c];
      if (spec.VectorWidth() > 0) {
        const std::span<float> out(vector_row.data() + vector_at,
                                   static_cast<size_t>(spec.VectorWidth()));
        vector_at += out.size();
        const std::string& cell = fields[feature_index[c]];
        const Status parsed = spec.kind == ColumnSpec::Kind::kText
                                  ? HashTextTerms(cell, out)
                                  : ParseEmbedding(cell, out);
        if (!parsed) {
          reject(ColumnReason(spec.name, parsed.error().message));
          ok = false;
        }
        row[c] = kMissing;
        continue;
      }
      double v = 0;
      switch (ParseNumber(fields[feature_index[c]], v)) {
        case ParseStatus::kOk:
          break;
        case ParseStatus::kMissing:
          v = kMissing;
          break;
        case ParseStatus::kBad:
          reject(ColumnReason(spec.name, "not a number"));
          ok = false;
          continue;
      }
      if (spec.zero_is_missing && v == 0.0) v = kMissing;
      if (spec.kind == ColumnSpec::Kind::kCategorical && !std::isnan(v) &&
          std::find(spec.categories.begin(), spec.categories.end(), v) ==
              spec.categories.end()) {
        reject(ColumnReason(spec.name, "unknown category"));
        ok = false;
        continue;
      }
      row[c] = v;
    }
    if (!ok) continue;
    float label = label_value > schema.label.positive_above ? 1.0f : 0.0f;
    if (!schema.label.classes.empty()) {
      const auto& classes = schema.label.classes;
      const auto it = std::find(classes.begin(), classes.end(), label_value);
      if (it == classes.end()) {
        reject(ColumnReason(schema.label.column, "label not in label_classes"));
        continue;
      }
      label = static_cast<float>(it - classes.begin());
    }
    result.table.rows.push_back(row);
    if (!vector_row.empty()) result.table.vectors.push_back(vector_row);
    result.table.labels.push_back(label);
  }

  if (result.table.rows.empty()) {
    return InvalidArgument("dataset has no usable rows (" +
                           std::to_string(result.rejected.size()) +
                           " rejected): " + path);
  }
  return result;
}

Split StratifiedSplit(const std::vector<float>& labels, double test_fraction,
                      uint64_t seed) {
  if (!(test_fraction >= 0.0)) test_fraction = 0.0;  // also catches NaN
  test_fraction = std::min(test_fraction, 1.0);
  std::map<float, std::vector<int>> by_label;
  for (size_t i = 0; i < labels.size(); ++i) {
    by_label[labels[i]].push_back(static_cast<int>(i));
  }
  std::mt19937_64 rng(seed);
  Split split;
  for (auto& [label, indices] : by_label) {
    Shuffle(indices, rng);
    const size_t n_test = std::min(
        indices.size(),
        static_cast<size_t>(
            std::llround(test_fraction * static_cast<double>(indices.size()))));
    split.test.insert(split.test.end(), indices.begin(),
                      indices.begin() + static_cast<std::ptrdiff_t>(n_test));
    split.train.insert(split.train.end(),
                       indices.begin() + static_cast<std::ptrdiff_t>(n_test),
                       indices.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.test.begin(), split.test.end());
  return split;
}

Result<Preprocessor> Preprocessor::Fit(const DatasetSchema& schema,
                                       const RawTable& table,
                                       const std::vector<int>& rows) {
  const size_t columns = schema.features.size();
  for (int r : rows) {
    if (r < 0 || static_cast<size_t>(r) >= table.rows.size()) {
      return InvalidArgument("preprocessor: row index " + std::to_string(r) +
                             " out of range");
    }
    if (table.rows[static_cast<size_t>(r)].size() != columns) {
      return InvalidArgument("preprocessor: row " + std::to_string(r) +
                             " does not match the schema width");
    }
  }
  CLS_RETURN_IF_ERROR(CheckVectors(schema, table, rows, "preprocessor"));

  Preprocessor p;
  p.schema_ = schema;
  p.fill_.assign(columns, 0.0);
  p.mean_.assign(columns, 0.0);
  p.scale_.assign(columns, 1.0);
  std::vector<double> values;
  for (size_t c = 0; c < columns; ++c) {
    if (schema.features[c].kind != ColumnSpec::Kind::kNumeric) continue;
    values.clear();
    for (int r : rows) {
      const double v = table.rows[static_cast<size_t>(r)][c];
      if (!std::isnan(v)) values.push_back(v);
    }
    if (values.empty()) continue;  // entirely missing here: fill 0, scale 1
    double sum = 0.0;
    for (double v : values) sum += v;
    const double mean = sum / static_cast<double>(values.size());
    double sq = 0.0;
    for (double v : values) sq += (v - mean) * (v - mean);
    const double std_dev = std::sqrt(sq / static_cast<double>(values.size()));
    p.mean_[c] = mean;
    p.scale_[c] = std_dev > 1e-12 && std::isfinite(std_dev) ? std_dev : 1.0;
    switch (schema.imputation) {
      case Imputation::kMean:
        p.fill_[c] = mean;
        break;
      case Imputation::kMedian:
        p.fill_[c] = Median(values);
        break;
      case Imputation::kZero:
        p.fill_[c] = 0.0;
        break;
    }
  }
  FitVectorColumns(schema, table, rows, p.vector_mean_, p.vector_scale_);
  return p;
}

Result<Preprocessor> Preprocessor::FromColumnMoments(
    const DatasetSchema& schema, std::vector<double> fill,
    std::vector<double> mean, std::vector<double> scale,
    std::vector<double> vector_mean, std::vector<double> vector_scale) {
  const size_t columns = schema.features.size();
  if (fill.size() != columns || mean.size() != columns ||
      scale.size() != columns) {
    return InvalidArgument("preprocessor: " + std::to_string(columns) +
                           " schema columns, moments for " +
                           std::to_string(mean.size()));
  }
  for (size_t c = 0; c < columns; ++c) {
    if (schema.features[c].kind != ColumnSpec::Kind::kNumeric) continue;
    if (!std::isfinite(fill[c]) || !std::isfinite(mean[c]) ||
        !std::isfinite(scale[c]) || scale[c] <= 0) {
      return InvalidArgument("preprocessor: column '" +
                             schema.features[c].name +
                             "': non-finite moment or non-positive scale");
    }
  }
  const auto width = static_cast<size_t>(schema.VectorWidth());
  if (vector_mean.size() != width || vector_scale.size() != width) {
    return InvalidArgument("preprocessor: " + std::to_string(width) +
                           " vector entries, moments for " +
                           std::to_string(vector_scale.size()));
  }
  for (size_t j = 0; j < width; ++j) {
    if (!std::isfinite(vector_mean[j]) || !std::isfinite(vector_scale[j]) ||
        vector_scale[j] <= 0) {
      return InvalidArgument("preprocessor: vector entry " + std::to_string(j) +
                             ": non-finite moment or non-positive scale");
    }
  }
  Preprocessor p;
  p.schema_ = schema;
  p.fill_ = std::move(fill);
  p.mean_ = std::move(mean);
  p.scale_ = std::move(scale);
  p.vector_mean_ = std::move(vector_mean);
  p.vector_scale_ = std::move(vector_scale);
  return p;
}

Eigen::MatrixXf Preprocessor::Transform(const RawTable& table,
                                        const std::vector<int>& rows) const {
  Eigen::MatrixXf x(static_cast<Eigen::Index>(rows.size()), FeatureCount());
  x.setZero();
  std::vector<float> text_out;
  for (size_t i = 0; i < rows.size(); ++i) {
    assert(rows[i] >= 0 && static_cast<size_t>(rows[i]) < table.rows.size());
    const std::vector<double>& row = table.rows[static_cast<size_t>(rows[i])];
    assert(row.size() == schema_.features.size());
    const auto out_row = static_cast<Eigen::Index>(i);
    Eigen::Index col = 0;
    size_t vector_at = 0;
    for (size_t c = 0; c < schema_.features.size(); ++c) {
      const ColumnSpec& spec = schema_.features[c];
      const double v = row[c];
      if (spec.VectorWidth() > 0) {
        const auto width = static_cast<size_t>(spec.VectorWidth());
        const std::vector<float>& values =
            table.vectors[static_cast<size_t>(rows[i])];
        assert(values.size() == vector_mean_.size());
        const std::span<const float> in(values.data() + vector_at, width);
        const std::span<const double> mean(vector_mean_.data() + vector_at,
                                           width);
        const std::span<const double> scale(vector_scale_.data() + vector_at,
                                            width);
        vector_at += width;
        if (spec.kind == ColumnSpec::Kind::kText) {
          text_out.resize(width);
          TfIdfNormalised(in, scale, text_out);
          for (float w : text_out) x(out_row, col++) = w;
        } else {
          for (size_t d = 0; d < width; ++d) {
            x(out_row, col++) =
                std::isnan(in[d])
                    ? 0.0f
                    : static_cast<float>((in[d] - mean[d]) / scale[d]);
          }
        }
      } else if (spec.kind == ColumnSpec::Kind::kNumeric) {
        const double filled = std::isnan(v) ? fill_[c] : v;
        x(out_row, col++) = static_cast<float>((filled - mean_[c]) / scale_[c]);
      } else {
        for (double category : spec.categories) {
          x(out_row, col++) = (!std::isnan(v) && v == category) ? 1.0f : 0.0f;
        }
      }
    }
  }
  return x;
}

Eigen::VectorXf Preprocessor::Labels(const RawTable& table,
                                     const std::vector<int>& rows) const {
  Eigen::VectorXf y(static_cast<Eigen::Index>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    assert(rows[i] >= 0 && static_cast<size_t>(rows[i]) < table.labels.size());
    y(static_cast<Eigen::Index>(i)) =
        table.labels[static_cast<size_t>(rows[i])];
  }
  return y;
}

}  // namespace cls::core
