#include "core/model_spec.h"

#include <charconv>

namespace cls::core {

std::string_view ModelKindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kLogisticRegression:
      return "logistic_regression";
    case ModelKind::kSoftmaxRegression:
      return "softmax_regression";
    case ModelKind::kMlp:
      return "mlp";
  }
  return "unknown";
}

Result<ModelKind> ParseModelKind(std::string_view name) {
  for (ModelKind k : {ModelKind::kLogisticRegression,
                      ModelKind::kSoftmaxRegression, ModelKind::kMlp}) {
    if (name == ModelKindName(k)) return k;
  }
  return InvalidArgument("unknown model kind '" + std::string(name) +
                         "'; known: logistic_regression, softmax_regression, "
                         "mlp");
}

Status ModelSpec::Validate() const {
  // Bounds keep a typo from asking a site for gigabytes of parameters.
  if (num_features < 1 || num_features > 1000000) {
    return InvalidArgument("model: features must be 1..1000000, got " +
                           std::to_string(num_features));
  }
  if (num_classes < 2 || num_classes > 1000) {
    return InvalidArgument("model: classes must be 2..1000, got " +
                           std::to_string(num_classes));
  }
  switch (kind) {
    case ModelKind::kLogisticRegression:
      if (num_classes != 2) {
        return InvalidArgument("model: logistic_regression is binary; " +
                               std::to_string(num_classes) +
                               " classes need softmax_regression or mlp");
      }
      break;
    case ModelKind::kSoftmaxRegression:
      break;
    case ModelKind::kMlp:
      if (hidden.empty() || hidden.size() > 2) {
        return InvalidArgument(
            "model: mlp needs one or two hidden layers (hidden_layers)");
      }
      for (int h : hidden) {
        if (h < 1 || h > 4096) {
          return InvalidArgument("model: hidden layer widths must be 1..4096");
        }
      }
      if (activation != "relu") {
        return InvalidArgument("model: activation '" + activation +
                               "' is not supported; known: relu");
      }
      break;
  }
  if (kind != ModelKind::kMlp && !hidden.empty()) {
    return InvalidArgument("model: hidden layers are for kind mlp only");
  }
  return {};
}

size_t ModelSpec::NumParameters() const {
  if (!Validate()) return 0;
  const size_t d = static_cast<size_t>(num_features);
  const size_t k = static_cast<size_t>(num_classes);
  switch (kind) {
    case ModelKind::kLogisticRegression:
      return d + 1;
    case ModelKind::kSoftmaxRegression:
      return d * k + k;
    case ModelKind::kMlp: {
      size_t total = 0;
      size_t in = d;
      for (int h : hidden) {
        total += in * static_cast<size_t>(h) + static_cast<size_t>(h);
        in = static_cast<size_t>(h);
      }
      const size_t out = k == 2 ? 1 : k;
      return total + in * out + out;
    }
  }
  return 0;
}

std::string ModelSpec::ToString() const {
  std::string out = "kind=" + std::string(ModelKindName(kind)) +
                    ";features=" + std::to_string(num_features) +
                    ";classes=" + std::to_string(num_classes);
  if (kind == ModelKind::kMlp) {
    out += ";hidden=";
    for (size_t i = 0; i < hidden.size(); ++i) {
      if (i > 0) out += ",";
      out += std::to_string(hidden[i]);
    }
    out += ";activation=" + activation;
  }
  return out;
}

namespace {
Result<int> ParseInt(std::string_view key, std::string_view v) {
  int out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || end != v.data() + v.size()) {
    return InvalidArgument("model spec: '" + std::string(key) +
                           "' is not an integer");
  }
  return out;
}
}  // namespace

Result<ModelSpec> ModelSpec::Parse(std::string_view text) {
  ModelSpec spec;
  bool have_kind = false;
  while (!text.empty()) {
    const size_t semi = text.find(';');
    std::string_view item = text.substr(0, semi);
    text = semi == std::string_view::npos ? "" : text.substr(semi + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("model spec: item without '='");
    }
    const std::string_view key = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    if (key == "kind") {
      auto k = ParseModelKind(value);
      if (!k) return std::unexpected(k.error());
      spec.kind = *k;
      have_kind = true;
    } else if (key == "features" || key == "classes") {
      auto n = ParseInt(key, value);
      if (!n) return std::unexpected(n.error());
      (key == "features" ? spec.num_features : spec.num_classes) = *n;
    } else if (key == "hidden") {
      spec.hidden.clear();
      while (!value.empty()) {
        const size_t comma = value.find(',');
        auto n = ParseInt(key, value.substr(0, comma));
        if (!n) return std::unexpected(n.error());
        spec.hidden.push_back(*n);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
      }
    } else if (key == "activation") {
      spec.activation = std::string(value);
    } else {
      return InvalidArgument("model spec: unknown key '" + std::string(key) +
                             "'");
    }
  }
  if (!have_kind) return InvalidArgument("model spec: no kind");
  if (auto s = spec.Validate(); !s) return std::unexpected(s.error());
  return spec;
}

}  // namespace cls::core
