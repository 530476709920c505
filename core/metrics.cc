#include "core/metrics.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>

namespace cls::core {

CalibrationMetrics EvaluateBinaryCalibration(const Eigen::VectorXf& probability,
                                             const Eigen::VectorXf& labels) {
  assert(probability.size() == labels.size());
  CalibrationMetrics m;
  const Eigen::Index n = std::min(probability.size(), labels.size());
  if (n == 0) return m;
  constexpr int kBins = 10;
  std::array<double, kBins> sum_p{}, sum_y{};
  std::array<int64_t, kBins> count{};
  double brier = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double p = std::clamp(static_cast<double>(probability(i)), 0.0, 1.0);
    const double y = labels(i);
    brier += (p - y) * (p - y);
    const int bin = std::min(static_cast<int>(p * kBins), kBins - 1);
    sum_p[bin] += p;
    sum_y[bin] += y;
    ++count[bin];
  }
  const double total = static_cast<double>(n);
  m.brier = brier / total;
  for (int b = 0; b < kBins; ++b) {
    if (count[b] == 0) continue;
    m.ece += std::abs(sum_p[b] - sum_y[b]) / total;  // = |B|/n |mean diff|
  }
  return m;
}

MultiClassMetrics EvaluateMultiClass(const Eigen::MatrixXf& probability,
                                     const Eigen::VectorXi& labels) {
  assert(probability.rows() == labels.size());
  const Eigen::Index k = probability.cols();
  MultiClassMetrics m;
  m.confusion.setZero(k, k);
  m.precision.assign(static_cast<size_t>(k), 0.0);
  m.recall.assign(static_cast<size_t>(k), 0.0);
  m.f1.assign(static_cast<size_t>(k), 0.0);
  const Eigen::Index n = std::min(probability.rows(), labels.size());
  double loss = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const int y = labels(i);
    assert(y >= 0 && y < k);
    if (y < 0 || y >= k) continue;
    Eigen::Index predicted = 0;
    probability.row(i).maxCoeff(&predicted);
    ++m.confusion(y, predicted);
    ++m.count;
    if (predicted == y) ++m.correct;
    loss -= std::log(std::max(static_cast<double>(probability(i, y)), 1e-15));
  }
  if (m.count == 0) return m;
  m.accuracy = static_cast<double>(m.correct) / static_cast<double>(m.count);
  m.log_loss = loss / static_cast<double>(m.count);
  for (Eigen::Index c = 0; c < k; ++c) {
    const double tp = static_cast<double>(m.confusion(c, c));
    const double predicted = static_cast<double>(m.confusion.col(c).sum());
    const double actual = static_cast<double>(m.confusion.row(c).sum());
    const size_t ci = static_cast<size_t>(c);
    m.precision[ci] = predicted > 0 ? tp / predicted : 0.0;
    m.recall[ci] = actual > 0 ? tp / actual : 0.0;
    const double pr = m.precision[ci] + m.recall[ci];
    m.f1[ci] = pr > 0 ? 2.0 * m.precision[ci] * m.recall[ci] / pr : 0.0;
    m.macro_f1 += m.f1[ci];
  }
  if (k > 0) m.macro_f1 /= static_cast<double>(k);
  return m;
}

}  // namespace cls::core

namespace cls::core {

bool ClassCounts::Consistent() const {
  const size_t k = support.size();
  if (correct.size() != k || predicted.size() != k) return false;
  uint64_t total_support = 0;
  uint64_t total_predicted = 0;
  for (size_t c = 0; c < k; ++c) {
    if (correct[c] > support[c] || correct[c] > predicted[c]) return false;
    total_support += support[c];
    total_predicted += predicted[c];
  }
  return total_support == total_predicted;
}

void ClassCounts::Add(const ClassCounts& other) {
  if (support.empty()) {
    *this = other;
    return;
  }
  for (size_t c = 0; c < support.size() && c < other.support.size(); ++c) {
    correct[c] += other.correct[c];
    support[c] += other.support[c];
    predicted[c] += other.predicted[c];
  }
}

ClassCounts CountClasses(const Eigen::MatrixXf& probability,
                         const Eigen::VectorXi& labels) {
  const size_t k = static_cast<size_t>(probability.cols());
  ClassCounts out{std::vector<uint64_t>(k, 0), std::vector<uint64_t>(k, 0),
                  std::vector<uint64_t>(k, 0)};
  for (Eigen::Index i = 0; i < probability.rows() && i < labels.size(); ++i) {
    const int y = labels[i];
    if (y < 0 || static_cast<size_t>(y) >= k) continue;
    Eigen::Index predicted = 0;
    probability.row(i).maxCoeff(&predicted);
    ++out.support[static_cast<size_t>(y)];
    ++out.predicted[static_cast<size_t>(predicted)];
    if (predicted == y) ++out.correct[static_cast<size_t>(y)];
  }
  return out;
}

ClassReport ReportClasses(const ClassCounts& counts) {
  ClassReport r;
  const size_t k = counts.support.size();
  if (k == 0 || !counts.Consistent()) return r;
  uint64_t correct = 0;
  uint64_t total = 0;
  for (size_t c = 0; c < k; ++c) {
    const double tp = static_cast<double>(counts.correct[c]);
    const double p = counts.predicted[c] > 0
                         ? tp / static_cast<double>(counts.predicted[c])
                         : 0.0;
    const double rc = counts.support[c] > 0
                          ? tp / static_cast<double>(counts.support[c])
                          : 0.0;
    r.precision.push_back(p);
    r.recall.push_back(rc);
    r.f1.push_back(p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0);
    r.macro_precision += p / static_cast<double>(k);
    r.macro_recall += rc / static_cast<double>(k);
    r.macro_f1 += r.f1.back() / static_cast<double>(k);
    correct += counts.correct[c];
    total += counts.support[c];
  }
  r.accuracy = total > 0 ? static_cast<double>(correct) / total : 0.0;
  return r;
}

}  // namespace cls::core
