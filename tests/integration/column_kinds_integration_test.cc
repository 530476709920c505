// The two example consortia of examples/ over real processes: a clinical
// NLP model (a free-text note column + numeric columns) and an imaging
// classifier (a column of image embeddings), both binary logistic
// regression. Each runs the secure statistics round (federation-wide IDF
// document counts, means and scales), training rounds, a deployment and
// served predictions on held-out rows, and checks the accuracy against what
// the synthetic data supports. The sites' [data] sections and the
// coordinator's [model] parameters and [training] come from the example
// templates, so the templates are what is tested.
//
// All data here is synthetic, generated below: notes whose words carry the
// label, and embeddings drawn from class-dependent Gaussians. Nothing comes
// from a patient.
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/sqlite_db.h"
#include "core/dataset.h"
#include "core/feature_statistics.h"
#include "core/logistic_regression.h"
#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

// ---- Synthetic data ----

// Words a synthetic note draws: positive-class words, negative-class words
// and filler. A note has 4 class words, each from its own class's list with
// probability 0.75 (else from the other list), among 5 to 9 filler words.
constexpr const char* kPositiveWords[] = {
    "angina",       "dyspnea",      "diaphoresis", "troponin",   "orthopnea",
    "syncope",      "palpitations", "edema",       "crackles",   "tachycardia",
    "radiating",    "exertional",   "pressure",    "nausea",     "fatigue",
    "claudication", "murmur",       "gallop",      "distension", "hypotension"};
constexpr const char* kNegativeWords[] = {
    "routine",  "asymptomatic", "denies",          "normal",       "stable",
    "resolved", "mild",         "musculoskeletal", "reproducible", "reassured",
    "negative", "unremarkable", "active",          "jogging",      "clear",
    "regular",  "benign",       "afebrile",        "comfortable",  "wellness"};
constexpr const char* kFiller[] = {
    "patient", "presents", "with",   "reports", "history", "of",  "and",
    "the",     "seen",     "today",  "in",      "clinic",  "for", "visit",
    "notes",   "per",      "family", "on",      "exam",    "plan"};
constexpr int kClassWords = 4;
constexpr double kOwnClassWord = 0.75;

// Imaging: 32-entry embeddings, class means +-kSeparation along a fixed
// unit direction, unit-variance noise in every entry (Bayes accuracy
// Phi(1.2) = 0.885).
constexpr int kDimension = 32;
constexpr double kSeparation = 1.2;

