#include "site-agent/input_drift.h"

#include <algorithm>

namespace cls::site {

InputDriftTracker::InputDriftTracker(InputDriftOptions options)
    : options_(options) {}

void InputDriftTracker::Record(const std::string& version,
                               const std::vector<double>& row, int64_t now_s) {
  if (!enabled()) return;
  auto [it, inserted] = windows_.try_emplace(version);
  Window& w = it->second;
  // The interval counts from the first row a version served here.
  if (inserted) w.last_assessed_s = now_s;
  if (w.rows.size() < options_.window) {
    w.rows.push_back(row);
  } else {
    w.rows[w.next] = row;
  }
  w.next = (w.next + 1) % options_.window;
  ++w.fresh;
}

std::vector<std::pair<std::string, core::RawTable>> InputDriftTracker::TakeDue(
    int64_t now_s) {
  std::vector<std::pair<std::string, core::RawTable>> due;
  for (auto& [version, w] : windows_) {
    const bool filled = w.fresh >= options_.window;
    const bool periodic = now_s - w.last_assessed_s >= options_.interval_s &&
                          w.fresh >= options_.min_rows;
    if (!filled && !periodic) continue;
    core::RawTable table;
    table.rows = w.rows;
    table.labels.assign(w.rows.size(), 0);  // unused by the drift test
    due.emplace_back(version, std::move(table));
    w.fresh = 0;
    w.last_assessed_s = now_s;
  }
  return due;
}

void InputDriftTracker::Retain(const std::vector<std::string>& versions) {
  std::erase_if(windows_, [&](const auto& entry) {
    return std::find(versions.begin(), versions.end(), entry.first) ==
           versions.end();
  });
}

size_t InputDriftTracker::rows(const std::string& version) const {
  auto it = windows_.find(version);
  return it == windows_.end() ? 0 : it->second.rows.size();
}

}  // namespace cls::site
