// core::OnlineLearningSystem for Python (_cls_core.OnlineLearner).

#include <pybind11/stl.h>

#include <string>

#include "core/online_learning.h"
#include "python/binding/binding_common.h"

namespace cls::python {
namespace {

py::dict StatisticsDict(const core::UpdateStatistics& s) {
  py::dict d;
  d["total_updates"] = s.total_updates;
  d["total_samples_processed"] = s.total_samples_processed;
  d["average_loss"] = s.average_loss;
  d["latest_accuracy"] = s.latest_accuracy;
  d["accuracy_trend"] = s.accuracy_trend;
  d["trend_p_value"] = s.trend_p_value;
  return d;
}

core::OnlineLearningConfig MakeConfig(double learning_rate, int batch_size,
                                      double retention_rate,
                                      double elastic_strength,
                                      int epochs_per_update, int holdout_size,
                                      int reservoir_capacity,
                                      int rehearsal_samples, uint64_t seed) {
  core::OnlineLearningConfig cfg;
  cfg.learning_rate = learning_rate;
  cfg.batch_size = batch_size;
  cfg.retention_rate = retention_rate;
  cfg.elastic_strength = elastic_strength;
  cfg.epochs_per_update = epochs_per_update;
  cfg.holdout_size = holdout_size;
  cfg.reservoir_capacity = reservoir_capacity;
  cfg.rehearsal_samples = rehearsal_samples;
  cfg.seed = seed;
  return cfg;
}

// PredictProbability trusts its caller with the width; Python callers get a
// ValueError instead.
Eigen::MatrixXf ModelInput(const core::OnlineLearningSystem& s,
                           const py::object& data) {
  Eigen::MatrixXf x = ToMatrix(data, "data");
  if (x.cols() != s.model().num_features()) {
    throw py::value_error("data has " + std::to_string(x.cols()) +
                          " features, the model has " +
                          std::to_string(s.model().num_features()));
  }
  if (!x.allFinite()) {
    throw py::value_error("data contains a non-finite value (NaN or inf)");
  }
  return x;
}

}  // namespace

void BindOnlineLearning(py::module_& m) {
  py::class_<core::TrainingUpdate>(m, "TrainingUpdate")
      .def_readonly("update_id", &core::TrainingUpdate::update_id)
      .def_readonly("training_loss", &core::TrainingUpdate::training_loss)
      .def_readonly("validation_accuracy",
                    &core::TrainingUpdate::validation_accuracy)
      .def_readonly("precision", &core::TrainingUpdate::precision)
      .def_readonly("recall", &core::TrainingUpdate::recall)
      .def_readonly("f1", &core::TrainingUpdate::f1)
      .def_readonly("holdout_accuracy", &core::TrainingUpdate::holdout_accuracy)
      .def_readonly("holdout_count", &core::TrainingUpdate::holdout_count)
      .def_readonly("new_samples", &core::TrainingUpdate::new_samples)
      .def_readonly("rehearsal_samples",
                    &core::TrainingUpdate::rehearsal_samples)
      .def_readonly("timestamp", &core::TrainingUpdate::timestamp)
      .def("__repr__", [](const core::TrainingUpdate& u) {
        return "TrainingUpdate(update_id='" + u.update_id +
               "', new_samples=" + std::to_string(u.new_samples) +
               ", validation_accuracy=" +
               std::to_string(u.validation_accuracy) + ")";
      });

  py::class_<core::OnlineLearningSystem>(m, "OnlineLearner")
      .def(py::init([](int num_features, double learning_rate, int batch_size,
                       double retention_rate, double elastic_strength,
                       int epochs_per_update, int holdout_size,
                       int reservoir_capacity, int rehearsal_samples,
                       uint64_t seed) {
             return Unwrap(core::OnlineLearningSystem::Create(
                 num_features,
                 MakeConfig(learning_rate, batch_size, retention_rate,
                            elastic_strength, epochs_per_update, holdout_size,
                            reservoir_capacity, rehearsal_samples, seed)));
           }),
           py::arg("num_features"), py::arg("learning_rate") = 0.001,
           py::arg("batch_size") = 32, py::arg("retention_rate") = 0.9,
           py::arg("elastic_strength") = 1.0, py::arg("epochs_per_update") = 1,
           py::arg("holdout_size") = 200, py::arg("reservoir_capacity") = 1000,
           py::arg("rehearsal_samples") = 0, py::arg("seed") = 1)
      .def(
          "incremental_update",
          [](core::OnlineLearningSystem& s, const py::object& data,
             const py::object& labels) {
            return Unwrap(s.IncrementalUpdate(ToMatrix(data, "data"),
                                              ToVector(labels, "labels")));
          },
          py::arg("data"), py::arg("labels"))
      .def(
          "predict_proba",
          [](const core::OnlineLearningSystem& s, const py::object& data) {
            // P(class 1) per row, as before models of every kind: the
            // binding's learners are binary logistic regressions.
            const Eigen::VectorXf p =
                s.model().PredictProbability(ModelInput(s, data)).col(1);
            return ToNumpy(p);
          },
          py::arg("data"))
      .def("statistics",
           [](const core::OnlineLearningSystem& s) {
             return StatisticsDict(s.GetUpdateStatistics());
           })
      .def_static("empty_statistics",
                  [] { return StatisticsDict(core::UpdateStatistics{}); })
      .def("history", &core::OnlineLearningSystem::history)
      .def_property_readonly("num_features",
                             [](const core::OnlineLearningSystem& s) {
                               return s.model().num_features();
                             })
      .def_property_readonly("parameters",
                             [](const core::OnlineLearningSystem& s) {
                               return ToNumpy(s.model().parameters());
                             })
      .def_property_readonly("learning_rate",
                             [](const core::OnlineLearningSystem& s) {
                               return s.config().learning_rate;
                             })
      .def_property_readonly("batch_size",
                             [](const core::OnlineLearningSystem& s) {
                               return s.config().batch_size;
                             })
      .def_property_readonly("retention_rate",
                             [](const core::OnlineLearningSystem& s) {
                               return s.config().retention_rate;
                             })
      .def("serialize",
           [](const core::OnlineLearningSystem& s) {
             std::vector<uint8_t> bytes = s.Serialize();
             return py::bytes(reinterpret_cast<const char*>(bytes.data()),
                              bytes.size());
           })
      // The same learning state under a new config (the site agent's
      // restart path): how a Python caller changes learning_rate or
      // batch_size between updates.
      .def(
          "with_config",
          [](const core::OnlineLearningSystem& s, double learning_rate,
             int batch_size) {
            core::OnlineLearningConfig cfg = s.config();
            cfg.learning_rate = learning_rate;
            cfg.batch_size = batch_size;
            std::vector<uint8_t> bytes = s.Serialize();
            return Unwrap(core::OnlineLearningSystem::Deserialize(
                bytes, s.model().spec(), cfg));
          },
          py::arg("learning_rate"), py::arg("batch_size"));
}

}  // namespace cls::python
