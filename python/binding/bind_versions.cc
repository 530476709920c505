// core/rollout's VersionRegistry for Python (_cls_core.VersionRegistry, the
// guide's ModelVersionManager).

#include <pybind11/stl.h>

#include <string>

#include "core/rollout/deployment_strategy.h"
#include "core/rollout/sequential_test.h"
#include "core/rollout/version_registry.h"
#include "python/binding/binding_common.h"

namespace cls::python {
namespace {

using rollout::VersionRegistry;
using rollout::VersionStatus;

// The guide's list_versions / get_version_info fields, plus the role and
// strategy.
py::dict StatusDict(const VersionStatus& s) {
  const rollout::ModelVersion& v = *s.version;
  py::dict d;
  d["version_id"] = v.version_id;
  d["sequence"] = v.sequence;
  d["accuracy"] = v.metrics.accuracy;
  d["precision"] = v.metrics.precision;
  d["recall"] = v.metrics.recall;
  d["f1_score"] = v.metrics.f1_score;
  d["training_samples"] = v.metrics.training_samples;
  d["model_hash"] = v.model_hash;
  d["created_at"] = v.created_at;
  d["is_active"] = s.is_active;
  d["deployment_percentage"] = s.deployment_percentage;
  d["role"] = std::string(rollout::VersionRoleName(s.role));
  d["deployment_strategy"] =
      v.strategy ? py::object(py::str(std::string(
                       rollout::DeploymentStrategyName(*v.strategy))))
                 : py::object(py::none());
  d["outcomes"] = v.outcomes.n;
  d["correct_outcomes"] = v.outcomes.successes;
  return d;
}

py::dict ComparisonDict(const rollout::ComparisonResult& c) {
  py::dict d;
  d["effect"] = c.effect;
  d["ci_low"] = c.ci_low;
  d["ci_high"] = c.ci_high;
  d["p_value"] = c.p_value;
  d["verdict"] = std::string(rollout::VerdictName(c.verdict));
  d["current_outcomes"] = c.current.n;
  d["current_correct"] = c.current.successes;
  d["candidate_outcomes"] = c.candidate.n;
  d["candidate_correct"] = c.candidate.successes;
  return d;
}

rollout::DeploymentStrategy Strategy(const std::string& name) {
  return Unwrap(rollout::ParseDeploymentStrategy(name));
}

}  // namespace

void BindVersions(py::module_& m) {
  py::class_<VersionRegistry>(m, "VersionRegistry")
      .def(py::init<>())
      .def(
          "create",
          [](VersionRegistry& r, double accuracy, double precision,
             double recall, double f1_score, int64_t training_samples,
             const py::object& model_params, std::optional<int64_t> now_s) {
            rollout::VersionMetrics metrics{accuracy, precision, recall,
                                            f1_score, training_samples};
            const std::vector<float> params =
                ToFloatVector(model_params, "model_params");
            const rollout::ModelVersion* v =
                Unwrap(r.Create(metrics, params, now_s.value_or(NowSeconds())));
            return v->version_id;
          },
          py::arg("accuracy"), py::arg("precision"), py::arg("recall"),
          py::arg("f1_score"), py::arg("training_samples"),
          py::arg("model_params"), py::arg("now_s") = py::none())
      .def(
          "deploy",
          [](VersionRegistry& r, const std::string& version_id,
             const std::string& strategy, std::string salt,
             std::optional<double> percentage) {
            return Unwrap(r.Deploy(version_id, Strategy(strategy),
                                   std::move(salt), percentage));
          },
          py::arg("version_id"), py::arg("strategy"), py::arg("salt"),
          py::arg("percentage") = py::none())
      .def(
          "increase_rollout",
          [](VersionRegistry& r, const std::string& version_id, double by) {
            return Unwrap(r.IncreaseRollout(version_id, by));
          },
          py::arg("version_id"), py::arg("by"))
      .def(
          "promote",
          [](VersionRegistry& r, const std::string& version_id) {
            Check(r.Promote(version_id));
          },
          py::arg("version_id"))
      .def(
          "rollback",
          [](VersionRegistry& r, const std::string& version_id) {
            Check(r.Rollback(version_id));
          },
          py::arg("version_id"))
      .def(
          "route",
          [](const VersionRegistry& r, const std::string& request_key) {
            rollout::RoutedVersion routed = Unwrap(r.Route(request_key));
            return py::make_tuple(routed.serve,
                                  routed.shadow.empty()
                                      ? py::object(py::none())
                                      : py::object(py::str(routed.shadow)));
          },
          py::arg("request_key"))
      .def(
          "record_outcome",
          [](VersionRegistry& r, const std::string& version_id, bool correct) {
            Check(r.RecordOutcome(version_id, correct));
          },
          py::arg("version_id"), py::arg("is_correct"))
      .def("compare",
           [](VersionRegistry& r) {
             return ComparisonDict(Unwrap(r.Compare()));
           })
      .def("list",
           [](const VersionRegistry& r) {
             py::list out;
             for (const VersionStatus& s : r.List()) out.append(StatusDict(s));
             return out;
           })
      .def(
          "get",
          [](const VersionRegistry& r, const std::string& version_id) {
            return StatusDict(Unwrap(r.Get(version_id)));
          },
          py::arg("version_id"))
      .def(
          "parameters",
          [](const VersionRegistry& r, const std::string& version_id) {
            return ToNumpy(Unwrap(r.Get(version_id)).version->parameters);
          },
          py::arg("version_id"));
}

}  // namespace cls::python
