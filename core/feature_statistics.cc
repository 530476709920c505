#include "core/feature_statistics.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/text_features.h"

namespace cls::core {

std::vector<double> FeatureStatistics::Flatten() const {
  std::vector<double> out;
  out.reserve(StatisticsLength(feature_count()));
  out.push_back(rows);
  out.push_back(positives);
  out.insert(out.end(), count.begin(), count.end());
  out.insert(out.end(), sum.begin(), sum.end());
  out.insert(out.end(), sum_sq.begin(), sum_sq.end());
  return out;
}

Result<FeatureStatistics> FeatureStatistics::Unflatten(
    std::span<const double> values, int features) {
  if (features < 0 || values.size() != StatisticsLength(features)) {
    return InvalidArgument(
        "feature statistics: " + std::to_string(values.size()) + " values, " +
        std::to_string(features < 0 ? 0 : StatisticsLength(features)) +
        " expected for " + std::to_string(features) + " features");
  }
  for (double v : values) {
    if (!std::isfinite(v)) {
      return InvalidArgument("feature statistics: non-finite value");
    }
  }
  FeatureStatistics s;
  const auto f = static_cast<size_t>(features);
  s.rows = values[0];
  s.positives = values[1];
  s.count.assign(values.begin() + 2, values.begin() + 2 + f);
  s.sum.assign(values.begin() + 2 + f, values.begin() + 2 + 2 * f);
  s.sum_sq.assign(values.begin() + 2 + 2 * f, values.end());
  if (s.rows < 0 || s.positives < 0 || s.positives > s.rows) {
    return InvalidArgument("feature statistics: inconsistent row counts");
  }
  for (size_t j = 0; j < f; ++j) {
    if (s.count[j] < 0 || s.count[j] > s.rows || s.sum_sq[j] < 0) {
      return InvalidArgument("feature statistics: feature " +
                             std::to_string(j) + " has inconsistent sums");
    }
  }
  return s;
}

size_t StatisticsLength(int features) {
  return 2 + 3 * static_cast<size_t>(features < 0 ? 0 : features);
}

Result<FeatureStatistics> ComputeFeatureStatistics(
    const DatasetSchema& schema, const RawTable& table,
    const std::vector<int>& rows) {
  const int features = schema.FeatureCount();
  FeatureStatistics s;
  s.count.assign(static_cast<size_t>(features), 0.0);
  s.sum.assign(static_cast<size_t>(features), 0.0);
  s.sum_sq.assign(static_cast<size_t>(features), 0.0);
  for (int r : rows) {
    if (r < 0 || static_cast<size_t>(r) >= table.rows.size() ||
        static_cast<size_t>(r) >= table.labels.size()) {
      return InvalidArgument("feature statistics: row index " +
                             std::to_string(r) + " out of range");
    }
    const std::vector<double>& row = table.rows[static_cast<size_t>(r)];
    if (row.size() != schema.features.size()) {
      return InvalidArgument("feature statistics: row " + std::to_string(r) +
                             " does not match the schema width");
    }
    const auto vector_width = static_cast<size_t>(schema.VectorWidth());
    if (vector_width > 0 &&
        (static_cast<size_t>(r) >= table.vectors.size() ||
         table.vectors[static_cast<size_t>(r)].size() != vector_width)) {
      return InvalidArgument("feature statistics: row " + std::to_string(r) +
                             " has no vector entries of width " +
                             std::to_string(vector_width));
    }
    s.rows += 1;
    s.positives += table.labels[static_cast<size_t>(r)] > 0.5f ? 1 : 0;
    size_t j = 0;
    size_t vector_at = 0;
    for (size_t c = 0; c < schema.features.size(); ++c) {
      const ColumnSpec& spec = schema.features[c];
      const double v = row[c];
      if (spec.kind == ColumnSpec::Kind::kText) {
        // Document counts: the bucket is non-zero in this row or not.
        for (int b = 0; b < spec.hash_buckets; ++b, ++j) {
          const double present =
              table.vectors[static_cast<size_t>(r)][vector_at++] != 0 ? 1 : 0;
          s.count[j] += 1;
          s.sum[j] += present;
          s.sum_sq[j] += present;
        }
      } else if (spec.kind == ColumnSpec::Kind::kEmbedding) {
        for (int d = 0; d < spec.dimension; ++d, ++j) {
          const double e = table.vectors[static_cast<size_t>(r)][vector_at++];
          if (!std::isnan(e)) {
            s.count[j] += 1;
            s.sum[j] += e;
            s.sum_sq[j] += e * e;
          }
        }
      } else if (spec.kind == ColumnSpec::Kind::kNumeric) {
        if (!std::isnan(v)) {
          s.count[j] += 1;
          s.sum[j] += v;
          s.sum_sq[j] += v * v;
        }
        ++j;
      } else {
        for (double category : spec.categories) {
          const double indicator = (!std::isnan(v) && v == category) ? 1 : 0;
          s.count[j] += 1;
          s.sum[j] += indicator;
          s.sum_sq[j] += indicator;
          ++j;
        }
      }
    }
  }
  return s;
}

Result<Preprocessor> PreprocessorFromStatistics(
    const DatasetSchema& schema, const FeatureStatistics& stats) {
  if (stats.feature_count() != schema.FeatureCount() ||
      stats.sum.size() != stats.count.size() ||
      stats.sum_sq.size() != stats.count.size()) {
    return InvalidArgument("feature statistics cover " +
                           std::to_string(stats.feature_count()) +
                           " features; this site's schema has " +
                           std::to_string(schema.FeatureCount()) +
                           " (the sites' data schemas must match)");
  }
  const size_t columns = schema.features.size();
  std::vector<double> fill(columns, 0.0), mean(columns, 0.0),
      scale(columns, 1.0);
  const auto vector_width = static_cast<size_t>(schema.VectorWidth());
  std::vector<double> vector_mean(vector_width, 0.0),
      vector_scale(vector_width, 1.0);
  size_t j = 0;
  size_t vector_at = 0;
  for (size_t c = 0; c < columns; ++c) {
    const ColumnSpec& spec = schema.features[c];
    if (spec.kind == ColumnSpec::Kind::kText) {
      // IDF from the federation's document counts: count = rows with the
      // column, sum = rows with the bucket non-zero.
      for (int b = 0; b < spec.hash_buckets; ++b, ++j, ++vector_at) {
        vector_scale[vector_at] =
            InverseDocumentFrequency(stats.count[j], stats.sum[j]);
      }
      continue;
    }
    if (spec.kind == ColumnSpec::Kind::kEmbedding) {
      for (int d = 0; d < spec.dimension; ++d, ++j, ++vector_at) {
        const double n = stats.count[j];
        if (n <= 0) continue;
        const double m = stats.sum[j] / n;
        const double sd = std::sqrt(std::max(0.0, stats.sum_sq[j] / n - m * m));
        vector_mean[vector_at] = m;
        vector_scale[vector_at] = sd > 1e-12 && std::isfinite(sd) ? sd : 1.0;
      }
      continue;
    }
    if (spec.kind != ColumnSpec::Kind::kNumeric) {
      j += spec.categories.size();
      continue;
    }
    const double n = stats.count[j];
    if (n > 0) {
      const double m = stats.sum[j] / n;
      // E[x^2] - m^2 can come out slightly negative by rounding.
      const double var = std::max(0.0, stats.sum_sq[j] / n - m * m);
      const double sd = std::sqrt(var);
      mean[c] = m;
      scale[c] = sd > 1e-12 && std::isfinite(sd) ? sd : 1.0;
      fill[c] = schema.imputation == Imputation::kZero ? 0.0 : m;
    }
    ++j;
  }
  return Preprocessor::FromColumnMoments(
      schema, std::move(fill), std::move(mean), std::move(scale),
      std::move(vector_mean), std::move(vector_scale));
}

size_t EncodedStatisticsLength(int features) {
  return kStatisticsLimbs * StatisticsLength(features);
}

Result<std::vector<uint32_t>> EncodeStatisticsForSum(
    std::span<const double> values) {
  constexpr double kScale = double(uint64_t{1} << kStatisticsFractionBits);
  constexpr double kLimit = double(uint64_t{1} << 62);
  std::vector<uint32_t> out;
  out.reserve(values.size() * kStatisticsLimbs);
  for (double v : values) {
    const double scaled = std::round(v * kScale);
    if (!std::isfinite(scaled) || std::fabs(scaled) >= kLimit) {
      return InvalidArgument(
          "feature statistics: a sum is too large for the fixed-point "
          "encoding");
    }
    const auto word = static_cast<uint64_t>(static_cast<int64_t>(scaled));
    for (int l = 0; l < kStatisticsLimbs; ++l) {
      out.push_back(
          static_cast<uint32_t>((word >> (kStatisticsLimbBits * l)) & 0xffffu));
    }
  }
  return out;
}

Result<std::vector<double>> DecodeStatisticsSum(
    std::span<const uint32_t> limb_sums) {
  if (limb_sums.size() % kStatisticsLimbs != 0) {
    return InvalidArgument(
        "feature statistics: " + std::to_string(limb_sums.size()) +
        " limbs, not a multiple of " + std::to_string(kStatisticsLimbs));
  }
  constexpr double kScale = double(uint64_t{1} << kStatisticsFractionBits);
  std::vector<double> out;
  out.reserve(limb_sums.size() / kStatisticsLimbs);
  for (size_t i = 0; i < limb_sums.size(); i += kStatisticsLimbs) {
    uint64_t word = 0;  // wraps mod 2^64 by design
    for (int l = 0; l < kStatisticsLimbs; ++l) {
      word += static_cast<uint64_t>(limb_sums[i + static_cast<size_t>(l)])
              << (kStatisticsLimbBits * l);
    }
    out.push_back(static_cast<double>(static_cast<int64_t>(word)) / kScale);
  }
  return out;
}

}  // namespace cls::core
