#ifndef CLS_SITE_AGENT_INPUT_DRIFT_H_
#define CLS_SITE_AGENT_INPUT_DRIFT_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/dataset.h"

namespace cls::site {

// [serve] input_drift_window / input_drift_interval_s (docs/drift.md "Data
// drift at the sites").
struct InputDriftOptions {
  size_t window = 500;       // raw rows kept per version; 0 = off
  int64_t interval_s = 300;  // assess at least this often
  size_t min_rows = 30;      // DataDriftConfig::min_samples: fewer, not judged
};

// The recent served inputs of each deployed version, for the site's data
// drift test: a sliding window of the last `window` raw feature rows per
// version (the rows as the request gave them, before imputation and
// standardisation), in memory only, never logged nor written anywhere. A
// window is due for an assessment when `window` new rows arrived since its
// last one (it filled again), or when interval_s passed and at least
// min_rows new rows did; the assessment sees the whole window, so rows are
// assessed at most once per fill and each due window yields one report.
// Not thread-safe: the PredictionService calls it under its lock.
class InputDriftTracker {
 public:
  explicit InputDriftTracker(InputDriftOptions options);

  bool enabled() const { return options_.window > 0; }
  // A row served (or scored in shadow) by `version` at now_s.
  void Record(const std::string& version, const std::vector<double>& row,
              int64_t now_s);
  // The windows due at now_s, copied out (the caller assesses them without
  // holding its lock); their counters restart.
  std::vector<std::pair<std::string, core::RawTable>> TakeDue(int64_t now_s);
  // Forgets the windows of versions no longer deployed.
  void Retain(const std::vector<std::string>& versions);
  size_t rows(const std::string& version) const;

 private:
  struct Window {
    std::vector<std::vector<double>> rows;  // ring of at most options_.window
    size_t next = 0;
    size_t fresh = 0;  // rows since the last assessment
    int64_t last_assessed_s = 0;
  };
  InputDriftOptions options_;
  std::map<std::string, Window> windows_;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_INPUT_DRIFT_H_
