// Drift detection and routing benchmark (issue 5). One JSON line each on
// stdout (see scripts/bench.sh); progress on stderr.
//   drift.record_ns          DriftMonitor::RecordPrediction with every
//                            performance detector and calibration on,
//                            amortised over 2,000,000 predictions, median of
//                            5 runs (target 1,000 ns)
//   route.decide_ns          Deployment::Route (SipHash-2-4 bucket of an
//                            encounter id, gradual rollout at 10%), median
//                            of 5 runs over 1,000,000 keys (target 1,000 ns)
//   drift.false_alarms.<d>   alarms of detector d on 1,000,000 stationary
//                            Bernoulli predictions at 85% accuracy
//   drift.delay_median.<d>,  detection delay (predictions after the change)
//   drift.delay_p95.<d>      over 100 runs of 5,000 at 90% then 75%
// Detectors: windowed_binomial (window 100, threshold 0.05, alpha 1e-3),
// adwin (delta 0.002), ddm, eddm, page_hinkley (River defaults), and the
// whole monitor (its alerts, after the one-change-one-alert cooldown).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/drift/adwin.h"
#include "core/drift/ddm.h"
#include "core/drift/drift_monitor.h"
#include "core/drift/eddm.h"
#include "core/drift/page_hinkley.h"
#include "core/drift/windowed_binomial.h"
#include "core/rollout/deployment.h"

namespace {

using cls::drift::DetectorSignal;
using nlohmann::json;

constexpr int kRuns = 5;
constexpr int kStationary = 1'000'000;
constexpr int kDelayRuns = 100;
constexpr int kBefore = 5000;
constexpr int kAfterMax = 20000;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i =
      std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * v.size())) - 1);
  return v[i];
}

void Emit(const std::string& name, double value, const char* unit,
          json params) {
  json j{{"name", name}, {"value", value}, {"unit", unit}, {"params", params}};
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

std::vector<uint8_t> Outcomes(uint64_t seed, int n, double accuracy) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u;
  std::vector<uint8_t> out(static_cast<size_t>(n));
  for (auto& x : out) x = u(rng) < accuracy;
  return out;
}

// A fresh detector as "feed is_correct, say whether it alarmed".
using Detector = std::function<bool(bool)>;
struct Named {
  const char* name;
  std::function<Detector(double baseline)> make;
};

std::vector<Named> Detectors() {
  using namespace cls::drift;
  return {
      {"windowed_binomial",
       [](double baseline) -> Detector {
         auto t = std::make_shared<WindowedBinomialTest>(
             *WindowedBinomialTest::Create({}));
         (void)t->SetBaseline(baseline);
         return [t](bool c) { return t->Update(c); };
       }},
      {"adwin",
       [](double) -> Detector {
         auto a = std::make_shared<Adwin>(*Adwin::Create({}));
         // An alarm is a cut with the newer part less accurate.
         return [a](bool c) {
           return a->Update(c ? 1.0 : 0.0) &&
                  a->cut_new_mean() < a->cut_old_mean();
         };
       }},
      {"ddm",
       [](double) -> Detector {
         auto d = std::make_shared<Ddm>(*Ddm::Create({}));
         return [d](bool c) { return d->Update(!c) == DetectorSignal::kDrift; };
       }},
      {"eddm",
       [](double) -> Detector {
         auto d = std::make_shared<Eddm>(*Eddm::Create({}));
         return [d](bool c) { return d->Update(!c) == DetectorSignal::kDrift; };
       }},
      {"page_hinkley",
       [](double) -> Detector {
         auto p = std::make_shared<PageHinkley>(*PageHinkley::Create({}));
         return [p](bool c) { return p->Update(c ? 0.0 : 1.0); };
       }},
      {"monitor",
       [](double baseline) -> Detector {
         auto m = std::make_shared<DriftMonitor>(*DriftMonitor::Create({}));
         (void)m->SetBaseline(baseline);
         return [m](bool c) {
           auto a = m->RecordPrediction(c ? 0.85 : 0.80, c, 0);
           return a.has_value() && a->has_value() &&
                  (*a)->drift_type != DriftType::kCalibration;
         };
       }},
  };
}

