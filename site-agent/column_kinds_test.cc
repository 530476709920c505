// Text and embedding columns in the site agent (docs/columns.md): their
// [[data.columns]] options, and /v1/predict features of those kinds.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "core/dataset.h"
#include "core/text_features.h"
#include "site-agent/config.h"
#include "site-agent/local_model.h"
#include "site-agent/online_ingest.h"
#include "site-agent/prediction_service.h"
#include "site-agent/state_store.h"
#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using nlohmann::json;
using testing::TempDir;

constexpr const char* kBase = R"(
site_id = "HOSP_001"
coordinator = "127.0.0.1:7443"
data_dir = "./state"
[tls]
ca = "ca.pem"
cert = "site.pem"
key = "site.key"
[data]
csv = "notes.csv"
label_column = "outcome"
)";

Result<AgentConfig> ParseColumns(const std::string& columns) {
  return ParseConfig(std::string(kBase) + columns, "/srv/kit", "site.toml");
}

std::string ErrorOf(const std::string& columns) {
  auto config = ParseColumns(columns);
  EXPECT_FALSE(config.has_value());
  return config ? std::string() : config.error().message;
}

TEST(ColumnKindsConfigTest, TextAndEmbeddingColumnsAreParsed) {
  auto config = ParseColumns(R"(
[[data.columns]]
name = "note"
kind = "text"
hash_buckets = 256
[[data.columns]]
name = "short_note"
kind = "text"
[[data.columns]]
name = "image"
kind = "embedding"
dimension = 8
[[data.columns]]
name = "age"
)");
  ASSERT_TRUE(config.has_value()) << config.error().message;
  const core::DatasetSchema& s = config->data->schema;
  ASSERT_EQ(s.features.size(), 4u);
  EXPECT_EQ(s.features[0].kind, core::ColumnSpec::Kind::kText);
  EXPECT_EQ(s.features[0].hash_buckets, 256);
  EXPECT_EQ(s.features[1].hash_buckets, core::kDefaultHashBuckets);
  EXPECT_EQ(s.features[2].kind, core::ColumnSpec::Kind::kEmbedding);
  EXPECT_EQ(s.features[2].dimension, 8);
  EXPECT_EQ(s.FeatureCount(), 256 + 1024 + 8 + 1);
}

