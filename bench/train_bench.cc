// train_bench: training speed and the cost of DP-SGD. One JSON object per
// line on stdout, progress on stderr.
//   train.softmax_epoch_ms, train.mlp_epoch_ms: one epoch (batch 32) on a
//     seeded synthetic 10,000 x 100, 10-class set, with scikit-learn's
//     SGDClassifier (log loss) / MLPClassifier (same hidden size, plain
//     SGD, batch 32, one epoch) on the same data as peer_value
//     (bench/train_peer.py under /usr/bin/python3; skipped without sklearn).
//   train.softmax_dp_sgd_epoch_ms, train.mlp_dp_sgd_epoch_ms: the same epoch
//     with DP-SGD (Poisson sampling, per-example clipping, noise); peer_value
//     is our plain epoch, params.overhead the ratio.
//   heart.dp_sgd.acc_eps{1,3,8}, heart.dp_sgd.acc_plain: held-out accuracy
//     of pooled logistic regression on the UCI heart-disease data with the
//     noise multiplier calibrated (RDP accountant) to reach each epsilon at
//     delta 1e-5 after the chosen epochs and batch; mean over seeds.

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/dp_sgd.h"
#include "core/heart_disease_schema.h"
#include "core/logistic_regression.h"
#include "core/mlp.h"
#include "core/privacy/calibration.h"
#include "core/softmax_regression.h"

namespace {

using Json = nlohmann::json;
using cls::core::TrainConfig;

constexpr int kRows = 10000;
constexpr int kFeatures = 100;
constexpr int kClasses = 10;
constexpr int kHidden = 64;
constexpr int kBatch = 32;
constexpr int kRuns = 7;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <typename F>
double MedianMs(F&& run) {
  std::vector<double> ms;
  for (int r = 0; r < kRuns; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run(r);
    const auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return Median(ms);
}

// Ten Gaussian class centres in 100 dimensions, unit noise.
void MakeData(Eigen::MatrixXf& x, Eigen::VectorXi& y) {
  std::mt19937_64 rng(14);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Eigen::MatrixXf centres(kClasses, kFeatures);
  for (int c = 0; c < kClasses; ++c)
    for (int j = 0; j < kFeatures; ++j) centres(c, j) = 0.3f * normal(rng);
  x.resize(kRows, kFeatures);
  y.resize(kRows);
  for (int i = 0; i < kRows; ++i) {
    y(i) = static_cast<int>(rng() % kClasses);
    for (int j = 0; j < kFeatures; ++j)
      x(i, j) = centres(y(i), j) + normal(rng);
  }
}

// The peer's medians, or nullopt when Debian's python3 or sklearn is absent.
std::optional<Json> RunPeer(const Eigen::MatrixXf& x,
                            const Eigen::VectorXi& y) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const auto px = dir / "cls_train_bench_x.f32";
  const auto py = dir / "cls_train_bench_y.i32";
  {
    using RowMajor =
        Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const RowMajor xr = x;
    std::ofstream fx(px, std::ios::binary), fy(py, std::ios::binary);
    fx.write(reinterpret_cast<const char*>(xr.data()),
             static_cast<std::streamsize>(xr.size() * sizeof(float)));
    fy.write(reinterpret_cast<const char*>(y.data()),
             static_cast<std::streamsize>(y.size() * sizeof(int)));
  }
  const std::string cmd =
      std::string("/usr/bin/python3 ") + CLS_TRAIN_PEER_SCRIPT + " " +
      px.string() + " " + py.string() + " " + std::to_string(kRows) + " " +
      std::to_string(kFeatures) + " " + std::to_string(kHidden) + " " +
      std::to_string(kBatch) + " " + std::to_string(kRuns);
  std::optional<Json> out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    std::string text;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) text += buf;
    if (pclose(p) == 0) {
      auto j = Json::parse(text, nullptr, false);
      if (!j.is_discarded()) out = j;
    }
  }
  std::filesystem::remove(px);
  std::filesystem::remove(py);
  return out;
}

TrainConfig EpochConfig() {
  TrainConfig cfg;
  cfg.epochs = 1;
  cfg.batch_size = kBatch;
  cfg.learning_rate = 0.05;
  cfg.l2 = 1e-4;
  return cfg;
}

TrainConfig WithDp(TrainConfig cfg) {
  cfg.dp.enabled = true;
  cfg.dp.clip_norm = 1.0;
  cfg.dp.noise_multiplier = 1.0;
  return cfg;
}

void Print(const Json& j) { std::printf("%s\n", j.dump().c_str()); }

