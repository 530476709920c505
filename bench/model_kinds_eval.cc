// model_kinds_eval: held-out accuracy and macro-F1 of the examples
// (examples/) for local-only, FedAvg and pooled training, simulated in
// process with the daemons' own pieces (core::LoadCsv, StratifiedSplit,
// site-local standardisation, core::Model). One JSON line per example and
// method; docs/evaluation.md "Model kinds" has the table, and "Text and
// embedding columns" the last two examples' (local-only and pooled only).
//   diagnosis_predictor: logistic regression, UCI heart data
//     (Cleveland, Hungary, VA as three sites; CLS_HEART_DATA_DIR).
//   readmission_risk: MLP [32], synthetic data (tests/integration/
//     example_data.h), 3 sites x 400 rows.
//   medication_recommender: softmax regression, 3 drugs, synthetic data,
//     3 sites x 300 rows.
// The federated settings are the integration tests' (3 local epochs, lr
// 0.1, batch 32, as tests/integration/cluster.cc's [training]).
//   clinical_nlp (note + age + systolic_bp) and imaging_classifier (a
//     32-entry embedding): logistic regression on the synthetic data of
//     tests/integration/column_kinds_data.h, the very rows and 400 held-out
//     rows that tests/integration/column_kinds_integration_test.cc trains
//     (federated, through the daemons) and scores. Here local-only (each
//     site alone, its own IDF and moments) and pooled (every site's train
//     rows in one place, IDF from all their documents), both with the
//     template's [training] for rounds x epochs.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/heart_disease_schema.h"
#include "core/metrics.h"
#include "core/model.h"
#include "tests/integration/column_kinds_data.h"
#include "tests/integration/example_data.h"

