#include "site-agent/serving_state.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace cls::site {
namespace {

using nlohmann::json;

constexpr size_t kMaxIdBytes = 256;

Status CheckVersion(const ServedVersion& v, std::string_view what) {
  if (v.version_id.empty() || v.version_id.size() > kMaxIdBytes) {
    return InvalidArgument(std::string(what) +
                           ": version id empty or longer than 256 bytes");
  }
  if (v.parameters.empty()) {
    return InvalidArgument(std::string(what) + " " + v.version_id +
                           ": no parameters");
  }
  for (float p : v.parameters) {
    if (!std::isfinite(p)) {
      return InvalidArgument(std::string(what) + " " + v.version_id +
                             ": non-finite parameter");
    }
  }
  if (ModelHash(v.parameters) != v.hash) {
    return InvalidArgument(std::string(what) + " " + v.version_id +
                           ": parameters do not match the model hash");
  }
  return {};
}

// Everything a deployment must satisfy before it is served or stored.
Status CheckDeployment(const ServingDeployment& d) {
  if (d.deployment_id.size() > kMaxIdBytes) {
    return InvalidArgument("deployment id longer than 256 bytes");
  }
  if (auto s = CheckVersion(d.current, "current version"); !s) return s;
  if (d.routing.current_version != d.current.version_id) {
    return InvalidArgument("routing names another current version");
  }
  if (d.candidate.has_value() != !d.routing.candidate_version.empty()) {
    return InvalidArgument(
        "candidate model and routing candidate must both be set or both be "
        "empty");
  }
  if (d.candidate) {
    if (auto s = CheckVersion(*d.candidate, "candidate version"); !s) return s;
    if (d.candidate->parameters.size() != d.current.parameters.size()) {
      return InvalidArgument("candidate has " +
                             std::to_string(d.candidate->parameters.size()) +
                             " parameters, current " +
                             std::to_string(d.current.parameters.size()));
    }
  }
  if (auto r = rollout::Deployment::Restore(d.routing); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

json VersionJson(const ServedVersion& v) {
  json j = {{"version_id", v.version_id},
            {"hash", v.hash},
            {"parameters", v.parameters}};
  // Only when set, so a logistic regression's file stays as it was.
  if (!v.spec.empty()) j["spec"] = v.spec;
  return j;
}

Result<ServedVersion> VersionFromJson(const json& j) {
  if (!j.is_object() || !j.contains("version_id") || !j.contains("hash") ||
      !j.contains("parameters") || !j["version_id"].is_string() ||
      !j["hash"].is_string() || !j["parameters"].is_array()) {
    return DataLoss("deployment file: malformed version");
  }
  ServedVersion v;
  v.version_id = j["version_id"].get<std::string>();
  v.hash = j["hash"].get<std::string>();
  for (const auto& p : j["parameters"]) {
    if (!p.is_number()) return DataLoss("deployment file: bad parameter");
    v.parameters.push_back(p.get<float>());
  }
  if (j.contains("spec")) {
    if (!j["spec"].is_string()) return DataLoss("deployment file: bad spec");
    v.spec = j["spec"].get<std::string>();
  }
  return v;
}

}  // namespace

ServingDeployment DefaultDeployment(const GlobalModel& model) {
  ServingDeployment d;
  d.routing.current_version = model.version;
  d.routing.strategy = rollout::DeploymentStrategy::kImmediate;
  d.current = {model.version, model.hash, model.parameters, model.spec};
  return d;
}

Result<ServingDeployment> DeploymentFromUpdate(
    const protocol::DeploymentUpdate& update) {
  auto strategy = rollout::ParseDeploymentStrategy(update.strategy);
  if (!strategy) return std::unexpected(strategy.error());
  for (const auto* m : {&update.current, &update.candidate}) {
    if (m->version_id.empty()) continue;
    if (auto kind = core::ParseModelKind(m->model_kind); !kind) {
      return InvalidArgument("version " + m->version_id + ": " +
                             kind.error().message);
    }
    if (m->model_spec.empty() && m->model_kind != "logistic_regression") {
      return InvalidArgument("version " + m->version_id + ": model kind " +
                             m->model_kind + " without a model spec");
    }
    if (!m->model_spec.empty()) {
      auto spec = core::ModelSpec::Parse(m->model_spec);
      if (!spec) {
        return InvalidArgument("version " + m->version_id + ": " +
                               spec.error().message);
      }
      if (core::ModelKindName(spec->kind) != m->model_kind) {
        return InvalidArgument("version " + m->version_id +
                               ": model kind and spec disagree");
      }
    }
  }
  ServingDeployment d;
  d.deployment_id = update.deployment_id;
  d.routing.current_version = update.current.version_id;
  d.routing.candidate_version = update.candidate.version_id;
  d.routing.strategy = *strategy;
  d.routing.percentage = update.rollout_percent;
  d.routing.salt = update.salt;
  d.current = {update.current.version_id, update.current.model_hash,
               update.current.parameters, update.current.model_spec};
  if (!update.candidate.version_id.empty()) {
    d.candidate =
        ServedVersion{update.candidate.version_id, update.candidate.model_hash,
                      update.candidate.parameters, update.candidate.model_spec};
  }
  auto drift = DriftSettingsFromUpdate(update);
  if (!drift) return std::unexpected(drift.error());
  d.drift = *drift;
  if (auto s = CheckDeployment(d); !s) return std::unexpected(s.error());
  return d;
}

std::string EncodeDeployment(const ServingDeployment& d) {
  json j = {
      {"deployment_id", d.deployment_id},
      {"strategy",
       std::string(rollout::DeploymentStrategyName(d.routing.strategy))},
      {"percentage", d.routing.percentage},
      {"salt", d.routing.salt},
      {"current", VersionJson(d.current)},
      {"candidate", d.candidate ? VersionJson(*d.candidate) : json(nullptr)},
      {"drift", DriftSettingsJson(d.drift)},
  };
  return j.dump() + "\n";
}

Result<ServingDeployment> DecodeDeployment(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLoss("deployment file: not a JSON object");
  }
  for (const char* key : {"deployment_id", "strategy", "salt"}) {
    if (!j.contains(key) || !j[key].is_string()) {
      return DataLoss(std::string("deployment file: missing or bad '") + key +
                      "'");
    }
  }
  if (!j.contains("percentage") || !j["percentage"].is_number() ||
      !j.contains("current") || !j.contains("candidate")) {
    return DataLoss("deployment file: missing fields");
  }
  auto strategy =
      rollout::ParseDeploymentStrategy(j["strategy"].get<std::string>());
  if (!strategy)
    return DataLoss("deployment file: " + strategy.error().message);
  ServingDeployment d;
  d.deployment_id = j["deployment_id"].get<std::string>();
  d.routing.strategy = *strategy;
  d.routing.percentage = j["percentage"].get<double>();
  d.routing.salt = j["salt"].get<std::string>();
  auto current = VersionFromJson(j["current"]);
  if (!current) return std::unexpected(current.error());
  d.current = std::move(*current);
  d.routing.current_version = d.current.version_id;
  if (!j["candidate"].is_null()) {
    auto candidate = VersionFromJson(j["candidate"]);
    if (!candidate) return std::unexpected(candidate.error());
    d.candidate = std::move(*candidate);
    d.routing.candidate_version = d.candidate->version_id;
  }
  auto drift = DriftSettingsFromJson(j.value("drift", json()));
  if (!drift) return std::unexpected(drift.error());
  d.drift = *drift;
  if (auto s = CheckDeployment(d); !s) {
    return DataLoss("deployment file: " + s.error().message);
  }
  return d;
}

Status SaveDeployment(const std::filesystem::path& path,
                      const ServingDeployment& deployment) {
  const std::string text = EncodeDeployment(deployment);
  return WriteFileAtomically(
      path,
      ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Result<std::optional<ServingDeployment>> LoadDeployment(
    const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return std::optional<ServingDeployment>();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  auto d = DecodeDeployment(text.str());
  if (!d) return std::unexpected(d.error());
  return std::optional<ServingDeployment>(std::move(*d));
}

namespace {

// The version's model, checked against the site's inputs and classes.
Result<core::Model> VersionModel(const ServedVersion& v, int num_features,
                                 int num_classes) {
  core::ModelSpec spec;
  if (v.spec.empty()) {
    spec.kind = core::ModelKind::kLogisticRegression;
    spec.num_features = num_features;
  } else {
    auto parsed = core::ModelSpec::Parse(v.spec);
    if (!parsed) {
      return FailedPrecondition("version " + v.version_id + ": " +
                                parsed.error().message);
    }
    spec = *parsed;
  }
  if (num_features <= 0 || spec.num_features != num_features ||
      spec.num_classes != num_classes) {
    return FailedPrecondition(
        "version " + v.version_id + " (" + spec.ToString() +
        ") does not fit the site's schema: " + std::to_string(num_features) +
        " features, " + std::to_string(num_classes) + " classes");
  }
  if (v.parameters.size() != spec.NumParameters()) {
    return FailedPrecondition("version " + v.version_id + " has " +
                              std::to_string(v.parameters.size()) +
                              " parameters, the site's schema needs " +
                              std::to_string(spec.NumParameters()));
  }
  return core::Model::FromParameters(spec, v.parameters);
}

}  // namespace

ServingState::ServingState(ServingDeployment deployment,
                           rollout::Deployment routing, int num_features,
                           core::Model current)
    : deployment_(std::move(deployment)),
      routing_(std::move(routing)),
      num_features_(num_features),
      current_model_(std::move(current)) {}

Result<ServingState> ServingState::Create(ServingDeployment deployment,
                                          int num_features, int num_classes) {
  if (auto s = CheckDeployment(deployment); !s) {
    return std::unexpected(s.error());
  }
  auto current = VersionModel(deployment.current, num_features, num_classes);
  if (!current) return std::unexpected(current.error());
  std::optional<core::Model> candidate;
  if (deployment.candidate) {
    auto model = VersionModel(*deployment.candidate, num_features, num_classes);
    if (!model) return std::unexpected(model.error());
    candidate = std::move(*model);
  }
  auto routing = rollout::Deployment::Restore(deployment.routing);
  if (!routing) return std::unexpected(routing.error());
  ServingState state(std::move(deployment), std::move(*routing), num_features,
                     std::move(*current));
  state.candidate_model_ = std::move(candidate);
  return state;
}

Eigen::RowVectorXf ServingState::Probabilities(rollout::Arm arm,
                                               const Eigen::MatrixXf& x) const {
  const core::Model& model = arm == rollout::Arm::kCandidate && candidate_model_
                                 ? *candidate_model_
                                 : current_model_;
  return model.PredictProbability(x).row(0);
}

double ServingState::Predict(rollout::Arm arm, const Eigen::MatrixXf& x) const {
  const Eigen::RowVectorXf p = Probabilities(arm, x);
  return p.size() == 2 ? p(1) : p.maxCoeff();
}

}  // namespace cls::site
