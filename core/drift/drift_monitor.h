#ifndef CLS_CORE_DRIFT_DRIFT_MONITOR_H_
#define CLS_CORE_DRIFT_DRIFT_MONITOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "core/drift/adwin.h"
#include "core/drift/calibration.h"
#include "core/drift/data_drift.h"
#include "core/drift/ddm.h"
#include "core/drift/drift_alert.h"
#include "core/drift/drift_summary.h"
#include "core/drift/eddm.h"
#include "core/drift/page_hinkley.h"
#include "core/drift/windowed_binomial.h"

namespace cls::drift {

// Guide names and defaults (performance_threshold 0.05, window_size 100),
// plus the parameters of each detector.
struct DriftMonitorConfig {
  double performance_threshold = 0.05;
  int window_size = 100;
  double binomial_alpha = 1e-3;
  bool use_windowed_binomial = true;
  bool use_adwin = true;
  bool use_ddm = true;
  bool use_eddm = true;
  bool use_page_hinkley = true;
  bool use_calibration = true;
  AdwinConfig adwin;
  DdmConfig ddm;
  EddmConfig eddm;
  PageHinkleyConfig page_hinkley;
  int calibration_bins = 10;
  int calibration_window = 1000;  // predictions in the recent-ECE window
  double ece_threshold = 0.05;    // tolerated rise over the reference ECE
  // After an alert, further detector alarms within this many predictions
  // are counted (detector_alarms) but raise no new alert: one change, one
  // alert. 0 means window_size.
  int alert_cooldown = 0;
  // CBPE raises a performance alert when the label-free estimate is below
  // baseline - threshold by more than cbpe_z standard errors, once at least
  // window_size unlabelled predictions were seen.
  double cbpe_z = 3.0;
  // A detector alarm becomes a performance alert only when the estimated
  // accuracy drop (reference - estimate) is at least this; alarms below it
  // are counted in detector_alarms. < 0 means performance_threshold, the
  // guide's "alert if accuracy drops more than 5%". DDM, EDDM and
  // Page-Hinkley alarm on noise now and then (docs/drift.md: EDDM about 60
  // times per million stationary predictions); this keeps those from
  // paging anyone.
  double min_alert_drop = -1;
  // The confirmation window of a DDM / EDDM / Page-Hinkley alarm must also
  // be significantly below the reference accuracy: one-sided binomial
  // P(X <= correct | window_size, reference) < confirm_alpha.
  double confirm_alpha = 0.01;
  size_t max_alert_history = 1000;
};

// The guide's get_drift_statistics, plus the calibration and label-free
// numbers.
struct DriftStatistics {
  int64_t total_predictions = 0;
  double recent_accuracy = 0;    // over the last window_size predictions
  double baseline_accuracy = 0;  // NaN until set
  int64_t total_alerts = 0;
  int64_t alerts_last_7_days = 0;
  double overall_accuracy = 0;
  double recent_ece = 0;
  double reference_ece = 0;  // NaN until set or learnt
  int64_t unlabelled_predictions = 0;
  double estimated_accuracy = 0;  // CBPE, NaN without a calibrator/data
};

// The guide's ModelDriftDetector for one model version at one site.
// RecordPrediction feeds (confidence, is_correct) to every enabled
// performance detector (windowed binomial, ADWIN, DDM, EDDM, Page-Hinkley)
// and to the recent calibration window, in amortised O(1); an alarm becomes
// a DriftAlert (performance_drift, or concept_drift when the latest data
// drift report found the inputs unchanged). The windowed binomial test and
// ADWIN carry their own accuracy estimate; an alarm from DDM, EDDM or
// Page-Hinkley (which say "the error rate rose" but not by how much) is
// confirmed on the next window_size predictions, fresh data, whose accuracy
// is the alert's estimate (and which must be significantly below the
// reference, confirm_alpha). Not thread-safe: one monitor
// per (version, site), driven by one thread or under the caller's lock.
class DriftMonitor {
 public:
  static Result<DriftMonitor> Create(const DriftMonitorConfig& config = {});

