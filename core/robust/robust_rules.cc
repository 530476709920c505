#include "core/robust/robust_rules.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>

namespace cls::core::robust {
namespace {

// Coordinates per block: the block of every contribution stays in L2.
size_t BlockSize(size_t n) {
  return std::clamp<size_t>((size_t{1} << 18) / (n * sizeof(float)), 64, 4096);
}

// ||a - b||^2, float lanes inside a block (vectorisable), double across.
double SquaredDistance(const float* a, const float* b, size_t d) {
  constexpr size_t kLanes = 8;
  constexpr size_t kChunk = 1024;
  double total = 0;
  for (size_t start = 0; start < d; start += kChunk) {
    const size_t end = std::min(d, start + kChunk);
    float acc[kLanes] = {};
    size_t i = start;
    for (; i + kLanes <= end; i += kLanes) {
      for (size_t l = 0; l < kLanes; ++l) {
        const float t = a[i + l] - b[i + l];
        acc[l] += t * t;
      }
    }
    double chunk = 0;
    for (; i < end; ++i) {
      const double t = static_cast<double>(a[i]) - b[i];
      chunk += t * t;
    }
    for (float v : acc) chunk += v;
    total += chunk;
  }
  return total;
}

std::vector<double> NormalisedWeights(size_t n, std::span<const double> w) {
  std::vector<double> out(n, 1.0 / static_cast<double>(n));
  if (w.empty()) return out;
  const double sum = std::accumulate(w.begin(), w.end(), 0.0);
  for (size_t i = 0; i < n; ++i) out[i] = w[i] / sum;
  return out;
}

// out = sum_i a_i x_i (a contribution with a_i = 0 is skipped).
void WeightedSum(Contributions x, std::span<const double> a,
                 std::span<float> out) {
  std::fill(out.begin(), out.end(), 0.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    if (a[i] == 0) continue;
    const float ai = static_cast<float>(a[i]);
    const float* xi = x[i].data();
    float* o = out.data();
    const size_t d = out.size();
    for (size_t c = 0; c < d; ++c) o[c] += ai * xi[c];
  }
}

// Fills distance and anomaly of `r` from r.aggregate.
void Score(Contributions x, RobustResult& r) {
  r.distance.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    r.distance[i] = std::sqrt(
        SquaredDistance(x[i].data(), r.aggregate.data(), r.aggregate.size()));
  }
  r.anomaly = AnomalyFromDistances(r.distance);
}

double LowerMedian(std::vector<double> v) {
  const size_t k = (v.size() - 1) / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k),
                   v.end());
  return v[k];
}

bool AllFinite(std::span<const float> v, size_t& first_bad) {
  // Exponent bits all ones = inf or NaN; an integer OR-reduction vectorises.
  constexpr uint32_t kExponent = 0x7f800000u;
  const float* p = v.data();
  uint32_t bad = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    bad |= static_cast<uint32_t>((std::bit_cast<uint32_t>(p[i]) & kExponent) ==
                                 kExponent);
  }
  if (bad == 0) return true;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(p[i])) {
      first_bad = i;
      return false;
    }
  }
  return true;
}

// Trimmed mean for a small trim count K: per coordinate, a streaming min/max
// insertion network keeps the K smallest and K largest values seen; a value
// pushed out of both is a middle value and is summed. Branch-free over the
// coordinates of a block (vectorises), no transpose, and the middle sum never
// contains an extreme value (subtracting extremes from a total would lose the
// honest values' precision next to a huge Byzantine one). With
// K = (n - 1) / 2 the middle is the median.
constexpr int kMaxNetworkTrim = 8;

