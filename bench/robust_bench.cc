// robust_bench: each robust aggregation rule (core/robust/robust_rules.h) on
// 10 and 100 contributions of 1,000,000 parameters, single thread. One JSON
// line per rule and size on stdout:
//   {"name": "robust.<rule>_<n>x1M_ms", "value": <median ms>, "unit": "ms",
//    "params": {...}}
// robust.trimmed_mean_10x1M_ms carries "target": 100. Contributions are
// honest-looking N(0, 0.01^2) vectors with 10% of them scaled by 100 (the
// rules' cost does not depend much on the values; Krum and centered clipping
// do not branch on them at all). Progress on stderr.
// Usage: robust_bench [--repeats N] [--quick] (--quick: 100,000 parameters).
// The value is the median wall time of N runs (default 5; at most 3 for 100
// contributions); params.cpu_ms is the thread's CPU time, which on a shared
// machine leaves out the time other processes held the core.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>

#include "core/robust/robust_rules.h"

namespace {

using cls::core::robust::RobustConfig;
using cls::core::robust::RobustRule;
using Clock = std::chrono::steady_clock;

// CPU time of this thread: on a shared machine wall time also counts the
// time other processes held the core.
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 +
         static_cast<double>(ts.tv_nsec) / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t k = v.size() / 2;
  return v.size() % 2 ? v[k] : 0.5 * (v[k - 1] + v[k]);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 5;
  size_t params = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeats" && i + 1 < argc) {
      const std::string_view v = argv[++i];
      if (std::from_chars(v.data(), v.data() + v.size(), repeats).ec !=
              std::errc{} ||
          repeats < 1) {
        std::cerr << "robust_bench: --repeats needs a positive integer\n";
        return 2;
      }
    } else if (arg == "--quick") {
      params = 100'000;
    } else {
      std::cerr << "usage: robust_bench [--repeats N] [--quick]\n";
      return 2;
    }
  }
  const std::string size_name = params == 1'000'000 ? "1M" : "100k";
  for (int n : {10, 100}) {
    std::cerr << "robust_bench: generating " << n << " x " << params << "\n";
    std::mt19937_64 rng(42);
    std::normal_distribution<float> normal(0.0f, 0.01f);
    std::vector<std::vector<float>> data(static_cast<size_t>(n),
                                         std::vector<float>(params));
    for (int i = 0; i < n; ++i) {
      const float scale = i < n / 10 ? 100.0f : 1.0f;
      for (float& v : data[static_cast<size_t>(i)]) v = scale * normal(rng);
    }
    std::vector<std::span<const float>> views(data.begin(), data.end());
    std::vector<double> weights(static_cast<size_t>(n), 1.0);
    struct Case {
      RobustConfig config;
      nlohmann::json settings;
    };
    std::vector<Case> cases;
    auto add = [&](RobustRule rule, nlohmann::json settings) {
      RobustConfig c;
      c.rule = rule;
      c.krum_f = n / 10;
      cases.push_back({c, std::move(settings)});
    };
    add(RobustRule::kMean, {});
    add(RobustRule::kCoordinateMedian, {});
    add(RobustRule::kTrimmedMean, {{"beta", 0.2}});
    add(RobustRule::kMultiKrum, {{"f", n / 10}, {"m", n - n / 10}});
    add(RobustRule::kCenteredClipping,
        {{"iterations", 3}, {"tau", "lower median"}, {"center", "median"}});
    add(RobustRule::kGeometricMedian,
        {{"smoothing", 1e-6}, {"tolerance", 1e-6}, {"max_iterations", 100}});
    for (const Case& c : cases) {
      const std::string rule(cls::core::robust::RobustRuleName(c.config.rule));
      std::cerr << "robust_bench: " << rule << ", " << n << " contributions\n";
      std::vector<double> ms, cpu_ms;
      // 100 x 1M runs take seconds each: three are enough for a median.
      const int runs = n >= 100 ? std::min(repeats, 3) : repeats;
      for (int r = 0; r < runs; ++r) {
        const double cpu_start = ThreadCpuMs();
        const auto start = Clock::now();
        auto result = cls::core::robust::Aggregate(c.config, views, weights);
        const auto stop = Clock::now();
        cpu_ms.push_back(ThreadCpuMs() - cpu_start);
        if (!result) {
          std::cerr << "robust_bench: " << result.error().ToString() << "\n";
          return 1;
        }
        ms.push_back(
            std::chrono::duration<double, std::milli>(stop - start).count());
      }
      nlohmann::json p = {
          {"contributions", n},
          {"parameters", params},
          {"repeats", runs},
          {"threads", 1},
          {"includes",
           "validation (finite check), the rule, "
           "distances and anomaly scores"},
          {"settings", c.settings},
          {"cpu_ms", std::round(Median(cpu_ms) * 100) / 100},
          {"min_ms",
           std::round(*std::min_element(ms.begin(), ms.end()) * 100) / 100}};
      if (c.config.rule == RobustRule::kTrimmedMean && n == 10) {
        p["target"] = 100;
      }
      nlohmann::json line = {
          {"name", "robust." + rule + "_" + std::to_string(n) + "x" +
                       size_name + "_ms"},
          {"value", std::round(Median(ms) * 100) / 100},
          {"unit", "ms"},
          {"params", p}};
      std::cout << line.dump() << std::endl;
    }
  }
  return 0;
}
