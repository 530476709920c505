#include "core/drift/data_drift.h"

#include <algorithm>
#include <cmath>

#include "core/drift/distributions.h"

namespace cls::drift {
namespace {

Status CheckCounts(std::span<const double> reference,
                   std::span<const double> current, std::string_view what) {
  if (reference.size() != current.size()) {
    return InvalidArgument(
        std::string(what) + ": " + std::to_string(reference.size()) +
        " reference bins, " + std::to_string(current.size()) + " current bins");
  }
  if (reference.size() < 2) {
    return InvalidArgument(std::string(what) + ": need at least 2 bins");
  }
  for (size_t i = 0; i < reference.size(); ++i) {
    if (!(reference[i] >= 0) || !(current[i] >= 0) ||
        std::isinf(reference[i]) || std::isinf(current[i])) {
      return InvalidArgument(std::string(what) + ": bin " + std::to_string(i) +
                             " count is negative or not finite");
    }
  }
  return {};
}

double Sum(std::span<const double> v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

// The value with NaN meaning missing; zero too where the schema says so.
bool Missing(double v, bool zero_is_missing) {
  return std::isnan(v) || (zero_is_missing && v == 0);
}

}  // namespace

Result<PsiResult> PopulationStabilityIndex(
    std::span<const double> reference_counts,
    std::span<const double> current_counts, double alpha) {
  if (auto s = CheckCounts(reference_counts, current_counts, "psi"); !s) {
    return std::unexpected(s.error());
  }
  if (!(alpha > 0 && alpha < 1)) {
    return InvalidArgument("psi: alpha must be in (0, 1)");
  }
  const double n = Sum(reference_counts);
  const double m = Sum(current_counts);
  if (n <= 0 || m <= 0) return InvalidArgument("psi: an empty sample");
  const size_t bins = reference_counts.size();
  const double rn = n + 0.5 * static_cast<double>(bins);
  const double cn = m + 0.5 * static_cast<double>(bins);
  PsiResult out;
  for (size_t i = 0; i < bins; ++i) {
    const double r = (reference_counts[i] + 0.5) / rn;
    const double c = (current_counts[i] + 0.5) / cn;
    out.psi += (c - r) * std::log(c / r);
  }
  out.bins = static_cast<int>(bins);
  out.reference_n = static_cast<int64_t>(n);
  out.current_n = static_cast<int64_t>(m);
  out.critical =
      (1.0 / n + 1.0 / m) * ChiSquaredIsf(alpha, static_cast<double>(bins - 1));
  return out;
}

Result<KsResult> KsTwoSampleSorted(std::span<const double> reference,
                                   std::span<const double> current) {
  if (reference.empty() || current.empty()) {
    return InvalidArgument("ks: an empty sample");
  }
  for (auto sample : {reference, current}) {
    for (size_t i = 0; i < sample.size(); ++i) {
      if (std::isnan(sample[i])) return InvalidArgument("ks: NaN value");
      if (i > 0 && sample[i] < sample[i - 1]) {
        return InvalidArgument("ks: sample not sorted");
      }
    }
  }
  const double n = static_cast<double>(reference.size());
  const double m = static_cast<double>(current.size());
  size_t i = 0, j = 0;
  double d = 0;
  // Step both empirical CDFs past each distinct value (ties move together).
  while (i < reference.size() && j < current.size()) {
    const double v = std::min(reference[i], current[j]);
    while (i < reference.size() && reference[i] == v) ++i;
    while (j < current.size() && current[j] == v) ++j;
    d = std::max(
        d, std::abs(static_cast<double>(i) / n - static_cast<double>(j) / m));
  }
  KsResult out;
  out.statistic = d;
  out.reference_n = static_cast<int64_t>(reference.size());
  out.current_n = static_cast<int64_t>(current.size());
  const double ne = std::sqrt(n * m / (n + m));
  out.p_value = std::clamp(KolmogorovSf((ne + 0.12 + 0.11 / ne) * d), 0.0, 1.0);
  return out;
}

Result<KsResult> KsTwoSample(std::span<const double> reference,
                             std::span<const double> current) {
  std::vector<double> a(reference.begin(), reference.end());
  std::vector<double> b(current.begin(), current.end());
  for (const auto* v : {&a, &b}) {
    for (double x : *v) {
      if (std::isnan(x)) return InvalidArgument("ks: NaN value");
    }
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return KsTwoSampleSorted(a, b);
}

Result<ChiSquaredResult> ChiSquaredHomogeneity(
    std::span<const double> reference_counts,
    std::span<const double> current_counts) {
  if (auto s = CheckCounts(reference_counts, current_counts, "chi2"); !s) {
    return std::unexpected(s.error());
  }
  const double n = Sum(reference_counts);
  const double m = Sum(current_counts);
  if (n <= 0 || m <= 0) return InvalidArgument("chi2: an empty sample");
  const double total = n + m;
  ChiSquaredResult out;
  int categories = 0;
  for (size_t i = 0; i < reference_counts.size(); ++i) {
    const double col = reference_counts[i] + current_counts[i];
    if (col == 0) continue;
    ++categories;
    const double er = n * col / total;
    const double ec = m * col / total;
    out.statistic +=
        (reference_counts[i] - er) * (reference_counts[i] - er) / er +
        (current_counts[i] - ec) * (current_counts[i] - ec) / ec;
  }
  out.dof = categories - 1;
  out.p_value = out.dof > 0 ? ChiSquaredSf(out.statistic, out.dof) : 1.0;
  return out;
}

Result<DataDriftDetector> DataDriftDetector::Fit(
    const core::DatasetSchema& schema, const core::RawTable& reference,
    const DataDriftConfig& config) {
  if (config.psi_bins < 2 || config.psi_bins > 1000) {
    return InvalidArgument("data drift: psi_bins must be in [2, 1000]");
  }
  if (!(config.alpha > 0 && config.alpha < 1)) {
    return InvalidArgument("data drift: alpha must be in (0, 1)");
  }
  if (config.min_samples < 2) {
    return InvalidArgument("data drift: min_samples must be >= 2");
  }
  if (schema.features.empty()) {
    return InvalidArgument("data drift: the schema has no features");
  }
  const size_t width = schema.features.size();
  for (size_t r = 0; r < reference.rows.size(); ++r) {
    if (reference.rows[r].size() != width) {
      return InvalidArgument("data drift: reference row " + std::to_string(r) +
                             " has " +
                             std::to_string(reference.rows[r].size()) +
                             " values, expected " + std::to_string(width));
    }
  }
  DataDriftDetector d;
  d.config_ = config;
  d.row_width_ = width;
  for (size_t c = 0; c < width; ++c) {
    const core::ColumnSpec& spec = schema.features[c];
    // Text and embedding columns are not tested (docs/columns.md): their
    // raw row value is a placeholder and their hashed or vector entries have
    // no one-dimensional distribution to compare.
    if (spec.kind == core::ColumnSpec::Kind::kText ||
        spec.kind == core::ColumnSpec::Kind::kEmbedding) {
      continue;
    }
    Column col;
    col.name = spec.name;
    col.source = c;
    col.zero_is_missing = spec.zero_is_missing;
    if (spec.kind == core::ColumnSpec::Kind::kCategorical) {
      if (spec.categories.size() < 2) {
        return InvalidArgument("data drift: column '" + spec.name +
                               "' needs at least 2 categories");
      }
      col.kind = FeatureKind::kCategorical;
      col.categories = spec.categories;
      col.counts.assign(spec.categories.size(), 0.0);
      for (const auto& row : reference.rows) {
        const auto it =
            std::find(col.categories.begin(), col.categories.end(), row[c]);
        if (it != col.categories.end()) {
          col.counts[static_cast<size_t>(it - col.categories.begin())] += 1;
        }
      }
    } else {
      for (const auto& row : reference.rows) {
        if (!Missing(row[c], spec.zero_is_missing)) {
          col.sorted_values.push_back(row[c]);
        }
      }
      std::sort(col.sorted_values.begin(), col.sorted_values.end());
      // Inner cut points at the reference quantiles, duplicates removed
      // (integer-valued columns have fewer distinct cut points).
      const size_t n = col.sorted_values.size();
      if (n > 0) {
        for (int b = 1; b < config.psi_bins; ++b) {
          const size_t idx =
              std::min(n - 1, static_cast<size_t>(static_cast<double>(b) * n /
                                                  config.psi_bins));
          const double edge = col.sorted_values[idx];
          if (col.edges.empty() || edge > col.edges.back()) {
            col.edges.push_back(edge);
          }
        }
      }
      col.counts.assign(col.edges.size() + 1, 0.0);
      for (double v : col.sorted_values) {
        const size_t bin = static_cast<size_t>(
            std::upper_bound(col.edges.begin(), col.edges.end(), v) -
            col.edges.begin());
        col.counts[bin] += 1;
      }
    }
    d.columns_.push_back(std::move(col));
  }
  if (d.columns_.empty()) {
    return InvalidArgument(
        "data drift: the schema has no numeric or categorical column");
  }
  return d;
}

Result<DataDriftReport> DataDriftDetector::Assess(
    const core::RawTable& current) const {
  const size_t width = columns_.size();
  for (size_t r = 0; r < current.rows.size(); ++r) {
    if (current.rows[r].size() != row_width_) {
      return InvalidArgument("data drift: row " + std::to_string(r) + " has " +
                             std::to_string(current.rows[r].size()) +
                             " values, expected " + std::to_string(row_width_));
    }
  }
  DataDriftReport report;
  const double per_feature_alpha = config_.alpha / static_cast<double>(width);
  for (size_t c = 0; c < width; ++c) {
    const Column& col = columns_[c];
    FeatureDrift f;
    f.feature = col.name;
    f.kind = col.kind;
    std::vector<double> counts(col.counts.size(), 0.0);
    std::vector<double> values;
    for (const auto& row : current.rows) {
      const double v = row[col.source];
      if (col.kind == FeatureKind::kCategorical) {
        const auto it =
            std::find(col.categories.begin(), col.categories.end(), v);
        if (it != col.categories.end()) {
          counts[static_cast<size_t>(it - col.categories.begin())] += 1;
        }
      } else if (!Missing(v, col.zero_is_missing)) {
        values.push_back(v);
        const size_t bin = static_cast<size_t>(
            std::upper_bound(col.edges.begin(), col.edges.end(), v) -
            col.edges.begin());
        counts[bin] += 1;
      }
    }
    f.reference_n = static_cast<int64_t>(Sum(col.counts));
    f.current_n = static_cast<int64_t>(Sum(counts));
    if (f.reference_n < config_.min_samples ||
        f.current_n < config_.min_samples || counts.size() < 2) {
      f.test = "insufficient data";
      report.features.push_back(std::move(f));
      continue;
    }
    auto psi = PopulationStabilityIndex(col.counts, counts, config_.alpha);
    if (!psi) return std::unexpected(psi.error());
    f.psi = psi->psi;
    f.psi_critical = psi->critical;
    if (col.kind == FeatureKind::kCategorical) {
      auto chi = ChiSquaredHomogeneity(col.counts, counts);
      if (!chi) return std::unexpected(chi.error());
      f.test = "chi2";
      f.statistic = chi->statistic;
      f.p_value = chi->p_value;
    } else {
      std::sort(values.begin(), values.end());
      auto ks = KsTwoSampleSorted(col.sorted_values, values);
      if (!ks) return std::unexpected(ks.error());
      f.test = "ks";
      f.statistic = ks->statistic;
      f.p_value = ks->p_value;
    }
    f.drifted = f.p_value < per_feature_alpha && f.psi > f.psi_critical &&
                f.psi > config_.psi_floor;
    report.max_psi = std::max(report.max_psi, f.psi);
    if (f.drifted) ++report.drifted_features;
    report.features.push_back(std::move(f));
  }
  report.drifted_share =
      static_cast<double>(report.drifted_features) / static_cast<double>(width);
  report.dataset_drift = report.drifted_features > 0;
  return report;
}

}  // namespace cls::drift
