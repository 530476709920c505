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
  return {{"version_id", v.version_id},
          {"hash", v.hash},
          {"parameters", v.parameters}};
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
  return v;
}

}  // namespace

ServingDeployment DefaultDeployment(const GlobalModel& model) {
  ServingDeployment d;
  d.routing.current_version = model.version;
  d.routing.strategy = rollout::DeploymentStrategy::kImmediate;
  d.current = {model.version, model.hash, model.parameters};
  return d;
}

Result<ServingDeployment> DeploymentFromUpdate(
    const protocol::DeploymentUpdate& update) {
  auto strategy = rollout::ParseDeploymentStrategy(update.strategy);
  if (!strategy) return std::unexpected(strategy.error());
  for (const auto* m : {&update.current, &update.candidate}) {
    if (!m->version_id.empty() && m->model_kind != "logistic_regression") {
      return InvalidArgument("version " + m->version_id +
                             ": model kind must be logistic_regression");
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
               update.current.parameters};
  if (!update.candidate.version_id.empty()) {
    d.candidate =
        ServedVersion{update.candidate.version_id, update.candidate.model_hash,
                      update.candidate.parameters};
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

ServingState::ServingState(ServingDeployment deployment,
                           rollout::Deployment routing, int num_features)
    : deployment_(std::move(deployment)),
      routing_(std::move(routing)),
      num_features_(num_features),
      current_model_(num_features) {}

Result<ServingState> ServingState::Create(ServingDeployment deployment,
                                          int num_features) {
  if (auto s = CheckDeployment(deployment); !s) {
    return std::unexpected(s.error());
  }
  const size_t expected = static_cast<size_t>(num_features) + 1;
  if (num_features <= 0 || deployment.current.parameters.size() != expected) {
    return FailedPrecondition(
        "version " + deployment.current.version_id + " has " +
        std::to_string(deployment.current.parameters.size()) +
        " parameters, the site's schema needs " + std::to_string(expected));
  }
  auto routing = rollout::Deployment::Restore(deployment.routing);
  if (!routing) return std::unexpected(routing.error());
  ServingState state(std::move(deployment), std::move(*routing), num_features);
  if (auto s = state.current_model_.SetParameters(
          state.deployment_.current.parameters);
      !s) {
    return std::unexpected(s.error());
  }
  if (state.deployment_.candidate) {
    state.candidate_model_.emplace(num_features);
    if (auto s = state.candidate_model_->SetParameters(
            state.deployment_.candidate->parameters);
        !s) {
      return std::unexpected(s.error());
    }
  }
  return state;
}

double ServingState::Predict(rollout::Arm arm, const Eigen::MatrixXf& x) const {
  const core::LogisticRegression& model =
      arm == rollout::Arm::kCandidate && candidate_model_ ? *candidate_model_
                                                          : current_model_;
  return model.PredictProbability(x)(0);
}

}  // namespace cls::site
