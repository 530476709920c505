#include "site-agent/online_ingest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <random>
#include <sstream>

#include "site-agent/test_util.h"

namespace cls::site {
namespace {
namespace fs = std::filesystem;
using testing::ReadFile;
using testing::SyntheticCsv;
using testing::SyntheticDataConfig;
using testing::TempDir;

class OnlineIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = dir_.Write("site.csv", SyntheticCsv(120, 1));
    config_.inbox = (dir_.path() / "inbox").string();
    config_.key_file = (dir_.path() / "state" / "keys" / "online.key").string();
    config_.batch_size = 16;
    config_.reservoir_size = 50;
    config_.rehearsal_samples = 8;
  }

  LocalModel Model() {
    auto m = LocalModel::Load(SyntheticDataConfig(csv_.string()));
    EXPECT_TRUE(m.has_value());
    return std::move(*m);
  }

  std::unique_ptr<OnlineIngest> Open(LocalModel& model) {
    auto ingest =
        OnlineIngest::Open(config_, "HOSP_T", dir_.path() / "state", model);
    EXPECT_TRUE(ingest.has_value()) << ingest.error().message;
    return ingest ? std::move(*ingest) : nullptr;
  }

  fs::path Drop(const std::string& name, const std::string& content) {
    return dir_.Write("inbox/" + name, content);
  }

  TempDir dir_;
  fs::path csv_;
  OnlineConfig config_;
};

TEST_F(OnlineIngestTest, EachFileIsLearnedOnceAndJoinsTheTrainRows) {
  LocalModel model = Model();
  const uint64_t before = model.num_samples();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  Drop("day-001.csv", SyntheticCsv(40, 11));
  Drop("day-002.csv", SyntheticCsv(30, 12));
  auto taken = ingest->ProcessInbox();
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(*taken, 2);
  EXPECT_EQ(ingest->system().history().size(), 2u);
  ASSERT_EQ(ingest->ledger().size(), 2u);
  EXPECT_EQ(ingest->ledger()[0].name, "day-001.csv");
  EXPECT_EQ(ingest->ledger()[0].rows_accepted, 40u);
  EXPECT_EQ(ingest->ledger()[0].rows_rejected, 2u);
  EXPECT_EQ(model.num_samples(), before + 70);
  EXPECT_TRUE(fs::is_empty(config_.inbox));

  // The same content again, under another name (re-sent, or a crash after
  // the state was saved but before the move): not learned twice.
  Drop("day-001-resent.csv", SyntheticCsv(40, 11));
  ASSERT_EQ(*ingest->ProcessInbox(), 1);
  EXPECT_EQ(ingest->system().history().size(), 2u);
  EXPECT_EQ(ingest->ledger().size(), 2u);
  EXPECT_EQ(model.num_samples(), before + 70);
}

TEST_F(OnlineIngestTest, RestartResumesTheLedgerTheModelAndTheRows) {
  std::vector<uint8_t> saved_state;
  {
    LocalModel model = Model();
    auto ingest = Open(model);
    ASSERT_TRUE(ingest);
    Drop("day-001.csv", SyntheticCsv(40, 21));
    ASSERT_EQ(*ingest->ProcessInbox(), 1);
    saved_state = ingest->system().Serialize();
  }
  LocalModel model = Model();
  const uint64_t fresh = model.num_samples();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  EXPECT_EQ(ingest->ledger().size(), 1u);
  EXPECT_EQ(ingest->system().Serialize(), saved_state);
  EXPECT_EQ(model.num_samples(), fresh + 40);
  Drop("again.csv", SyntheticCsv(40, 21));
  ASSERT_EQ(*ingest->ProcessInbox(), 1);
  EXPECT_EQ(ingest->system().history().size(), 1u);
}

TEST_F(OnlineIngestTest, BadRowsAndBadFilesAreQuarantinedWithReasons) {
  LocalModel model = Model();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  Drop("a-rows.csv", SyntheticCsv(20, 31));
  Drop("b-header.csv", "x1,group,y\n1,1,1\n");  // x2 missing
  Drop("c-empty.csv", "");
  ASSERT_EQ(*ingest->ProcessInbox(), 3);
  const fs::path q = dir_.path() / "state" / "online" / "quarantine";
  const std::string rejected = ReadFile(q / "a-rows.csv.rejected-rows.csv");
  EXPECT_NE(rejected.find("22,"), std::string::npos);  // line 22: category 9
  EXPECT_NE(rejected.find("23,"), std::string::npos);  // line 23: "abc"
  EXPECT_TRUE(fs::exists(q / "b-header.csv"));
  ASSERT_EQ(ingest->ledger().size(), 3u);
  EXPECT_FALSE(ingest->ledger()[1].error.empty());
  EXPECT_FALSE(ingest->ledger()[2].error.empty());
  EXPECT_EQ(ingest->system().history().size(), 1u);
  const std::string status = ingest->StatusJson();
  EXPECT_NE(status.find("\"files_refused\": 2"), std::string::npos) << status;
  EXPECT_NE(status.find("\"rows_rejected\": 2"), std::string::npos) << status;
}

