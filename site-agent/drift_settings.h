#ifndef CLS_SITE_AGENT_DRIFT_SETTINGS_H_
#define CLS_SITE_AGENT_DRIFT_SETTINGS_H_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "core/drift/drift_monitor.h"
#include "protocol/messages.h"

namespace cls::site {

// The coordinator's [drift] settings as a deployment carries them to the
// site (docs/drift.md "Settings from the coordinator"): the guide's
// ModelDriftDetector(performance_threshold, window_size) and set_baseline
// for each deployed version. 0 / < 0 mean "not set": the site's own
// defaults, no baseline.
struct DriftSettings {
  double performance_threshold = 0;  // 0 = the monitor's default (0.05)
  int window_size = 0;               // 0 = the monitor's default (100)
  double current_baseline = -1;      // < 0 = none
  double candidate_baseline = -1;    // < 0 = none
  bool operator==(const DriftSettings&) const = default;
};

// Checks the settings of a pushed deployment: threshold 0 (unset) or in
// (0, 1), window 0 (unset) or in [10, 1,000,000], each baseline < 0 (none)
// or in [0, 1]. InvalidArgument naming the field.
Result<DriftSettings> DriftSettingsFromUpdate(
    const protocol::DeploymentUpdate& update);

// deployment.json's "drift" object; absent (an older file) = no settings.
nlohmann::json DriftSettingsJson(const DriftSettings& settings);
Result<DriftSettings> DriftSettingsFromJson(const nlohmann::json& j);

// The monitor configuration of one version: `base` (the site's) with the
// coordinator's threshold and window when set; `baseline` is the version's
// baseline (< 0: none).
struct VersionDriftConfig {
  drift::DriftMonitorConfig monitor;
  double baseline = -1;
};
VersionDriftConfig ConfigForVersion(const drift::DriftMonitorConfig& base,
                                    const DriftSettings& settings,
                                    bool is_candidate);

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_DRIFT_SETTINGS_H_