template <int K>
void TrimmedMeanNetwork(Contributions x, std::span<float> out) {
  const size_t n = x.size(), d = out.size();
  const size_t block = BlockSize(n);
  const float inv = 1.0f / static_cast<float>(n - 2 * K);
  std::vector<float> lo_buf(K * block), hi_buf(K * block), mid_buf(block);
  float* lo = lo_buf.data();
  float* hi = hi_buf.data();
  float* mid = mid_buf.data();
  for (size_t b0 = 0; b0 < d; b0 += block) {
    const size_t len = std::min(block, d - b0);
    std::fill(lo_buf.begin(), lo_buf.end(),
              std::numeric_limits<float>::infinity());
    std::fill(hi_buf.begin(), hi_buf.end(),
              -std::numeric_limits<float>::infinity());
    std::fill(mid_buf.begin(), mid_buf.end(), 0.0f);
    for (size_t j = 0; j < n; ++j) {
      const float* xj = x[j].data() + b0;
      if (j < K) {  // filling lo: what leaves is the +inf sentinel
        for (size_t i = 0; i < len; ++i) {
          float v = xj[i];
          for (int t = 0; t < K; ++t) {
            const float s = lo[t * block + i];
            lo[t * block + i] = std::min(s, v);
            v = std::max(s, v);
          }
        }
      } else if (j < 2 * K) {  // filling hi: what leaves is the -inf sentinel
        for (size_t i = 0; i < len; ++i) {
          float v = xj[i];
          for (int t = 0; t < K; ++t) {
            const float s = lo[t * block + i];
            lo[t * block + i] = std::min(s, v);
            v = std::max(s, v);
          }
          for (int t = 0; t < K; ++t) {
            const float s = hi[t * block + i];
            hi[t * block + i] = std::max(s, v);
            v = std::min(s, v);
          }
        }
      } else {  // what leaves both is a middle value
        for (size_t i = 0; i < len; ++i) {
          float v = xj[i];
          for (int t = 0; t < K; ++t) {
            const float s = lo[t * block + i];
            lo[t * block + i] = std::min(s, v);
            v = std::max(s, v);
          }
          for (int t = 0; t < K; ++t) {
            const float s = hi[t * block + i];
            hi[t * block + i] = std::max(s, v);
            v = std::min(s, v);
          }
          mid[i] += v;
        }
      }
    }
    for (size_t i = 0; i < len; ++i) out[b0 + i] = mid[i] * inv;
  }
}

template <int K>
bool DispatchNetwork(Contributions x, size_t k, std::span<float> out) {
  if constexpr (K > kMaxNetworkTrim) {
    return false;
  } else {
    if (k == static_cast<size_t>(K)) {
      TrimmedMeanNetwork<K>(x, out);
      return true;
    }
    return DispatchNetwork<K + 1>(x, k, out);
  }
}

// Generic per-coordinate order statistics: each block is transposed into a
// coordinate-major buffer so one coordinate's n values are contiguous for
// nth_element.
template <typename PerCoordinate>
void ForEachCoordinate(Contributions x, std::span<float> out,
                       PerCoordinate&& f) {
  const size_t n = x.size(), d = out.size();
  const size_t block = BlockSize(n);
  std::vector<float> buf(block * n);
  for (size_t b0 = 0; b0 < d; b0 += block) {
    const size_t len = std::min(block, d - b0);
    for (size_t j = 0; j < n; ++j) {
      const float* xj = x[j].data() + b0;
      for (size_t i = 0; i < len; ++i) buf[i * n + j] = xj[i];
    }
    for (size_t i = 0; i < len; ++i) out[b0 + i] = f(buf.data() + i * n);
  }
}

void TrimmedMeanGeneric(Contributions x, size_t k, std::span<float> out) {
  const size_t n = x.size();
  const float inv = 1.0f / static_cast<float>(n - 2 * k);
  ForEachCoordinate(x, out, [&](float* col) {
    if (k > 0) {
      std::nth_element(col, col + k, col + n);
      std::nth_element(col + k, col + (n - k), col + n);
    }
    float sum = 0;
    for (size_t i = k; i < n - k; ++i) sum += col[i];
    return sum * inv;
  });
}

void MedianInto(Contributions x, std::span<float> out) {
  const size_t n = x.size();
  if (n <= 2 && n >= 1) {
    std::vector<double> w(n, 1.0 / static_cast<double>(n));
    WeightedSum(x, w, out);
    return;
  }
  if (DispatchNetwork<1>(x, (n - 1) / 2, out)) return;
  const size_t half = n / 2;
  ForEachCoordinate(x, out, [&](float* col) {
    std::nth_element(col, col + half, col + n);
    if (n % 2 == 1) return col[half];
    const float below = *std::max_element(col, col + half);
    return below + (col[half] - below) * 0.5f;
  });
}

