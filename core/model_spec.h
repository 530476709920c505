#ifndef CLS_CORE_MODEL_SPEC_H_
#define CLS_CORE_MODEL_SPEC_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cls::core {

// The model kinds the daemons train and serve ([model] kind).
enum class ModelKind { kLogisticRegression, kSoftmaxRegression, kMlp };

std::string_view ModelKindName(ModelKind kind);  // "logistic_regression", ...
// InvalidArgument naming the known kinds for anything else.
Result<ModelKind> ParseModelKind(std::string_view name);

// Everything needed to build a model's parameter vector: the kind, the input
// width, the number of classes and, for an MLP, the hidden layers. The
// coordinator sends it with every round and deployment as text, so a site
// builds exactly the model the federation trains, or refuses it.
struct ModelSpec {
  ModelKind kind = ModelKind::kLogisticRegression;
  int num_features = 0;
  int num_classes = 2;
  std::vector<int> hidden;          // mlp: one or two widths
  std::string activation = "relu";  // mlp: only relu today

  // InvalidArgument when no model of this kind can be built from it
  // (logistic regression is binary only; an MLP needs 1 or 2 hidden layers).
  Status Validate() const;
  // Length of the flat parameter vector (0 for an invalid spec).
  size_t NumParameters() const;
  // "kind=mlp;features=13;classes=2;hidden=32,16;activation=relu" (hidden
  // and activation for mlp only); Parse(ToString()) gives the same spec.
  std::string ToString() const;
  static Result<ModelSpec> Parse(std::string_view text);

  friend bool operator==(const ModelSpec&, const ModelSpec&) = default;
};

}  // namespace cls::core

#endif  // CLS_CORE_MODEL_SPEC_H_