namespace {

using cls::core::ClassReport;
using cls::core::Model;
using cls::core::ModelKind;
using cls::core::ModelSpec;

struct Site {
  Eigen::MatrixXf x_train, x_test;
  Eigen::VectorXi y_train, y_test;
};

cls::core::DatasetSchema Schema(const std::vector<const char*>& numeric,
                                const char* categorical,
                                std::vector<double> categories,
                                const char* label) {
  cls::core::DatasetSchema s;
  for (const char* n : numeric) {
    cls::core::ColumnSpec c;
    c.name = n;
    s.features.push_back(c);
  }
  cls::core::ColumnSpec c;
  c.name = categorical;
  c.kind = cls::core::ColumnSpec::Kind::kCategorical;
  c.categories = std::move(categories);
  s.features.push_back(c);
  s.label.column = label;
  return s;
}

Site LoadSite(const std::string& csv, const cls::core::DatasetSchema& schema) {
  auto loaded = cls::core::LoadCsv(csv, schema);
  if (!loaded) throw std::runtime_error(loaded.error().message);
  const auto& t = loaded->table;
  // The agent's defaults: test_fraction 0.2, split_seed 7, fitted on the
  // train rows ([model] standardisation = "site", as the tests run).
  const auto split = cls::core::StratifiedSplit(t.labels, 0.2, 7);
  auto pre = cls::core::Preprocessor::Fit(schema, t, split.train);
  if (!pre) throw std::runtime_error(pre.error().message);
  Site s;
  s.x_train = pre->Transform(t, split.train);
  s.x_test = pre->Transform(t, split.test);
  s.y_train = cls::core::ClassIndices(pre->Labels(t, split.train));
  s.y_test = cls::core::ClassIndices(pre->Labels(t, split.test));
  return s;
}

cls::core::TrainConfig Config(int epochs, uint64_t seed) {
  cls::core::TrainConfig c;
  c.epochs = epochs;
  c.learning_rate = 0.1;
  c.batch_size = 32;
  c.seed = seed;
  return c;
}

// Counts over every site's test rows, summed as the coordinator does.
ClassReport Evaluate(const std::vector<Model>& models,
                     const std::vector<Site>& sites) {
  cls::core::ClassCounts sum;
  for (size_t i = 0; i < sites.size(); ++i) {
    const Model& m = models.size() == 1 ? models[0] : models[i];
    sum.Add(cls::core::CountClasses(m.PredictProbability(sites[i].x_test),
                                    sites[i].y_test));
  }
  return cls::core::ReportClasses(sum);
}

void Print(const std::string& example, const std::string& method,
           const ClassReport& r, const nlohmann::json& settings) {
  std::cout << nlohmann::json{{"bench", "model_kinds_eval"},
                              {"example", example},
                              {"method", method},
                              {"accuracy", r.accuracy},
                              {"macro_f1", r.macro_f1},
                              {"settings", settings}}
                   .dump()
            << "\n";
}

void Run(const std::string& example, const ModelSpec& spec,
         const std::vector<Site>& sites, int rounds) {
  auto initial = Model::Create(spec, 1);
  if (!initial) throw std::runtime_error(initial.error().message);
  // Local only: each site alone, 20 epochs (LocalModel's baseline).
  std::vector<Model> local;
  for (const Site& s : sites) {
    Model m = *initial;
    (void)m.Train(s.x_train, s.y_train, Config(20, 1));
    local.push_back(m);
  }
  Print(example, "local_only", Evaluate(local, sites), {{"epochs", 20}});
  // FedAvg: weights by train rows, `rounds` rounds of 3 local epochs.
  std::vector<float> global(initial->parameters().begin(),
                            initial->parameters().end());
  double total = 0;
  for (const Site& s : sites) total += static_cast<double>(s.y_train.size());
  for (int r = 0; r < rounds; ++r) {
    std::vector<float> next(global.size(), 0.0f);
    for (const Site& s : sites) {
      auto m = Model::FromParameters(spec, global);
      (void)m->Train(s.x_train, s.y_train, Config(3, 1 ^ (r + 1)));
      const float w = static_cast<float>(s.y_train.size() / total);
      for (size_t i = 0; i < next.size(); ++i)
        next[i] += w * m->parameters()[i];
    }
    global = next;
  }
  Print(example, "fedavg",
        Evaluate({*Model::FromParameters(spec, global)}, sites),
        {{"rounds", rounds}, {"local_epochs", 3}});
  // Pooled: every site's train rows in one place, rounds x 3 epochs.
  Eigen::Index n = 0;
  for (const Site& s : sites) n += s.x_train.rows();
  Eigen::MatrixXf x(n, sites[0].x_train.cols());
  Eigen::VectorXi y(n);
  Eigen::Index at = 0;
  for (const Site& s : sites) {
    x.middleRows(at, s.x_train.rows()) = s.x_train;
    y.segment(at, s.y_train.size()) = s.y_train;
    at += s.x_train.rows();
  }
  Model pooled = *initial;
  (void)pooled.Train(x, y, Config(3 * rounds, 1));
  Print(example, "pooled", Evaluate({pooled}, sites), {{"epochs", 3 * rounds}});
}

// Local-only and pooled for one of the column-kinds examples (file
// comment); the files are written to `tmp` and removed.
void RunColumnKinds(const cls::testing::ColumnKindsExample& data,
                    const std::filesystem::path& tmp) {
  std::vector<std::string> csvs;
  for (int i = 0; i < 3; ++i) {
    csvs.push_back(tmp / ("model-kinds-" + data.example + "-" +
                          std::to_string(i) + ".csv"));
  }
  const std::string held_csv =
      tmp / ("model-kinds-" + data.example + "-held.csv");
  cls::testing::WriteExampleData(data, csvs, held_csv);
  const auto schema = cls::testing::ExampleSchema(data.example);
  auto held = cls::core::LoadCsv(held_csv, schema);
  if (!held) throw std::runtime_error(held.error().message);
  std::vector<cls::testing::SiteRows> sites;
  for (const auto& csv : csvs) {
    auto s = cls::testing::LoadSiteRows(csv, schema);
    if (!s) throw std::runtime_error(s.error().message);
    sites.push_back(std::move(*s));
  }
  for (const auto& f : csvs) std::remove(f.c_str());
  std::remove(held_csv.c_str());
  cls::core::TrainConfig train =
      cls::testing::ReadCoordinatorTemplate(data.example).training;
  train.epochs *= data.rounds;
  const nlohmann::json settings = {{"epochs", train.epochs},
                                   {"learning_rate", train.learning_rate},
                                   {"batch_size", train.batch_size},
                                   {"l2", train.l2},
                                   {"held_out_rows", held->table.rows.size()}};
  auto count = [&](const cls::core::RawTable& t, const std::vector<int>& rows) {
    auto c = cls::testing::TrainAndCount(schema, t, rows, train, held->table);
    if (!c) throw std::runtime_error(c.error().message);
    return *c;
  };
  // Local only: each site's model on the same held-out rows, counts summed
  // (accuracy = the mean of the three sites').
  cls::core::ClassCounts local;
  for (const auto& s : sites) local.Add(count(s.table, s.split.train));
  Print(data.example, "local_only", cls::core::ReportClasses(local), settings);
  const cls::core::RawTable pooled = cls::testing::PooledTrainRows(sites);
  std::vector<int> all(pooled.rows.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  Print(data.example, "pooled", cls::core::ReportClasses(count(pooled, all)),
        settings);
}

}  // namespace

int main() {
  namespace fs = std::filesystem;
  const std::string heart = CLS_HEART_DATA_DIR;
  if (fs::exists(heart + "/cleveland.csv")) {
    std::vector<Site> sites;
    for (const char* f : {"cleveland", "hungarian", "va"}) {
      sites.push_back(
          LoadSite(heart + "/" + f + ".csv", cls::core::HeartSchema()));
    }
    Run("diagnosis_predictor",
        {ModelKind::kLogisticRegression, 22, 2, {}, "relu"}, sites, 5);
  }
  const fs::path tmp = fs::temp_directory_path();
  {
    std::vector<Site> sites;
    auto schema =
        Schema({"age", "length_of_stay", "prior_admissions", "num_medications"},
               "discharge_to", {1, 2, 3}, "readmitted_30d");
    schema.label.positive_above = 0.5;
    for (unsigned i = 0; i < 3; ++i) {
      const std::string path =
          (tmp / ("model-kinds-readmission-" + std::to_string(i) + ".csv"));
      cls::testing::WriteReadmissions(path, 400, 11 + i);
      sites.push_back(LoadSite(path, schema));
      std::remove(path.c_str());
    }
    Run("readmission_risk", {ModelKind::kMlp, 7, 2, {32}, "relu"}, sites, 8);
    Run("readmission_risk_as_logistic_regression",
        {ModelKind::kLogisticRegression, 7, 2, {}, "relu"}, sites, 8);
  }
  {
    std::vector<Site> sites;
    auto schema = Schema({"age", "egfr", "systolic_bp", "weight"}, "diabetic",
                         {0, 1}, "drug");
    schema.label.classes = {101, 202, 303};
    for (unsigned i = 0; i < 3; ++i) {
      const std::string path =
          (tmp / ("model-kinds-prescriptions-" + std::to_string(i) + ".csv"));
      cls::testing::WritePrescriptions(path, 300, 21 + i);
      sites.push_back(LoadSite(path, schema));
      std::remove(path.c_str());
    }
    Run("medication_recommender",
        {ModelKind::kSoftmaxRegression, 6, 3, {}, "relu"}, sites, 5);
  }
  RunColumnKinds(cls::testing::kClinicalNlp, tmp);
  RunColumnKinds(cls::testing::kImagingClassifier, tmp);
  return 0;
}