TEST(ColumnKindsConfigTest, BadOptionsAreRefusedNamingTheKey) {
  std::string m = ErrorOf(
      "[[data.columns]]\nname = \"note\"\nkind = \"text\"\nhash_buckets = "
      "1000\n");
  EXPECT_NE(m.find("'data.columns[0].hash_buckets' must be a power of two"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("got 1000"), std::string::npos) << m;
  m = ErrorOf(
      "[[data.columns]]\nname = \"note\"\nkind = \"text\"\nhash_buckets = "
      "131072\n");
  EXPECT_NE(m.find("hash_buckets"), std::string::npos) << m;
  m = ErrorOf(
      "[[data.columns]]\nname = \"image\"\nkind = \"embedding\"\ndimension = "
      "0\n");
  EXPECT_NE(m.find("'data.columns[0].dimension' must be from 1 to 65536"),
            std::string::npos)
      << m;
  m = ErrorOf("[[data.columns]]\nname = \"image\"\nkind = \"embedding\"\n");
  EXPECT_NE(m.find("missing required key 'data.columns[0].dimension'"),
            std::string::npos)
      << m;
  m = ErrorOf("[[data.columns]]\nname = \"x\"\nkind = \"image\"\n");
  EXPECT_NE(m.find("numeric, categorical, text, embedding"), std::string::npos)
      << m;
  m = ErrorOf("[[data.columns]]\nname = \"age\"\nhash_buckets = 16\n");
  EXPECT_NE(m.find("'data.columns[0].hash_buckets'"), std::string::npos) << m;
  EXPECT_NE(m.find("only allowed with kind = \"text\""), std::string::npos)
      << m;
  m = ErrorOf(
      "[[data.columns]]\nname = \"note\"\nkind = \"text\"\ndimension = 4\n");
  EXPECT_NE(m.find("only allowed with kind = \"embedding\""), std::string::npos)
      << m;
  m = ErrorOf(
      "[[data.columns]]\nname = \"note\"\nkind = \"text\"\nzero_is_missing = "
      "true\n");
  EXPECT_NE(m.find("'data.columns[0].zero_is_missing'"), std::string::npos)
      << m;
}

// /v1/predict with a text column (16 buckets), an embedding (2 entries) and
// a numeric column: 19 features, 20 parameters.
class ColumnKindsServingTest : public ::testing::Test {
 protected:
  static core::DatasetSchema Schema() {
    core::DatasetSchema schema;
    core::ColumnSpec note{"note", core::ColumnSpec::Kind::kText, {}, false};
    note.hash_buckets = 16;
    core::ColumnSpec image{
        "image", core::ColumnSpec::Kind::kEmbedding, {}, false};
    image.dimension = 2;
    schema.features = {
        note, image, {"age", core::ColumnSpec::Kind::kNumeric, {}, false}};
    schema.label = {"outcome", 0.5};
    return schema;
  }

  void SetUp() override {
    // Two training rows: "fever cough" and "calm"; embeddings (0, 1) and
    // (2, 3); ages 40 and 60.
    core::RawTable table;
    table.rows = {{NAN, NAN, 40}, {NAN, NAN, 60}};
    table.labels = {1, 0};
    for (const char* text : {"fever cough", "calm"}) {
      std::vector<float> v(18, 0.0f);
      ASSERT_TRUE(core::HashTextTerms(text, std::span<float>(v.data(), 16)));
      table.vectors.push_back(v);
    }
    table.vectors[0][16] = 0;
    table.vectors[0][17] = 1;
    table.vectors[1][16] = 2;
    table.vectors[1][17] = 3;
    pre_ = std::make_shared<core::Preprocessor>(
        *core::Preprocessor::Fit(Schema(), table, {0, 1}));
    auto service = PredictionService::Create(
        {}, Schema(),
        [pre = pre_](const core::RawTable& t) {
          std::vector<int> rows(t.rows.size());
          for (size_t i = 0; i < rows.size(); ++i) rows[i] = int(i);
          return pre->Transform(t, rows);
        },
        dir_.path());
    ASSERT_TRUE(service) << service.error().ToString();
    service_ = std::move(*service);
    // Weight 2 on the bucket of "fever", 1 on embedding entry 0.
    std::vector<float> p(20, 0.0f);
    p[core::TextBucket("fever", 16)] = 2;
    p[16] = 1;
    ASSERT_TRUE(service_->OnGlobalModel(GlobalModel{.round_id = 1,
                                                    .version = "v1",
                                                    .hash = ModelHash(p),
                                                    .parameters = p}));
    parameters_ = p;
  }

  // The probability the model gives a row, computed here.
  double Expected(const std::string& text, float e0, float e1, double age) {
    core::RawTable t;
    t.rows = {{NAN, NAN, age}};
    t.labels = {0};
    std::vector<float> v(18, 0.0f);
    EXPECT_TRUE(core::HashTextTerms(text, std::span<float>(v.data(), 16)));
    v[16] = e0;
    v[17] = e1;
    t.vectors.push_back(v);
    const Eigen::MatrixXf x = pre_->Transform(t, {0});
    double z = parameters_.back();
    for (int j = 0; j < 19; ++j) z += x(0, j) * parameters_[size_t(j)];
    return 1 / (1 + std::exp(-z));
  }

  TempDir dir_;
  std::shared_ptr<core::Preprocessor> pre_;
  std::unique_ptr<PredictionService> service_;
  std::vector<float> parameters_;
};

TEST_F(ColumnKindsServingTest, TextAsStringAndEmbeddingAsArrayArePredicted) {
  auto p = service_->Predict(
      "e1",
      {{"note", "FEVER!"}, {"image", json::array({2.0, 3.0})}, {"age", 50}}, 1);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_NEAR(p->probability, Expected("fever", 2, 3, 50), 1e-6);
  // "fever" alone is a unit vector on its bucket: z = 2 + 1 (entry 0 at +1 sd).
  EXPECT_NEAR(p->probability, 1 / (1 + std::exp(-3.0)), 1e-5);
  // An absent text has no words; an absent embedding is imputed (0).
  auto q = service_->Predict("e2", {{"age", 50}}, 1);
  ASSERT_TRUE(q) << q.error().ToString();
  EXPECT_NEAR(q->probability, 0.5, 1e-6);
}

TEST_F(ColumnKindsServingTest, BadTextAndEmbeddingsAre400WithoutTheValue) {
  const std::pair<json, std::string> cases[] = {
      {{{"note", "  "}}, "feature 'note': empty text"},
      {{{"note", 7}}, "feature 'note': not a string"},
      {{{"image", "PATIENTX"}}, "feature 'image': not an array of numbers"},
      {{{"image", json::array({1.0})}},
       "feature 'image': embedding has 1 values, expected 2"},
      {{{"image", json::array({json(1.0), json("PATIENTX")})}},
       "feature 'image': embedding value 2 is not a finite number"},
  };
  for (const auto& [features, message] : cases) {
    auto p = service_->Predict("bad", features, 1);
    ASSERT_FALSE(p) << features.dump();
    EXPECT_EQ(HttpStatusFor(p.error()), 400);
    EXPECT_EQ(p.error().message, message);
  }
}

// A site's CSV with a note column (the words carry the label) and a
// 2-entry embedding.
std::string NotesCsv(int rows, int offset) {
  std::string text = "note,image,outcome\n";
  for (int i = 0; i < rows; ++i) {
    const int y = (i + offset) % 2;
    text += std::string("\"Seen today, ") +
            (y == 1 ? "chest pain radiating" : "routine check normal") +
            " visit " + std::to_string(i % 7) + "\"," + std::to_string(y) +
            ";0.5," + std::to_string(y) + "\n";
  }
  return text;
}

DataConfig NotesConfig(const std::string& csv) {
  DataConfig config;
  config.csv = csv;
  core::ColumnSpec note{"note", core::ColumnSpec::Kind::kText, {}, false};
  note.hash_buckets = 64;
  core::ColumnSpec image{
      "image", core::ColumnSpec::Kind::kEmbedding, {}, false};
  image.dimension = 2;
  config.schema.features = {note, image};
  config.schema.label = {"outcome", 0.5};
  return config;
}

// A site's data with a note column: loading, the local baseline, the
// federation's statistics and arriving (online) rows.
TEST(ColumnKindsLocalModelTest, NotesTrainAdoptFederationIdfAndTakeNewRows) {
  TempDir dir;
  const DataConfig config =
      NotesConfig(dir.Write("notes.csv", NotesCsv(60, 0)).string());
  auto model = LocalModel::Load(config);
  ASSERT_TRUE(model) << model.error().ToString();
  EXPECT_EQ(model->num_features(), 66);
  EXPECT_EQ(model->num_samples(), 48u);
  EXPECT_GT(model->baseline().accuracy, 0.9);

  // Another site's sums added: the site now weights with the federation's
  // document counts.
  std::vector<double> sums = model->train_statistics().Flatten();
  for (double& v : sums) v *= 2;
  ASSERT_TRUE(model->UseFederationStatistics(sums));
  EXPECT_TRUE(model->uses_federation_statistics());

  // Rows from the online inbox (read like the training CSV) join the train
  // rows with their text and embedding entries.
  auto arrived = core::LoadCsv(dir.Write("new.csv", NotesCsv(10, 1)).string(),
                               config.schema);
  ASSERT_TRUE(arrived) << arrived.error().ToString();
  model->AddTrainingRows(arrived->table);
  EXPECT_EQ(model->num_samples(), 58u);
  const Eigen::MatrixXf x = model->Features(arrived->table);
  ASSERT_EQ(x.rows(), 10);
  EXPECT_NEAR(x.row(0).head(64).norm(), 1.0f, 1e-5f);
}

// The online inbox reads text and embedding columns as the training CSV
// does: bad cells quarantined by line and reason, good rows learned.
TEST(ColumnKindsOnlineTest,
     InboxFilesWithNotesAreLearnedAndBadCellsQuarantined) {
  TempDir dir;
  auto model = LocalModel::Load(
      NotesConfig(dir.Write("notes.csv", NotesCsv(60, 0)).string()));
  ASSERT_TRUE(model) << model.error().ToString();
  const uint64_t before = model->num_samples();
  OnlineConfig online;
  online.inbox = (dir.path() / "inbox").string();
  online.key_file = (dir.path() / "state" / "keys" / "online.key").string();
  online.batch_size = 8;
  auto ingest =
      OnlineIngest::Open(online, "HOSP_T", dir.path() / "state", *model);
  ASSERT_TRUE(ingest) << ingest.error().message;
  dir.Write("inbox/day-001.csv",
            NotesCsv(12, 1) + ",0.5;0.5,1\n\"fever PATIENTX\",0.5,0\n");
  auto taken = (*ingest)->ProcessInbox();
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(*taken, 1);
  ASSERT_EQ((*ingest)->ledger().size(), 1u);
  EXPECT_EQ((*ingest)->ledger()[0].rows_accepted, 12u);
  EXPECT_EQ((*ingest)->ledger()[0].rows_rejected, 2u);
  EXPECT_EQ((*ingest)->system().history().size(), 1u);
  EXPECT_EQ(model->num_samples(), before + 12);
  const std::string quarantined =
      testing::ReadFile(dir.path() / "state" / "online" / "quarantine" /
                        "day-001.csv.rejected-rows.csv");
  EXPECT_NE(quarantined.find("14,\"column 'note': empty text\""),
            std::string::npos)
      << quarantined;
  EXPECT_NE(quarantined.find(
                "15,\"column 'image': embedding has 1 values, expected 2\""),
            std::string::npos)
      << quarantined;
}

}  // namespace
}  // namespace cls::site
