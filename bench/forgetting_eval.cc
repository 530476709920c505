// Forgetting on real data: a model learned on Cleveland, then updated online
// with Hungarian cases arriving in daily batches (OnlineLearningSystem, as the
// site agent's inbox does). Cleveland's held-out accuracy before and after,
// with and without retention (the elastic anchor of retention_rate, EWC);
// Hungary's held-out accuracy after, to show what was learned.
// Prints JSON lines (scripts/bench.sh, in-process phase):
//   forgetting.cleveland_acc_before
//   forgetting.cleveland_acc_after.{retention_0,_0.5,_0.9,_0.99}
//   forgetting.hungary_acc_after.{...}   (params: hungary before)
// Usage: forgetting_eval [--data DIR]
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/elastic_anchor.h"
#include "core/feature_statistics.h"
#include "core/heart_disease_schema.h"
#include "core/logistic_regression.h"
#include "core/metrics.h"
#include "core/online_learning.h"

namespace {

using cls::core::RawTable;

constexpr int kDailyRows = 8;

struct SiteRows {
  RawTable table;
  cls::core::Split split;
};

double Accuracy(const cls::core::LogisticRegression& model,
                const Eigen::MatrixXf& x, const Eigen::VectorXf& y) {
  return cls::core::EvaluateBinary(model.PredictProbability(x), y).accuracy;
}
double Accuracy(const cls::core::Model& model, const Eigen::MatrixXf& x,
                const Eigen::VectorXf& y) {
  return cls::core::EvaluateBinary(model.PredictProbability(x).col(1), y)
      .accuracy;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = CLS_HEART_DATA_DIR;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::cerr << "usage: forgetting_eval [--data DIR]\n";
      return 2;
    }
  }
  const auto schema = cls::core::HeartSchema();
  std::vector<SiteRows> sites;
  for (const char* file : {"cleveland.csv", "hungarian.csv"}) {
    auto loaded = cls::core::LoadCsv(
        (std::filesystem::path(dir) / file).string(), schema);
    if (!loaded) {
      std::cerr << "forgetting_eval: " << file << ": " << loaded.error().message
                << "\n";
      return 1;
    }
    SiteRows s;
    s.table = std::move(loaded->table);
    s.split = cls::core::StratifiedSplit(s.table.labels, 0.2, 7);
    sites.push_back(std::move(s));
  }
  // Federation-wide standardisation over both sites' train rows, as the
  // secure statistics round would give them.
  std::vector<double> sums;
  for (const SiteRows& s : sites) {
    auto stats =
        cls::core::ComputeFeatureStatistics(schema, s.table, s.split.train);
    if (!stats) return 1;
    const auto flat = stats->Flatten();
    if (sums.empty()) sums.assign(flat.size(), 0.0);
    for (size_t k = 0; k < flat.size(); ++k) sums[k] += flat[k];
  }
  auto total =
      cls::core::FeatureStatistics::Unflatten(sums, schema.FeatureCount());
  auto pre = cls::core::PreprocessorFromStatistics(schema, *total);
  if (!pre) return 1;
  const SiteRows& cle = sites[0];
  const SiteRows& hun = sites[1];
  const Eigen::MatrixXf cx = pre->Transform(cle.table, cle.split.train);
  const Eigen::VectorXf cy = pre->Labels(cle.table, cle.split.train);
  const Eigen::MatrixXf cxt = pre->Transform(cle.table, cle.split.test);
  const Eigen::VectorXf cyt = pre->Labels(cle.table, cle.split.test);
  const Eigen::MatrixXf hx = pre->Transform(hun.table, hun.split.train);
  const Eigen::VectorXf hy = pre->Labels(hun.table, hun.split.train);
  const Eigen::MatrixXf hxt = pre->Transform(hun.table, hun.split.test);
  const Eigen::VectorXf hyt = pre->Labels(hun.table, hun.split.test);

  cls::core::LogisticRegression base(schema.FeatureCount());
  cls::core::TrainConfig train;
  train.epochs = 20;
  train.learning_rate = 0.05;
  train.batch_size = 16;
  train.l2 = 1e-3;
  base.Train(cx, cy, train);
  const double cle_before = Accuracy(base, cxt, cyt);
  const double hun_before = Accuracy(base, hxt, hyt);
  auto fisher = cls::core::DiagonalFisher(base, cx, cy);
  if (!fisher) return 1;

  auto print = [](const std::string& name, double value,
                  nlohmann::json params) {
    nlohmann::json line = {{"name", name},
                           {"value", std::round(value * 1e4) / 1e4},
                           {"unit", "accuracy"},
                           {"params", std::move(params)}};
    std::printf("%s\n", line.dump().c_str());
  };
  const nlohmann::json common = {
      {"model",
       "logistic regression trained on Cleveland train rows "
       "(20 epochs, lr 0.05, batch 16, l2 1e-3)"},
      {"stream", "Hungary train rows in daily batches of " +
                     std::to_string(kDailyRows) + ", file order"},
      {"test_rows", {{"cleveland", cyt.size()}, {"hungary", hyt.size()}}},
      {"online", "lr 0.05, batch 8, one pass per day, no rehearsal"}};
  print("forgetting.cleveland_acc_before", cle_before,
        {{"hungary_acc_before", hun_before}, {"setup", common}});

  for (double retention : {0.0, 0.5, 0.9, 0.99}) {
    cls::core::OnlineLearningConfig cfg;
    cfg.learning_rate = 0.05;
    cfg.batch_size = kDailyRows;
    cfg.retention_rate = retention;
    cfg.rehearsal_samples = 0;
    auto online = cls::core::OnlineLearningSystem::Create(base, cfg);
    if (!online) return 1;
    // The deployed model is the anchor (lambda 0 when retention is 0).
    if (!online->Deploy(base.parameters(), *fisher)) return 1;
    int days = 0;
    for (Eigen::Index start = 0; start < hx.rows(); start += kDailyRows) {
      const Eigen::Index n =
          std::min<Eigen::Index>(kDailyRows, hx.rows() - start);
      if (!online->IncrementalUpdate(hx.middleRows(start, n),
                                     hy.segment(start, n))) {
        return 1;
      }
      ++days;
    }
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "retention_%g", retention);
    const double cle_after = Accuracy(online->model(), cxt, cyt);
    const double hun_after = Accuracy(online->model(), hxt, hyt);
    nlohmann::json params = {{"retention_rate", retention},
                             {"elastic_lambda", online->anchor().lambda()},
                             {"days", days},
                             {"cleveland_before", cle_before},
                             {"hungary_before", hun_before},
                             {"setup", common}};
    print(std::string("forgetting.cleveland_acc_after.") + suffix, cle_after,
          params);
    print(std::string("forgetting.hungary_acc_after.") + suffix, hun_after,
          params);
  }
  return 0;
}
