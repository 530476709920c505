#include "core/drift/drift_summary.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace cls::drift {
namespace {

using nlohmann::json;

constexpr size_t kMaxBins = 1000;
constexpr size_t kMaxDetectors = 100;
constexpr size_t kMaxNameLength = 128;

Result<int64_t> Count(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return InvalidArgument(std::string("drift summary: '") + key +
                           "' missing or not an integer");
  }
  const int64_t v = it->get<int64_t>();
  if (v < 0) {
    return InvalidArgument(std::string("drift summary: '") + key +
                           "' is negative");
  }
  return v;
}

Result<double> NonNegative(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) {
    return InvalidArgument(std::string("drift summary: '") + key +
                           "' missing or not a number");
  }
  const double v = it->get<double>();
  if (!(v >= 0) || std::isinf(v)) {
    return InvalidArgument(std::string("drift summary: '") + key +
                           "' is negative or not finite");
  }
  return v;
}

}  // namespace

double DriftSummary::Accuracy() const {
  return predictions > 0
             ? static_cast<double>(correct) / static_cast<double>(predictions)
             : std::nan("");
}

double DriftSummary::Ece() const {
  int64_t n = 0;
  for (const auto& b : calibration) n += b.n;
  if (n == 0) return 0.0;
  // sum_b (n_b / n) |correct_b / n_b - sum_conf_b / n_b|
  double ece = 0;
  for (const auto& b : calibration) {
    ece += std::abs(static_cast<double>(b.correct) - b.sum_confidence);
  }
  return ece / static_cast<double>(n);
}

double DriftSummary::CbpeAccuracy() const {
  return unlabelled > 0 ? cbpe_sum / static_cast<double>(unlabelled)
                        : std::nan("");
}

std::string SerializeDriftSummary(const DriftSummary& s) {
  json j;
  j["version_id"] = s.version_id;
  j["predictions"] = s.predictions;
  j["correct"] = s.correct;
  j["window_predictions"] = s.window_predictions;
  j["window_correct"] = s.window_correct;
  json bins = json::array();
  for (const auto& b : s.calibration) {
    bins.push_back(json::array({b.n, b.sum_confidence, b.correct}));
  }
  j["calibration"] = bins;
  j["unlabelled"] = s.unlabelled;
  j["cbpe_sum"] = s.cbpe_sum;
  j["cbpe_variance"] = s.cbpe_variance;
  j["detector_alarms"] = s.detector_alarms;
  j["alerts"] = s.alerts;
  j["max_severity"] = s.max_severity;
  j["sites_with_data_drift"] = s.sites_with_data_drift;
  j["max_psi"] = s.max_psi;
  j["sites"] = s.sites;
  return j.dump();
}

