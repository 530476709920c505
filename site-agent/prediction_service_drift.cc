// PredictionService's drift monitors: one per served version, made with the
// deployment's [drift] settings, fed by outcomes (prediction_service.cc) and
// by the site's test of its recent inputs against the training rows
// (AssessInputs; docs/drift.md "At the sites").
#include <spdlog/spdlog.h>

#include "core/drift/drift_alert.h"
#include "site-agent/prediction_service.h"

namespace cls::site {
namespace {

constexpr size_t kMaxPendingAlerts = 1000;

}  // namespace

Result<drift::DriftMonitor*> PredictionService::MonitorFor(
    const std::string& version_id) {
  DriftSettings settings;
  bool is_candidate = false;
  if (state_) {
    const ServingDeployment& d = state_->deployment();
    settings = d.drift;
    is_candidate = d.candidate && d.candidate->version_id == version_id;
    if (!is_candidate && d.current.version_id != version_id) {
      settings = {};  // no longer deployed: its baseline is unknown
    }
  }
  const VersionDriftConfig wanted =
      ConfigForVersion(options_.drift, settings, is_candidate);
  const AppliedDrift applied{wanted.monitor.performance_threshold,
                             wanted.monitor.window_size, wanted.baseline};
  auto it = monitors_.find(version_id);
  auto was = applied_drift_.find(version_id);
  const bool same_shape = it != monitors_.end() &&
                          was != applied_drift_.end() &&
                          was->second.threshold == applied.threshold &&
                          was->second.window == applied.window;
  if (!same_shape) {
    // A new threshold or window is a new monitor: its counts restart (the
    // coordinator starts a new comparison when a site's counts fall).
    auto monitor = drift::DriftMonitor::Create(wanted.monitor);
    if (!monitor) return std::unexpected(monitor.error());
    it = monitors_.insert_or_assign(version_id, std::move(*monitor)).first;
    applied_drift_[version_id] =
        AppliedDrift{applied.threshold, applied.window, -1};
    was = applied_drift_.find(version_id);
  }
  if (was->second.baseline != applied.baseline && applied.baseline >= 0) {
    if (auto s = it->second.SetBaseline(applied.baseline); !s) {
      return std::unexpected(s.error());
    }
    was->second.baseline = applied.baseline;
  }
  return &it->second;
}

void PredictionService::NoteAlert(const std::string& version_id,
                                  const drift::DriftAlert& alert,
                                  int64_t now_s) {
  const std::string type(drift::DriftTypeName(alert.drift_type));
  ++counters_[version_id].alerts[type];
  spdlog::warn("serve: drift alert for {}: {} severity {:.2f} ({})", version_id,
               type, alert.severity, alert.detector);
  // The site-local candidate's alerts stay here (it never leaves the site).
  if (pending_alerts_.size() < kMaxPendingAlerts &&
      version_id != kLocalCandidateVersion) {
    pending_alerts_.push_back(
        {version_id, type, alert.severity, alert.detector, now_s});
  }
}

int PredictionService::AssessInputs(int64_t now_s) {
  if (!options_.input_reference) return 0;
  std::vector<std::pair<std::string, core::RawTable>> due;
  {
    std::lock_guard lock(mu_);
    due = inputs_.TakeDue(now_s);
  }
  int assessed = 0;
  for (const auto& [version, table] : due) {
    // A few milliseconds for a few hundred rows: outside the lock, so
    // requests are not held up.
    auto report = options_.input_reference->Assess(table);
    if (!report) {
      spdlog::warn("serve: input drift test of {} failed: {}", version,
                   report.error().message);
      continue;
    }
    ++assessed;
    std::lock_guard lock(mu_);
    InputCounters& counters = input_counters_[version];
    ++counters.assessments;
    if (report->dataset_drift) ++counters.drifted;
    counters.max_psi = report->max_psi;
    // Feature names and statistics only, never a value.
    std::string drifted;
    for (const auto& f : report->features) {
      if (f.drifted) drifted += (drifted.empty() ? "" : ", ") + f.feature;
    }
    spdlog::info(
        "serve: inputs of {} tested: {} rows, {} drifted feature(s){}{}, max "
        "PSI {:.3f}",
        version, table.rows.size(), report->drifted_features,
        drifted.empty() ? "" : ": ", drifted, report->max_psi);
    auto monitor = MonitorFor(version);
    if (!monitor) {
      spdlog::warn("serve: drift monitor of {}: {}", version,
                   monitor.error().message);
      continue;
    }
    if (auto alert = (*monitor)->ObserveDataDrift(*report, now_s)) {
      NoteAlert(version, *alert, now_s);
    }
  }
  return assessed;
}

}  // namespace cls::site