void SpeedBenchmarks() {
  Eigen::MatrixXf x;
  Eigen::VectorXi y;
  MakeData(x, y);
  double sink = 0;
  const auto softmax_epoch = [&](const TrainConfig& base) {
    return MedianMs([&](int r) {
      auto m = cls::core::SoftmaxRegression::Create(kFeatures, kClasses);
      TrainConfig cfg = base;
      cfg.seed = static_cast<uint64_t>(r) + 1;
      sink += *m->Train(x, y, cfg);
    });
  };
  const auto mlp_epoch = [&](const TrainConfig& base) {
    return MedianMs([&](int r) {
      auto m = cls::core::Mlp::Create({kFeatures, {kHidden}, kClasses},
                                      static_cast<uint64_t>(r) + 1);
      TrainConfig cfg = base;
      cfg.seed = static_cast<uint64_t>(r) + 1;
      sink += *m->Train(x, y, cfg);
    });
  };
  std::cerr << "train_bench: softmax and MLP epochs\n";
  const double softmax_ms = softmax_epoch(EpochConfig());
  const double mlp_ms = mlp_epoch(EpochConfig());
  const double softmax_dp_ms = softmax_epoch(WithDp(EpochConfig()));
  const double mlp_dp_ms = mlp_epoch(WithDp(EpochConfig()));
  std::cerr << "train_bench: scikit-learn peer\n";
  const std::optional<Json> peer = RunPeer(x, y);

  const Json data = {{"rows", kRows},       {"features", kFeatures},
                     {"classes", kClasses}, {"batch_size", kBatch},
                     {"epochs", 1},         {"runs", kRuns},
                     {"float", "float32"}};
  Json softmax = {{"name", "train.softmax_epoch_ms"},
                  {"value", softmax_ms},
                  {"unit", "ms"},
                  {"params", data}};
  softmax["params"]["measure"] =
      "median of 7 SoftmaxRegression::Train calls, one epoch each";
  Json mlp = {{"name", "train.mlp_epoch_ms"},
              {"value", mlp_ms},
              {"unit", "ms"},
              {"params", data}};
  mlp["params"]["hidden"] = Json::array({kHidden});
  mlp["params"]["measure"] = "median of 7 Mlp::Train calls, one epoch each";
  if (peer) {
    softmax["peer"] = "sklearn SGDClassifier(loss=log_loss).fit, max_iter 1";
    softmax["peer_value"] = (*peer)["softmax_ms"];
    softmax["params"]["speedup_vs_peer"] =
        (*peer)["softmax_ms"].get<double>() / softmax_ms;
    softmax["params"]["peer_note"] =
        "float32 input, one-vs-rest over 10 classes, per-sample SGD (no "
        "mini-batch option), constant eta0 0.05, alpha 1e-4";
    mlp["peer"] = "sklearn MLPClassifier(solver=sgd).fit, max_iter 1";
    mlp["peer_value"] = (*peer)["mlp_ms"];
    mlp["params"]["speedup_vs_peer"] = (*peer)["mlp_ms"].get<double>() / mlp_ms;
    mlp["params"]["peer_note"] =
        "hidden (64,), relu, batch 32, lr 0.05, momentum 0, alpha 1e-4";
  }
  Print(softmax);
  Print(mlp);
  for (const auto& [name, dp_ms, plain_ms] :
       {std::tuple{"train.softmax_dp_sgd_epoch_ms", softmax_dp_ms, softmax_ms},
        std::tuple{"train.mlp_dp_sgd_epoch_ms", mlp_dp_ms, mlp_ms}}) {
    Json j = {
        {"name", name},           {"value", dp_ms},
        {"unit", "ms"},           {"peer", "the same epoch without DP-SGD"},
        {"peer_value", plain_ms}, {"params", data}};
    j["params"]["overhead"] = dp_ms / plain_ms;
    j["params"]["clip_norm"] = 1.0;
    j["params"]["noise_multiplier"] = 1.0;
    j["params"]["measure"] =
        "Poisson sampling (q = 32 / 10,000, 313 steps), per-example norms "
        "from activations and deltas, CSPRNG (AES-CTR) Gaussian noise";
    Print(j);
  }
  std::cerr << "train_bench: checksum " << sink << "\n";
}

// ------------------------------------------------------------- heart data

struct Pooled {
  Eigen::MatrixXf x_train, x_test;
  Eigen::VectorXf y_train, y_test;
};

std::optional<Pooled> LoadHeart(const std::string& dir) {
  const cls::core::DatasetSchema schema = cls::core::HeartSchema();
  std::vector<Eigen::MatrixXf> xtr, xte;
  std::vector<Eigen::VectorXf> ytr, yte;
  Eigen::Index ntr = 0, nte = 0;
  for (const char* file :
       {"cleveland.csv", "hungarian.csv", "switzerland.csv", "va.csv"}) {
    auto loaded = cls::core::LoadCsv(
        (std::filesystem::path(dir) / file).string(), schema);
    if (!loaded) {
      std::cerr << "train_bench: " << loaded.error().message << "\n";
      return std::nullopt;
    }
    const auto& table = loaded->table;
    // The site agent's split and site-local standardisation.
    const auto split = cls::core::StratifiedSplit(table.labels, 0.2, 7);
    auto pre = cls::core::Preprocessor::Fit(schema, table, split.train);
    if (!pre) return std::nullopt;
    xtr.push_back(pre->Transform(table, split.train));
    ytr.push_back(pre->Labels(table, split.train));
    xte.push_back(pre->Transform(table, split.test));
    yte.push_back(pre->Labels(table, split.test));
    ntr += xtr.back().rows();
    nte += xte.back().rows();
  }
  const Eigen::Index d = xtr[0].cols();
  Pooled p;
  p.x_train.resize(ntr, d);
  p.y_train.resize(ntr);
  p.x_test.resize(nte, d);
  p.y_test.resize(nte);
  Eigen::Index a = 0, b = 0;
  for (size_t s = 0; s < xtr.size(); ++s) {
    p.x_train.middleRows(a, xtr[s].rows()) = xtr[s];
    p.y_train.segment(a, ytr[s].size()) = ytr[s];
    a += xtr[s].rows();
    p.x_test.middleRows(b, xte[s].rows()) = xte[s];
    p.y_test.segment(b, yte[s].size()) = yte[s];
    b += xte[s].rows();
  }
  return p;
}

