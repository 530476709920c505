#include "core/softmax_regression.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <string>

#include "core/dp_sgd.h"
#include "core/shuffle.h"

namespace cls::core {
namespace {

using RowMajorMatrixXf =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

Eigen::MatrixXf LogSoftmax(const Eigen::MatrixXf& logits) {
  if (logits.cols() == 0) return logits;
  const Eigen::VectorXf max = logits.rowwise().maxCoeff();
  Eigen::MatrixXf shifted = logits.colwise() - max;
  const Eigen::VectorXf log_sum =
      shifted.array().exp().rowwise().sum().log().matrix();
  shifted.colwise() -= log_sum;
  return shifted;
}

Status CheckClassificationData(const Eigen::MatrixXf& x,
                               const Eigen::VectorXi& labels, int features,
                               int num_classes) {
  if (x.cols() != features) {
    return InvalidArgument("data: " + std::to_string(x.cols()) +
                           " features, model expects " +
                           std::to_string(features));
  }
  if (labels.size() != x.rows()) {
    return InvalidArgument("data: " + std::to_string(labels.size()) +
                           " labels for " + std::to_string(x.rows()) + " rows");
  }
  for (Eigen::Index i = 0; i < labels.size(); ++i) {
    if (labels(i) < 0 || labels(i) >= num_classes) {
      return InvalidArgument("data: label " + std::to_string(labels(i)) +
                             " in row " + std::to_string(i) +
                             " is outside [0, " + std::to_string(num_classes) +
                             ")");
    }
  }
  return {};
}

Result<SoftmaxRegression> SoftmaxRegression::Create(int num_features,
                                                    int num_classes) {
  if (num_features < 1 || num_classes < 2) {
    return InvalidArgument(
        "softmax regression: needs >= 1 feature and >= 2 "
        "classes, got " +
        std::to_string(num_features) + " and " + std::to_string(num_classes));
  }
  return SoftmaxRegression(num_features, num_classes);
}

SoftmaxRegression::SoftmaxRegression(int num_features, int num_classes)
    : num_features_(num_features),
      num_classes_(num_classes),
      layout_("softmax",
              {ParameterBlock::Matrix("w", num_features, num_classes),
               ParameterBlock::Vector("b", num_classes)}),
      params_(layout_.total_size(), 0.0f) {}

Status SoftmaxRegression::SetParameters(std::span<const float> params) {
  if (auto s = layout_.Check(params); !s) return s;
  std::copy(params.begin(), params.end(), params_.begin());
  return {};
}

Eigen::MatrixXf SoftmaxRegression::Logits(const Eigen::MatrixXf& x) const {
  const Eigen::Map<const RowMajorMatrixXf> w(params_.data(), num_features_,
                                             num_classes_);
  const Eigen::Map<const Eigen::RowVectorXf> b(
      params_.data() + layout_.Offset(1), num_classes_);
  Eigen::MatrixXf z = x * w;
  z.rowwise() += b;
  return z;
}

Result<double> SoftmaxRegression::Train(
    const Eigen::MatrixXf& x, const Eigen::VectorXi& labels,
    const TrainConfig& cfg, const LogisticRegression::BatchHook& after_batch) {
  if (auto s = CheckClassificationData(x, labels, num_features_, num_classes_);
      !s) {
    return std::unexpected(s.error());
  }
  const Eigen::Index n = x.rows();
  if (n == 0) return 0.0;
  const bool dp = cfg.dp.enabled;
  if (dp) CLS_RETURN_IF_ERROR(ValidateDpSgd(cfg.dp));
  const Eigen::Index d = num_features_;
  const Eigen::Index k = num_classes_;
  const Eigen::Index batch =
      cfg.batch_size <= 0 ? n : std::min<Eigen::Index>(cfg.batch_size, n);
  const float lr = static_cast<float>(cfg.learning_rate);
  const float l2 = static_cast<float>(cfg.l2);

  Eigen::Map<RowMajorMatrixXf> w(params_.data(), d, k);
  Eigen::Map<Eigen::RowVectorXf> b(params_.data() + layout_.Offset(1), k);

  std::mt19937_64 rng(cfg.seed);
  std::vector<Eigen::Index> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::optional<DpSgdStep> dp_step;
  if (dp) dp_step.emplace(cfg.dp, n, batch);
  const bool poisson = dp && dp_step->poisson();
  std::vector<Eigen::Index> sampled;

  // Rows are gathered from a row-major copy (contiguous reads), and every
  // per-batch buffer is allocated once: the step is three small matmuls.
  const RowMajorMatrixXf xr = x;
  RowMajorMatrixXf xb(batch, d);
  std::vector<int> yb(static_cast<size_t>(batch));
  RowMajorMatrixXf z(batch, k);
  Eigen::VectorXf row_max(batch);
  RowMajorMatrixXf grad_w(d, k);
  Eigen::RowVectorXf grad_b(k);
  Eigen::ArrayXf clip_factors;
  double last_epoch_loss = 0.0;
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    if (!poisson) Shuffle(order, rng);
    double loss_sum = 0.0;
    for (Eigen::Index start = 0; start < n; start += batch) {
      Eigen::Index bs = std::min(batch, n - start);
      const Eigen::Index* rows = order.data() + start;
      if (poisson) {
        dp_step->SampleBatch(sampled);
        bs = static_cast<Eigen::Index>(sampled.size());
        rows = sampled.data();
        if (bs > xb.rows()) {
          xb.resize(bs, d);
          yb.resize(static_cast<size_t>(bs));
          z.resize(bs, k);
          row_max.resize(bs);
        }
      }
      for (Eigen::Index i = 0; i < bs; ++i) {
        const Eigen::Index r = rows[i];
        xb.row(i) = xr.row(r);
        yb[static_cast<size_t>(i)] = labels(r);
      }
      const auto xs = xb.topRows(bs);
      auto zs = z.topRows(bs);
      zs.noalias() = xs * w;
      zs.rowwise() += b;
      // In place: z becomes P - Y (the residual), via a stable softmax.
      auto m = row_max.head(bs);
      m = zs.rowwise().maxCoeff();
      zs.colwise() -= m;
      for (Eigen::Index i = 0; i < bs; ++i) {
        m(i) = zs(i, yb[static_cast<size_t>(i)]);  // z_y - max
      }
      zs = zs.array().exp().matrix();
      for (Eigen::Index i = 0; i < bs; ++i) {
        const int y = yb[static_cast<size_t>(i)];
        const float total = zs.row(i).sum();
        // log p_y = (z_y - max) - log(sum exp(z - max))
        loss_sum -= static_cast<double>(m(i) - std::log(total));
        zs.row(i) /= total;
        zs(i, y) -= 1.0f;
      }
      float denominator = static_cast<float>(bs);
      if (dp) {
        // Example i's gradient is x_i r_i^T (W) and r_i (b): squared norm
        // |r_i|^2 (|x_i|^2 + 1), without forming the outer product.
        const Eigen::ArrayXf squared =
            zs.rowwise().squaredNorm().array() *
            (xs.rowwise().squaredNorm().array() + 1.0f);
        dp_step->ClipFactors(squared, clip_factors);
        zs.array().colwise() *= clip_factors;
        denominator = dp_step->Denominator(bs);
      }
      const float inv_b = 1.0f / denominator;
      grad_w.noalias() = xs.transpose() * zs;
      grad_w *= inv_b;
      grad_b = zs.colwise().sum() * inv_b;
      if (dp) {
        dp_step->AddNoise({grad_w.data(), static_cast<size_t>(grad_w.size())},
                          denominator);
        dp_step->AddNoise({grad_b.data(), static_cast<size_t>(k)}, denominator);
      }
      w -= lr * (grad_w + l2 * w);
      b -= lr * grad_b;
      if (after_batch) after_batch(params_);  // w and b map params_
    }
    last_epoch_loss = loss_sum / static_cast<double>(n);
  }
  if (cfg.epochs <= 0) {
    const Eigen::MatrixXf log_p = LogSoftmax(Logits(x));
    double loss = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) loss -= log_p(i, labels(i));
    last_epoch_loss = loss / static_cast<double>(n);
  }
  return last_epoch_loss;
}

