// Online learning benchmark: one OnlineLearningSystem::IncrementalUpdate of
// 1,000 samples x 100 features (batch 32, one pass, elastic anchor active,
// no rehearsal) on a fresh system each run; prequential scoring, the SGD
// pass, holdout bookkeeping and reservoir insertion are all inside the timer.
// Prints one JSON line (see scripts/bench.sh):
//   online.update_1000x100_ms  median of 50 runs
// Peer, measured in the same run: scikit-learn SGDClassifier.partial_fit
// (log loss, constant learning rate, per-sample SGD: sklearn has no
// mini-batch option) on a float64 1,000 x 100 array, median of 50 runs.
// Peer fields are omitted when no python3 with sklearn is found.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/elastic_anchor.h"
#include "core/online_learning.h"

namespace {

constexpr int kSamples = 1000;
constexpr int kFeatures = 100;
constexpr int kBatch = 32;
constexpr int kRuns = 50;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

constexpr const char* kPeerScript = R"PY(
import statistics, sys, time
import numpy as np
from sklearn.linear_model import SGDClassifier
rng = np.random.default_rng(1)
X = rng.standard_normal((1000, 100))
w = rng.standard_normal(100)
y = (X @ w + 0.5 * rng.standard_normal(1000) > 0).astype(np.int64)
times = []
for r in range(50):
    c = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.001,
                      alpha=0.0, random_state=r)
    t = time.perf_counter()
    c.partial_fit(X, y, classes=np.array([0, 1]))
    times.append((time.perf_counter() - t) * 1000)
print(statistics.median(times))
)PY";

// Runs the peer script with the first interpreter that has sklearn.
std::optional<double> PeerMs() {
  const std::string script_path = "/tmp/cls_online_bench_peer.py";
  FILE* f = std::fopen(script_path.c_str(), "w");
  if (!f) return std::nullopt;
  std::fputs(kPeerScript, f);
  std::fclose(f);
  std::optional<double> result;
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    const std::string cmd =
        std::string(python) + " " + script_path + " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) continue;
    char buf[128] = {};
    const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
    const int rc = pclose(p);
    if (got && rc == 0) {
      char* end = nullptr;
      const double v = std::strtod(buf, &end);
      if (end != buf) {
        result = v;
        break;
      }
    }
  }
  std::remove(script_path.c_str());
  return result;
}

// Serving: one request (PredictOne on a 100-feature row, median over
// blocks of 10,000 calls), and batch throughput (PredictProbability on
// 10,000 x 100).
void PrintPredictionBenchmarks(const Eigen::MatrixXf& x) {
  cls::core::LogisticRegression model(kFeatures);
  std::vector<float> params(kFeatures + 1);
  for (int j = 0; j <= kFeatures; ++j) params[j] = 0.01f * (j % 7 - 3);
  (void)model.SetParameters(params);
  // Rows as contiguous requests.
  std::vector<std::vector<float>> rows(kSamples);
  for (int i = 0; i < kSamples; ++i) {
    rows[i].resize(kFeatures);
    for (int j = 0; j < kFeatures; ++j) rows[i][j] = x(i, j);
  }
  std::vector<double> per_call_ns;
  double sink = 0;
  for (int block = 0; block < 21; ++block) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < 10000; ++k)
      sink += model.PredictOne(rows[k % kSamples]);
    const auto t1 = std::chrono::steady_clock::now();
    per_call_ns.push_back(
        std::chrono::duration<double, std::nano>(t1 - t0).count() / 10000);
  }
  Eigen::MatrixXf big(10000, kFeatures);
  for (int i = 0; i < 10000; ++i) big.row(i) = x.row(i % kSamples);
  std::vector<double> batch_rps;
  for (int r = 0; r < 21; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    sink += model.PredictProbability(big).sum();
    const auto t1 = std::chrono::steady_clock::now();
    batch_rps.push_back(10000 / std::chrono::duration<double>(t1 - t0).count());
  }
  nlohmann::json single = {
      {"name", "predict.single_ns"},
      {"value", Median(per_call_ns)},
      {"unit", "ns"},
      {"params",
       {{"features", kFeatures},
        {"measure", "median over 21 blocks of 10,000 PredictOne calls"},
        {"checksum", sink}}}};
  nlohmann::json batch = {
      {"name", "predict.batch_rows_per_s"},
      {"value", Median(batch_rps)},
      {"unit", "rows/s"},
      {"params",
       {{"features", kFeatures},
        {"batch_rows", 10000},
        {"measure", "median of 21 PredictProbability calls on 10,000 rows"}}}};
  std::printf("%s\n%s\n", single.dump().c_str(), batch.dump().c_str());
}

}  // namespace

