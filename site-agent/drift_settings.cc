#include "site-agent/drift_settings.h"

#include <cmath>

namespace cls::site {
namespace {

using nlohmann::json;

Status Check(const DriftSettings& s) {
  const double t = s.performance_threshold;
  if (!std::isfinite(t) || (t != 0 && !(t > 0 && t < 1))) {
    return InvalidArgument(
        "drift performance_threshold must be in (0, 1) (0 = the site's "
        "default)");
  }
  if (s.window_size != 0 && (s.window_size < 10 || s.window_size > 1'000'000)) {
    return InvalidArgument(
        "drift window_size must be in [10, 1000000] (0 = the site's default)");
  }
  for (double b : {s.current_baseline, s.candidate_baseline}) {
    if (!std::isfinite(b) || (b >= 0 && b > 1)) {
      return InvalidArgument(
          "drift baseline must be in [0, 1] (negative = none)");
    }
  }
  return {};
}

}  // namespace

Result<DriftSettings> DriftSettingsFromUpdate(
    const protocol::DeploymentUpdate& update) {
  if (update.drift_window_size > 1'000'000) {
    return InvalidArgument("drift window_size must be in [10, 1000000]");
  }
  DriftSettings s{
      update.drift_performance_threshold,
      static_cast<int>(update.drift_window_size),
      update.current_baseline < 0 ? -1 : update.current_baseline,
      update.candidate_baseline < 0 ? -1 : update.candidate_baseline};
  if (auto c = Check(s); !c) return std::unexpected(c.error());
  return s;
}

json DriftSettingsJson(const DriftSettings& s) {
  return {{"performance_threshold", s.performance_threshold},
          {"window_size", s.window_size},
          {"current_baseline", s.current_baseline},
          {"candidate_baseline", s.candidate_baseline}};
}

Result<DriftSettings> DriftSettingsFromJson(const json& j) {
  if (j.is_null()) return DriftSettings{};
  if (!j.is_object()) return DataLoss("deployment file: malformed 'drift'");
  for (const char* key : {"performance_threshold", "window_size",
                          "current_baseline", "candidate_baseline"}) {
    if (!j.contains(key) || !j[key].is_number()) {
      return DataLoss(std::string("deployment file: missing or bad 'drift.") +
                      key + "'");
    }
  }
  if (!j["window_size"].is_number_integer()) {
    return DataLoss("deployment file: bad 'drift.window_size'");
  }
  DriftSettings s{j["performance_threshold"].get<double>(),
                  j["window_size"].get<int>(),
                  j["current_baseline"].get<double>(),
                  j["candidate_baseline"].get<double>()};
  if (auto c = Check(s); !c) {
    return DataLoss("deployment file: " + c.error().message);
  }
  return s;
}

VersionDriftConfig ConfigForVersion(const drift::DriftMonitorConfig& base,
                                    const DriftSettings& settings,
                                    bool is_candidate) {
  VersionDriftConfig out{base, -1};
  if (settings.performance_threshold > 0) {
    out.monitor.performance_threshold = settings.performance_threshold;
  }
  if (settings.window_size > 0) out.monitor.window_size = settings.window_size;
  out.baseline =
      is_candidate ? settings.candidate_baseline : settings.current_baseline;
  return out;
}

}  // namespace cls::site
