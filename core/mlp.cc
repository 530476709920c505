#include "core/mlp.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>
#include <numeric>
#include <optional>
#include <random>
#include <string>

#include "core/dp_sgd.h"
#include "core/shuffle.h"
#include "core/softmax_regression.h"

namespace cls::core {
namespace {

using RowMajorMatrixXf =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Box-Muller on raw mt19937_64 output: reproducible across standard
// libraries, unlike std::normal_distribution.
double StandardNormal(std::mt19937_64& rng) {
  constexpr double kScale = 1.0 / 9007199254740992.0;                 // 2^-53
  const double u1 = static_cast<double>((rng() >> 11) + 1) * kScale;  // (0, 1]
  const double u2 = static_cast<double>(rng() >> 11) * kScale;        // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

Eigen::ArrayXXf Sigmoid(const Eigen::ArrayXXf& z) {
  const Eigen::ArrayXXf e = (-z.abs()).exp();
  const Eigen::ArrayXXf inv = 1.0f / (1.0f + e);
  return (z >= 0.0f).select(inv, e * inv);
}

}  // namespace

Result<Mlp> Mlp::Create(const MlpSpec& spec, uint64_t seed) {
  if (spec.num_features < 1) {
    return InvalidArgument("mlp: needs >= 1 feature");
  }
  if (spec.hidden.empty() || spec.hidden.size() > 2) {
    return InvalidArgument("mlp: " + std::to_string(spec.hidden.size()) +
                           " hidden layers, supported 1 or 2");
  }
  for (int width : spec.hidden) {
    if (width < 1)
      return InvalidArgument("mlp: hidden layer width must be >= 1");
  }
  if (spec.num_classes < 2) {
    return InvalidArgument("mlp: needs >= 2 classes, got " +
                           std::to_string(spec.num_classes));
  }
  std::vector<ParameterBlock> blocks;
  int in = spec.num_features;
  const int outputs = spec.num_classes == 2 ? 1 : spec.num_classes;
  for (size_t l = 0; l <= spec.hidden.size(); ++l) {
    const int out = l < spec.hidden.size() ? spec.hidden[l] : outputs;
    const std::string index = std::to_string(l + 1);
    blocks.push_back(ParameterBlock::Matrix("w" + index, in, out));
    blocks.push_back(ParameterBlock::Vector("b" + index, out));
    in = out;
  }
  Mlp mlp(spec, ParameterLayout("mlp", std::move(blocks)));
  std::mt19937_64 rng(seed);
  for (size_t l = 0; l < mlp.layout_.blocks().size(); l += 2) {
    const ParameterBlock& w = mlp.layout_.blocks()[l];
    const double sd = std::sqrt(2.0 / static_cast<double>(w.rows));
    float* data = mlp.params_.data() + mlp.layout_.Offset(l);
    for (size_t i = 0; i < w.size(); ++i) {
      data[i] = static_cast<float>(sd * StandardNormal(rng));
    }
  }
  return mlp;
}

Mlp::Mlp(const MlpSpec& spec, ParameterLayout layout)
    : spec_(spec),
      layout_(std::move(layout)),
      params_(layout_.total_size(), 0.0f) {}

Status Mlp::SetParameters(std::span<const float> params) {
  if (auto s = layout_.Check(params); !s) return s;
  std::copy(params.begin(), params.end(), params_.begin());
  return {};
}

Eigen::MatrixXf Mlp::OutputLogits(const Eigen::MatrixXf& x) const {
  Eigen::MatrixXf a = x;
  for (int l = 0; l < num_layers(); ++l) {
    const ParameterBlock& wb = layout_.blocks()[2 * l];
    const Eigen::Map<const RowMajorMatrixXf> w(
        params_.data() + layout_.Offset(2 * l), wb.rows, wb.cols);
    const Eigen::Map<const Eigen::RowVectorXf> b(
        params_.data() + layout_.Offset(2 * l + 1), wb.cols);
    Eigen::MatrixXf z = a * w;
    z.rowwise() += b;
    a = l + 1 < num_layers() ? Eigen::MatrixXf(z.cwiseMax(0.0f)) : z;
  }
  return a;
}

double Mlp::Backprop(const Eigen::MatrixXf& x, const int* labels,
                     std::vector<Eigen::MatrixXf>& hidden,
                     std::vector<Eigen::MatrixXf>& deltas) const {
  const Eigen::Index n = x.rows();
  const int layers = num_layers();
  const auto Weights = [this](int l) {
    const ParameterBlock& wb = layout_.blocks()[static_cast<size_t>(2 * l)];
    return Eigen::Map<const RowMajorMatrixXf>(
        params_.data() + layout_.Offset(static_cast<size_t>(2 * l)), wb.rows,
        wb.cols);
  };
  const auto Biases = [this](int l) {
    return Eigen::Map<const Eigen::RowVectorXf>(
        params_.data() + layout_.Offset(static_cast<size_t>(2 * l + 1)),
        layout_.blocks()[static_cast<size_t>(2 * l)].cols);
  };
  // hidden[l - 1] is the input of layer l >= 1; layer 0 reads x (no copy).
  hidden.resize(static_cast<size_t>(layers - 1));
  const auto Input = [&](int l) -> const Eigen::MatrixXf& {
    return l == 0 ? x : hidden[static_cast<size_t>(l - 1)];
  };
  Eigen::MatrixXf z;
  for (int l = 0; l < layers; ++l) {
    z.noalias() = Input(l) * Weights(l);
    z.rowwise() += Biases(l);
    if (l + 1 < layers) hidden[static_cast<size_t>(l)] = z.cwiseMax(0.0f);
  }

  // Output layer: dz = (p - y) for both sigmoid and softmax cross-entropy.
  deltas.resize(static_cast<size_t>(layers));
  Eigen::MatrixXf& dz = deltas.back();
  double loss = 0.0;
  if (spec_.num_classes == 2) {
    Eigen::ArrayXf y(n);
    for (Eigen::Index i = 0; i < n; ++i) y(i) = static_cast<float>(labels[i]);
    const Eigen::ArrayXf zc = z.col(0).array();
    loss = (zc.max(0.0f) + (-zc.abs()).exp().log1p() - y * zc)
               .cast<double>()
               .sum();
    dz = (Sigmoid(z.array()).col(0) - y).matrix();
  } else {
    const Eigen::MatrixXf log_p = LogSoftmax(z);
    dz = log_p.array().exp().matrix();
    for (Eigen::Index i = 0; i < n; ++i) {
      loss -= static_cast<double>(log_p(i, labels[i]));
      dz(i, labels[i]) -= 1.0f;
    }
  }
  for (int l = layers - 1; l > 0; --l) {
    // Input(l) = relu(z_{l-1}), so relu'(z_{l-1}) = (Input(l) > 0).
    const Eigen::MatrixXf& a = Input(l);
    deltas[static_cast<size_t>(l - 1)] =
        ((deltas[static_cast<size_t>(l)] * Weights(l).transpose()).array() *
         (a.array() > 0.0f).cast<float>())
            .matrix();
  }
  return loss;
}

double Mlp::BatchGradient(const Eigen::MatrixXf& x, const int* labels, float l2,
                          float* grad, DpSgdStep* dp) const {
  const Eigen::Index n = x.rows();
  const int layers = num_layers();
  const auto Weights = [this](int l) {
    const ParameterBlock& wb = layout_.blocks()[static_cast<size_t>(2 * l)];
    return Eigen::Map<const RowMajorMatrixXf>(
        params_.data() + layout_.Offset(static_cast<size_t>(2 * l)), wb.rows,
        wb.cols);
  };
  std::vector<Eigen::MatrixXf> hidden;
  std::vector<Eigen::MatrixXf> deltas;
  const double loss = Backprop(x, labels, hidden, deltas);
  const auto Input = [&](int l) -> const Eigen::MatrixXf& {
    return l == 0 ? x : hidden[static_cast<size_t>(l - 1)];
  };

  float denominator = static_cast<float>(std::max<Eigen::Index>(n, 1));
  if (dp) {
    // Example i's gradient in layer l is a_i delta_i^T (weights) and
    // delta_i (biases): squared norm |delta_i|^2 (|a_i|^2 + 1), summed over
    // layers. Scaling delta_i by s_i scales all of example i's gradient.
    Eigen::ArrayXf squared = Eigen::ArrayXf::Zero(n);
    for (int l = 0; l < layers; ++l) {
      const auto k = static_cast<size_t>(l);
      squared += deltas[k].rowwise().squaredNorm().array() *
                 (Input(l).rowwise().squaredNorm().array() + 1.0f);
    }
    Eigen::ArrayXf factors;
    dp->ClipFactors(squared, factors);
    for (Eigen::MatrixXf& delta : deltas) delta.array().colwise() *= factors;
    denominator = dp->Denominator(n);
  }
  const float inv = 1.0f / denominator;
  for (int l = 0; l < layers; ++l) {
    const ParameterBlock& wb = layout_.blocks()[2 * l];
    Eigen::Map<RowMajorMatrixXf> gw(grad + layout_.Offset(2 * l), wb.rows,
                                    wb.cols);
    Eigen::Map<Eigen::RowVectorXf> gb(grad + layout_.Offset(2 * l + 1),
                                      wb.cols);
    const auto k = static_cast<size_t>(l);
    gw.noalias() = Input(l).transpose() * deltas[k];
    gw *= inv;
    gb = deltas[k].colwise().sum() * inv;
  }
  if (dp) dp->AddNoise({grad, params_.size()}, denominator);
  for (int l = 0; l < layers; ++l) {
    const ParameterBlock& wb = layout_.blocks()[2 * l];
    Eigen::Map<RowMajorMatrixXf> gw(grad + layout_.Offset(2 * l), wb.rows,
                                    wb.cols);
    gw += l2 * Weights(l);
  }
  return loss;
}

Result<double> Mlp::LossAndGradient(const Eigen::MatrixXf& x,
                                    const Eigen::VectorXi& labels, double l2,
                                    std::span<float> grad) const {
  if (auto s = CheckClassificationData(x, labels, spec_.num_features,
                                       spec_.num_classes);
      !s) {
    return std::unexpected(s.error());
  }
  if (grad.size() != params_.size()) {
    return InvalidArgument("mlp: gradient buffer of " +
                           std::to_string(grad.size()) + " values, needs " +
                           std::to_string(params_.size()));
  }
  const double data_loss =
      BatchGradient(x, labels.data(), static_cast<float>(l2), grad.data());
  double weight_norm = 0.0;
  for (size_t l = 0; l < layout_.blocks().size(); l += 2) {
    const float* w = params_.data() + layout_.Offset(l);
    for (size_t i = 0; i < layout_.blocks()[l].size(); ++i) {
      weight_norm += static_cast<double>(w[i]) * w[i];
    }
  }
  const double n = static_cast<double>(std::max<Eigen::Index>(x.rows(), 1));
  return data_loss / n + 0.5 * l2 * weight_norm;
}

Result<double> Mlp::Train(const Eigen::MatrixXf& x,
                          const Eigen::VectorXi& labels, const TrainConfig& cfg,
                          const LogisticRegression::BatchHook& after_batch) {
  if (auto s = CheckClassificationData(x, labels, spec_.num_features,
                                       spec_.num_classes);
      !s) {
    return std::unexpected(s.error());
  }
  const Eigen::Index n = x.rows();
  if (n == 0) return 0.0;
  const bool dp = cfg.dp.enabled;
  if (dp) CLS_RETURN_IF_ERROR(ValidateDpSgd(cfg.dp));
  const Eigen::Index batch =
      cfg.batch_size <= 0 ? n : std::min<Eigen::Index>(cfg.batch_size, n);
  const float lr = static_cast<float>(cfg.learning_rate);
  const float l2 = static_cast<float>(cfg.l2);

  std::mt19937_64 rng(cfg.seed);
  std::vector<Eigen::Index> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::optional<DpSgdStep> dp_step;
  if (dp) dp_step.emplace(cfg.dp, n, batch);
  const bool poisson = dp && dp_step->poisson();
  std::vector<Eigen::Index> sampled;
  std::vector<float> grad(params_.size());
  // Rows are gathered from a row-major copy: contiguous reads.
  const RowMajorMatrixXf xr = x;
  Eigen::MatrixXf xb(batch, x.cols());
  std::vector<int> yb(static_cast<size_t>(batch));
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
      }
      if (xb.rows() != bs) xb.resize(bs, x.cols());
      if (yb.size() < static_cast<size_t>(bs))
        yb.resize(static_cast<size_t>(bs));
      for (Eigen::Index i = 0; i < bs; ++i) {
        const Eigen::Index r = rows[i];
        xb.row(i) = xr.row(r);
        yb[static_cast<size_t>(i)] = labels(r);
      }
      loss_sum += BatchGradient(xb, yb.data(), l2, grad.data(),
                                dp ? &*dp_step : nullptr);
      for (size_t i = 0; i < params_.size(); ++i) params_[i] -= lr * grad[i];
      if (after_batch) after_batch(params_);
    }
    last_epoch_loss = loss_sum / static_cast<double>(n);
  }
  if (cfg.epochs <= 0) {
    last_epoch_loss = BatchGradient(x, labels.data(), 0.0f, grad.data()) /
                      static_cast<double>(n);
  }
  return last_epoch_loss;
}