RobustResult Empty(size_t d) {
  RobustResult r;
  r.aggregate.assign(d, 0.0f);
  return r;
}

}  // namespace

std::string_view RobustRuleName(RobustRule rule) {
  switch (rule) {
    case RobustRule::kMean:
      return "mean";
    case RobustRule::kCoordinateMedian:
      return "median";
    case RobustRule::kTrimmedMean:
      return "trimmed_mean";
    case RobustRule::kMultiKrum:
      return "multi_krum";
    case RobustRule::kCenteredClipping:
      return "centered_clipping";
    case RobustRule::kGeometricMedian:
      return "geometric_median";
  }
  return "unknown";
}

Result<RobustRule> ParseRobustRule(std::string_view name) {
  for (RobustRule r :
       {RobustRule::kMean, RobustRule::kCoordinateMedian,
        RobustRule::kTrimmedMean, RobustRule::kMultiKrum,
        RobustRule::kCenteredClipping, RobustRule::kGeometricMedian}) {
    if (RobustRuleName(r) == name) return r;
  }
  return InvalidArgument("robust rule '" + std::string(name) +
                         "': expected mean, median, trimmed_mean, multi_krum, "
                         "centered_clipping or geometric_median");
}

std::vector<double> AnomalyFromDistances(std::span<const double> distances) {
  std::vector<double> out(distances.size(), 0.0);
  if (distances.empty()) return out;
  const double m =
      LowerMedian(std::vector<double>(distances.begin(), distances.end()));
  for (size_t i = 0; i < distances.size(); ++i) {
    const double di = distances[i];
    if (!(di > m)) continue;  // also 0 for NaN
    out[i] = std::isinf(di) ? 1.0 : (di - m) / (di + m);
  }
  return out;
}

Status ValidateContributions(Contributions contributions,
                             std::span<const double> weights) {
  if (contributions.empty()) return InvalidArgument("no contributions");
  const size_t d = contributions[0].size();
  if (d == 0) return InvalidArgument("contribution 0: no values");
  for (size_t i = 0; i < contributions.size(); ++i) {
    if (contributions[i].size() != d) {
      return InvalidArgument("contribution " + std::to_string(i) + ": " +
                             std::to_string(contributions[i].size()) +
                             " values, expected " + std::to_string(d));
    }
    size_t bad = 0;
    if (!AllFinite(contributions[i], bad)) {
      return InvalidArgument("contribution " + std::to_string(i) + ": value " +
                             std::to_string(bad) + " is not finite");
    }
  }
  if (weights.empty()) return {};
  if (weights.size() != contributions.size()) {
    return InvalidArgument(std::to_string(weights.size()) + " weights for " +
                           std::to_string(contributions.size()) +
                           " contributions");
  }
  double sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]) || weights[i] < 0) {
      return InvalidArgument("weight " + std::to_string(i) +
                             " is negative or not finite");
    }
    sum += weights[i];
  }
  if (!(sum > 0) || !std::isfinite(sum)) {
    return InvalidArgument("weights sum to zero");
  }
  return {};
}

Result<RobustResult> WeightedMean(Contributions contributions,
                                  std::span<const double> weights) {
  if (auto s = ValidateContributions(contributions, weights); !s) {
    return std::unexpected(s.error());
  }
  RobustResult r = Empty(contributions[0].size());
  WeightedSum(contributions, NormalisedWeights(contributions.size(), weights),
              r.aggregate);
  Score(contributions, r);
  return r;
}

Result<RobustResult> CoordinateMedian(Contributions contributions) {
  if (auto s = ValidateContributions(contributions, {}); !s) {
    return std::unexpected(s.error());
  }
  RobustResult r = Empty(contributions[0].size());
  MedianInto(contributions, r.aggregate);
  Score(contributions, r);
  return r;
}