void RecordBench() {
  const int n = 2'000'000;
  const auto outcomes = Outcomes(1, n, 0.85);
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> u(0.5, 1.0);
  std::vector<double> confidence(static_cast<size_t>(n));
  for (auto& c : confidence) c = u(rng);
  std::vector<double> ns;
  int64_t alerts = 0;
  for (int run = 0; run < kRuns; ++run) {
    auto m = cls::drift::DriftMonitor::Create({});
    (void)m->SetBaseline(0.85);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      auto a = m->RecordPrediction(confidence[static_cast<size_t>(i)],
                                   outcomes[static_cast<size_t>(i)] != 0, 0);
      if (a.has_value() && a->has_value()) ++alerts;
    }
    const auto t1 = std::chrono::steady_clock::now();
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / n);
  }
  Emit("drift.record_ns", Median(ns), "ns",
       {{"target", 1000},
        {"predictions", n},
        {"runs", kRuns},
        {"per_run", ns},
        {"detectors",
         {"windowed_binomial", "adwin", "ddm", "eddm", "page_hinkley",
          "calibration"}},
        {"window_size", 100},
        {"measure",
         "RecordPrediction (record + every drift check), median "
         "of runs"}});
}

void RouteBench() {
  auto d = cls::rollout::Deployment::Create("v1_20260101_000000");
  (void)d->Deploy("v2_20260201_000000",
                  cls::rollout::DeploymentStrategy::kGradualRollout,
                  "v2_20260201_000000/4f1c2a9e");
  const int n = 1'000'000;
  std::vector<std::string> keys;
  keys.reserve(n);
  char buf[32];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "ENC-%010lld",
                  static_cast<long long>(i) * 7919);
    keys.emplace_back(buf);
  }
  std::vector<double> ns;
  int64_t candidate = 0;
  for (int run = 0; run < kRuns; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const std::string& k : keys) {
      candidate += d->Route(k).serve == cls::rollout::Arm::kCandidate;
    }
    const auto t1 = std::chrono::steady_clock::now();
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / n);
  }
  Emit("route.decide_ns", Median(ns), "ns",
       {{"target", 1000},
        {"keys", n},
        {"runs", kRuns},
        {"per_run", ns},
        {"strategy", "gradual_rollout"},
        {"percentage", 10},
        {"candidate_share",
         static_cast<double>(candidate) / (static_cast<double>(n) * kRuns)},
        {"hash", "SipHash-2-4, key = SHA-256(salt)[0:16], 10,000 buckets"}});
}

void QualityBench() {
  const auto stationary = Outcomes(3, kStationary, 0.85);
  for (const Named& d : Detectors()) {
    std::fprintf(stderr, "drift_bench: %s false alarms\n", d.name);
    Detector det = d.make(0.85);
    int alarms = 0;
    for (uint8_t c : stationary) alarms += det(c != 0) ? 1 : 0;
    Emit(
        std::string("drift.false_alarms.") + d.name, alarms, "alarms",
        {{"predictions", kStationary}, {"accuracy", 0.85}, {"baseline", 0.85}});
  }
  for (const Named& d : Detectors()) {
    std::fprintf(stderr, "drift_bench: %s detection delay\n", d.name);
    std::vector<double> delays;
    int missed = 0, early = 0;
    for (int run = 0; run < kDelayRuns; ++run) {
      const auto before = Outcomes(1000 + run, kBefore, 0.90);
      const auto after = Outcomes(5000 + run, kAfterMax, 0.75);
      Detector det = d.make(0.90);
      for (uint8_t c : before) early += det(c != 0) ? 1 : 0;
      int delay = -1;
      for (int i = 0; i < kAfterMax; ++i) {
        if (det(after[static_cast<size_t>(i)] != 0)) {
          delay = i + 1;
          break;
        }
      }
      if (delay < 0) {
        ++missed;
      } else {
        delays.push_back(delay);
      }
    }
    json params{{"runs", kDelayRuns},      {"before", kBefore},
                {"accuracy_before", 0.90}, {"accuracy_after", 0.75},
                {"baseline", 0.90},        {"missed", missed},
                {"max_after", kAfterMax},  {"alarms_before_change", early}};
    if (delays.empty()) continue;
    Emit(std::string("drift.delay_median.") + d.name, Median(delays),
         "predictions", params);
    Emit(std::string("drift.delay_p95.") + d.name, Percentile(delays, 0.95),
         "predictions", params);
  }
}

}  // namespace

int main() {
  std::fprintf(stderr, "drift_bench: record_ns\n");
  RecordBench();
  std::fprintf(stderr, "drift_bench: route.decide_ns\n");
  RouteBench();
  QualityBench();
  return 0;
}
