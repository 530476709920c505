// core/drift for Python: DriftMonitor (_cls_core.DriftMonitor, the guide's
// ModelDriftDetector) and DataDriftDetector (_cls_core.DataDriftDetector).

#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/drift/data_drift.h"
#include "core/drift/drift_alert.h"
#include "core/drift/drift_monitor.h"
#include "python/binding/binding_common.h"

namespace cls::python {
namespace {

using drift::DataDriftDetector;
using drift::DataDriftReport;
using drift::DriftAlert;
using drift::DriftMonitor;

py::dict StatisticsDict(const drift::DriftStatistics& s) {
  py::dict d;
  d["total_predictions"] = s.total_predictions;
  d["recent_accuracy"] = s.recent_accuracy;
  d["baseline_accuracy"] = s.baseline_accuracy;
  d["total_alerts"] = s.total_alerts;
  d["recent_alerts"] = s.alerts_last_7_days;
  d["overall_accuracy"] = s.overall_accuracy;
  d["recent_ece"] = s.recent_ece;
  d["reference_ece"] = s.reference_ece;
  d["unlabelled_predictions"] = s.unlabelled_predictions;
  d["estimated_accuracy"] = s.estimated_accuracy;
  return d;
}

py::dict ReportDict(const DataDriftReport& r) {
  py::list features;
  for (const drift::FeatureDrift& f : r.features) {
    py::dict d;
    d["feature"] = f.feature;
    d["kind"] =
        f.kind == drift::FeatureKind::kNumeric ? "numeric" : "categorical";
    d["reference_n"] = f.reference_n;
    d["current_n"] = f.current_n;
    d["psi"] = f.psi;
    d["psi_critical"] = f.psi_critical;
    d["test"] = f.test;
    d["statistic"] = f.statistic;
    d["p_value"] = f.p_value;
    d["drifted"] = f.drifted;
    features.append(d);
  }
  py::dict d;
  d["features"] = features;
  d["drifted_features"] = r.drifted_features;
  d["drifted_share"] = r.drifted_share;
  d["max_psi"] = r.max_psi;
  d["dataset_drift"] = r.dataset_drift;
  return d;
}

// Rows of a 2-D array in schema order (NaN = missing, as RawTable).
core::RawTable ToTable(const py::object& data, const char* what) {
  Eigen::MatrixXf x = ToMatrix(data, what);
  core::RawTable t;
  t.rows.resize(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    t.rows[i].resize(x.cols());
    for (Eigen::Index j = 0; j < x.cols(); ++j) t.rows[i][j] = x(i, j);
  }
  return t;
}

}  // namespace

void BindDrift(py::module_& m) {
  py::class_<DriftAlert>(m, "DriftAlert")
      .def_property_readonly(
          "drift_type",
          [](const DriftAlert& a) {
            return std::string(drift::DriftTypeName(a.drift_type));
          })
      .def_readonly("severity", &DriftAlert::severity)
      .def_readonly("recommended_action", &DriftAlert::recommended_action)
      .def_readonly("detector", &DriftAlert::detector)
      .def_readonly("evidence", &DriftAlert::evidence)
      .def_readonly("prediction_index", &DriftAlert::prediction_index)
      .def_readonly("timestamp_s", &DriftAlert::timestamp_s);

  py::class_<DataDriftReport>(m, "DataDriftReport")
      .def_readonly("dataset_drift", &DataDriftReport::dataset_drift)
      .def_readonly("max_psi", &DataDriftReport::max_psi)
      .def("to_dict", &ReportDict);

  py::class_<DataDriftDetector>(m, "DataDriftDetector")
      .def(py::init([](const py::object& reference,
                       const std::vector<std::string>& feature_names,
                       double alpha, double psi_floor, int psi_bins,
                       int min_samples) {
             // Every column numeric: a notebook's arrays carry no schema.
             core::DatasetSchema schema;
             for (const std::string& name : feature_names) {
               core::ColumnSpec column;
               column.name = name;
               schema.features.push_back(std::move(column));
             }
             drift::DataDriftConfig cfg;
             cfg.alpha = alpha;
             cfg.psi_floor = psi_floor;
             cfg.psi_bins = psi_bins;
             cfg.min_samples = min_samples;
             return Unwrap(DataDriftDetector::Fit(
                 schema, ToTable(reference, "reference"), cfg));
           }),
           py::arg("reference"), py::arg("feature_names"),
           py::arg("alpha") = 0.01, py::arg("psi_floor") = 0.1,
           py::arg("psi_bins") = 10, py::arg("min_samples") = 30)
      .def(
          "assess",
          [](const DataDriftDetector& d, const py::object& current) {
            return Unwrap(d.Assess(ToTable(current, "current")));
          },
          py::arg("current"));

  py::class_<DriftMonitor>(m, "DriftMonitor")
      .def(py::init([](double performance_threshold, int window_size,
                       bool use_calibration, int alert_cooldown,
                       double min_alert_drop) {
             drift::DriftMonitorConfig cfg;
             cfg.performance_threshold = performance_threshold;
             cfg.window_size = window_size;
             cfg.use_calibration = use_calibration;
             cfg.alert_cooldown = alert_cooldown;
             cfg.min_alert_drop = min_alert_drop;
             return Unwrap(DriftMonitor::Create(cfg));
           }),
           py::arg("performance_threshold") = 0.05,
           py::arg("window_size") = 100, py::arg("use_calibration") = true,
           py::arg("alert_cooldown") = 0, py::arg("min_alert_drop") = -1.0)
      .def(
          "set_baseline",
          [](DriftMonitor& d, double accuracy) {
            Check(d.SetBaseline(accuracy));
          },
          py::arg("baseline_accuracy"))
      .def(
          "record_prediction",
          [](DriftMonitor& d, double confidence, bool is_correct,
             std::optional<int64_t> now_s) {
            return Unwrap(d.RecordPrediction(confidence, is_correct,
                                             now_s.value_or(NowSeconds())));
          },
          py::arg("confidence"), py::arg("is_correct"),
          py::arg("now_s") = py::none())
      .def(
          "record_unlabelled",
          [](DriftMonitor& d, double confidence, std::optional<int64_t> now_s) {
            return Unwrap(
                d.RecordUnlabelled(confidence, now_s.value_or(NowSeconds())));
          },
          py::arg("confidence"), py::arg("now_s") = py::none())
      .def(
          "observe_data_drift",
          [](DriftMonitor& d, const DataDriftReport& report,
             std::optional<int64_t> now_s) {
            return d.ObserveDataDrift(report, now_s.value_or(NowSeconds()));
          },
          py::arg("report"), py::arg("now_s") = py::none())
      .def("check_drift", &DriftMonitor::CheckDrift)
      .def(
          "statistics",
          [](const DriftMonitor& d, std::optional<int64_t> now_s) {
            return StatisticsDict(
                d.GetDriftStatistics(now_s.value_or(NowSeconds())));
          },
          py::arg("now_s") = py::none())
      .def_property_readonly("alerts",
                             [](const DriftMonitor& d) {
                               return std::vector<DriftAlert>(
                                   d.alerts().begin(), d.alerts().end());
                             })
      .def_property_readonly("detector_alarms", &DriftMonitor::detector_alarms);
}

}  // namespace cls::python