Result<RobustResult> TrimmedMean(Contributions contributions, double beta) {
  if (!(beta >= 0.0 && beta < 0.5)) {
    return InvalidArgument("trimmed mean: beta " + std::to_string(beta) +
                           " outside [0, 0.5)");
  }
  if (auto s = ValidateContributions(contributions, {}); !s) {
    return std::unexpected(s.error());
  }
  const size_t n = contributions.size();
  const size_t k =
      static_cast<size_t>(std::floor(beta * static_cast<double>(n)));
  RobustResult r = Empty(contributions[0].size());
  // beta < 0.5 keeps n - 2k >= 1.
  if (k == 0) {
    WeightedSum(contributions, NormalisedWeights(n, {}), r.aggregate);
  } else if (!DispatchNetwork<1>(contributions, k, r.aggregate)) {
    TrimmedMeanGeneric(contributions, k, r.aggregate);
  }
  Score(contributions, r);
  return r;
}

Result<RobustResult> MultiKrum(Contributions contributions,
                               std::span<const double> weights, int f, int m) {
  if (auto s = ValidateContributions(contributions, weights); !s) {
    return std::unexpected(s.error());
  }
  const int n = static_cast<int>(contributions.size());
  if (f < 0 || n <= 2 * f + 2) {
    return InvalidArgument("multi-krum: f = " + std::to_string(f) + " needs " +
                           "more than 2f + 2 = " + std::to_string(2 * f + 2) +
                           " contributions, got " + std::to_string(n));
  }
  if (m == 0) m = n - f;
  if (m < 1 || m > n) {
    return InvalidArgument("multi-krum: m = " + std::to_string(m) +
                           " outside [1, " + std::to_string(n) + "]");
  }
  const size_t d = contributions[0].size();
  const size_t un = static_cast<size_t>(n);
  // Pairwise squared distances, blockwise so every block stays in cache.
  std::vector<double> dist(un * un, 0.0);
  const size_t block = BlockSize(un);
  for (size_t b0 = 0; b0 < d; b0 += block) {
    const size_t len = std::min(block, d - b0);
    for (size_t i = 0; i < un; ++i) {
      for (size_t j = i + 1; j < un; ++j) {
        dist[i * un + j] += SquaredDistance(contributions[i].data() + b0,
                                            contributions[j].data() + b0, len);
      }
    }
  }
  const size_t nearest = static_cast<size_t>(n - f - 2);
  std::vector<double> score(un);
  std::vector<double> row;
  for (size_t i = 0; i < un; ++i) {
    row.clear();
    for (size_t j = 0; j < un; ++j) {
      if (j != i) row.push_back(i < j ? dist[i * un + j] : dist[j * un + i]);
    }
    std::partial_sort(row.begin(),
                      row.begin() + static_cast<std::ptrdiff_t>(nearest),
                      row.end());
    score[i] = std::accumulate(
        row.begin(), row.begin() + static_cast<std::ptrdiff_t>(nearest), 0.0);
  }
  std::vector<int> order(un);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return score[static_cast<size_t>(a)] < score[static_cast<size_t>(b)];
  });
  RobustResult r = Empty(d);
  r.selected.assign(order.begin(), order.begin() + m);
  std::sort(r.selected.begin(), r.selected.end());
  std::vector<double> a(un, 0.0);
  double total = 0;
  for (int i : r.selected) {
    a[static_cast<size_t>(i)] =
        weights.empty() ? 1.0 : weights[static_cast<size_t>(i)];
    total += a[static_cast<size_t>(i)];
  }
  if (!(total > 0)) {
    return InvalidArgument("multi-krum: the selected contributions weigh 0");
  }
  for (double& v : a) v /= total;
  WeightedSum(contributions, a, r.aggregate);
  Score(contributions, r);
  return r;
}

