#include "core/drift/drift_monitor.h"

#include <cmath>
#include <utility>

#include "core/drift/distributions.h"

namespace cls::drift {
namespace {

constexpr int64_t kSevenDaysS = 7 * 24 * 3600;

}  // namespace

DriftMonitor::DriftMonitor(const DriftMonitorConfig& config,
                           WindowedBinomialTest binomial, Adwin adwin, Ddm ddm,
                           Eddm eddm, PageHinkley page_hinkley)
    : config_(config),
      binomial_(std::move(binomial)),
      adwin_(std::move(adwin)),
      ddm_(std::move(ddm)),
      eddm_(std::move(eddm)),
      page_hinkley_(std::move(page_hinkley)),
      calibration_total_(config.calibration_bins),
      calibration_recent_(config.calibration_bins),
      recent_confidence_(static_cast<size_t>(config.calibration_window), 0.0),
      recent_correct_(static_cast<size_t>(config.calibration_window), 0) {
  if (config_.alert_cooldown <= 0) config_.alert_cooldown = config.window_size;
  if (config_.min_alert_drop < 0) {
    config_.min_alert_drop = config.performance_threshold;
  }
}

Result<DriftMonitor> DriftMonitor::Create(const DriftMonitorConfig& config) {
  if (!(config.performance_threshold > 0 && config.performance_threshold < 1)) {
    return InvalidArgument(
        "drift monitor: performance_threshold must be in (0, 1)");
  }
  if (config.calibration_bins < 1 || config.calibration_bins > 1000) {
    return InvalidArgument(
        "drift monitor: calibration_bins must be in "
        "[1, 1000]");
  }
  if (config.calibration_window < 10 ||
      config.calibration_window > 10'000'000) {
    return InvalidArgument(
        "drift monitor: calibration_window must be in "
        "[10, 10000000]");
  }
  if (!(config.ece_threshold > 0 && config.ece_threshold < 1)) {
    return InvalidArgument("drift monitor: ece_threshold must be in (0, 1)");
  }
  if (!(config.confirm_alpha > 0 && config.confirm_alpha < 1)) {
    return InvalidArgument("drift monitor: confirm_alpha must be in (0, 1)");
  }
  if (!(config.cbpe_z > 0)) {
    return InvalidArgument("drift monitor: cbpe_z must be > 0");
  }
  auto binomial = WindowedBinomialTest::Create({config.window_size,
                                                config.performance_threshold,
                                                config.binomial_alpha});
  if (!binomial) return std::unexpected(binomial.error());
  auto adwin = Adwin::Create(config.adwin);
  if (!adwin) return std::unexpected(adwin.error());
  auto ddm = Ddm::Create(config.ddm);
  if (!ddm) return std::unexpected(ddm.error());
  auto eddm = Eddm::Create(config.eddm);
  if (!eddm) return std::unexpected(eddm.error());
  auto ph = PageHinkley::Create(config.page_hinkley);
  if (!ph) return std::unexpected(ph.error());
  return DriftMonitor(config, std::move(*binomial), std::move(*adwin),
                      std::move(*ddm), std::move(*eddm), std::move(*ph));
}

Status DriftMonitor::SetBaseline(double baseline_accuracy) {
  if (auto s = binomial_.SetBaseline(baseline_accuracy); !s) return s;
  baseline_ = baseline_accuracy;
  return {};
}

Status DriftMonitor::SetReferenceCalibration(double reference_ece) {
  if (!(reference_ece >= 0 && reference_ece <= 1)) {
    return InvalidArgument("drift monitor: reference ECE must be in [0, 1]");
  }
  reference_ece_ = reference_ece;
  return {};
}

void DriftMonitor::SetCalibrator(IsotonicCalibrator calibrator) {
  calibrator_ = std::move(calibrator);
}

double DriftMonitor::ReferenceAccuracy() const {
  if (baseline_ >= 0) return baseline_;
  return total_ > 0 ? static_cast<double>(correct_) / total_ : 0.0;
}

void DriftMonitor::CountAlarm(const std::string& detector) {
  ++detector_alarms_[detector];
}

std::optional<DriftAlert> DriftMonitor::Raise(DriftAlert alert, int64_t now_s) {
  alert.prediction_index = total_;
  alert.timestamp_s = now_s;
  alert.recommended_action =
      RecommendedAction(alert.drift_type, alert.severity);
  last_alert_index_ = total_;
  ++total_alerts_;
  max_severity_ = std::max(max_severity_, alert.severity);
  alerts_.push_back(alert);
  while (alerts_.size() > config_.max_alert_history) alerts_.pop_front();
  if (!pending_ || alert.severity >= pending_->severity) pending_ = alert;
  return alert;
}

std::optional<DriftAlert> DriftMonitor::PerformanceAlert(
    const std::string& detector, double estimated_accuracy,
    std::map<std::string, double> evidence, int64_t now_s) {
  if (last_alert_index_ >= 0 &&
      total_ - last_alert_index_ < config_.alert_cooldown) {
    return std::nullopt;  // the same change, already alerted
  }
  const double reference = ReferenceAccuracy();
  const double drop = reference - estimated_accuracy;
  if (!(drop >= config_.min_alert_drop)) return std::nullopt;
  DriftAlert alert;
  // Inputs known to be unchanged while the error rate moved: concept drift.
  alert.drift_type = inputs_drifted_.has_value() && !*inputs_drifted_
                         ? DriftType::kConcept
                         : DriftType::kPerformance;
  alert.severity = PerformanceSeverity(drop, config_.performance_threshold);
  alert.detector = detector;
  evidence["reference_accuracy"] = reference;
  evidence["estimated_accuracy"] = estimated_accuracy;
  evidence["accuracy_drop"] = drop;
  evidence["total_predictions"] = static_cast<double>(total_);
  if (inputs_drifted_.has_value()) {
    evidence["inputs_drifted"] = *inputs_drifted_ ? 1.0 : 0.0;
  }
  alert.evidence = std::move(evidence);
  return Raise(std::move(alert), now_s);
}

void DriftMonitor::StartConfirmation(const std::string& detector,
                                     std::map<std::string, double> evidence) {
  CountAlarm(detector);
  if (confirming_) return;  // one confirmation window at a time
  confirming_ = Confirmation{detector, std::move(evidence), 0, 0};
}

Result<std::optional<DriftAlert>> DriftMonitor::RecordPrediction(
    double confidence, bool is_correct, int64_t now_s) {
  if (!(confidence >= 0 && confidence <= 1)) {
    return InvalidArgument("drift monitor: confidence outside [0, 1]");
  }
  ++total_;
  correct_ += is_correct ? 1 : 0;
  std::optional<DriftAlert> raised;
  auto keep = [&](std::optional<DriftAlert> a) {
    if (a && (!raised || a->severity > raised->severity)) raised = std::move(a);
  };

  const bool binomial_alarm = binomial_.Update(is_correct);
  const double window_accuracy = binomial_.WindowAccuracy();
  if (config_.use_windowed_binomial && binomial_alarm) {
    CountAlarm("windowed_binomial");
    keep(PerformanceAlert("windowed_binomial", window_accuracy,
                          {{"window_n", binomial_.count()},
                           {"window_correct", binomial_.correct()},
                           {"null_accuracy", binomial_.null_accuracy()},
                           {"p_value", binomial_.PValue()},
                           {"alpha", config_.binomial_alpha}},
                          now_s));
  }
  if (config_.use_adwin && adwin_.Update(is_correct ? 1.0 : 0.0) &&
      adwin_.cut_new_mean() < adwin_.cut_old_mean()) {
    // Only a fall in accuracy is drift worth an alert.
    CountAlarm("adwin");
    keep(PerformanceAlert(
        "adwin", adwin_.cut_new_mean(),
        {{"old_mean", adwin_.cut_old_mean()},
         {"new_mean", adwin_.cut_new_mean()},
         {"old_n", static_cast<double>(adwin_.cut_old_width())},
         {"new_n", static_cast<double>(adwin_.cut_new_width())},
         {"delta", config_.adwin.delta}},
        now_s));
  }
  // Confirmation first, so a window never includes the alarm's own
  // prediction.
  if (confirming_) {
    ++confirming_->seen;
    confirming_->correct += is_correct ? 1 : 0;
    if (confirming_->seen >= config_.window_size) {
      Confirmation c = std::move(*confirming_);
      confirming_.reset();
      c.evidence["confirmation_n"] = static_cast<double>(c.seen);
      c.evidence["confirmation_correct"] = static_cast<double>(c.correct);
      const double p = BinomialCdf(c.correct, c.seen, ReferenceAccuracy());
      c.evidence["confirmation_p_value"] = p;
      if (p < config_.confirm_alpha) {
        keep(PerformanceAlert(
            c.detector,
            static_cast<double>(c.correct) / static_cast<double>(c.seen),
            std::move(c.evidence), now_s));
      }
    }
  }
  if (config_.use_ddm && ddm_.Update(!is_correct) == DetectorSignal::kDrift) {
    StartConfirmation("ddm", {{"p_plus_s", ddm_.drift_p_plus_s()},
                              {"threshold", ddm_.drift_threshold()}});
  }
  if (config_.use_eddm && eddm_.Update(!is_correct) == DetectorSignal::kDrift) {
    StartConfirmation("eddm",
                      {{"ratio", eddm_.drift_ratio()},
                       {"mean_error_distance", eddm_.drift_mean_distance()},
                       {"drift_level", config_.eddm.drift_level}});
  }
  if (config_.use_page_hinkley &&
      page_hinkley_.Update(is_correct ? 0.0 : 1.0)) {
    StartConfirmation("page_hinkley",
                      {{"statistic", page_hinkley_.drift_statistic()},
                       {"error_mean", page_hinkley_.drift_mean()},
                       {"threshold", config_.page_hinkley.threshold}});
  }

  calibration_total_.Add(confidence, is_correct);
  if (config_.use_calibration) {
    const size_t window = recent_confidence_.size();
    if (calibration_recent_.count() == static_cast<int64_t>(window)) {
      calibration_recent_.Remove(recent_confidence_[recent_next_],
                                 recent_correct_[recent_next_] != 0);
    }
    recent_confidence_[recent_next_] = confidence;
    recent_correct_[recent_next_] = is_correct ? 1 : 0;
    calibration_recent_.Add(confidence, is_correct);
    if (++recent_next_ == window) recent_next_ = 0;
    if (calibration_quiet_ > 0) --calibration_quiet_;
    if (calibration_recent_.count() == static_cast<int64_t>(window)) {
      if (reference_ece_ < 0) {
        reference_ece_ = calibration_recent_.Ece();
      } else if (calibration_quiet_ == 0) {
        const double ece = calibration_recent_.Ece();
        const double rise = ece - reference_ece_;
        if (rise > config_.ece_threshold) {
          CountAlarm("calibration");
          calibration_quiet_ = static_cast<int64_t>(window);
          DriftAlert alert;
          alert.drift_type = DriftType::kCalibration;
          alert.severity = CalibrationSeverity(rise, config_.ece_threshold);
          alert.detector = "calibration";
          alert.evidence = {{"recent_ece", ece},
                            {"reference_ece", reference_ece_},
                            {"window_n", static_cast<double>(window)},
                            {"ece_threshold", config_.ece_threshold}};
          keep(Raise(std::move(alert), now_s));
        }
      }
    }
  }
  return raised;
}

Result<std::optional<DriftAlert>> DriftMonitor::RecordUnlabelled(
    double confidence, int64_t now_s) {
  if (!(confidence >= 0 && confidence <= 1)) {
    return InvalidArgument("drift monitor: confidence outside [0, 1]");
  }
  const double c =
      calibrator_ ? calibrator_->Calibrate(confidence) : confidence;
  cbpe_.Add(c);
  if (cbpe_quiet_ > 0) --cbpe_quiet_;
  if (baseline_ < 0 || cbpe_quiet_ > 0 ||
      cbpe_.n < static_cast<int64_t>(config_.window_size)) {
    return std::optional<DriftAlert>();
  }
  const double estimate = cbpe_.EstimatedAccuracy();
  const double se = cbpe_.StandardError();
  const double floor = baseline_ - config_.performance_threshold;
  if (estimate < floor && (floor - estimate) > config_.cbpe_z * se) {
    cbpe_quiet_ = config_.window_size;
    CountAlarm("cbpe");
    return PerformanceAlert("cbpe", estimate,
                            {{"unlabelled_n", static_cast<double>(cbpe_.n)},
                             {"standard_error", se},
                             {"z", (floor - estimate) / se}},
                            now_s);
  }
  return std::optional<DriftAlert>();
}

std::optional<DriftAlert> DriftMonitor::ObserveDataDrift(
    const DataDriftReport& report, int64_t now_s) {
  inputs_drifted_ = report.dataset_drift;
  data_drift_reported_ = report.dataset_drift;
  max_psi_ = report.max_psi;
  if (!report.dataset_drift) return std::nullopt;
  CountAlarm("data_drift");
  DriftAlert alert;
  alert.drift_type = DriftType::kData;
  alert.severity = DataSeverity(report.max_psi);
  alert.detector = "data_drift";
  alert.evidence["drifted_features"] = report.drifted_features;
  alert.evidence["drifted_share"] = report.drifted_share;
  alert.evidence["max_psi"] = report.max_psi;
  for (const FeatureDrift& f : report.features) {
    if (!f.drifted) continue;
    alert.evidence[f.feature + ".psi"] = f.psi;
    alert.evidence[f.feature + ".psi_critical"] = f.psi_critical;
    alert.evidence[f.feature + "." + f.test] = f.statistic;
    alert.evidence[f.feature + ".p_value"] = f.p_value;
  }
  return Raise(std::move(alert), now_s);
}

std::optional<DriftAlert> DriftMonitor::CheckDrift() {
  return std::exchange(pending_, std::nullopt);
}

DriftStatistics DriftMonitor::GetDriftStatistics(int64_t now_s) const {
  DriftStatistics s;
  s.total_predictions = total_;
  s.recent_accuracy = binomial_.WindowAccuracy();
  s.baseline_accuracy = baseline_ >= 0 ? baseline_ : std::nan("");
  s.total_alerts = total_alerts_;
  for (const DriftAlert& a : alerts_) {
    if (now_s - a.timestamp_s < kSevenDaysS) ++s.alerts_last_7_days;
  }
  s.overall_accuracy =
      total_ > 0 ? static_cast<double>(correct_) / total_ : std::nan("");
  s.recent_ece = calibration_recent_.Ece();
  s.reference_ece = reference_ece_ >= 0 ? reference_ece_ : std::nan("");
  s.unlabelled_predictions = cbpe_.n;
  s.estimated_accuracy = cbpe_.EstimatedAccuracy();
  return s;
}

DriftSummary DriftMonitor::Summary(const std::string& version_id) const {
  DriftSummary s;
  s.version_id = version_id;
  s.predictions = total_;
  s.correct = correct_;
  s.window_predictions = binomial_.count();
  s.window_correct = binomial_.correct();
  s.calibration = calibration_total_.bins();
  s.unlabelled = cbpe_.n;
  s.cbpe_sum = cbpe_.sum;
  s.cbpe_variance = cbpe_.variance;
  s.detector_alarms = detector_alarms_;
  s.alerts = total_alerts_;
  s.max_severity = max_severity_;
  s.sites_with_data_drift = data_drift_reported_ ? 1 : 0;
  s.max_psi = max_psi_;
  s.sites = 1;
  return s;
}

}  // namespace cls::drift
