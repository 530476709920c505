#ifndef CLS_CORE_OPTIMIZER_H_
#define CLS_CORE_OPTIMIZER_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"

namespace cls::core {

// Learning rate as a function of the (0-based) step. Immutable; cheap to copy.
//   constant:     base
//   inverse sqrt: base / sqrt(1 + step)
//   cosine:       min + (base - min) (1 + cos(pi min(step, total) / total)) / 2
//   step:         base * gamma^floor(step / every)
class LearningRateSchedule {
 public:
  enum class Kind { kConstant, kInverseSqrt, kCosine, kStep };

  static LearningRateSchedule Constant(double base);
  static LearningRateSchedule InverseSqrt(double base);
  // total_steps <= 0 is treated as 1.
  static LearningRateSchedule Cosine(double base, int64_t total_steps,
                                     double min_rate = 0.0);
  // every <= 0 is treated as 1.
  static LearningRateSchedule Step(double base, double gamma, int64_t every);

  Kind kind() const { return kind_; }
  double Rate(int64_t step) const;

 private:
  LearningRateSchedule(Kind kind, double base) : kind_(kind), base_(base) {}
  Kind kind_;
  double base_;
  double min_rate_ = 0.0;
  double gamma_ = 1.0;
  int64_t period_ = 1;  // total steps (cosine) or decay interval (step)
};

// SGD with (heavy-ball or Nesterov) momentum over a flat parameter vector:
//   v = mu v + g;  p -= lr v          (Nesterov: p -= lr (g + mu v))
// Owns its velocity; not thread-safe.
class SgdMomentum {
 public:
  SgdMomentum(size_t num_parameters, double momentum, bool nesterov = false);
  // InvalidArgument if the spans do not both have num_parameters elements.
  Status Step(std::span<float> params, std::span<const float> grads,
              double learning_rate);

 private:
  double momentum_;
  bool nesterov_;
  std::vector<float> velocity_;
};

// Adam (Kingma & Ba 2015) with bias correction, over a flat parameter vector.
// Owns its moment estimates; not thread-safe.
class Adam {
 public:
  explicit Adam(size_t num_parameters, double beta1 = 0.9, double beta2 = 0.999,
                double epsilon = 1e-8);
  Status Step(std::span<float> params, std::span<const float> grads,
              double learning_rate);
  int64_t steps() const { return steps_; }

 private:
  double beta1_, beta2_, epsilon_;
  int64_t steps_ = 0;
  std::vector<double> m_, v_;
};

}  // namespace cls::core

#endif  // CLS_CORE_OPTIMIZER_H_
