#include "core/drift/drift_alert.h"

#include <algorithm>
#include <cmath>

namespace cls::drift {
namespace {

double Clamp01(double x) {
  if (std::isnan(x)) return 0.0;
  return std::clamp(x, 0.0, 1.0);
}

}  // namespace

std::string_view DriftTypeName(DriftType type) {
  switch (type) {
    case DriftType::kConcept:
      return "concept_drift";
    case DriftType::kData:
      return "data_drift";
    case DriftType::kPerformance:
      return "performance_drift";
    case DriftType::kCalibration:
      return "calibration_drift";
  }
  return "unknown";
}

Result<DriftType> ParseDriftType(std::string_view name) {
  for (DriftType t : {DriftType::kConcept, DriftType::kData,
                      DriftType::kPerformance, DriftType::kCalibration}) {
    if (DriftTypeName(t) == name) return t;
  }
  return InvalidArgument("drift type: unknown name '" + std::string(name) +
                         "'");
}

double PerformanceSeverity(double accuracy_drop, double performance_threshold) {
  if (!(performance_threshold > 0)) return accuracy_drop > 0 ? 1.0 : 0.0;
  return Clamp01(accuracy_drop / (2.0 * performance_threshold));
}

double DataSeverity(double max_psi) { return Clamp01(max_psi / 0.5); }

double CalibrationSeverity(double ece_rise, double ece_threshold) {
  if (!(ece_threshold > 0)) return ece_rise > 0 ? 1.0 : 0.0;
  return Clamp01(ece_rise / (2.0 * ece_threshold));
}

std::string RecommendedAction(DriftType type, double severity) {
  switch (type) {
    case DriftType::kPerformance:
    case DriftType::kConcept:
      if (severity > 0.8) return "roll back to the last stable version";
      if (severity > 0.5) {
        return type == DriftType::kConcept
                   ? "notify the team; retrain on recent labelled outcomes"
                   : "notify the team; schedule retraining";
      }
      return "log for investigation";
    case DriftType::kData:
      return severity > 0.5 ? "check the input pipeline; retrain with new data"
                            : "check the input pipeline; watch accuracy";
    case DriftType::kCalibration:
      return "recalibrate confidences on recent outcomes";
  }
  return "log for investigation";
}

}  // namespace cls::drift