TEST_F(OnlineIngestTest,
       StateIsEncryptedAndATamperedStateIsRefusedNotReplaced) {
  {
    LocalModel model = Model();
    auto ingest = Open(model);
    ASSERT_TRUE(ingest);
    Drop("day-001.csv", SyntheticCsv(40, 41));
    ASSERT_EQ(*ingest->ProcessInbox(), 1);
  }
  struct stat st {};
  ASSERT_EQ(::stat(config_.key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const fs::path state = dir_.path() / "state" / "online" / "state.enc";
  std::string bytes = ReadFile(state);
  EXPECT_EQ(bytes.find("day-001.csv"), std::string::npos);  // ledger sealed
  bytes[bytes.size() / 2] ^= 1;
  dir_.Write("state/online/state.enc", bytes);
  LocalModel model = Model();
  auto ingest =
      OnlineIngest::Open(config_, "HOSP_T", dir_.path() / "state", model);
  ASSERT_FALSE(ingest.has_value());
  EXPECT_EQ(ingest.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(ReadFile(state), bytes);  // left as it is

  // Another site's key cannot read it either.
  auto other = config_;
  other.key_file = (dir_.path() / "other.key").string();
  auto refused =
      OnlineIngest::Open(other, "HOSP_T", dir_.path() / "state", model);
  EXPECT_FALSE(refused.has_value());
}

TEST_F(OnlineIngestTest, DeployAnchorsToTheGlobalModel) {
  LocalModel model = Model();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  std::vector<float> global(static_cast<size_t>(model.num_parameters()), 0.25f);
  ASSERT_TRUE(ingest->Deploy(global).has_value());
  const auto p = ingest->system().model().parameters();
  EXPECT_EQ(std::vector<float>(p.begin(), p.end()), global);
  EXPECT_TRUE(ingest->system().anchor().active());
}

// Synthetic 3-class data (outcome codes 101, 202, 303 by the sign pattern of
// x1 and x2), read through [data] label_classes as local training reads it.
std::string ThreeClassCsv(int rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::ostringstream csv;
  csv << "x1,x2,group,y\n";
  for (int i = 0; i < rows; ++i) {
    const double x1 = normal(rng);
    const double x2 = normal(rng);
    const int y = x1 > 0.3 ? 303 : (x2 > 0 ? 202 : 101);
    csv << x1 << "," << x2 << "," << (i % 3 + 1) << "," << y << "\n";
  }
  return csv.str();
}

class OnlineIngestMultiClassTest : public OnlineIngestTest {
 protected:
  LocalModel ThreeClassModel() {
    const fs::path csv = dir_.Write("three.csv", ThreeClassCsv(150, 5));
    DataConfig data = SyntheticDataConfig(csv.string());
    data.schema.label = {"y", 0.5};
    data.schema.label.classes = {101, 202, 303};
    auto m = LocalModel::Load(data);
    EXPECT_TRUE(m.has_value()) << m.error().message;
    return std::move(*m);
  }
  static std::string MlpSpec(const LocalModel& model) {
    core::ModelSpec spec;
    spec.kind = core::ModelKind::kMlp;
    spec.num_features = model.num_features();
    spec.num_classes = 3;
    spec.hidden = {6};
    return spec.ToString();
  }
};

// What used to be refused: a 3-class site learns online with its default
// model (softmax regression), then with the kind the federation deploys.
TEST_F(OnlineIngestMultiClassTest, LearnsWhateverKindIsDeployed) {
  LocalModel model = ThreeClassModel();
  ASSERT_EQ(model.num_classes(), 3);
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  EXPECT_EQ(ingest->system().model().spec().kind,
            core::ModelKind::kSoftmaxRegression);
  Drop("day-001.csv", ThreeClassCsv(60, 6));
  ASSERT_EQ(*ingest->ProcessInbox(), 1);
  ASSERT_EQ(ingest->system().history().size(), 1u);
  EXPECT_TRUE(ingest->ledger()[0].error.empty()) << ingest->ledger()[0].error;
  EXPECT_EQ(ingest->ledger()[0].rows_accepted, 60u);

  // The federation trains an MLP: its global model is the new online model
  // and its anchor (the MLP's own Fisher on the train rows).
  auto mlp = core::Model::Create(*core::ModelSpec::Parse(MlpSpec(model)), 3);
  ASSERT_TRUE(mlp.has_value());
  const std::vector<float> global(mlp->parameters().begin(),
                                  mlp->parameters().end());
  ASSERT_TRUE(ingest->Deploy(global, MlpSpec(model)).has_value());
  EXPECT_EQ(ingest->system().model().spec().ToString(), MlpSpec(model));
  EXPECT_TRUE(ingest->system().anchor().active());
  const std::vector<float>& fisher = ingest->system().anchor().fisher();
  EXPECT_EQ(fisher.size(), global.size());
  EXPECT_GT(*std::max_element(fisher.begin(), fisher.end()), 0.0f);
  EXPECT_EQ(ingest->system().history().size(), 1u);  // history stays

  Drop("day-002.csv", ThreeClassCsv(60, 7));
  ASSERT_EQ(*ingest->ProcessInbox(), 1);
  ASSERT_EQ(ingest->system().history().size(), 2u);
  const auto p = ingest->system().model().parameters();
  EXPECT_NE(std::vector<float>(p.begin(), p.end()), global);  // it learned
  const std::string status = ingest->StatusJson();
  EXPECT_NE(status.find("\"total_updates\": 2"), std::string::npos) << status;
  EXPECT_NE(status.find("kind=mlp"), std::string::npos) << status;

  // A spec that does not fit this site (2 classes) is refused, unchanged.
  core::ModelSpec binary = *core::ModelSpec::Parse(MlpSpec(model));
  binary.num_classes = 2;
  auto two = core::Model::Create(binary, 1);
  ASSERT_TRUE(two.has_value());
  const std::vector<float> two_params(two->parameters().begin(),
                                      two->parameters().end());
  EXPECT_FALSE(ingest->Deploy(two_params, binary.ToString()).has_value());
  EXPECT_EQ(ingest->system().model().spec().ToString(), MlpSpec(model));
}

// A restart resumes the multi-class online model (its kind included) from
// the encrypted state, before any new global model arrives.
TEST_F(OnlineIngestMultiClassTest, RestartResumesTheDeployedKind) {
  std::vector<uint8_t> saved;
  {
    LocalModel model = ThreeClassModel();
    auto ingest = Open(model);
    ASSERT_TRUE(ingest);
    auto mlp = core::Model::Create(*core::ModelSpec::Parse(MlpSpec(model)), 3);
    ASSERT_TRUE(mlp.has_value());
    const std::vector<float> global(mlp->parameters().begin(),
                                    mlp->parameters().end());
    ASSERT_TRUE(ingest->Deploy(global, MlpSpec(model)).has_value());
    Drop("day-001.csv", ThreeClassCsv(50, 8));
    ASSERT_EQ(*ingest->ProcessInbox(), 1);
    saved = ingest->system().Serialize();
  }
  LocalModel model = ThreeClassModel();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  EXPECT_EQ(ingest->system().model().spec().ToString(), MlpSpec(model));
  EXPECT_EQ(ingest->system().Serialize(), saved);
  Drop("day-002.csv", ThreeClassCsv(50, 9));
  ASSERT_EQ(*ingest->ProcessInbox(), 1);
  EXPECT_EQ(ingest->system().history().size(), 2u);

  // The same state on a site whose [data] is binary now: refused, kept.
  const fs::path state = dir_.path() / "state" / "online" / "state.enc";
  const std::string bytes = ReadFile(state);
  LocalModel binary = Model();
  auto refused =
      OnlineIngest::Open(config_, "HOSP_T", dir_.path() / "state", binary);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(refused.error().message.find("does not fit"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(ReadFile(state), bytes);
}

// [privacy] dp_sgd: a multi-class online update runs DP-SGD and is charged
// to the site's record-level ledger; the anchor's Fisher is the unit one.
TEST_F(OnlineIngestMultiClassTest, DpSgdUpdatesAreChargedForEveryKind) {
  LocalModel model = ThreeClassModel();
  PrivacyConfig privacy;
  privacy.dp_sgd = true;
  privacy.target_epsilon = 50;
  privacy.delta = 1e-5;
  privacy.clip_norm = 1.0;
  privacy.noise_multiplier = 1.1;
  auto ledger = RecordPrivacyLedger::Open(dir_.path() / "state", privacy,
                                          model.num_samples());
  ASSERT_TRUE(ledger.has_value()) << ledger.error().message;
  auto ingest = OnlineIngest::Open(config_, "HOSP_T", dir_.path() / "state",
                                   model, ledger->get());
  ASSERT_TRUE(ingest.has_value()) << ingest.error().message;
  EXPECT_TRUE((*ingest)->system().config().dp.enabled);
  auto mlp = core::Model::Create(*core::ModelSpec::Parse(MlpSpec(model)), 3);
  ASSERT_TRUE(mlp.has_value());
  const std::vector<float> global(mlp->parameters().begin(),
                                  mlp->parameters().end());
  ASSERT_TRUE((*ingest)->Deploy(global, MlpSpec(model)).has_value());
  for (float f : (*ingest)->system().anchor().fisher()) EXPECT_EQ(f, 1.0f);
  Drop("day-001.csv", ThreeClassCsv(60, 10));
  ASSERT_EQ(*(*ingest)->ProcessInbox(), 1);
  EXPECT_EQ((*ingest)->system().history().size(), 1u);
  const RecordPrivacyStatus spent = (*ledger)->Current();
  EXPECT_EQ(spent.trainings, 1u);
  EXPECT_GT(spent.epsilon, 0.0);
  const auto p = (*ingest)->system().model().parameters();
  EXPECT_NE(std::vector<float>(p.begin(), p.end()), global);
}

TEST(OnlineKey, RefusesAKeyReadableByOthers) {
  TempDir dir;
  const auto path = dir.Write("k.key", std::string(32, 'k'));
  ::chmod(path.c_str(), 0644);
  auto key = LoadOrCreateKey(path);
  ASSERT_FALSE(key.has_value());
  EXPECT_NE(key.error().message.find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace cls::site
