#include "core/logistic_regression.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <string>

#include "core/dp_sgd.h"
#include "core/shuffle.h"

namespace cls::core {
namespace {

// Numerically stable sigmoid of an array: never evaluates exp of a positive
// number.
Eigen::ArrayXf Sigmoid(const Eigen::ArrayXf& z) {
  const Eigen::ArrayXf e = (-z.abs()).exp();  // in (0, 1]
  const Eigen::ArrayXf inv = 1.0f / (1.0f + e);
  return (z >= 0.0f).select(inv, e * inv);
}

// Sum over examples of log(1 + exp(z)) - y z, the log loss of a logit z,
// written as max(z, 0) + log1p(exp(-|z|)) - y z (stable for any z).
double SumLogLoss(const Eigen::ArrayXf& z, const Eigen::ArrayXf& y) {
  const Eigen::ArrayXf loss = z.max(0.0f) + (-z.abs()).exp().log1p() - y * z;
  return loss.cast<double>().sum();
}

}  // namespace

LogisticRegression::LogisticRegression(int num_features)
    : num_features_(std::max(num_features, 0)),
      params_(static_cast<size_t>(num_features_) + 1, 0.0f) {
  assert(num_features >= 0);
}

Status LogisticRegression::SetParameters(std::span<const float> params) {
  if (params.size() != params_.size()) {
    return InvalidArgument("model: " + std::to_string(params.size()) +
                           " parameters, expected " +
                           std::to_string(params_.size()));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (!std::isfinite(params[i])) {
      return InvalidArgument("model: parameter " + std::to_string(i) +
                             " is not finite");
    }
  }
  std::copy(params.begin(), params.end(), params_.begin());
  return {};
}

double LogisticRegression::Train(const Eigen::MatrixXf& x,
                                 const Eigen::VectorXf& y,
                                 const TrainConfig& cfg) {
  return Train(x, y, cfg, {});
}

double LogisticRegression::Train(const Eigen::MatrixXf& x,
                                 const Eigen::VectorXf& y,
                                 const TrainConfig& cfg,
                                 std::span<const float> anchor,
                                 const BatchHook& after_batch) {
  assert(x.cols() == num_features_);
  assert(x.rows() == y.size());
  if (x.cols() != num_features_ || x.rows() != y.size() ||
      (!anchor.empty() && anchor.size() != params_.size())) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const float mu = static_cast<float>(cfg.proximal_mu);
  const bool proximal = mu > 0.0f;
  // Copied: the anchor may alias params_ (or be empty: the starting point).
  const std::vector<float> anchor_copy =
      !proximal        ? std::vector<float>{}
      : anchor.empty() ? params_
                       : std::vector<float>(anchor.begin(), anchor.end());
  const Eigen::Index n = x.rows();
  if (n == 0) return 0.0;
  const bool dp = cfg.dp.enabled;
  if (dp && !ValidateDpSgd(cfg.dp)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const Eigen::Index d = num_features_;
  const Eigen::Index batch =
      cfg.batch_size <= 0 ? n : std::min<Eigen::Index>(cfg.batch_size, n);
  const float lr = static_cast<float>(cfg.learning_rate);
  const float l2 = static_cast<float>(cfg.l2);

  Eigen::Map<Eigen::VectorXf> w(params_.data(), d);
  float& bias = params_[static_cast<size_t>(d)];

  std::mt19937_64 rng(cfg.seed);
  std::vector<Eigen::Index> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::optional<DpSgdStep> dp_step;
  if (dp) dp_step.emplace(cfg.dp, n, batch);
  const bool poisson = dp && dp_step->poisson();
  std::vector<Eigen::Index> sampled;
  if (poisson) sampled.reserve(static_cast<size_t>(2 * batch + 16));

  // Shuffled mini-batches read whole rows. In the caller's column-major
  // matrix a random row touches d cache lines; one sequential copy into row
  // order makes every later row read contiguous (the copy is cache-friendly
  // because consecutive rows share lines).
  using RowMajorMatrix =
      Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajorMatrix xr = x;
  // Poisson batches vary in size; the buffers grow to the largest seen.
  RowMajorMatrix xb(batch, d);
  Eigen::VectorXf yb(batch);
  Eigen::ArrayXf clip_factors;
  std::vector<float> grad(static_cast<size_t>(d) + 1);
  double last_epoch_loss = 0.0;
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    if (!poisson) Shuffle(order, rng);
    double loss_sum = 0.0;
    for (Eigen::Index start = 0; start < n; start += batch) {
      Eigen::Index b = std::min(batch, n - start);
      const Eigen::Index* rows = order.data() + start;
      if (poisson) {
        dp_step->SampleBatch(sampled);
        b = static_cast<Eigen::Index>(sampled.size());
        rows = sampled.data();
        if (b > xb.rows()) {
          xb.resize(b, d);
          yb.resize(b);
        }
      }
      for (Eigen::Index i = 0; i < b; ++i) {
        const Eigen::Index r = rows[i];
        xb.row(i) = xr.row(r);
        yb(i) = y(r);
      }
      const auto xs = xb.topRows(b);
      const auto ys = yb.head(b).array();
      const Eigen::ArrayXf z = ((xs * w).array() + bias).eval();
      loss_sum += SumLogLoss(z, ys);
      Eigen::VectorXf residual = (Sigmoid(z) - ys).matrix();  // p - y
      float denominator = static_cast<float>(b);
      if (dp) {
        // Example i's gradient is r_i [x_i, 1]: norm |r_i| sqrt(|x_i|^2 + 1).
        const Eigen::ArrayXf squared =
            residual.array().square() *
            (xs.rowwise().squaredNorm().array() + 1.0f);
        dp_step->ClipFactors(squared, clip_factors);
        residual.array() *= clip_factors;
        denominator = dp_step->Denominator(b);
      }
      const float inv_b = 1.0f / denominator;
      Eigen::Map<Eigen::VectorXf> grad_w(grad.data(), d);
      float& grad_b = grad[static_cast<size_t>(d)];
      grad_w = (xs.transpose() * residual) * inv_b;
      grad_b = residual.sum() * inv_b;
      if (dp) dp_step->AddNoise(grad, denominator);
      grad_w += l2 * w;
      if (proximal) {
        const Eigen::Map<const Eigen::VectorXf> anchor_w(anchor_copy.data(), d);
        grad_w += mu * (w - anchor_w);
        grad_b += mu * (bias - anchor_copy[static_cast<size_t>(d)]);
      }
      w -= lr * grad_w;
      bias -= lr * grad_b;
      if (after_batch) after_batch(params_);
    }
    last_epoch_loss = loss_sum / static_cast<double>(n);
  }
  if (cfg.epochs <= 0) {
    const Eigen::ArrayXf z = ((x * w).array() + bias).eval();
    last_epoch_loss = SumLogLoss(z, y.array()) / static_cast<double>(n);
  }
  return last_epoch_loss;
}

float LogisticRegression::PredictOne(std::span<const float> x) const {
  const Eigen::Map<const Eigen::VectorXf> w(params_.data(), num_features_);
  const Eigen::Map<const Eigen::VectorXf> v(x.data(), num_features_);
  const float z = w.dot(v) + params_[static_cast<size_t>(num_features_)];
  return 1.0f / (1.0f + std::exp(-z));
}

Eigen::VectorXf LogisticRegression::PredictProbability(
    const Eigen::MatrixXf& x) const {
  assert(x.cols() == num_features_);
  const Eigen::Map<const Eigen::VectorXf> w(params_.data(), num_features_);
  const float bias = params_[static_cast<size_t>(num_features_)];
  const Eigen::ArrayXf z = ((x * w).array() + bias).eval();
  return Sigmoid(z).matrix();
}

BinaryMetrics EvaluateBinary(const Eigen::VectorXf& probability,
                             const Eigen::VectorXf& labels) {
  assert(probability.size() == labels.size());
  BinaryMetrics m;
  const Eigen::Index n = std::min(probability.size(), labels.size());
  m.count = n;
  m.auc = 0.5;
  if (n == 0) return m;

  constexpr double kEps = 1e-7;
  int64_t tp = 0, fp = 0, fn = 0;
  int64_t positives = 0;
  double loss = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const double p = probability(i);
    const bool actual = labels(i) > 0.5f;
    const bool predicted = p >= 0.5;
    positives += actual;
    if (predicted == actual) ++m.correct;
    if (predicted && actual) ++tp;
    if (predicted && !actual) ++fp;
    if (!predicted && actual) ++fn;
    const double pc = std::clamp(std::isnan(p) ? 0.5 : p, kEps, 1.0 - kEps);
    loss -= actual ? std::log(pc) : std::log1p(-pc);
  }
  m.accuracy = static_cast<double>(m.correct) / static_cast<double>(n);
  m.log_loss = loss / static_cast<double>(n);
  if (tp + fp > 0) m.precision = static_cast<double>(tp) / (tp + fp);
  if (tp + fn > 0) m.recall = static_cast<double>(tp) / (tp + fn);
  if (m.precision + m.recall > 0) {
    m.f1 = 2 * m.precision * m.recall / (m.precision + m.recall);
  }

