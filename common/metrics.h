#ifndef CLS_COMMON_METRICS_H_
#define CLS_COMMON_METRICS_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cls::metrics {

// Prometheus metrics, written by hand: Debian 12 has no prometheus-cpp
// package, and the text exposition format (0.0.4) is small. Updates are
// lock-free atomics (the daemons' io threads update them); only a scrape,
// on the metrics server's thread, takes the registry's lock.

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(double by = 1) { value_.fetch_add(by); }
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value); }
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets with the given upper bounds (ascending; +Inf is
// implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), then +Inf
  double sum_ = 0;
};

// Owns every metric of a process. A name is one family (one HELP and TYPE);
// each label set of it one series. The references handed out stay valid
// for the registry's life. Adding the same name and labels twice returns
// the same metric; the same name with another type is a programming error
// (aborts).
class Registry {
 public:
  Counter& AddCounter(const std::string& name, const std::string& help,
                      const Labels& labels = {});
  Gauge& AddGauge(const std::string& name, const std::string& help,
                  const Labels& labels = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& upper_bounds,
                          const Labels& labels = {});

  // The text exposition format, families in name order.
  std::string Exposition() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series& FindOrAdd(const std::string& name, const std::string& help, Type type,
                    const Labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// `cls_build_info{version, revision} 1`, from common/version.h.
void AddBuildInfo(Registry& registry);

// "0.005", "1e+06", "+Inf": Prometheus' float text.
std::string FormatValue(double value);

}  // namespace cls::metrics

#endif  // CLS_COMMON_METRICS_H_