int main() {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Eigen::MatrixXf x(kSamples, kFeatures);
  Eigen::VectorXf w(kFeatures);
  for (int j = 0; j < kFeatures; ++j) w(j) = normal(rng);
  Eigen::VectorXf y(kSamples);
  for (int i = 0; i < kSamples; ++i) {
    for (int j = 0; j < kFeatures; ++j) x(i, j) = normal(rng);
    y(i) = x.row(i).dot(w) + 0.5f * normal(rng) > 0 ? 1.0f : 0.0f;
  }

  cls::core::OnlineLearningConfig cfg;  // guide defaults: lr 0.001, r 0.9
  cfg.batch_size = kBatch;
  cfg.epochs_per_update = 1;
  std::vector<double> times_ms;
  double checksum = 0;
  for (int run = 0; run < kRuns; ++run) {
    cfg.seed = static_cast<uint64_t>(run) + 1;
    auto sys = cls::core::OnlineLearningSystem::Create(kFeatures, cfg);
    if (!sys) {
      std::fprintf(stderr, "online_bench: %s\n",
                   sys.error().ToString().c_str());
      return 1;
    }
    // Deployed model: zero weights, unit Fisher, so the anchor is active.
    const std::vector<float> params(kFeatures + 1, 0.0f);
    const std::vector<float> fisher(kFeatures + 1, 1.0f);
    if (!sys->Deploy(params, fisher)) return 1;
    const auto t0 = std::chrono::steady_clock::now();
    auto u = sys->IncrementalUpdate(x, y);
    const auto t1 = std::chrono::steady_clock::now();
    if (!u) {
      std::fprintf(stderr, "online_bench: %s\n", u.error().ToString().c_str());
      return 1;
    }
    checksum += u->training_loss;
    times_ms.push_back(
        std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  nlohmann::json out = {
      {"name", "online.update_1000x100_ms"},
      {"value", Median(times_ms)},
      {"unit", "ms"},
      {"params",
       {{"samples", kSamples},
        {"features", kFeatures},
        {"batch_size", kBatch},
        {"epochs", 1},
        {"runs", kRuns},
        {"learning_rate", cfg.learning_rate},
        {"retention_rate", cfg.retention_rate},
        {"rehearsal_samples", cfg.rehearsal_samples},
        {"min_ms", *std::min_element(times_ms.begin(), times_ms.end())},
        {"max_ms", *std::max_element(times_ms.begin(), times_ms.end())},
        {"mean_training_loss", checksum / kRuns},
        {"measure",
         "median of 50 IncrementalUpdate calls on fresh systems: prequential "
         "scoring + one SGD pass + holdout and reservoir bookkeeping"}}}};
  if (const auto peer = PeerMs()) {
    out["peer"] = "sklearn SGDClassifier.partial_fit";
    out["peer_value"] = *peer;
    out["params"]["peer_note"] =
        "1000x100 float64, log_loss, constant eta0 0.001, alpha 0, one pass "
        "of per-sample SGD (no mini-batch option), median of 50 runs";
  }
  std::printf("%s\n", out.dump().c_str());
  PrintPredictionBenchmarks(x);
  return 0;
}