int HeartBenchmarks(const std::string& dir) {
  const auto data = LoadHeart(dir);
  if (!data) return 1;
  constexpr int kEpochs = 20;
  constexpr int kSeeds = 10;
  constexpr double kDelta = 1e-5;
  TrainConfig base;
  base.epochs = kEpochs;
  base.batch_size = 32;
  base.learning_rate = 0.1;
  base.l2 = 1e-4;
  const int64_t n = data->x_train.rows();
  const auto schedule = cls::core::DpSgdScheduleFor(n, base);
  const int d = static_cast<int>(data->x_train.cols());

  struct Outcome {
    double acc = 0, auc = 0, ms = 0;
  };
  const auto run = [&](const TrainConfig& cfg) {
    Outcome o;
    for (int s = 0; s < kSeeds; ++s) {
      TrainConfig c = cfg;
      c.seed = static_cast<uint64_t>(s) + 1;
      cls::core::LogisticRegression model(d);
      const auto t0 = std::chrono::steady_clock::now();
      model.Train(data->x_train, data->y_train, c);
      const auto t1 = std::chrono::steady_clock::now();
      const auto m = cls::core::EvaluateBinary(
          model.PredictProbability(data->x_test), data->y_test);
      o.acc += m.accuracy / kSeeds;
      o.auc += m.auc / kSeeds;
      o.ms +=
          std::chrono::duration<double, std::milli>(t1 - t0).count() / kSeeds;
    }
    return o;
  };
  const Json common = {{"train_rows", n},
                       {"test_rows", data->x_test.rows()},
                       {"epochs", kEpochs},
                       {"batch_size", base.batch_size},
                       {"learning_rate", base.learning_rate},
                       {"seeds", kSeeds},
                       {"model",
                        "logistic_regression, pooled 4 sites, "
                        "site-local standardisation"}};
  std::cerr << "train_bench: heart DP-SGD accuracy\n";
  const Outcome plain = run(base);
  Json jp = {{"name", "heart.dp_sgd.acc_plain"},
             {"value", plain.acc},
             {"unit", "fraction"},
             {"params", common}};
  jp["params"]["auc"] = plain.auc;
  jp["params"]["train_ms"] = plain.ms;
  Print(jp);
  for (double eps : {1.0, 3.0, 8.0}) {
    auto sigma = cls::core::privacy::CalibrateNoiseMultiplier(
        eps, kDelta, schedule.sampling_rate, schedule.steps);
    if (!sigma) {
      std::cerr << "train_bench: " << sigma.error().message << "\n";
      return 1;
    }
    TrainConfig cfg = base;
    cfg.dp.enabled = true;
    cfg.dp.clip_norm = 1.0;
    cfg.dp.noise_multiplier = *sigma;
    const Outcome o = run(cfg);
    char name[64];
    std::snprintf(name, sizeof name, "heart.dp_sgd.acc_eps%g", eps);
    Json j = {{"name", name},
              {"value", o.acc},
              {"unit", "fraction"},
              {"peer", "plain SGD, same epochs and batch"},
              {"peer_value", plain.acc},
              {"params", common}};
    j["params"]["epsilon"] = eps;
    j["params"]["delta"] = kDelta;
    j["params"]["noise_multiplier"] = *sigma;
    j["params"]["clip_norm"] = 1.0;
    j["params"]["sampling_rate"] = schedule.sampling_rate;
    j["params"]["steps"] = schedule.steps;
    j["params"]["auc"] = o.auc;
    j["params"]["train_ms"] = o.ms;
    j["params"]["overhead_vs_plain"] = o.ms / plain.ms;
    Print(j);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = CLS_HEART_DATA_DIR;
  bool speed = true, heart = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--only-speed") {
      heart = false;
    } else if (arg == "--only-heart") {
      speed = false;
    } else {
      std::cerr << "usage: train_bench [--data DIR] [--only-speed|"
                   "--only-heart]\n";
      return 2;
    }
  }
  if (speed) SpeedBenchmarks();
  if (heart) {
    if (!std::filesystem::exists(std::filesystem::path(dir) /
                                 "cleveland.csv")) {
      std::cerr << "train_bench: no heart data in " << dir << "; skipped\n";
      return 0;
    }
    return HeartBenchmarks(dir);
  }
  return 0;
}
