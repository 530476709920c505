#include "core/elastic_anchor.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace cls::core {

Result<std::vector<float>> DiagonalFisher(const LogisticRegression& model,
                                          const Eigen::MatrixXf& x,
                                          const Eigen::VectorXf& y) {
  if (x.rows() != y.size()) {
    return InvalidArgument("fisher: " + std::to_string(x.rows()) + " rows, " +
                           std::to_string(y.size()) + " labels");
  }
  if (x.cols() != model.num_features()) {
    return InvalidArgument("fisher: " + std::to_string(x.cols()) +
                           " features, expected " +
                           std::to_string(model.num_features()));
  }
  if (x.rows() == 0) return InvalidArgument("fisher: empty batch");
  const Eigen::ArrayXf residual =
      (model.PredictProbability(x) - y).array();  // p - y, per example
  const Eigen::Index d = x.cols();
  const double inv_n = 1.0 / static_cast<double>(x.rows());
  std::vector<float> fisher(static_cast<size_t>(d) + 1);
  const Eigen::ArrayXf r2 = residual.square();
  for (Eigen::Index j = 0; j < d; ++j) {
    const double f =
        (r2 * x.col(j).array().square()).cast<double>().sum() * inv_n;
    fisher[static_cast<size_t>(j)] = static_cast<float>(f);
  }
  fisher[static_cast<size_t>(d)] =
      static_cast<float>(r2.cast<double>().sum() * inv_n);
  return fisher;
}

ElasticAnchor::ElasticAnchor(double retention, double strength)
    : retention_(std::clamp(retention, 0.0, 0.999999)),
      lambda_(std::max(strength, 0.0) * retention_ / (1.0 - retention_)) {}

Status ElasticAnchor::Anchor(std::span<const float> params,
                             std::span<const float> fisher) {
  if (params.size() != fisher.size()) {
    return InvalidArgument("anchor: " + std::to_string(params.size()) +
                           " parameters, " + std::to_string(fisher.size()) +
                           " Fisher values");
  }
  if (!anchor_.empty() && params.size() != anchor_.size()) {
    return InvalidArgument("anchor: " + std::to_string(params.size()) +
                           " parameters, expected " +
                           std::to_string(anchor_.size()));
  }
  size_t bad = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    bad += !std::isfinite(params[i]) || !std::isfinite(fisher[i]) ||
           fisher[i] < 0.0f;
  }
  if (bad > 0) {
    return InvalidArgument("anchor: " + std::to_string(bad) +
                           " non-finite parameters or invalid Fisher values");
  }
  if (fisher_.empty()) fisher_.assign(fisher.size(), 0.0f);
  for (size_t i = 0; i < fisher.size(); ++i) {
    fisher_[i] = static_cast<float>(retention_ * fisher_[i] + fisher[i]);
  }
  anchor_.assign(params.begin(), params.end());
  return {};
}

double ElasticAnchor::Penalty(std::span<const float> params) const {
  if (anchor_.empty() || params.size() != anchor_.size()) return 0.0;
  double sum = 0.0;
  for (size_t i = 0; i < params.size(); ++i) {
    const double diff = static_cast<double>(params[i]) - anchor_[i];
    sum += fisher_[i] * diff * diff;
  }
  return 0.5 * lambda_ * sum;
}

void ElasticAnchor::AddPenaltyGradient(std::span<const float> params,
                                       std::span<float> grad) const {
  if (anchor_.empty() || params.size() != anchor_.size() ||
      grad.size() != anchor_.size()) {
    return;
  }
  for (size_t i = 0; i < params.size(); ++i) {
    grad[i] +=
        static_cast<float>(lambda_ * fisher_[i] * (params[i] - anchor_[i]));
  }
}

void ElasticAnchor::ApplyProximalStep(double lr,
                                      std::span<float> params) const {
  if (!active() || params.size() != anchor_.size()) return;
  for (size_t i = 0; i < params.size(); ++i) {
    const double k = lr * lambda_ * fisher_[i];
    params[i] = static_cast<float>((params[i] + k * anchor_[i]) / (1.0 + k));
  }
}

}  // namespace cls::core
