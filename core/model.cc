#include "core/model.h"

#include "core/elastic_anchor.h"

namespace cls::core {

Result<Model> Model::Create(const ModelSpec& spec, uint64_t seed) {
  if (auto s = spec.Validate(); !s) return std::unexpected(s.error());
  switch (spec.kind) {
    case ModelKind::kLogisticRegression: {
      ParameterLayout layout("logreg",
                             {ParameterBlock::Matrix("w", spec.num_features, 1),
                              ParameterBlock::Vector("b", 1)});
      return Model(spec, std::move(layout),
                   LogisticRegression(spec.num_features));
    }
    case ModelKind::kSoftmaxRegression: {
      auto m = SoftmaxRegression::Create(spec.num_features, spec.num_classes);
      if (!m) return std::unexpected(m.error());
      ParameterLayout layout = m->layout();
      return Model(spec, std::move(layout), std::move(*m));
    }
    case ModelKind::kMlp: {
      MlpSpec mlp{spec.num_features, spec.hidden, spec.num_classes};
      auto m = Mlp::Create(mlp, seed);
      if (!m) return std::unexpected(m.error());
      ParameterLayout layout = m->layout();
      return Model(spec, std::move(layout), std::move(*m));
    }
  }
  return InvalidArgument("model: unknown kind");
}

Result<Model> Model::FromParameters(const ModelSpec& spec,
                                    std::span<const float> params) {
  auto model = Create(spec, 1);
  if (!model) return model;
  if (auto s = model->SetParameters(params); !s) {
    return std::unexpected(s.error());
  }
  return model;
}

std::span<const float> Model::parameters() const {
  return std::visit([](const auto& m) { return m.parameters(); }, impl_);
}

Status Model::SetParameters(std::span<const float> params) {
  // The layout check names the layout; logistic regression's own check only
  // counts.
  if (auto s = layout_.Check(params); !s) return s;
  return std::visit([&](auto& m) { return m.SetParameters(params); }, impl_);
}

Eigen::VectorXi ClassIndices(const Eigen::VectorXf& labels) {
  Eigen::VectorXi out(labels.size());
  for (Eigen::Index i = 0; i < labels.size(); ++i) {
    out[i] = static_cast<int>(labels[i] + 0.5f);
  }
  return out;
}

Result<double> Model::Train(const Eigen::MatrixXf& x,
                            const Eigen::VectorXi& labels,
                            const TrainConfig& cfg,
                            const LogisticRegression::BatchHook& after_batch) {
  if (auto* lr = std::get_if<LogisticRegression>(&impl_)) {
    if (auto s = CheckClassificationData(x, labels, spec_.num_features, 2);
        !s) {
      return std::unexpected(s.error());
    }
    const Eigen::VectorXf y = labels.cast<float>();
    if (!after_batch) return lr->Train(x, y, cfg);
    return lr->Train(x, y, cfg, {}, after_batch);
  }
  return std::visit(
      [&](auto& m) -> Result<double> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, LogisticRegression>) {
          return Internal("unreachable");
        } else {
          return m.Train(x, labels, cfg, after_batch);
        }
      },
      impl_);
}

Result<std::vector<float>> Model::DiagonalFisher(
    const Eigen::MatrixXf& x, const Eigen::VectorXi& labels) const {
  if (const auto* lr = std::get_if<LogisticRegression>(&impl_)) {
    if (auto s = CheckClassificationData(x, labels, spec_.num_features, 2);
        !s) {
      return std::unexpected(s.error());
    }
    return core::DiagonalFisher(*lr, x, labels.cast<float>());
  }
  return std::visit(
      [&](const auto& m) -> Result<std::vector<float>> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, LogisticRegression>) {
          return Internal("unreachable");
        } else {
          return m.DiagonalFisher(x, labels);
        }
      },
      impl_);
}

Eigen::MatrixXf Model::PredictProbability(const Eigen::MatrixXf& x) const {
  if (const auto* lr = std::get_if<LogisticRegression>(&impl_)) {
    const Eigen::VectorXf p = lr->PredictProbability(x);
    Eigen::MatrixXf out(p.size(), 2);
    out.col(0) = (1.0f - p.array()).matrix();
    out.col(1) = p;
    return out;
  }
  if (const auto* mlp = std::get_if<Mlp>(&impl_)) {
    Eigen::MatrixXf p = mlp->PredictProbability(x);
    if (p.cols() != 1) return p;
    Eigen::MatrixXf out(p.rows(), 2);
    out.col(0) = (1.0f - p.col(0).array()).matrix();
    out.col(1) = p.col(0);
    return out;
  }
  return std::get<SoftmaxRegression>(impl_).PredictProbability(x);
}

}  // namespace cls::core