  // ROC AUC = (R+ - n+(n+ + 1)/2) / (n+ n-), with R+ the sum of the
  // positives' ranks and tied scores sharing their average rank.
  const int64_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return m;
  std::vector<std::pair<double, bool>> scored(static_cast<size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) {
    const double p = probability(i);
    scored[static_cast<size_t>(i)] = {
        std::isnan(p) ? -std::numeric_limits<double>::infinity() : p,
        labels(i) > 0.5f};
  }
  std::sort(scored.begin(), scored.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  double positive_rank_sum = 0.0;
  for (size_t i = 0; i < scored.size();) {
    size_t j = i;
    int64_t tied_positives = 0;
    while (j < scored.size() && scored[j].first == scored[i].first) {
      tied_positives += scored[j].second;
      ++j;
    }
    // Ranks i+1 .. j (1-based) share the average (i + 1 + j) / 2.
    const double average_rank = 0.5 * static_cast<double>(i + 1 + j);
    positive_rank_sum += average_rank * static_cast<double>(tied_positives);
    i = j;
  }
  const double np = static_cast<double>(positives);
  const double nn = static_cast<double>(negatives);
  m.auc = (positive_rank_sum - np * (np + 1) / 2) / (np * nn);
  return m;
}

}  // namespace cls::core
