#ifndef CLS_CORE_SERVER_OPTIMIZER_H_
#define CLS_CORE_SERVER_OPTIMIZER_H_

#include <span>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cls::core {

// The server-side update of the global model from a round's aggregated mean
// client delta (client params after local training minus the global params
// sent out), after Reddi et al., "Adaptive Federated Optimization" (ICLR
// 2021). With d the mean delta and eta the server learning rate:
//   fedavg:  x += eta d
//   fedavgm: v = beta v + d;  x += eta v
//   fedadam: m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;
//            x += eta m / (sqrt(v) + tau)     (no bias correction, as in the
//                                               paper)
// Keeps the momentum/moment state between rounds; not thread-safe.
class ServerOptimizer {
 public:
  enum class Kind { kFedAvg, kFedAvgM, kFedAdam };

  struct Options {
    Kind kind = Kind::kFedAvg;
    double learning_rate = 1.0;
    double momentum = 0.9;  // fedavgm beta
    double beta1 = 0.9;     // fedadam
    double beta2 = 0.99;    // fedadam
    double tau = 1e-3;      // fedadam adaptivity
  };

  // "fedavg" | "fedavgm" | "fedadam"; InvalidArgument otherwise.
  static Result<Kind> ParseKind(std::string_view name);
  static std::string_view KindName(Kind kind);

  // InvalidArgument on a non-positive or non-finite learning rate, a
  // momentum/beta outside [0, 1) or tau <= 0.
  static Result<ServerOptimizer> Create(const Options& options,
                                        size_t num_parameters);

  const Options& options() const { return options_; }

  // Applies one round's mean delta to params. InvalidArgument, leaving params
  // and state untouched, on a size mismatch or a non-finite delta.
  Status Apply(std::span<float> params, std::span<const float> mean_delta);

 private:
  ServerOptimizer(const Options& options, size_t num_parameters);
  Options options_;
  size_t num_parameters_;
  std::vector<double> m_;  // fedavgm velocity or fedadam first moment
  std::vector<double> v_;  // fedadam second moment
};

}  // namespace cls::core

#endif  // CLS_CORE_SERVER_OPTIMIZER_H_
