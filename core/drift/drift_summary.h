#ifndef CLS_CORE_DRIFT_DRIFT_SUMMARY_H_
#define CLS_CORE_DRIFT_DRIFT_SUMMARY_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "core/drift/calibration.h"

namespace cls::drift {

// What a site tells the coordinator about one model version: counts and
// statistics only, never records (no confidences, keys or feature values).
// Counts are cumulative since the version was deployed at the site, so the
// coordinator sums the latest summary of every site (MergeDriftSummaries)
// and feeds the totals to the sequential test.
struct DriftSummary {
  std::string version_id;
  int64_t predictions = 0;  // with an outcome
  int64_t correct = 0;
  int64_t window_predictions = 0;  // the last window_size of them
  int64_t window_correct = 0;
  std::vector<CalibrationBin> calibration;  // cumulative, equal-width bins
  int64_t unlabelled = 0;  // predictions without an outcome yet (CBPE)
  double cbpe_sum = 0;
  double cbpe_variance = 0;
  std::map<std::string, int64_t> detector_alarms;  // detector -> alarms
  int64_t alerts = 0;
  double max_severity = 0;
  int64_t sites_with_data_drift = 0;  // 0/1 from a site; a count once merged
  double max_psi = 0;
  int64_t sites = 1;  // summaries merged into this one

  double Accuracy() const;      // correct / predictions, NaN when none
  double Ece() const;           // from the calibration bins
  double CbpeAccuracy() const;  // NaN when no unlabelled predictions
};

// JSON (an object with the fields above; calibration as [[n, sum_conf,
// correct], ...]). Parse checks every field: types, non-negative counts,
// correct <= predictions, per-bin consistency, at most 1,000 bins and 100
// detectors, so a malformed or hostile summary is refused with a reason.
std::string SerializeDriftSummary(const DriftSummary& summary);
Result<DriftSummary> ParseDriftSummary(std::string_view json);

// Sums the sites' summaries of one version. Refuses mixed versions or
// different calibration bin counts.
Result<DriftSummary> MergeDriftSummaries(std::span<const DriftSummary> parts);

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_DRIFT_SUMMARY_H_
