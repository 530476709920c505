#ifndef CLS_CORE_MODEL_H_
#define CLS_CORE_MODEL_H_

#include <Eigen/Dense>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "common/error.h"
#include "core/logistic_regression.h"
#include "core/metrics.h"
#include "core/mlp.h"
#include "core/model_layout.h"
#include "core/model_spec.h"
#include "core/softmax_regression.h"

namespace cls::core {

// One of the trainable kinds behind one interface, so the daemons (local
// training, serving, online learning) never name a concrete model. Labels
// are class indices in [0, K); a binary model's class 1 is the positive
// class. Not thread-safe; cheap to copy.
class Model {
 public:
  // The initial parameters: zeros for the linear kinds (logistic regression
  // then predicts 0.5, as it always has), He-initialised from `seed` for an
  // MLP (all-zero hidden weights would never learn).
  static Result<Model> Create(const ModelSpec& spec, uint64_t seed);
  // Create, then SetParameters.
  static Result<Model> FromParameters(const ModelSpec& spec,
                                      std::span<const float> params);

  const ModelSpec& spec() const { return spec_; }
  int num_features() const { return spec_.num_features; }
  int num_classes() const { return spec_.num_classes; }
  const ParameterLayout& layout() const { return layout_; }
  std::span<const float> parameters() const;
  // InvalidArgument when params does not fit layout(); model unchanged then.
  Status SetParameters(std::span<const float> params);

  // Trains from the current parameters; cfg goes to the kind's own Train
  // untouched. Returns the mean training loss of the last epoch.
  // `after_batch`, when set, gets the parameters after every mini-batch step
  // of every kind (online learning's elastic anchor).
  Result<double> Train(const Eigen::MatrixXf& x, const Eigen::VectorXi& labels,
                       const TrainConfig& cfg,
                       const LogisticRegression::BatchHook& after_batch = {});

  // Diagonal empirical Fisher of the mean log loss at the current
  // parameters (one value per parameter, layout order): the kind's own
  // closed form (core/elastic_anchor.h for logistic regression,
  // SoftmaxRegression::DiagonalFisher, Mlp::DiagonalFisher). InvalidArgument
  // on a shape mismatch, an out-of-range label or no rows.
  Result<std::vector<float>> DiagonalFisher(
      const Eigen::MatrixXf& x, const Eigen::VectorXi& labels) const;

  // n x K class probabilities (a binary model gives [1 - p, p]).
  Eigen::MatrixXf PredictProbability(const Eigen::MatrixXf& x) const;

 private:
  using Impl = std::variant<LogisticRegression, SoftmaxRegression, Mlp>;
  Model(ModelSpec spec, ParameterLayout layout, Impl impl)
      : spec_(std::move(spec)),
        layout_(std::move(layout)),
        impl_(std::move(impl)) {}

  ModelSpec spec_;
  ParameterLayout layout_;
  Impl impl_;
};

// 0/1 float labels (LogisticRegression, BinaryMetrics) to class indices and
// back.
Eigen::VectorXi ClassIndices(const Eigen::VectorXf& labels);

}  // namespace cls::core

#endif  // CLS_CORE_MODEL_H_
