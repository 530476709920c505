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
// All data here is synthetic (tests/integration/column_kinds_data.h, which
// bench/model_kinds_eval.cc shares for the pooled baseline): notes whose
// words carry the label, and embeddings drawn from class-dependent
// Gaussians. Nothing comes from a patient.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/sqlite_db.h"
#include "core/dataset.h"
#include "core/feature_statistics.h"
#include "tests/integration/cluster.h"
#include "tests/integration/column_kinds_data.h"

namespace cls::testing {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

// ---- The example templates ----

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
  ColumnKindsExample data;  // the example, its rows and rounds
  double min_accuracy = 0;
  json bad_requests;   // each refused with 400
  std::string secret;  // in a bad request; never in a log or the coordinator
};

// Runs the whole example (see the file comment).
void RunExample(const ExampleRun& run) {
  Cluster cluster;
  const CoordinatorTemplate coordinator =
      ReadCoordinatorTemplate(run.data.example);
  cluster.SetModelParameters(coordinator.parameters);
  cluster.SetTraining(coordinator.training_lines);
  cluster.StartCoordinator("min_sites = 3",
                           "clip = " + std::to_string(coordinator.clip),
                           "standardisation = \"federation\"");

  // Three sites' data and one held-out set, all synthetic.
  const std::vector<std::string> ids = {"HOSP_A", "HOSP_B", "HOSP_C"};
  std::vector<std::string> site_csvs;
  for (const auto& id : ids) site_csvs.push_back(cluster.Path(id + ".csv"));
  const std::vector<Row> held_out =
      WriteExampleData(run.data, site_csvs, cluster.Path("held_out.csv"));

  const int port = FreePort();
  for (const auto& id : ids) {
    SiteOptions options;
    options.data_section =
        DataSection(run.data.example, cluster.Path(id + ".csv"));
    if (id == "HOSP_A") {
      options.extra_toml = ServeSection(port);
    }
    cluster.StartSite(id, options);
  }
  cluster.ApproveAll(ids);
  // The templates as a whole pass the daemons' own checks (the site's also
  // loads the CSV with the template's columns and trains its baseline).
  for (const auto& [binary, file] : {std::pair<std::string, std::string>{
                                         "cls-coordinator", "coordinator.toml"},
                                     {"cls-site-agent", "site.toml"}}) {
    const CommandResult check =
        RunCommand({BinaryPath(binary), "--check-config", "--config",
                    Instantiate(run.data.example, file, cluster,
                                cluster.Path("HOSP_A.csv"))});
    EXPECT_EQ(check.exit_code, 0) << file << ":\n"
                                  << check.output << check.error;
    EXPECT_NE(check.output.find("configuration OK"), std::string::npos)
        << check.output;
  }
  ASSERT_EQ(cluster.Pki({"issue", "ehr", "HOSP_A-ehr"}).exit_code, 0);

  // The statistics round first, then the training rounds.
  auto rounds = cluster.RunRounds(run.data.rounds, 300s);
  ASSERT_EQ(rounds.size(), static_cast<size_t>(run.data.rounds) + 1)
      << rounds.dump();
  for (const auto& r : rounds) {
    ASSERT_EQ(r["status"], "completed") << r.dump();
    EXPECT_EQ(r["contributors"].size(), 3u);
  }

  // The federation's sums are the sites' sums (for text: the per-bucket
  // document counts), computed here from the same files.
  const core::DatasetSchema schema = ExampleSchema(run.data.example);
  ASSERT_EQ(schema.FeatureCount() + 1, coordinator.parameters);

  std::vector<SiteRows> sites;
  std::vector<double> expected;
  for (const auto& csv : site_csvs) {
    auto loaded = LoadSiteRows(csv, schema);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    sites.push_back(std::move(*loaded));
    auto stats = core::ComputeFeatureStatistics(schema, sites.back().table,
                                                sites.back().split.train);
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
  core::TrainConfig train = coordinator.training;
  train.epochs *= run.data.rounds;
  double local_sum = 0;
  for (const SiteRows& s : sites) {
    auto counts =
        TrainAndCount(schema, s.table, s.split.train, train, held->table);
    ASSERT_TRUE(counts.has_value()) << counts.error().message;
    local_sum += core::ReportClasses(*counts).accuracy;
  }
  const double local = local_sum / static_cast<double>(ids.size());
  std::cout << run.data.example << ": held-out accuracy federated " << federated
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
  if (run.data.example == "clinical_nlp") {
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
  run.data = kClinicalNlp;
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
  run.data = kImagingClassifier;
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
