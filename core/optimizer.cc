#include "core/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace cls::core {
namespace {

Status CheckSizes(size_t expected, size_t params, size_t grads) {
  if (params != expected || grads != expected) {
    return InvalidArgument("optimizer: " + std::to_string(params) +
                           " parameters and " + std::to_string(grads) +
                           " gradients, expected " + std::to_string(expected));
  }
  return {};
}

}  // namespace

LearningRateSchedule LearningRateSchedule::Constant(double base) {
  return LearningRateSchedule(Kind::kConstant, base);
}

LearningRateSchedule LearningRateSchedule::InverseSqrt(double base) {
  return LearningRateSchedule(Kind::kInverseSqrt, base);
}

LearningRateSchedule LearningRateSchedule::Cosine(double base,
                                                  int64_t total_steps,
                                                  double min_rate) {
  LearningRateSchedule s(Kind::kCosine, base);
  s.period_ = std::max<int64_t>(total_steps, 1);
  s.min_rate_ = min_rate;
  return s;
}

LearningRateSchedule LearningRateSchedule::Step(double base, double gamma,
                                                int64_t every) {
  LearningRateSchedule s(Kind::kStep, base);
  s.gamma_ = gamma;
  s.period_ = std::max<int64_t>(every, 1);
  return s;
}

double LearningRateSchedule::Rate(int64_t step) const {
  step = std::max<int64_t>(step, 0);
  switch (kind_) {
    case Kind::kConstant:
      return base_;
    case Kind::kInverseSqrt:
      return base_ / std::sqrt(1.0 + static_cast<double>(step));
    case Kind::kCosine: {
      const double t = static_cast<double>(std::min(step, period_)) /
                       static_cast<double>(period_);
      return min_rate_ +
             (base_ - min_rate_) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
    }
    case Kind::kStep:
      return base_ * std::pow(gamma_, static_cast<double>(step / period_));
  }
  return base_;
}

SgdMomentum::SgdMomentum(size_t num_parameters, double momentum, bool nesterov)
    : momentum_(momentum),
      nesterov_(nesterov),
      velocity_(num_parameters, 0.0f) {}

Status SgdMomentum::Step(std::span<float> params, std::span<const float> grads,
                         double learning_rate) {
  if (auto s = CheckSizes(velocity_.size(), params.size(), grads.size()); !s) {
    return s;
  }
  const float mu = static_cast<float>(momentum_);
  const float lr = static_cast<float>(learning_rate);
  for (size_t i = 0; i < params.size(); ++i) {
    velocity_[i] = mu * velocity_[i] + grads[i];
    const float step = nesterov_ ? grads[i] + mu * velocity_[i] : velocity_[i];
    params[i] -= lr * step;
  }
  return {};
}

Adam::Adam(size_t num_parameters, double beta1, double beta2, double epsilon)
    : beta1_(beta1),
      beta2_(beta2),
      epsilon_(epsilon),
      m_(num_parameters, 0.0),
      v_(num_parameters, 0.0) {}

Status Adam::Step(std::span<float> params, std::span<const float> grads,
                  double learning_rate) {
  if (auto s = CheckSizes(m_.size(), params.size(), grads.size()); !s) {
    return s;
  }
  ++steps_;
  const double t = static_cast<double>(steps_);
  const double correction1 = 1.0 - std::pow(beta1_, t);
  const double correction2 = 1.0 - std::pow(beta2_, t);
  for (size_t i = 0; i < params.size(); ++i) {
    const double g = grads[i];
    m_[i] = beta1_ * m_[i] + (1.0 - beta1_) * g;
    v_[i] = beta2_ * v_[i] + (1.0 - beta2_) * g * g;
    const double m_hat = m_[i] / correction1;
    const double v_hat = v_[i] / correction2;
    params[i] -= static_cast<float>(learning_rate * m_hat /
                                    (std::sqrt(v_hat) + epsilon_));
  }
  return {};
}

}  // namespace cls::core
