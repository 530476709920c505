#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/version.h"

namespace cls::metrics {
namespace {

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",le="0.5"}`, or "" without labels.
std::string LabelText(
    const Labels& labels,
    const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::pair<std::string, std::string>& label) {
    if (!first) out += ",";
    first = false;
    out += label.first + "=\"" + EscapeLabelValue(label.second) + "\"";
  };
  for (const auto& label : labels) add(label);
  if (extra != nullptr) add(*extra);
  return out + "}";
}

const char* TypeName(int type) {
  switch (type) {
    case 0:
      return "counter";
    case 1:
      return "gauge";
    default:
      return "histogram";
  }
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  // Counts (bytes, rounds) print whole, as scrapers' users read them.
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
  }
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  // Round-trips exactly, but prints 0.1 as 0.10000000000000001: try shorter.
  for (int digits = 6; digits < 17; ++digits) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", digits, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return buffer;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
      upper_bounds_.begin();
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  std::lock_guard lock(mutex_);
  uint64_t running = 0;
  for (uint64_t count : counts_) {
    running += count;
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_;
  return snapshot;
}

Registry::Series& Registry::FindOrAdd(const std::string& name,
                                      const std::string& help, Type type,
                                      const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto [it, added] = families_.try_emplace(name, Family{type, help, {}});
  Family& family = it->second;
  if (!added && family.type != type) {
    std::fprintf(stderr, "metrics: %s registered with two types\n",
                 name.c_str());
    std::abort();
  }
  for (auto& series : family.series) {
    if (series->labels == labels) return *series;
  }
  family.series.push_back(std::make_unique<Series>());
  family.series.back()->labels = labels;
  return *family.series.back();
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  Series& series = FindOrAdd(name, help, Type::kCounter, labels);
  std::lock_guard lock(mutex_);
  if (!series.counter) series.counter = std::make_unique<Counter>();
  return *series.counter;
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help,
                          const Labels& labels) {
  Series& series = FindOrAdd(name, help, Type::kGauge, labels);
  std::lock_guard lock(mutex_);
  if (!series.gauge) series.gauge = std::make_unique<Gauge>();
  return *series.gauge;
}

Histogram& Registry::AddHistogram(const std::string& name,
                                  const std::string& help,
                                  const std::vector<double>& upper_bounds,
                                  const Labels& labels) {
  Series& series = FindOrAdd(name, help, Type::kHistogram, labels);
  std::lock_guard lock(mutex_);
  if (!series.histogram) {
    series.histogram = std::make_unique<Histogram>(upper_bounds);
  }
  return *series.histogram;
}

std::string Registry::Exposition() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + EscapeHelp(family.help) + "\n";
    out +=
        "# TYPE " + name + " " + TypeName(static_cast<int>(family.type)) + "\n";
    for (const auto& series : family.series) {
      if (series->counter) {
        out += name + LabelText(series->labels) + " " +
               FormatValue(series->counter->value()) + "\n";
      } else if (series->gauge) {
        out += name + LabelText(series->labels) + " " +
               FormatValue(series->gauge->value()) + "\n";
      } else if (series->histogram) {
        const Histogram::Snapshot h = series->histogram->Read();
        for (size_t i = 0; i < h.cumulative_counts.size(); ++i) {
          const std::pair<std::string, std::string> le{
              "le", i < h.upper_bounds.size() ? FormatValue(h.upper_bounds[i])
                                              : "+Inf"};
          out += name + "_bucket" + LabelText(series->labels, &le) + " " +
                 std::to_string(h.cumulative_counts[i]) + "\n";
        }
        out += name + "_sum" + LabelText(series->labels) + " " +
               FormatValue(h.sum) + "\n";
        out += name + "_count" + LabelText(series->labels) + " " +
               std::to_string(h.cumulative_counts.back()) + "\n";
      }
    }
  }
  return out;
}

void AddBuildInfo(Registry& registry) {
  registry
      .AddGauge("cls_build_info",
                "The running binary's version and git revision (always 1)",
                {{"version", std::string(ProjectVersion())},
                 {"revision", std::string(GitRevision())}})
      .Set(1);
}

}  // namespace cls::metrics
