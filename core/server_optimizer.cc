#include "core/server_optimizer.h"

#include <cmath>
#include <string>

namespace cls::core {
namespace {

bool InUnitInterval(double x) {
  return std::isfinite(x) && x >= 0.0 && x < 1.0;
}

}  // namespace

Result<ServerOptimizer::Kind> ServerOptimizer::ParseKind(
    std::string_view name) {
  if (name == "fedavg") return Kind::kFedAvg;
  if (name == "fedavgm") return Kind::kFedAvgM;
  if (name == "fedadam") return Kind::kFedAdam;
  return InvalidArgument("server optimizer: unknown kind '" +
                         std::string(name) +
                         "', expected fedavg, fedavgm or fedadam");
}

std::string_view ServerOptimizer::KindName(Kind kind) {
  switch (kind) {
    case Kind::kFedAvg:
      return "fedavg";
    case Kind::kFedAvgM:
      return "fedavgm";
    case Kind::kFedAdam:
      return "fedadam";
  }
  return "unknown";
}

Result<ServerOptimizer> ServerOptimizer::Create(const Options& options,
                                                size_t num_parameters) {
  if (!std::isfinite(options.learning_rate) || options.learning_rate <= 0.0) {
    return InvalidArgument("server optimizer: learning rate must be > 0");
  }
  if (options.kind == Kind::kFedAvgM && !InUnitInterval(options.momentum)) {
    return InvalidArgument("server optimizer: momentum must be in [0, 1)");
  }
  if (options.kind == Kind::kFedAdam) {
    if (!InUnitInterval(options.beta1) || !InUnitInterval(options.beta2)) {
      return InvalidArgument(
          "server optimizer: beta1, beta2 must be in [0, 1)");
    }
    if (!std::isfinite(options.tau) || options.tau <= 0.0) {
      return InvalidArgument("server optimizer: tau must be > 0");
    }
  }
  return ServerOptimizer(options, num_parameters);
}

ServerOptimizer::ServerOptimizer(const Options& options, size_t num_parameters)
    : options_(options), num_parameters_(num_parameters) {
  if (options.kind != Kind::kFedAvg) m_.assign(num_parameters, 0.0);
  if (options.kind == Kind::kFedAdam) v_.assign(num_parameters, 0.0);
}

Status ServerOptimizer::Apply(std::span<float> params,
                              std::span<const float> mean_delta) {
  if (params.size() != num_parameters_ ||
      mean_delta.size() != num_parameters_) {
    return InvalidArgument(
        "server optimizer: " + std::to_string(params.size()) +
        " parameters and " + std::to_string(mean_delta.size()) +
        " delta values, expected " + std::to_string(num_parameters_));
  }
  for (size_t i = 0; i < mean_delta.size(); ++i) {
    if (!std::isfinite(mean_delta[i])) {
      return InvalidArgument("server optimizer: delta value " +
                             std::to_string(i) + " is not finite");
    }
  }
  const double eta = options_.learning_rate;
  for (size_t i = 0; i < num_parameters_; ++i) {
    const double d = mean_delta[i];
    double step = d;
    switch (options_.kind) {
      case Kind::kFedAvg:
        break;
      case Kind::kFedAvgM:
        m_[i] = options_.momentum * m_[i] + d;
        step = m_[i];
        break;
      case Kind::kFedAdam:
        m_[i] = options_.beta1 * m_[i] + (1.0 - options_.beta1) * d;
        v_[i] = options_.beta2 * v_[i] + (1.0 - options_.beta2) * d * d;
        step = m_[i] / (std::sqrt(v_[i]) + options_.tau);
        break;
    }
    params[i] = static_cast<float>(params[i] + eta * step);
  }
  return {};
}

}  // namespace cls::core