template <size_t N>
const char* Pick(const char* const (&words)[N], std::mt19937_64& rng) {
  return words[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

std::string SyntheticNote(int label, std::mt19937_64& rng) {
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

std::vector<double> Direction() {
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
  json features;
  int label = 0;
};

Row NoteRow(std::mt19937_64& rng) {
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

Row EmbeddingRow(std::mt19937_64& rng) {
  static const std::vector<double> u = Direction();
  Row r;
  r.label = std::bernoulli_distribution(0.5)(rng) ? 1 : 0;
  std::normal_distribution<double> noise(0, 1);
  json values = json::array();
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

// ---- The example templates ----

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ExampleDir(const std::string& name) {
  return std::string(CLS_SOURCE_DIR) + "/examples/" + name;
}

// The whole template with its placeholder paths pointed into the cluster
// (the PKI, a CSV, a state folder), for --check-config.
std::string Instantiate(const std::string& example, const std::string& file,
                        Cluster& cluster, const std::string& csv) {
  std::string text = ReadText(ExampleDir(example) + "/" + file);
  const std::pair<std::string, std::string> swaps[] = {
      {"/etc/cls/pki/ca.pem", cluster.Path("pki/ca.pem")},
      {"/etc/cls/pki/ca-crl.pem", cluster.Path("pki/ca-crl.pem")},
      {"/etc/cls/pki/coordinator.pem",
       cluster.Path("pki/issued/127.0.0.1.pem")},
      {"/etc/cls/pki/coordinator.key",
       cluster.Path("pki/issued/127.0.0.1.key")},
      {"/etc/cls/pki/site.pem", cluster.Path("pki/issued/HOSP_A.pem")},
      {"/etc/cls/pki/site.key", cluster.Path("pki/issued/HOSP_A.key")},
      {"/var/lib/cls/", cluster.Path("template-state/")},
      {"/data/notes.csv", csv},
      {"/data/embeddings.csv", csv}};
  for (const auto& [from, to] : swaps) {
    for (size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }
  const std::string path = cluster.Path("template-" + file);
  std::ofstream(path) << text;
  return path;
}

// The template's [data] section ([data] and its [[data.columns]]), its csv
// pointed at `csv`.
std::string DataSection(const std::string& example, const std::string& csv) {
  std::istringstream in(ReadText(ExampleDir(example) + "/site.toml"));
  std::string line, out;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.starts_with("[")) {
      inside = line == "[data]" || line == "[[data.columns]]";
    }
    if (!inside) continue;
    if (line.starts_with("csv = ")) line = "csv = \"" + csv + "\"";
    out += line + "\n";
  }
  return out;
}

// The template coordinator's model size, training and clip.
struct CoordinatorTemplate {
  int parameters = 0;
  core::TrainConfig training;
  std::string training_lines;
  double clip = 1.0;
};

CoordinatorTemplate ReadCoordinatorTemplate(const std::string& example) {
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

// ---- Checks ----

std::vector<double> StoredStatistics(Cluster& cluster) {
  auto db = SqliteDb::Open(cluster.Path("coordinator-state/coordinator.db"));
  EXPECT_TRUE(db.has_value());
  auto stmt =
      (*db)->Prepare("SELECT sums FROM feature_statistics ORDER BY round_id");
  EXPECT_TRUE(stmt.has_value());
  std::vector<double> v;
  if (*stmt->Step()) {
    Bytes blob = stmt->Blob(0);
    v.resize(blob.size() / 8);
    std::memcpy(v.data(), blob.data(), blob.size());
  }
  return v;
}

// A client of /v1/predict in Python's standard library: posts each request
// of a JSON file, then three bad ones, and prints what came back.
constexpr const char* kClient = R"PY(
import http.client, json, ssl, sys
port, ca, cert, key, path = int(sys.argv[1]), *sys.argv[2:6]
bad = json.loads(sys.argv[6])
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
def call(body):
    c.request("POST", "/v1/predict", json.dumps(body),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read().decode()
out = {"predictions": [], "bad": []}
for i, features in enumerate(json.load(open(path))):
    status, text = call({"request_key": "row-%d" % i, "features": features})
    out["predictions"].append(json.loads(text) if status == 200 else status)
for i, features in enumerate(bad):
    status, text = call({"request_key": "bad-%d" % i, "features": features})
    out["bad"].append({"status": status, "body": text})
print(json.dumps(out))
)PY";

// Files under `dir` holding `needle` (the coordinator must never see text).
std::vector<std::string> FilesContaining(const std::string& dir,
                                         const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() &&
        ReadText(e.path().string()).find(needle) != std::string::npos) {
      found.push_back(e.path().string());
    }
  }
  return found;
}

struct ExampleRun {
  std::string example;
  std::string header;                     // the CSV header
  Row (*make_row)(std::mt19937_64& rng);  // one synthetic row
  int rows_per_site = 0;
  int rounds = 0;
  double min_accuracy = 0;
  json bad_requests;   // each refused with 400
  std::string secret;  // in a bad request; never in a log or the coordinator
};

// Runs the whole example (see the file comment).
void RunExample(const ExampleRun& run) {
  Cluster cluster;
  const CoordinatorTemplate coordinator = ReadCoordinatorTemplate(run.example);
  cluster.SetModelParameters(coordinator.parameters);
  cluster.SetTraining(coordinator.training_lines);
  cluster.StartCoordinator("min_sites = 3",
                           "clip = " + std::to_string(coordinator.clip),
                           "standardisation = \"federation\"");

  // Three sites' data and one held-out set, all synthetic.
  const std::vector<std::string> ids = {"HOSP_A", "HOSP_B", "HOSP_C"};
  std::mt19937_64 rng(42);
  for (const auto& id : ids) {
    std::ofstream out(cluster.Path(id + ".csv"));
    out << run.header << "\n";
    for (int i = 0; i < run.rows_per_site; ++i)
      out << run.make_row(rng).csv << "\n";
  }
  std::vector<Row> held_out;
  {
    std::ofstream out(cluster.Path("held_out.csv"));
    out << run.header << "\n";
    for (int i = 0; i < 400; ++i) {
      held_out.push_back(run.make_row(rng));
      out << held_out.back().csv << "\n";
    }
  }

  const int port = FreePort();
  for (const auto& id : ids) {
    SiteOptions options;
    options.data_section = DataSection(run.example, cluster.Path(id + ".csv"));
    if (id == "HOSP_A") {
      options.extra_toml =
          "[serve]\nlisten = \"127.0.0.1:" + std::to_string(port) +
          "\"\ncert = \"pki/issued/127.0.0.1.pem\"\n"
          "key = \"pki/issued/127.0.0.1.key\"\n";
    }
    cluster.StartSite(id, options);
  }
  cluster.ApproveAll(ids);
  // The templates as a whole pass the daemons' own checks (the site's also
  // loads the CSV with the template's columns and trains its baseline).
  for (const auto& [binary, file] : {std::pair<std::string, std::string>{
                                         "cls-coordinator", "coordinator.toml"},
                                     {"cls-site-agent", "site.toml"}}) {
    const CommandResult check = RunCommand(
        {BinaryPath(binary), "--check-config", "--config",
         Instantiate(run.example, file, cluster, cluster.Path("HOSP_A.csv"))});
    EXPECT_EQ(check.exit_code, 0) << file << ":\n"
                                  << check.output << check.error;
    EXPECT_NE(check.output.find("configuration OK"), std::string::npos)
        << check.output;
  }
  ASSERT_EQ(cluster.Pki({"issue", "ehr", "HOSP_A-ehr"}).exit_code, 0);

  // The statistics round first, then the training rounds.
  auto rounds = cluster.RunRounds(run.rounds, 300s);
  ASSERT_EQ(rounds.size(), static_cast<size_t>(run.rounds) + 1)
      << rounds.dump();
  for (const auto& r : rounds) {
    ASSERT_EQ(r["status"], "completed") << r.dump();
    EXPECT_EQ(r["contributors"].size(), 3u);
  }

  // The federation's sums are the sites' sums (for text: the per-bucket
  // document counts), computed here from the same files.
  const std::string data = DataSection(run.example, "unused.csv");
  // The example's schema (the template's columns).
  core::DatasetSchema schema;
  const toml::table site = toml::parse(data);
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
  ASSERT_EQ(schema.FeatureCount() + 1, coordinator.parameters);

  std::vector<double> expected;
  for (const auto& id : ids) {
    auto loaded = core::LoadCsv(cluster.Path(id + ".csv"), schema);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    ASSERT_TRUE(loaded->rejected.empty());
    const core::Split split =
        core::StratifiedSplit(loaded->table.labels, 0.2, 7);
    auto stats =
        core::ComputeFeatureStatistics(schema, loaded->table, split.train);
    ASSERT_TRUE(stats.has_value());
    const std::vector<double> sums = stats->Flatten();
    if (expected.empty()) expected.assign(sums.size(), 0.0);
    for (size_t k = 0; k < sums.size(); ++k) expected[k] += sums[k];
  }
  const std::vector<double> stored = StoredStatistics(cluster);
  ASSERT_EQ(stored.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_NEAR(stored[k], expected[k], 3 * 1e-5 + 1e-9 * std::abs(expected[k]))
        << "sum " << k;
  }
  for (const auto& id : ids) {
    EXPECT_TRUE(WaitUntil(
        [&] {
          return ReadText(cluster.Path(id + "-state/status.json"))
                     .find("\"standardisation\": \"federation\"") !=
                 std::string::npos;
        },
        20s))
        << id;
  }

  // Deploy the last version and predict the held-out rows through HOSP_A.
  const std::string version = rounds.back()["model_version"];
  auto deployed = cluster.Ctl({"versions", "deploy", version, "--strategy",
                               "immediate", "--reason", "example release"},
                              "operator");
  ASSERT_EQ(deployed.exit_code, 0) << deployed.error;
  {
    std::ofstream out(cluster.Path("requests.json"));
    json requests = json::array();
    for (const Row& r : held_out) requests.push_back(r.features);
    out << requests.dump();
  }
  CommandResult r;
  ASSERT_TRUE(WaitUntil(
      [&] {
        r = RunCommand({"/usr/bin/python3", "-c", kClient, std::to_string(port),
                        cluster.Path("pki/ca.pem"),
                        cluster.Path("pki/issued/HOSP_A-ehr.pem"),
                        cluster.Path("pki/issued/HOSP_A-ehr.key"),
                        cluster.Path("requests.json"),
                        run.bad_requests.dump()});
        const json out = r.Json();
        return r.exit_code == 0 && out["predictions"].size() == 400u &&
               out["predictions"][0].is_object() &&
               out["predictions"][0]["version_id"] == version;
      },
      60s))
      << r.output << r.error << cluster.site("HOSP_A")->Log();
  const json out = r.Json();
  int correct = 0;
  for (size_t i = 0; i < held_out.size(); ++i) {
    const json& p = out["predictions"][i];
    ASSERT_TRUE(p.is_object()) << p.dump();
    EXPECT_EQ(p["version_id"], version);
    correct += p["label"] == held_out[i].label ? 1 : 0;
  }
  const double federated = correct / static_cast<double>(held_out.size());

  // Each site alone: its own statistics, the same training (the rounds'
  // epochs in one go), on its own train rows.
  auto held = core::LoadCsv(cluster.Path("held_out.csv"), schema);
  ASSERT_TRUE(held.has_value());
  std::vector<int> all(held->table.rows.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  double local_sum = 0;
  for (const auto& id : ids) {
    auto loaded = core::LoadCsv(cluster.Path(id + ".csv"), schema);
    ASSERT_TRUE(loaded.has_value());
    const core::Split split =
        core::StratifiedSplit(loaded->table.labels, 0.2, 7);
    auto pre = core::Preprocessor::Fit(schema, loaded->table, split.train);
    ASSERT_TRUE(pre.has_value());
    core::LogisticRegression model(schema.FeatureCount());
    core::TrainConfig train = coordinator.training;
    train.epochs *= run.rounds;
    model.Train(pre->Transform(loaded->table, split.train),
                pre->Labels(loaded->table, split.train), train);
    const Eigen::VectorXf p =
        model.PredictProbability(pre->Transform(held->table, all));
    int ok = 0;
    for (Eigen::Index i = 0; i < p.size(); ++i) {
      ok += (p(i) >= 0.5f ? 1 : 0) == held_out[static_cast<size_t>(i)].label;
    }
    local_sum += ok / static_cast<double>(p.size());
  }
  const double local = local_sum / static_cast<double>(ids.size());
  std::cout << run.example << ": held-out accuracy federated " << federated
            << ", local-only (mean of 3 sites) " << local << "\n";
  ::testing::Test::RecordProperty("federated_accuracy",
                                  std::to_string(federated));
  ::testing::Test::RecordProperty("local_only_accuracy", std::to_string(local));
  EXPECT_GE(federated, run.min_accuracy);

  // Bad input: 400 naming the feature, never echoing the value.
  ASSERT_EQ(out["bad"].size(), run.bad_requests.size());
  for (const json& b : out["bad"]) {
    EXPECT_EQ(b["status"], 400) << b.dump();
    const std::string body = b["body"];
    EXPECT_NE(body.find("feature '"), std::string::npos) << body;
    EXPECT_EQ(body.find(run.secret), std::string::npos) << body;
  }
  // No text reaches the coordinator (its state and log) or the site's log.
  cluster.StopCoordinator();
  // (The positive list's clinical words: the negative list has everyday
  // words such as "stable" that a log may hold for other reasons.)
  const std::string coordinator_log = ReadText(cluster.Path("coordinator.log"));
  if (run.example == "clinical_nlp") {
    // The search works: the sites' own CSVs hold the words.
    EXPECT_FALSE(FilesContaining(cluster.dir(), kPositiveWords[0]).empty());
  }
  for (const char* word : kPositiveWords) {
    EXPECT_TRUE(
        FilesContaining(cluster.Path("coordinator-state"), word).empty())
        << word;
    EXPECT_EQ(coordinator_log.find(word), std::string::npos) << word;
  }
  EXPECT_EQ(cluster.site("HOSP_A")->Log().find(run.secret), std::string::npos);
}

TEST(ColumnKindsIntegrationTest, ClinicalNlpNotesPlusNumericColumns) {
  ExampleRun run;
  run.example = "clinical_nlp";
  run.header = "note,age,systolic_bp,outcome";
  run.make_row = NoteRow;
  run.rows_per_site = 150;
  run.rounds = 6;
  run.min_accuracy = 0.72;
  run.secret = "PATIENTSECRET";
  run.bad_requests = json::parse(R"([
      {"note": "   ", "age": 60},
      {"note": 42},
      {"note": "PATIENTSECRET fever", "age": "PATIENTSECRET"}])");
  RunExample(run);
}

TEST(ColumnKindsIntegrationTest, ImagingClassifierEmbeddings) {
  ExampleRun run;
  run.example = "imaging_classifier";
  run.header = "embedding,finding";
  run.make_row = EmbeddingRow;
  run.rows_per_site = 80;
  run.rounds = 5;
  run.min_accuracy = 0.80;
  run.secret = "PATIENTSECRET";
  json one_word = json::array();
  for (int d = 0; d < kDimension; ++d)
    one_word.push_back(d == 3 ? json("PATIENTSECRET") : json(0.5));
  run.bad_requests = json::array();
  run.bad_requests.push_back({{"embedding", json::array({1.0, 2.0})}});
  run.bad_requests.push_back({{"embedding", "PATIENTSECRET"}});
  run.bad_requests.push_back({{"embedding", one_word}});
  RunExample(run);
}

}  // namespace
}  // namespace cls::testing
