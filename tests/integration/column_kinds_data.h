#ifndef CLS_TESTS_INTEGRATION_COLUMN_KINDS_DATA_H_
#define CLS_TESTS_INTEGRATION_COLUMN_KINDS_DATA_H_

// The clinical_nlp and imaging_classifier examples' synthetic data (no
// real patients), their templates' schema and training, and the in-process
// baselines (one site alone, all sites pooled), shared by
// tests/integration/column_kinds_integration_test.cc (federated through the
// daemons) and bench/model_kinds_eval.cc (pooled), so both measure on the
// same rows. Deterministic: WriteExampleData draws from one seeded stream.
//
// Notes whose words carry the label, and embeddings drawn from
// class-dependent Gaussians.

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "core/dataset.h"
#include "core/metrics.h"
#include "core/model.h"
#include "tests/integration/example_templates.h"

#ifndef CLS_SOURCE_DIR
#error "CLS_SOURCE_DIR (the repository, for examples/) must be defined"
#endif

namespace cls::testing {

// Words a synthetic note draws: positive-class words, negative-class words
// and filler. A note has 4 class words, each from its own class's list with
// probability 0.75 (else from the other list), among 5 to 9 filler words.
inline constexpr const char* kPositiveWords[] = {
    "angina",       "dyspnea",      "diaphoresis", "troponin",   "orthopnea",
    "syncope",      "palpitations", "edema",       "crackles",   "tachycardia",
    "radiating",    "exertional",   "pressure",    "nausea",     "fatigue",
    "claudication", "murmur",       "gallop",      "distension", "hypotension"};
inline constexpr const char* kNegativeWords[] = {
    "routine",  "asymptomatic", "denies",          "normal",       "stable",
    "resolved", "mild",         "musculoskeletal", "reproducible", "reassured",
    "negative", "unremarkable", "active",          "jogging",      "clear",
    "regular",  "benign",       "afebrile",        "comfortable",  "wellness"};
inline constexpr const char* kFiller[] = {
    "patient", "presents", "with",   "reports", "history", "of",  "and",
    "the",     "seen",     "today",  "in",      "clinic",  "for", "visit",
    "notes",   "per",      "family", "on",      "exam",    "plan"};
inline constexpr int kClassWords = 4;
inline constexpr double kOwnClassWord = 0.75;

// Imaging: 32-entry embeddings, class means +-kSeparation along a fixed
// unit direction, unit-variance noise in every entry (Bayes accuracy
// Phi(1.2) = 0.885).
inline constexpr int kDimension = 32;
inline constexpr double kSeparation = 1.2;

// Held-out rows drawn after the sites' rows.
inline constexpr int kHeldOutRows = 400;

template <size_t N>
const char* Pick(const char* const (&words)[N], std::mt19937_64& rng) {
  return words[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

inline std::string SyntheticNote(int label, std::mt19937_64& rng) {
  std::vector<std::string> words;
  const int filler = std::uniform_int_distribution<int>(5, 9)(rng);
  for (int i = 0; i < filler; ++i) words.push_back(Pick(kFiller, rng));
  std::bernoulli_distribution own(kOwnClassWord);
  for (int i = 0; i < kClassWords; ++i) {
    const bool positive = own(rng) == (label == 1);
    words.push_back(positive ? Pick(kPositiveWords, rng)
                             : Pick(kNegativeWords, rng));
  }
  std::shuffle(words.begin(), words.end(), rng);
  std::string note;
  for (size_t i = 0; i < words.size(); ++i) {
    // Some punctuation and capitals, which tokenisation drops and folds.
    note += (i == 0 ? "" : (i % 5 == 0 ? ", " : " "));
    note +=
        i == 0 ? std::string(1, static_cast<char>(std::toupper(
                                    static_cast<unsigned char>(words[i][0])))) +
                     words[i].substr(1)
               : words[i];
  }
  return note + ".";
}

inline std::vector<double> Direction() {
  std::mt19937_64 rng(2026);
  std::normal_distribution<double> n(0, 1);
  std::vector<double> u(kDimension);
  double norm = 0;
  for (double& v : u) {
    v = n(rng);
    norm += v * v;
  }
  for (double& v : u) v /= std::sqrt(norm);
  return u;
}

// One synthetic row: its CSV line and its /v1/predict features.
struct Row {
  std::string csv;
  nlohmann::json features;
  int label = 0;
};

inline Row NoteRow(std::mt19937_64& rng) {
  Row r;
  r.label = std::bernoulli_distribution(0.5)(rng) ? 1 : 0;
  const std::string note = SyntheticNote(r.label, rng);
  const double age =
      std::round(std::normal_distribution<double>(55 + 6 * r.label, 10)(rng));
  const double bp =
      std::round(std::normal_distribution<double>(130 + 5 * r.label, 15)(rng));
  std::ostringstream line;
  line << "\"" << note << "\"," << age << "," << bp << "," << r.label;
  r.csv = line.str();
  r.features = {{"note", note}, {"age", age}, {"systolic_bp", bp}};
  return r;
}

inline Row EmbeddingRow(std::mt19937_64& rng) {
  static const std::vector<double> u = Direction();
  Row r;
  r.label = std::bernoulli_distribution(0.5)(rng) ? 1 : 0;
  std::normal_distribution<double> noise(0, 1);
  nlohmann::json values = nlohmann::json::array();
  std::string cell;
  for (int d = 0; d < kDimension; ++d) {
    std::ostringstream v;
    v.precision(6);
    v << (2 * r.label - 1) * kSeparation * u[d] + noise(rng);
    cell += (d == 0 ? "" : ";") + v.str();
    values.push_back(std::stod(v.str()));  // the CSV's value exactly
  }
  r.csv = cell + "," + std::to_string(r.label);
  r.features = {{"embedding", values}};
  return r;
}

// The two examples as the integration test runs them: three sites of
// rows_per_site rows each, a statistics round, then `rounds` training
// rounds of the template's [training].
struct ColumnKindsExample {
  std::string example;
  std::string header;  // the CSV header
  Row (*make_row)(std::mt19937_64& rng) = nullptr;
  int rows_per_site = 0;
  int rounds = 0;
};
inline const ColumnKindsExample kClinicalNlp = {
    "clinical_nlp", "note,age,systolic_bp,outcome", NoteRow, 150, 6};
inline const ColumnKindsExample kImagingClassifier = {
    "imaging_classifier", "embedding,finding", EmbeddingRow, 80, 5};

// Each site's CSV (data.rows_per_site rows) and then the held-out CSV
// (kHeldOutRows), all drawn from one stream seeded 42; returns the
// held-out rows.
inline std::vector<Row> WriteExampleData(
    const ColumnKindsExample& data, const std::vector<std::string>& site_csvs,
    const std::string& held_out_csv) {
  std::mt19937_64 rng(42);
  for (const auto& path : site_csvs) {
    std::ofstream out(path);
    out << data.header << "\n";
    for (int i = 0; i < data.rows_per_site; ++i) {
      out << data.make_row(rng).csv << "\n";
    }
  }
  std::vector<Row> held_out;
  std::ofstream out(held_out_csv);
  out << data.header << "\n";
  for (int i = 0; i < kHeldOutRows; ++i) {
    held_out.push_back(data.make_row(rng));
    out << held_out.back().csv << "\n";
  }
  return held_out;
}

// ---- The example templates ----

// The example's schema: the template's [[data.columns]] and label.
inline core::DatasetSchema ExampleSchema(const std::string& example) {
  core::DatasetSchema schema;
  const toml::table site = toml::parse(DataSection(example, "unused.csv"));
  for (const auto& node : *site["data"]["columns"].as_array()) {
    const toml::table& c = *node.as_table();
    core::ColumnSpec spec;
    spec.name = *c["name"].value<std::string>();
    const std::string kind = *c["kind"].value<std::string>();
    spec.kind = kind == "text"        ? core::ColumnSpec::Kind::kText
                : kind == "embedding" ? core::ColumnSpec::Kind::kEmbedding
                                      : core::ColumnSpec::Kind::kNumeric;
    spec.hash_buckets = static_cast<int>(c["hash_buckets"].value_or(0));
    spec.dimension = static_cast<int>(c["dimension"].value_or(0));
    schema.features.push_back(spec);
  }
  schema.label = {*site["data"]["label_column"].value<std::string>(), 0.5};
  return schema;
}

// The template coordinator's model size, training and clip.
struct CoordinatorTemplate {
  int parameters = 0;
  core::TrainConfig training;
  std::string training_lines;
  double clip = 1.0;
};

inline CoordinatorTemplate ReadCoordinatorTemplate(const std::string& example) {
  const toml::table t =
      toml::parse_file(ExampleDir(example) + "/coordinator.toml");
  CoordinatorTemplate c;
  c.parameters = static_cast<int>(*t["model"]["parameters"].value<int64_t>());
  c.training.epochs =
      static_cast<int>(*t["training"]["epochs"].value<int64_t>());
  c.training.batch_size =
      static_cast<int>(*t["training"]["batch_size"].value<int64_t>());
  c.training.learning_rate = *t["training"]["learning_rate"].value<double>();
  c.training.l2 = *t["training"]["l2"].value<double>();
  c.clip = *t["round"]["clip"].value<double>();
  std::ostringstream lines;
  lines << "epochs = " << c.training.epochs
        << "\nbatch_size = " << c.training.batch_size
        << "\nlearning_rate = " << c.training.learning_rate
        << "\nl2 = " << c.training.l2 << "\n";
  c.training_lines = lines.str();
  return c;
}

// ---- In-process baselines ----

// A site's rows and the agent's default split (test_fraction 0.2,
// split_seed 7, as the templates set them).
struct SiteRows {
  core::RawTable table;
  core::Split split;
};

inline Result<SiteRows> LoadSiteRows(const std::string& csv,
                                     const core::DatasetSchema& schema) {
  auto loaded = core::LoadCsv(csv, schema);
  if (!loaded) return std::unexpected(loaded.error());
  if (!loaded->rejected.empty()) {
    return InvalidArgument(csv + ": " + loaded->rejected.front().reason);
  }
  SiteRows s{std::move(loaded->table), {}};
  s.split = core::StratifiedSplit(s.table.labels, 0.2, 7);
  return s;
}

// Every site's train rows in one table: what pooled training sees.
inline core::RawTable PooledTrainRows(const std::vector<SiteRows>& sites) {
  core::RawTable pooled;
  for (const SiteRows& s : sites) {
    for (int i : s.split.train) {
      const auto row = static_cast<size_t>(i);
      pooled.rows.push_back(s.table.rows[row]);
      pooled.labels.push_back(s.table.labels[row]);
      if (!s.table.vectors.empty()) {
        pooled.vectors.push_back(s.table.vectors[row]);
      }
    }
  }
  return pooled;
}

// Trains the example's binary logistic regression on `rows` of `train`
// with preprocessing fitted on those rows alone (their own IDF document
// counts, means and scales) and counts its predictions on every row of
// `held`.
inline Result<core::ClassCounts> TrainAndCount(
    const core::DatasetSchema& schema, const core::RawTable& train,
    const std::vector<int>& rows, const core::TrainConfig& config,
    const core::RawTable& held) {
  auto pre = core::Preprocessor::Fit(schema, train, rows);
  if (!pre) return std::unexpected(pre.error());
  auto model = core::Model::Create({core::ModelKind::kLogisticRegression,
                                    schema.FeatureCount(),
                                    2,
                                    {},
                                    "relu"},
                                   1);
  if (!model) return std::unexpected(model.error());
  auto trained =
      model->Train(pre->Transform(train, rows),
                   core::ClassIndices(pre->Labels(train, rows)), config);
  if (!trained) return std::unexpected(trained.error());
  std::vector<int> all(held.rows.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  return core::CountClasses(
      model->PredictProbability(pre->Transform(held, all)),
      core::ClassIndices(pre->Labels(held, all)));
}

}  // namespace cls::testing

#endif  // CLS_TESTS_INTEGRATION_COLUMN_KINDS_DATA_H_