  // The accuracy the version is expected to keep (e.g. its validation
  // accuracy). Until set, severities are measured against the accuracy
  // observed so far and the windowed binomial test is idle.
  Status SetBaseline(double baseline_accuracy);
  // ECE on validation data; otherwise the first full calibration window's.
  Status SetReferenceCalibration(double reference_ece);
  // Enables CBPE for RecordUnlabelled.
  void SetCalibrator(IsotonicCalibrator calibrator);

  // Records one labelled prediction and runs the detectors. Returns the
  // alert it raised, if any (also kept for CheckDrift). confidence must be
  // in [0, 1]. now_s stamps alerts (Unix seconds).
  Result<std::optional<DriftAlert>> RecordPrediction(double confidence,
                                                     bool is_correct,
                                                     int64_t now_s);
  // A prediction whose outcome is not known yet: feeds the CBPE estimate.
  Result<std::optional<DriftAlert>> RecordUnlabelled(double confidence,
                                                     int64_t now_s);
  // Takes the site's latest input drift report: remembers whether inputs
  // drifted (concept vs performance drift) and returns a data_drift alert
  // when the dataset drifted.
  std::optional<DriftAlert> ObserveDataDrift(const DataDriftReport& report,
                                             int64_t now_s);

  // The guide's check_drift(): the most severe alert raised since the last
  // call, or nothing.
  std::optional<DriftAlert> CheckDrift();
  DriftStatistics GetDriftStatistics(int64_t now_s) const;
  // The most recent alerts, oldest first (bounded by max_alert_history).
  const std::deque<DriftAlert>& alerts() const { return alerts_; }
  const std::map<std::string, int64_t>& detector_alarms() const {
    return detector_alarms_;
  }
  // Counts and statistics for the coordinator (no records).
  DriftSummary Summary(const std::string& version_id) const;

 private:
  DriftMonitor(const DriftMonitorConfig& config, WindowedBinomialTest binomial,
               Adwin adwin, Ddm ddm, Eddm eddm, PageHinkley page_hinkley);
  double ReferenceAccuracy() const;
  std::optional<DriftAlert> Raise(DriftAlert alert, int64_t now_s);
  std::optional<DriftAlert> PerformanceAlert(
      const std::string& detector, double estimated_accuracy,
      std::map<std::string, double> evidence, int64_t now_s);
  void CountAlarm(const std::string& detector);
  void StartConfirmation(const std::string& detector,
                         std::map<std::string, double> evidence);

  DriftMonitorConfig config_;
  WindowedBinomialTest binomial_;
  Adwin adwin_;
  Ddm ddm_;
  Eddm eddm_;
  PageHinkley page_hinkley_;
  double baseline_ = -1;  // < 0: not set
  int64_t total_ = 0;
  int64_t correct_ = 0;

  // Calibration: cumulative and over a sliding window of recent
  // predictions (ring of confidences and outcomes).
  CalibrationHistogram calibration_total_;
  CalibrationHistogram calibration_recent_;
  std::vector<double> recent_confidence_;
  std::vector<uint8_t> recent_correct_;
  size_t recent_next_ = 0;
  double reference_ece_ = -1;
  int64_t calibration_quiet_ = 0;

  std::optional<IsotonicCalibrator> calibrator_;
  CbpeAccumulator cbpe_;
  int64_t cbpe_quiet_ = 0;

  // A DDM / EDDM / Page-Hinkley alarm waiting for its confirmation window.
  struct Confirmation {
    std::string detector;
    std::map<std::string, double> evidence;
    int64_t seen = 0;
    int64_t correct = 0;
  };
  std::optional<Confirmation> confirming_;

  std::optional<bool> inputs_drifted_;
  bool data_drift_reported_ = false;
  double max_psi_ = 0;

  int64_t last_alert_index_ = -1;
  int64_t total_alerts_ = 0;
  double max_severity_ = 0;
  std::deque<DriftAlert> alerts_;
  std::optional<DriftAlert> pending_;
  std::map<std::string, int64_t> detector_alarms_;
};

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_DRIFT_MONITOR_H_