Result<DriftSummary> ParseDriftSummary(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("drift summary: not JSON");
  if (!j.is_object()) return InvalidArgument("drift summary: not an object");
  DriftSummary s;
  const auto vid = j.find("version_id");
  if (vid == j.end() || !vid->is_string() ||
      vid->get_ref<const std::string&>().empty() ||
      vid->get_ref<const std::string&>().size() > kMaxNameLength) {
    return InvalidArgument("drift summary: 'version_id' missing or invalid");
  }
  s.version_id = vid->get<std::string>();
  struct {
    const char* key;
    int64_t* field;
  } counts[] = {{"predictions", &s.predictions},
                {"correct", &s.correct},
                {"window_predictions", &s.window_predictions},
                {"window_correct", &s.window_correct},
                {"unlabelled", &s.unlabelled},
                {"alerts", &s.alerts},
                {"sites_with_data_drift", &s.sites_with_data_drift},
                {"sites", &s.sites}};
  for (const auto& c : counts) {
    auto v = Count(j, c.key);
    if (!v) return std::unexpected(v.error());
    *c.field = *v;
  }
  struct {
    const char* key;
    double* field;
  } reals[] = {{"cbpe_sum", &s.cbpe_sum},
               {"cbpe_variance", &s.cbpe_variance},
               {"max_severity", &s.max_severity},
               {"max_psi", &s.max_psi}};
  for (const auto& r : reals) {
    auto v = NonNegative(j, r.key);
    if (!v) return std::unexpected(v.error());
    *r.field = *v;
  }
  if (s.correct > s.predictions) {
    return InvalidArgument("drift summary: correct > predictions");
  }
  if (s.window_correct > s.window_predictions ||
      s.window_predictions > s.predictions) {
    return InvalidArgument("drift summary: window counts inconsistent");
  }
  if (s.max_severity > 1) {
    return InvalidArgument("drift summary: max_severity above 1");
  }
  if (s.cbpe_sum > static_cast<double>(s.unlabelled) * (1 + 1e-9)) {
    return InvalidArgument("drift summary: cbpe_sum above unlabelled");
  }
  if (s.sites < 1) return InvalidArgument("drift summary: 'sites' is 0");
  const auto bins = j.find("calibration");
  if (bins == j.end() || !bins->is_array() || bins->size() > kMaxBins) {
    return InvalidArgument("drift summary: 'calibration' missing or too long");
  }
  int64_t binned = 0;
  for (const json& b : *bins) {
    if (!b.is_array() || b.size() != 3 || !b[0].is_number_integer() ||
        !b[1].is_number() || !b[2].is_number_integer()) {
      return InvalidArgument("drift summary: calibration bin malformed");
    }
    CalibrationBin cb{b[0].get<int64_t>(), b[1].get<double>(),
                      b[2].get<int64_t>()};
    if (cb.n < 0 || cb.correct < 0 || cb.correct > cb.n ||
        !(cb.sum_confidence >= 0) ||
        cb.sum_confidence > static_cast<double>(cb.n) * (1 + 1e-9)) {
      return InvalidArgument("drift summary: calibration bin inconsistent");
    }
    binned += cb.n;
    s.calibration.push_back(cb);
  }
  if (binned > s.predictions) {
    return InvalidArgument(
        "drift summary: calibration counts above "
        "predictions");
  }
  const auto alarms = j.find("detector_alarms");
  if (alarms == j.end() || !alarms->is_object() ||
      alarms->size() > kMaxDetectors) {
    return InvalidArgument("drift summary: 'detector_alarms' invalid");
  }
  for (const auto& [name, v] : alarms->items()) {
    if (name.empty() || name.size() > kMaxNameLength ||
        !v.is_number_integer() || v.get<int64_t>() < 0) {
      return InvalidArgument("drift summary: detector alarm count invalid");
    }
    s.detector_alarms[name] = v.get<int64_t>();
  }
  return s;
}

Result<DriftSummary> MergeDriftSummaries(std::span<const DriftSummary> parts) {
  if (parts.empty()) return InvalidArgument("drift summary: nothing to merge");
  DriftSummary out;
  out.version_id = parts[0].version_id;
  out.calibration.resize(parts[0].calibration.size());
  out.sites = 0;
  for (const DriftSummary& p : parts) {
    if (p.version_id != out.version_id) {
      return InvalidArgument("drift summary: versions '" + out.version_id +
                             "' and '" + p.version_id + "' mixed");
    }
    if (p.calibration.size() != out.calibration.size()) {
      return InvalidArgument("drift summary: calibration bin counts differ");
    }
    out.predictions += p.predictions;
    out.correct += p.correct;
    out.window_predictions += p.window_predictions;
    out.window_correct += p.window_correct;
    for (size_t i = 0; i < p.calibration.size(); ++i) {
      out.calibration[i].n += p.calibration[i].n;
      out.calibration[i].sum_confidence += p.calibration[i].sum_confidence;
      out.calibration[i].correct += p.calibration[i].correct;
    }
    out.unlabelled += p.unlabelled;
    out.cbpe_sum += p.cbpe_sum;
    out.cbpe_variance += p.cbpe_variance;
    for (const auto& [name, n] : p.detector_alarms) {
      out.detector_alarms[name] += n;
    }
    out.alerts += p.alerts;
    out.max_severity = std::max(out.max_severity, p.max_severity);
    out.sites_with_data_drift += p.sites_with_data_drift;
    out.max_psi = std::max(out.max_psi, p.max_psi);
    out.sites += p.sites;
  }
  return out;
}

}  // namespace cls::drift