Result<std::vector<float>> Mlp::DiagonalFisher(
    const Eigen::MatrixXf& x, const Eigen::VectorXi& labels) const {
  if (auto s = CheckClassificationData(x, labels, spec_.num_features,
                                       spec_.num_classes);
      !s) {
    return std::unexpected(s.error());
  }
  if (x.rows() == 0) return InvalidArgument("fisher: empty batch");
  std::vector<Eigen::MatrixXf> hidden;
  std::vector<Eigen::MatrixXf> deltas;
  (void)Backprop(x, labels.data(), hidden, deltas);
  const float inv_n = 1.0f / static_cast<float>(x.rows());
  std::vector<float> fisher(params_.size());
  for (int l = 0; l < num_layers(); ++l) {
    const auto k = static_cast<size_t>(l);
    const ParameterBlock& wb = layout_.blocks()[2 * k];
    Eigen::Map<RowMajorMatrixXf> fw(fisher.data() + layout_.Offset(2 * k),
                                    wb.rows, wb.cols);
    Eigen::Map<Eigen::RowVectorXf> fb(fisher.data() + layout_.Offset(2 * k + 1),
                                      wb.cols);
    const Eigen::MatrixXf& a = l == 0 ? x : hidden[k - 1];
    const Eigen::MatrixXf d2 = deltas[k].array().square().matrix();
    fw.noalias() = a.array().square().matrix().transpose() * d2;
    fw *= inv_n;
    fb = d2.colwise().sum() * inv_n;
  }
  return fisher;
}

Eigen::MatrixXf Mlp::PredictProbability(const Eigen::MatrixXf& x) const {
  assert(x.cols() == spec_.num_features);
  const Eigen::MatrixXf z = OutputLogits(x);
  if (spec_.num_classes == 2) return Sigmoid(z.array()).matrix();
  return LogSoftmax(z).array().exp().matrix();
}

}  // namespace cls::core