Result<std::vector<float>> SoftmaxRegression::DiagonalFisher(
    const Eigen::MatrixXf& x, const Eigen::VectorXi& labels) const {
  if (auto s = CheckClassificationData(x, labels, num_features_, num_classes_);
      !s) {
    return std::unexpected(s.error());
  }
  if (x.rows() == 0) return InvalidArgument("fisher: empty batch");
  Eigen::MatrixXf d = PredictProbability(x);  // becomes D = P - Y
  for (Eigen::Index i = 0; i < x.rows(); ++i) d(i, labels(i)) -= 1.0f;
  const Eigen::MatrixXf d2 = d.array().square().matrix();
  const float inv_n = 1.0f / static_cast<float>(x.rows());
  std::vector<float> fisher(params_.size());
  Eigen::Map<RowMajorMatrixXf> fw(fisher.data(), num_features_, num_classes_);
  Eigen::Map<Eigen::RowVectorXf> fb(fisher.data() + layout_.Offset(1),
                                    num_classes_);
  fw.noalias() = x.array().square().matrix().transpose() * d2;
  fw *= inv_n;
  fb = d2.colwise().sum() * inv_n;
  return fisher;
}

Eigen::MatrixXf SoftmaxRegression::PredictProbability(
    const Eigen::MatrixXf& x) const {
  assert(x.cols() == num_features_);
  return LogSoftmax(Logits(x)).array().exp().matrix();
}

}  // namespace cls::core