Result<RobustResult> CenteredClipping(Contributions contributions,
                                      std::span<const double> weights,
                                      std::span<const float> center,
                                      const CenteredClippingOptions& options) {
  if (auto s = ValidateContributions(contributions, weights); !s) {
    return std::unexpected(s.error());
  }
  const size_t n = contributions.size(), d = contributions[0].size();
  if (!std::isfinite(options.tau)) {
    return InvalidArgument("centered clipping: tau is not finite");
  }
  if (options.iterations < 1) {
    return InvalidArgument("centered clipping: iterations " +
                           std::to_string(options.iterations) + " < 1");
  }
  RobustResult r = Empty(d);
  if (center.empty()) {
    MedianInto(contributions, r.aggregate);
  } else {
    if (center.size() != d) {
      return InvalidArgument("centered clipping: center has " +
                             std::to_string(center.size()) +
                             " values, expected " + std::to_string(d));
    }
    size_t bad = 0;
    if (!AllFinite(center, bad)) {
      return InvalidArgument("centered clipping: center value " +
                             std::to_string(bad) + " is not finite");
    }
    r.aggregate.assign(center.begin(), center.end());
  }
  const std::vector<double> w = NormalisedWeights(n, weights);
  std::vector<double> dist(n), a(n);
  std::vector<float> step(d);
  double tau = options.tau;
  for (int it = 0; it < options.iterations; ++it) {
    for (size_t i = 0; i < n; ++i) {
      dist[i] = std::sqrt(
          SquaredDistance(contributions[i].data(), r.aggregate.data(), d));
    }
    if (it == 0 && tau <= 0) tau = LowerMedian(dist);
    // v + sum_i a_i (x_i - v) = (1 - sum a) v + sum_i a_i x_i.
    double kept = 1.0;
    for (size_t i = 0; i < n; ++i) {
      const double scale = dist[i] > tau ? tau / dist[i] : 1.0;
      a[i] = w[i] * scale;
      kept -= a[i];
    }
    WeightedSum(contributions, a, step);
    const float k = static_cast<float>(kept);
    for (size_t c = 0; c < d; ++c)
      r.aggregate[c] = k * r.aggregate[c] + step[c];
  }
  Score(contributions, r);
  return r;
}

Result<RobustResult> GeometricMedian(Contributions contributions,
                                     std::span<const double> weights,
                                     const GeometricMedianOptions& options) {
  if (auto s = ValidateContributions(contributions, weights); !s) {
    return std::unexpected(s.error());
  }
  if (!(options.smoothing > 0) || !std::isfinite(options.smoothing)) {
    return InvalidArgument("geometric median: smoothing must be > 0");
  }
  if (options.max_iterations < 1) {
    return InvalidArgument("geometric median: max_iterations < 1");
  }
  const size_t n = contributions.size(), d = contributions[0].size();
  const std::vector<double> w = NormalisedWeights(n, weights);
  RobustResult r = Empty(d);
  WeightedSum(contributions, w, r.aggregate);
  std::vector<double> dist(n), b(n);
  double previous = std::numeric_limits<double>::infinity();
  for (int it = 0; it < options.max_iterations; ++it) {
    double objective = 0;
    for (size_t i = 0; i < n; ++i) {
      dist[i] = std::sqrt(
          SquaredDistance(contributions[i].data(), r.aggregate.data(), d));
      objective += w[i] * dist[i];
    }
    if (previous - objective <= options.tolerance * objective) break;
    previous = objective;
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      b[i] = w[i] / std::max(options.smoothing, dist[i]);
      total += b[i];
    }
    for (double& v : b) v /= total;
    WeightedSum(contributions, b, r.aggregate);
  }
  Score(contributions, r);
  return r;
}

Result<RobustResult> Aggregate(const RobustConfig& config,
                               Contributions contributions,
                               std::span<const double> weights,
                               std::span<const float> center) {
  switch (config.rule) {
    case RobustRule::kMean:
      return WeightedMean(contributions, weights);
    case RobustRule::kCoordinateMedian:
      return CoordinateMedian(contributions);
    case RobustRule::kTrimmedMean:
      return TrimmedMean(contributions, config.trim_beta);
    case RobustRule::kMultiKrum:
      return MultiKrum(contributions, weights, config.krum_f, config.krum_m);
    case RobustRule::kCenteredClipping:
      return CenteredClipping(contributions, weights, center, config.clipping);
    case RobustRule::kGeometricMedian:
      return GeometricMedian(contributions, weights, config.weiszfeld);
  }
  return InvalidArgument("unknown robust rule");
}

}  // namespace cls::core::robust
