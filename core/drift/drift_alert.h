#ifndef CLS_CORE_DRIFT_DRIFT_ALERT_H_
#define CLS_CORE_DRIFT_DRIFT_ALERT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cls::drift {

// The guide's DriftType plus calibration (confidences stop matching
// accuracy, which breaks label-free estimates before accuracy moves).
//   concept:     the error rate changed while the inputs did not
//   data:        the input distribution changed
//   performance: accuracy dropped, input drift unknown (no data report yet)
//                or present alongside it
//   calibration: expected calibration error rose
enum class DriftType { kConcept, kData, kPerformance, kCalibration };

// "concept_drift", "data_drift", "performance_drift", "calibration_drift".
std::string_view DriftTypeName(DriftType type);
Result<DriftType> ParseDriftType(std::string_view name);

// One drift alert. Evidence holds the numbers that justify it (counts,
// statistics, p-values), never records.
struct DriftAlert {
  DriftType drift_type = DriftType::kPerformance;
  double severity = 0.0;  // [0, 1], see the Severity functions below
  std::string recommended_action;
  std::string detector;  // e.g. "adwin", "windowed_binomial", "data_drift"
  std::map<std::string, double> evidence;
  int64_t prediction_index = 0;  // predictions recorded when raised
  int64_t timestamp_s = 0;       // Unix seconds, from the caller's clock
};

// Severity formulas (docs/drift.md). All clamp to [0, 1].
//
// Accuracy drop (performance and concept drift): the drop in units of twice
// the guide's performance_threshold, so a drop equal to the threshold is 0.5
// and a drop of twice the threshold (10 points at the default 0.05) is 1.0:
//   severity = clamp(drop / (2 * performance_threshold), 0, 1)
double PerformanceSeverity(double accuracy_drop, double performance_threshold);
// Data drift: the largest feature PSI over 0.5, so the conventional "major
// shift" PSI of 0.25 is 0.5:  severity = clamp(max_psi / 0.5, 0, 1)
double DataSeverity(double max_psi);
// Calibration drift: the rise in expected calibration error over twice the
// tolerated rise: severity = clamp(ece_rise / (2 * ece_threshold), 0, 1)
double CalibrationSeverity(double ece_rise, double ece_threshold);

// What to do, from the guide's automated-response table: performance or
// concept drift above 0.8 -> roll back; above 0.5 -> notify and retrain;
// otherwise log. Data and calibration drift name their own remedies.
std::string RecommendedAction(DriftType type, double severity);

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_DRIFT_ALERT_H_
